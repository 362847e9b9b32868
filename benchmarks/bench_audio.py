"""How many times faster than real time audio analysis plus rules run on a 10-minute stereo
call, on one core, without recognition.

    python benchmarks/bench_audio.py [--minutes 10]

The call is the rendered fixture calls (tests/fixtures/calls) laid end to end until it is long
enough, written as a 16 kHz stereo WAV in a temporary folder, then replayed from the file.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from callassist.replay import ReplayRequest, replay
from callassist.scriptpack import load_pack
from callassist.settings import load_settings

CALLS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "calls"


def long_call(path: Path, minutes: float) -> float:
    pieces = [soundfile.read(p)[0] for p in sorted(CALLS.glob("*.wav")) if soundfile.info(p).samplerate == 16000]
    target = int(minutes * 60 * 16000)
    joined = np.concatenate(pieces * (target // sum(len(p) for p in pieces) + 1))[:target]
    soundfile.write(path, joined, 16000, subtype="PCM_16")
    return len(joined) / 16000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core
    settings = load_settings(None)
    pack = load_pack([], {"company": "平安", "agent": "三零二"})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long_call.wav"
        seconds = long_call(path, args.minutes)
        best = float("inf")
        for _ in range(3):
            began = time.perf_counter()
            report = replay(ReplayRequest(audio=path), settings, pack)
            best = min(best, time.perf_counter() - began)
    print(f"audio: {seconds / 60:.1f} min stereo 16 kHz, events: {len(report['events'])}")
    print(f"analysis + rules: {best:.2f} s (best of 3) on one core = {seconds / best:.0f}x real time")


if __name__ == "__main__":
    main()
