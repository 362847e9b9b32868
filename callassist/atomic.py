"""Writing output files atomically: reports, summaries, labels, settings.

Kept apart from the report types, which bring the engine with them: a batch proves its output
folder writable, and a re-run with every report current finishes, without loading either.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_text_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: a reader never sees half a file,
    and a run killed mid-write leaves only a `.NAME.*.tmp` file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomically(path: Path, data: Any) -> None:
    """Strict JSON: a NaN or infinity raises ValueError rather than reach a file that strict
    parsers reject."""
    write_text_atomically(path, json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n")
