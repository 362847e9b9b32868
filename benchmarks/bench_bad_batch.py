"""A batch of 500 calls with 5 bad ones among them, on 2 workers: what it reports and how long it takes.

    python benchmarks/bench_bad_batch.py [--calls 500] [--workers 2] [--out DIR]

The calls are the hand-labelled transcripts of tests/data/calls (JSON Lines, renamed per call)
and, every 25th call, a fixture recording with its transcript. The bad ones:

- corrupt audio: a WAV whose header is garbage                         -> listed as failed
- epoch times: a transcript timed in Unix seconds                        -> listed as failed
- NaN: a transcript with a NaN time                                       -> listed as failed
- a pack regex that would backtrack: the batch's extra pack has the cue pattern `(a+)+$`, and
  one caller says 32 a's and a "!" (52 s per utterance with Python's re); RE2 matches it in
  linear time, so that call is scored correctly (its hint is raised)       -> a report
- a duplicate name: `dup.wav` beside `dup.flac` (one transcript)          -> two reports,
  `dup.wav` and `dup.flac`, never one overwriting the other

So 500 calls end as 497 reports and 3 failures listed with their reasons, exit status 1.
The script prints those counts, the reasons, and the wall-clock time; it exits non-zero if
any expectation fails.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile

ROOT = Path(__file__).resolve().parent.parent
TRANSCRIPTS = sorted((ROOT / "tests" / "data" / "calls").glob("*.jsonl"))
RECORDINGS = sorted((ROOT / "tests" / "fixtures" / "calls").glob("*.wav"))
BACKTRACKING_PACK = (ROOT / "tests" / "data" / "packs" / "backtracking" / "site.toml").read_text(encoding="utf-8")
LINE = '{{"speaker": "{speaker}", "start": {start}, "end": {end}, "text": "{text}"}}\n'


def build(folder: Path, count: int) -> tuple[dict[str, str], int]:
    """`count` calls, 6 of them the 5 bad cases (the duplicate name is two recordings); returns
    the expected failures (name -> part of the reason) and the number of reports expected."""
    folder.mkdir(parents=True)
    good = count - 6
    for number in range(good):
        name = folder / f"call{number:04d}"
        if number % 25 == 0:
            recording = RECORDINGS[number // 25 % len(RECORDINGS)]
            shutil.copy(recording, name.with_suffix(".wav"))
            shutil.copy(recording.with_suffix(".jsonl"), name.with_suffix(".jsonl"))
        else:
            shutil.copy(TRANSCRIPTS[number % len(TRANSCRIPTS)], name.with_suffix(".jsonl"))
    (folder / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage" + bytes(1000))
    epoch = 1_733_000_000
    (folder / "epoch.jsonl").write_text(
        LINE.format(speaker="agent", start=epoch, end=epoch + 2, text="您好") * 3, encoding="utf-8"
    )
    (folder / "nan.jsonl").write_text(
        LINE.format(speaker="agent", start=0.5, end=2, text="您好") + LINE.format(speaker="caller", start="NaN", end=4, text="喂"),
        encoding="utf-8",
    )
    (folder / "backtrack.jsonl").write_text(
        LINE.format(speaker="agent", start=0.5, end=2, text="您好")
        + "".join(LINE.format(speaker="caller", start=3 + i, end=3.9 + i, text="a" * 32 + "!") for i in range(20))
        + LINE.format(speaker="caller", start=30, end=31, text="aaaa"),
        encoding="utf-8",
    )
    shutil.copy(RECORDINGS[0], folder / "dup.wav")
    samples, rate = soundfile.read(RECORDINGS[0], always_2d=True)
    soundfile.write(folder / "dup.flac", samples, rate, format="FLAC")
    shutil.copy(RECORDINGS[0].with_suffix(".jsonl"), folder / "dup.jsonl")
    expected = {"corrupt": "corrupt.wav: is not a readable audio file", "epoch": "epoch.jsonl:1: field 'start'", "nan": "nan.jsonl:2: NaN"}
    return expected, good + 3  # the backtracking call and both duplicates are reports too


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="keep the output here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        calls, pack = Path(scratch) / "calls", Path(scratch) / "backtracking.toml"
        out = args.out or Path(scratch) / "out"
        pack.write_text(BACKTRACKING_PACK, encoding="utf-8")
        expected_failures, expected_reports = build(calls, args.calls)
        inputs = len({p.with_suffix("") for p in calls.iterdir()}) + 1  # dup.wav and dup.flac are two calls
        command = [
            sys.executable, "-m", "callassist", "batch", str(calls), "--out", str(out), "--asr", "none",
            "--workers", str(args.workers), "--scripts", str(pack),
        ]
        began = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - began
        reports = sorted((out / "calls").glob("*.json"))
        failed = dict(line.removeprefix("failed: ").split(": ", 1) for line in result.stdout.splitlines() if line.startswith("failed: "))
        backtrack = json.loads((out / "calls" / "backtrack.json").read_text(encoding="utf-8"))
        hint_raised = any(e["id"] == "caller_title" for e in backtrack["events"])
        print(f"{inputs} calls (dup.wav beside dup.flac are two), {args.workers} workers")
        print(f"wall-clock time: {wall:.1f} s (limit 120 s)")
        print(f"exit status: {result.returncode} (expected 1)")
        print(f"reports: {len(reports)} (expected {expected_reports}); both duplicates: {sorted(p.name for p in reports if p.name.startswith('dup'))}")
        print(f"backtracking pattern: call scored, its hint raised: {hint_raised}")
        print(f"failures listed: {len(failed)} (expected {len(expected_failures)})")
        for name, reason in sorted(failed.items()):
            print(f"  {name}: {reason}")
        ok = (
            result.returncode == 1
            and len(reports) == expected_reports
            and failed.keys() == expected_failures.keys()
            and all(expected_failures[name] in reason for name, reason in failed.items())
            and hint_raised
            and wall < 120
        )
        print("OK" if ok else "NOT OK")
        if not ok:
            print(result.stderr[-2000:], file=sys.stderr)
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
