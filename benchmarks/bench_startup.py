"""Start-up cost of the command line, this checkout beside an earlier commit (default: the one
before the lazy imports), measured in one run with the rounds interleaved:

(a) `callassist --help`;
(b) `callassist replay CALL --asr none --headless` on a 1-minute stereo call (the fixture calls
    laid end to end): the acoustic checks only, no text to match;
(c) `callassist batch --asr none --workers 2` over the fixture calls: a fresh run, then a re-run
    with every report current (target: the re-run under 0.25x the fresh run's time).

Figures are wall-clock medians of the whole command (a new Python process each time, after one
warm-up run so that both checkouts start from compiled bytecode, as an installed package does),
and the peak memory of the process where the platform reports it.

    python benchmarks/bench_startup.py [--rounds 7] [--baseline REV]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import BEFORE_ISSUE_11, ROOT, child_env, source_tree  # noqa: E402

CALLS = ROOT / "tests" / "fixtures" / "calls"

try:
    import resource
except ImportError:  # Windows: no peak memory figures
    resource = None


def one_minute_call(path: Path) -> None:
    pieces = [soundfile.read(p)[0] for p in sorted(CALLS.glob("*.wav")) if soundfile.info(p).samplerate == 16000]
    soundfile.write(path, np.concatenate(pieces)[: 60 * 16000], 16000, subtype="PCM_16")


PYCACHE: dict[Path, Path] = {}  # checkout -> where its bytecode goes


def timed(tree: Path, *argv: str) -> float:
    """Seconds of `python -m callassist ARGV` with `tree`'s callassist."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "callassist", *argv], env=child_env(tree, PYCACHE[tree]),
                          cwd=str(tree), capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if done.returncode not in (0, 1):
        raise SystemExit(f"callassist {' '.join(argv)} failed with {tree}:\n{done.stderr}")
    return elapsed


def peak_of(tree: Path, *argv: str) -> float | None:
    """Peak MiB of one run, measured in a fresh grandchild so earlier runs do not count."""
    if resource is None:
        return None
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], capture_output=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "callassist", *argv],
                          env=child_env(tree, PYCACHE[tree]), cwd=str(tree), capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def compare(label: str, trees: dict[str, Path], argv: list[str], rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in trees}
    for tree in trees.values():
        timed(tree, *argv)  # warm-up: compiles what this command imports
    for _ in range(rounds):
        for name, tree in trees.items():
            times[name].append(timed(tree, *argv))
    medians = {name: statistics.median(values) for name, values in times.items()}
    peaks = {name: peak_of(tree, *argv) for name, tree in trees.items()}
    before, now = medians["before"], medians["now"]
    memory = (f"; peak memory {peaks['before']:.0f} -> {peaks['now']:.0f} MiB" if peaks["now"] is not None else "")
    print(f"{label}: before {before:.3f} s, now {now:.3f} s (median of {rounds}): "
          f"{before - now:+.3f} s faster{memory}")
    return medians


def batch_rerun(trees: dict[str, Path], folder: Path, calls: Path, rounds: int) -> None:
    for name, tree in trees.items():
        fresh, rerun = [], []
        for index in range(rounds):
            out = folder / f"batch-{name}-{index}"
            argv = ["batch", str(calls), "--out", str(out), "--asr", "none", "--workers", "2"]
            fresh.append(timed(tree, *argv))
            rerun.append(timed(tree, *argv))
        f, r = statistics.median(fresh), statistics.median(rerun)
        print(f"(c) batch, {name:>6}: fresh run {f:.2f} s, re-run with everything current {r:.2f} s = {r / f:.2f}x"
              + (" (target < 0.25x)" if name == "now" else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline", default=BEFORE_ISSUE_11, metavar="REV")
    args = parser.parse_args()
    with source_tree(args.baseline) as before_tree, tempfile.TemporaryDirectory() as folder:
        trees = {"before": before_tree, "now": ROOT}
        PYCACHE.update({tree: Path(folder) / f"pycache-{name}" for name, tree in trees.items()})
        call = Path(folder) / "call60.wav"
        one_minute_call(call)
        print(f"baseline {args.baseline} vs this checkout; python {sys.version.split()[0]}")
        compare("(a) callassist --help", trees, ["--help"], args.rounds)
        compare("(b) replay --asr none, 1-minute call", trees,
                ["replay", str(call), "--asr", "none", "--headless"], args.rounds)
        calls = Path(folder) / "calls"
        calls.mkdir()
        for wav in sorted(CALLS.glob("*.wav")):
            (calls / wav.name).write_bytes(wav.read_bytes())
        batch_rerun(trees, Path(folder), calls, max(1, args.rounds // 2))


if __name__ == "__main__":
    main()
