"""How many times faster than real time audio analysis plus rules run on a 10-minute stereo
call, on one core, without recognition.

    python benchmarks/bench_audio.py [--minutes 10]

The call is the rendered fixture calls (tests/fixtures/calls) laid end to end until it is long
enough, written as a 16 kHz stereo WAV in a temporary folder, then replayed from the file.
In the same run, for scale: a bare pass over the same file (read it in 2 s blocks, webrtcvad and
the RMS of every 20 ms frame of both channels), and the analysis without the learned speech
confirmation (webrtcvad and the gates alone). Target: analysis + rules at 200x real time or more.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import webrtcvad

from callassist.audio.features import AnalyzerSettings, analyze_recording
from callassist.audio.recording import channel_map, open_recording
from callassist.engine import Engine
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


def bare_pass(path: Path) -> int:
    """Read the file, webrtcvad and RMS on every 20 ms frame of both channels: the floor."""
    recording = open_recording(path)
    vad = webrtcvad.Vad(2)
    frame = round(0.02 * recording.sample_rate)
    voiced = 0
    for block in recording.blocks(2.0):
        for channel in range(block.shape[1]):
            samples = block[: len(block) // frame * frame, channel]
            pcm = np.clip(np.rint(samples * 32768), -32768, 32767).astype(np.int16).tobytes()
            np.sqrt(np.mean(samples.reshape(-1, frame).astype(np.float64) ** 2, axis=1))
            voiced += sum(vad.is_speech(pcm[i : i + 2 * frame], recording.sample_rate) for i in range(0, len(pcm), 2 * frame))
    return voiced


def without_confirmation(path: Path, settings, pack) -> int:
    recording = open_recording(path)
    engine = Engine(pack, settings, has_text=False)
    engine.feed_all(analyze_recording(recording, channel_map(recording), AnalyzerSettings(confirm_speech=False)))
    engine.finish(recording.duration)
    return len(engine.events)


def cpu_seconds(work) -> float:
    """The CPU time `work` takes on this process's one core: on a machine busy with other work,
    wall-clock time would count the time slices the others get."""
    began = time.process_time()
    work()
    return time.process_time() - began


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
        report = replay(ReplayRequest(audio=path), settings, pack)
        timings = {}  # interleaved, so that a busy machine slows every figure alike
        for _ in range(3):
            for name, work in (
                ("analysis + rules", lambda: replay(ReplayRequest(audio=path), settings, pack)),
                ("same without the learned confirmation", lambda: without_confirmation(path, settings, pack)),
                ("bare read + webrtcvad + RMS", lambda: bare_pass(path)),
            ):
                timings[name] = min(timings.get(name, float("inf")), cpu_seconds(work))
    print(f"audio: {seconds / 60:.1f} min stereo 16 kHz, events: {len(report.events)}")
    bare = timings["bare read + webrtcvad + RMS"]
    for name, best in timings.items():
        print(f"{name + ':':<40} {best:6.2f} s CPU (best of 3) on one core = {seconds / best:5.0f}x real time, {best / bare:4.1f}x the bare pass")


if __name__ == "__main__":
    main()
