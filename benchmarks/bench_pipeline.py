"""The streaming replay: memory flat with call length, and no slower than the two-pass replay it
replaced. Prints figures measured side by side in one run.

    python benchmarks/bench_pipeline.py [--long-minutes 120] [--speed-minutes 10] [--repeats 5]

1. Peak memory (peak RSS of a fresh process) of `replay --asr none` of a 1-minute call and of a
   `--long-minutes` call: the pipeline reads the file once, in blocks, so the two should peak
   within 10 MiB of each other.
2. Time of a `--speed-minutes` replay with `--asr none`: the pipeline against the old two-pass
   path (analyse the whole recording into one list of inputs, sort it, feed it to the engine),
   kept here only to be measured. Same audio, same features, same report; CPU time of this
   process, best of `--repeats`, run alternately (each going first in turn).

The calls are the 8 kHz stereo sample call laid end to end, written to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "callassist" / "samples" / "sample_call.wav"

MEASURE_MEMORY = """
import json, resource, sys
from pathlib import Path
from callassist.replay import ReplayRequest, replay
from callassist.scriptpack import load_pack
from callassist.settings import load_settings
settings = load_settings(None)
pack = load_pack([], {})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = replay(ReplayRequest(audio=Path(sys.argv[1])), settings, pack)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kib": before, "peak_kib": peak, "events": len(report.events)}))
"""


def long_call(path: Path, minutes: float) -> float:
    """The sample call repeated to `minutes`, written block by block (never whole in memory)."""
    piece, rate = soundfile.read(SAMPLE, dtype="int16", always_2d=True)
    frames = round(minutes * 60 * rate)
    with soundfile.SoundFile(path, "w", samplerate=rate, channels=piece.shape[1], subtype="PCM_16") as out:
        written = 0
        while written < frames:
            block = piece[: frames - written]
            out.write(block)
            written += len(block)
    return frames / rate


def peak_memory(path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE_MEMORY, str(path)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def two_pass_replay(path: Path, settings, pack):
    """The replay this pipeline replaced (callassist 0.x replay.prepare_call with --asr none):
    read the file for analysis into one list of every input, sort it, feed it all."""
    from callassist.audio.features import AnalyzerSettings, analyze_recording
    from callassist.audio.recording import channel_map, open_recording
    from callassist.engine import Engine
    from callassist.inputs import input_sort_key
    from callassist.reporting.report import CallSource, build_report

    recording = open_recording(path)
    mapping = channel_map(recording, 0, 1)
    inputs = analyze_recording(recording, mapping)
    inputs.sort(key=input_sort_key)
    engine = Engine(pack, settings, caller_audio=True, has_text=False)
    engine.feed_all(inputs)
    engine.finish(recording.duration)
    source = CallSource(audio=str(path), transcript=None, duration=recording.duration,
                        channel_map={"agent": 0, "caller": 1}, text_from="none", activity_from="audio")
    return build_report(engine, source, [], AnalyzerSettings())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--long-minutes", type=float, default=120.0)
    parser.add_argument("--speed-minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from callassist.replay import ReplayRequest, replay
    from callassist.scriptpack import load_pack
    from callassist.settings import load_settings

    settings = load_settings(None)
    pack = load_pack([], {})
    with tempfile.TemporaryDirectory() as folder:
        short_path, long_path, speed_path = (Path(folder) / f"{n}.wav" for n in ("short", "long", "speed"))
        long_call(short_path, 1.0)
        long_call(long_path, args.long_minutes)
        print(f"peak memory of replay --asr none (fresh process each; {soundfile.info(SAMPLE).samplerate} Hz stereo):")
        short, long = peak_memory(short_path), peak_memory(long_path)
        difference = (long["peak_kib"] - short["peak_kib"]) / 1024
        print(f"  1-minute call:    {short['peak_kib'] / 1024:7.1f} MiB ({short['events']} events)")
        print(f"  {args.long_minutes:g}-minute call: {long['peak_kib'] / 1024:7.1f} MiB ({long['events']} events)")
        print(f"  difference:       {difference:7.1f} MiB (target: within 10 MiB)")

        seconds = long_call(speed_path, args.speed_minutes)
        request = ReplayRequest(audio=speed_path)
        streaming = replay(request, settings, pack)
        old = two_pass_replay(speed_path, settings, pack)
        same = streaming.to_json()["events"] == old.to_json()["events"]
        timings: dict[str, list[float]] = {"streaming pipeline": [], "two-pass (old)": []}
        runs = [("streaming pipeline", lambda: replay(request, settings, pack)),
                ("two-pass (old)", lambda: two_pass_replay(speed_path, settings, pack))]
        for repeat in range(args.repeats):
            for name, run in runs if repeat % 2 == 0 else runs[::-1]:  # each goes first in turn
                started = time.process_time()  # CPU time: other programs' time slices do not count
                run()
                timings[name].append(time.process_time() - started)
        print(f"\nreplay --asr none of a {args.speed_minutes:g}-minute call, best of {args.repeats} "
              f"(same events: {'yes' if same else 'NO'}, {len(old.events)} events):")
        best = {name: min(values) for name, values in timings.items()}
        for name, value in best.items():
            print(f"  {name:<20} {value:6.2f} s CPU ({seconds / value:5.0f}x real time)")
        print(f"  ratio streaming / two-pass: {best['streaming pipeline'] / best['two-pass (old)']:.2f}")
        if os.environ.get("BENCH_JSON"):
            print(json.dumps({"memory_difference_mib": difference, **best}))


if __name__ == "__main__":
    main()
