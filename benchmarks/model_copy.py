"""A model folder's copy whose large files are links, shared by the benchmarks and the tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def linked_copy(source: Path, destination: Path) -> Path:
    """A copy of a model folder whose large files are links (copies where links are not
    allowed): small files such as conf/ can be edited without touching the original."""
    for path in sorted(source.rglob("*")):
        target = destination / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.stat().st_size < 1_000_000:
            shutil.copy2(path, target)
        else:
            try:
                os.symlink(path, target)
            except OSError:
                shutil.copy2(path, target)
    return destination
