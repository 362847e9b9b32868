"""Running a benchmark against an earlier commit in the same run, for side-by-side ratios.

`source_tree(rev)` unpacks the commit's files (`git archive`) into a temporary folder; a
benchmark then runs its measuring part twice as child processes, once with the earlier tree
first on PYTHONPATH and once with this checkout's, so both are measured on the same machine at
the same time. The installed environment (Vosk, models, ...) is shared.

The default revision is the last commit before the recognition work of issue 11 (partial words
off, warm recognisers, lazy imports, the matcher prefilter), the "today" those changes are
measured against.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE_ISSUE_11 = "c12a6f9"
BEFORE_LIVE_CHUNKS = "6249b7a"  # before recognisers were fed in live-sized blocks with shorter decoding chunks


@contextlib.contextmanager
def source_tree(rev: str) -> Iterator[Path]:
    """The files of commit `rev` in a temporary folder (removed afterwards).

    The standard pack is copied into the tree's package as `callassist/scripts_zh`, where an
    installed package has it: otherwise the editable install's import mapping would hand the
    earlier code this checkout's standard pack (which it may not even read)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory(prefix="callassist-baseline-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        tree = Path(folder)
        if (tree / "scripts_zh").is_dir() and not (tree / "callassist" / "scripts_zh").exists():
            shutil.copytree(tree / "scripts_zh", tree / "callassist" / "scripts_zh")
        yield tree


def child_env(tree: Path, pycache: Path | None = None) -> dict[str, str]:
    """An environment whose `import callassist` finds the package in `tree`. With `pycache`,
    compiled bytecode is kept there (as an installed package has it) even where the calling
    environment says not to write any, and the checkouts themselves stay clean."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree), *filter(None, [env.get("PYTHONPATH")])])
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def run_json(tree: Path, script: Path, *args: str) -> dict:
    """Run `script --child ARGS` with `tree`'s callassist; its last stdout line is JSON."""
    done = subprocess.run(
        [sys.executable, str(script), "--child", *args], env=child_env(tree), cwd=str(tree),
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"{script.name} failed on {tree}:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])
