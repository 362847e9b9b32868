"""Offline speech recognition with Vosk: one recogniser per channel (the call pipeline runs each
on its own thread), all sharing one loaded model.

Audio is resampled to the model's rate with soxr (8 kHz telephony is upsampled properly, not by
repeating samples) and fed as 16-bit PCM. Results become engine inputs: partial results as
provisional text (`final=False`), final results with word times and confidences. Spaces Vosk
puts between Chinese words are removed.

Partial results carry no word times: asking Vosk for them (`SetPartialWords`) makes it align a
lattice for every partial, and with the Korean model that delays a word's first appearance from
about 0.5 s to about 2 s after it is spoken, and a third of the words never appear in a partial
at all (benchmarks/bench_recognition.py). A phrase found in a partial is timed by interpolation
over the partial's stretch of the stream (`HeardText.span_times`), and re-timed by the final
result's words.

A channel's recogniser is kept warm from call to call (`SpeechModel.recognizer`): Vosk builds
the decoding graph of the small models lazily and a new recogniser pays for it again, about six
times the CPU of a warm one over its first seconds. Between calls it is finalised, so that its
next audio starts a new feature pipeline (CMVN, i-vector) and decoder: a call's text does not
depend on the call before it. Together with dither off in the model's features
(`models.disable_dither`), the same call gives the same text on every run.

Vosk costs about half as much CPU on a silent channel as on speech, and a caller's channel is
mostly silent. So a recogniser hears only what may be speech (`SpeechGate`): each 10 ms frame
of the model-rate audio is voiced when webrtcvad (its least aggressive mode) calls it speech
and it passes the audio analyser's level rules; Vosk is fed from `GATE_PREROLL_SECONDS` before a
voiced frame to `GATE_HANGOVER_SECONDS` after the last one, and on while its current
utterance has text (so that it ends it as it would have). The gate looks at the recogniser's
own audio, in the pipeline's fixed blocks, never at thread timing: every path skips the same
stretches. Word times stay in stream time: the samples skipped before each point of Vosk's
clock are added back (`VoskResults.skipped`), and stretches are skipped in whole
`GATE_SKIP_QUANTUM_SECONDS` so that Vosk's 30 ms frames fall where they would without the gate.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import _webrtcvad
import numpy as np

from callassist.audio.features import AnalyzerSettings
from callassist.inputs import Speaker, Utterance, UtteranceHeard, Word

if TYPE_CHECKING:
    from callassist.pipeline import ChannelRecognition

DEFAULT_MODEL_RATE = 16000
# A warm Vosk recogniser counts time from its creation, in single precision: after an hour of
# audio its word times would be off by up to 0.1 ms, so it is replaced then (a cold start an
# hour costs about a second of CPU).
RENEW_AFTER_SECONDS = 3600.0
GATE_PREROLL_SECONDS = 0.3
"""Audio before a voiced frame that Vosk hears (a word's soft onset, and silence to start from).
On the real voices of tests/realaudio's scenes (both rates, 1671 s of speech) Vosk hears all
but 0.08 s of the speech and 99.7% of the 0.2 s before each utterance (0.5 s: all of the
speech, 99.8%; tests/test_speech_gate.py)."""
GATE_HANGOVER_SECONDS = 0.6
"""Audio after the last voiced frame that Vosk hears: a word's soft end. An utterance that still
has text then drains on (`GATE_MAX_DRAIN_SECONDS`): after the last word Vosk's endpoint rules
(0.5 to 2 s of trailing silence, conf/model.conf) decide, whatever the hangover, so a longer
one (1 s) only fed more silence where Vosk had already ended the utterance."""
GATE_SKIP_QUANTUM_SECONDS = 0.15
"""Skipped stretches are whole multiples of this: of the gate frame (10 ms), the pipeline's
block (50 ms) and Vosk's decoding frame (30 ms)."""
GATE_VAD_MODE = 0
"""webrtcvad's least aggressive mode: quiet speech is never skipped (steady noise is left to
the floor below)."""
GATE_FRAME_SECONDS = 0.01
GATE_ONSET_WINDOW = 10
GATE_ONSET_VOICED = 3
"""A voiced frame counts when this many of the last `GATE_ONSET_WINDOW` frames are voiced (30
of 100 ms, as the analyser's onset: a syllable does, a single bump of a line's noise does not)."""
GATE_MAX_DRAIN_SECONDS = 3.0
"""After the hangover, Vosk goes on hearing an utterance that has text until it ends it itself,
for at most this long; then its result is taken as final. Ending it at once instead (a final
result when the gate shuts) was measured and rejected: a forced final result restarts Vosk's
feature pipeline (CMVN, i-vector), so each utterance is decoded unadapted, with more (inserted)
words: 480 instead of 464 on the fixture calls, 229 instead of 195 on Korean speech with 3 s
pauses; and the CPU it saved was unclear (6% on the fixture calls, none on that speech)."""
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff\uf900-\ufaff]) +(?=[\u3400-\u9fff\uf900-\ufaff])")


def join_chinese(text: str) -> str:
    """Remove the spaces Vosk puts between Chinese words (other scripts keep theirs)."""
    return _CJK_GAP.sub("", text.strip())


def model_sample_rate(model_dir: Path) -> int:
    """The rate the model's features expect (`--sample-frequency` in conf/mfcc.conf; Kaldi's
    default 16 kHz when the model does not say)."""
    conf = model_dir / "conf" / "mfcc.conf"
    if conf.is_file():
        match = re.search(r"--sample-frequency=(\d+)", conf.read_text(encoding="utf-8", errors="replace"))
        if match:
            return int(match.group(1))
    return DEFAULT_MODEL_RATE


class StreamResampler:
    """Float samples at the input rate in, 16-bit PCM bytes at the model's rate out."""

    def __init__(self, input_rate: int, output_rate: int) -> None:
        import soxr  # imported with recognition, not with the module (which an acoustic-only replay loads too)

        self.stream = (
            soxr.ResampleStream(input_rate, output_rate, 1, dtype="float32", quality="HQ")
            if input_rate != output_rate
            else None
        )

    def process(self, samples: np.ndarray, last: bool = False) -> bytes:
        samples = np.asarray(samples, dtype=np.float32)
        if self.stream is not None:
            samples = self.stream.resample_chunk(samples, last=last)
        return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


class VoskResults:
    """Turns one channel's Vosk JSON results into engine inputs. Partials of an utterance and
    its final result share a key; a partial equal to the previous one is not repeated.

    A partial has no word times: its utterance runs from the end of the previous final result
    to the stream time of the partial. Word times count from `time_base` seconds of the
    recogniser's own clock (a warm recogniser's clock runs on from call to call) and are
    rounded to the millisecond (Vosk's are whole 30 ms frames), so they are the same whatever
    the recogniser heard before.
    """

    def __init__(self, speaker: Speaker, time_base: float = 0.0) -> None:
        self.speaker = speaker
        self.time_base = time_base
        self.index = 0
        self.last_partial = ""
        self.last_final_end = 0.0
        self._skip_at: list[float] = []  # Vosk's clock (s, from time_base) where a skipped stretch lies
        self._skipped_before: list[float] = [0.0]  # seconds skipped before each of those points, and in all

    def skipped(self, at: float, seconds: float) -> None:
        """`seconds` of the stream were not fed to Vosk when its clock (from time_base) read `at`."""
        self._skip_at.append(at)
        self._skipped_before.append(self._skipped_before[-1] + seconds)

    @property
    def key(self) -> str:
        return f"{self.speaker}:{self.index}"

    def partial(self, raw: str, t: float) -> list[UtteranceHeard]:
        data = json.loads(raw)
        text = join_chinese(data.get("partial", ""))
        if not text or text == self.last_partial:
            return []
        self.last_partial = text
        utterance = Utterance(self.speaker, self.last_final_end, max(t, self.last_final_end), text)
        return [UtteranceHeard(t=t, utterance=utterance, final=False, key=self.key)]

    def final(self, raw: str, t: float) -> list[UtteranceHeard]:
        """A final result. An empty one still closes the utterance when partials were shown,
        so that what they flagged can be withdrawn."""
        data = json.loads(raw)
        text = join_chinese(data.get("text", ""))
        had_partials = bool(self.last_partial)
        self.last_partial = ""
        if not text and not had_partials:
            return []
        words = self._words(data.get("result", []))
        start = words[0].start if words else self.last_final_end
        end = words[-1].end if words else start
        self.last_final_end = end
        heard = UtteranceHeard(t=t, utterance=Utterance(self.speaker, start, end, text, words), final=True, key=self.key)
        self.index += 1
        return [heard]

    def _words(self, items: list[dict]) -> tuple[Word, ...]:
        return tuple(
            Word(word=join_chinese(w["word"]), start=self._time(w["start"], 1), end=self._time(w["end"], -1),
                 conf=w.get("conf"))
            for w in items
        )

    def _time(self, vosk_time: float, side: int) -> float:
        """Stream time of a word's start (`side` 1) or end (-1) at `vosk_time` on Vosk's clock: a
        start at a skipped stretch (within 5 ms) lies after it, an end there before it."""
        fed = float(vosk_time) - self.time_base
        skipped = self._skipped_before[bisect.bisect_right(self._skip_at, fed + side * 0.005)]
        return round(fed + skipped, 3)


@dataclass(frozen=True)
class RecognizerSettings:
    partials: bool = True  # report partial results (live flags before the sentence ends)
    gate: bool = True  # feed Vosk only what may be speech (`SpeechGate`)
    levels: AnalyzerSettings = AnalyzerSettings()
    """The audio analyser's settings, whose level thresholds the gate shares (the call pipeline's
    analysers use the defaults)."""


class SpeechGate:
    """Which model-rate samples may be speech, decided per 10 ms frame from the audio alone:
    webrtcvad (mode `GATE_VAD_MODE`) calls it speech, it is at least the analyser's
    `min_level_dbfs`, and `min_snr_db` louder than the quietest frame of the last
    `noise_min_window` seconds (the audio analyser's level rules, read from its settings, with a
    floor never above the analyser's: a steady noisy line is not fed, a quiet voice on a quiet
    line is), with `GATE_ONSET_VOICED` of the last `GATE_ONSET_WINDOW` frames so. The gate
    keeps its own frames and history: it shares the analyser's thresholds, not its audio.
    `voiced_until` is the end (in samples of the stream) of the last voiced frame seen."""

    def __init__(self, rate: int, levels: AnalyzerSettings = AnalyzerSettings()) -> None:
        self.rate = rate
        self.min_level_dbfs = float(levels.min_level_dbfs)
        self.min_snr_db = float(levels.min_snr_db)
        self.frame = round(GATE_FRAME_SECONDS * rate)
        self.vad = _webrtcvad.create()
        _webrtcvad.init(self.vad)
        _webrtcvad.set_mode(self.vad, GATE_VAD_MODE)
        self.pending = b""  # the start of the next frame
        self.position = 0  # samples of the stream in whole frames seen
        self.voiced_until = -math.inf
        self.window = round(levels.noise_min_window / GATE_FRAME_SECONDS)
        self.frames_seen = 0
        # the floor's window: (frame number, level) of the frames that may yet be its quietest,
        # levels rising (a frame louder than a later one never is again)
        self.quietest: deque[tuple[int, float]] = deque()
        self.recent_voiced: deque[bool] = deque([False] * GATE_ONSET_WINDOW, maxlen=GATE_ONSET_WINDOW)
        self.voiced_count = 0  # of recent_voiced

    def hear(self, pcm: bytes) -> None:
        """Frame by frame in Python, the floor's window as a queue: a block is five frames, and
        numpy's overhead per call on arrays that small made the gate three times as dear (over
        the fixture calls' channels: 1.11 s of CPU against 0.39 s, the same decisions)."""
        data = self.pending + pcm
        length = 2 * self.frame
        whole = len(data) - len(data) % length
        self.pending = data[whole:]
        if not whole:
            return
        frames = np.frombuffer(data, dtype="<i2", count=whole // 2).astype(np.float64).reshape(-1, self.frame) / 32768.0
        levels = 10 * np.log10(np.maximum(np.einsum("ij,ij->i", frames, frames) / self.frame, 1e-10))
        quietest, recent = self.quietest, self.recent_voiced
        last_counted = -1
        for index, level in enumerate(levels.tolist()):
            number = self.frames_seen + index
            while quietest and quietest[-1][1] >= level:
                quietest.pop()
            quietest.append((number, level))
            if quietest[0][0] <= number - self.window:
                quietest.popleft()
            voiced = (
                level >= self.min_level_dbfs
                and level >= quietest[0][1] + self.min_snr_db
                and _webrtcvad.process(self.vad, self.rate, data[index * length : (index + 1) * length], self.frame) == 1
            )
            self.voiced_count += voiced - recent[0]
            recent.append(voiced)
            # a voiced frame counts with GATE_ONSET_VOICED of the last GATE_ONSET_WINDOW voiced (a blip does not)
            if voiced and self.voiced_count >= GATE_ONSET_VOICED:
                last_counted = index
        if last_counted >= 0:
            self.voiced_until = self.position + (last_counted + 1) * self.frame
        self.frames_seen += len(levels)
        self.position += whole // 2


def _single(value: float) -> float:
    """`value` rounded to single precision, as Vosk computes a recogniser's time offset."""
    return float(np.float32(value))


class ChannelRecognizer:
    """Streams one channel through a Vosk recogniser: `feed` blocks of float samples at the
    input rate, `finish` at the end of the stream, `reset` before the next stream (call) on the
    same recogniser. Not thread-safe: one stream at a time, fed from one thread."""

    def __init__(self, model, model_rate: int, speaker: Speaker, input_rate: int,
                 settings: RecognizerSettings = RecognizerSettings()) -> None:
        self.model = model
        self.model_rate = model_rate
        self.speaker = speaker
        self.settings = settings
        self.recognizer = self._new_vosk_recognizer()
        self.samples_fed = 0  # model-rate samples this Vosk recogniser has been fed, all calls
        self.dirty = False  # fed since the last reset: its state must be dropped before the next call
        self._start_stream(input_rate)

    def _new_vosk_recognizer(self):
        import vosk

        recognizer = vosk.KaldiRecognizer(self.model, self.model_rate)
        recognizer.SetWords(True)
        return recognizer

    def _start_stream(self, input_rate: int) -> None:
        self.input_rate = input_rate
        self.resampler = StreamResampler(input_rate, self.model_rate)
        # Vosk's clock: samples fed before this call, divided in single precision
        self.results = VoskResults(self.speaker, _single(_single(self.samples_fed) / _single(self.model_rate)))
        self.samples_in = 0
        self.stream_fed = 0  # model-rate samples of this stream fed to Vosk
        self.gate = SpeechGate(self.model_rate, self.settings.levels) if self.settings.gate else None
        self.gate_open = False
        self.held = bytearray()  # model-rate audio not fed while the gate is shut: the next pre-roll
        self.heard_until = 0  # model-rate samples of this stream resampled
        self.draining_since: int | None = None  # when the gate would have shut while Vosk's utterance had text

    def reset(self, input_rate: int | None = None) -> None:
        """Ready for a new stream, as if the recogniser were new but with its graph cache warm.

        Vosk starts a new feature pipeline and decoder only after a final result that found it
        running, so one is forced here (an endpoint just before `finish` leaves it otherwise
        stopped, and the next call would inherit its CMVN and i-vector statistics)."""
        if self.dirty:
            self.recognizer.AcceptWaveform(b"")
            self.recognizer.FinalResult()
            self.dirty = False
        if self.samples_fed > RENEW_AFTER_SECONDS * self.model_rate:
            self.recognizer = self._new_vosk_recognizer()
            self.samples_fed = 0
        self._start_stream(input_rate or self.input_rate)

    @property
    def stream_time(self) -> float:
        return self.samples_in / self.input_rate

    def _accept(self, pcm: bytes) -> bool:
        self.dirty = True
        self.samples_fed += len(pcm) // 2
        self.stream_fed += len(pcm) // 2
        return self.recognizer.AcceptWaveform(pcm)

    def feed(self, samples: np.ndarray) -> list[UtteranceHeard]:
        self.samples_in += len(samples)
        pcm = self.resampler.process(samples)
        if self.gate is None:
            return self._decode(pcm)
        self.gate.hear(pcm)
        self.heard_until += len(pcm) // 2
        hangover = GATE_HANGOVER_SECONDS * self.model_rate
        voice = self.gate.voiced_until > self.heard_until - len(pcm) // 2 - hangover  # near this block
        if not self.gate_open:
            self.held += pcm
            if voice:
                return self._open()
            self._skip_held()
            return []
        heard = self._decode(pcm)
        if voice:
            self.draining_since = None
        elif not self._utterance_has_text():
            self.gate_open = False
        else:
            self.draining_since = self.draining_since if self.draining_since is not None else self.heard_until
            if self.heard_until - self.draining_since > GATE_MAX_DRAIN_SECONDS * self.model_rate:
                heard += self.results.final(self.recognizer.FinalResult(), self.stream_time)
                self.gate_open = False
        if not self.gate_open:
            self.draining_since = None
        return heard

    def _open(self) -> list[UtteranceHeard]:
        """Voice: Vosk hears the pre-roll, then the block, in pieces of about a block."""
        self.gate_open = True
        held, self.held = bytes(self.held), bytearray()
        piece = 2 * round(0.05 * self.model_rate)
        heard: list[UtteranceHeard] = []
        for start in range(0, len(held), piece):
            heard += self._decode(held[start : start + piece])
        return heard

    def _skip_held(self) -> None:
        """Keep `GATE_PREROLL_SECONDS` (plus under a quantum) held; the older audio is skipped."""
        quantum = round(GATE_SKIP_QUANTUM_SECONDS * self.model_rate)
        excess = len(self.held) // 2 - round(GATE_PREROLL_SECONDS * self.model_rate)
        if excess < quantum:
            return
        drop = excess - excess % quantum
        del self.held[: 2 * drop]
        self.results.skipped(self.stream_fed / self.model_rate, drop / self.model_rate)

    def _utterance_has_text(self) -> bool:
        if self.settings.partials:
            return bool(self.results.last_partial)
        return bool(json.loads(self.recognizer.PartialResult()).get("partial", "").strip())

    def _decode(self, pcm: bytes) -> list[UtteranceHeard]:
        if self._accept(pcm):
            return self.results.final(self.recognizer.Result(), self.stream_time)
        if self.settings.partials:
            return self.results.partial(self.recognizer.PartialResult(), self.stream_time)
        return []

    def finish(self) -> list[UtteranceHeard]:
        pcm = self.resampler.process(np.zeros(0, dtype=np.float32), last=True)
        heard = []
        if pcm and (self.gate is None or self.gate_open) and self._accept(pcm):
            heard += self.results.final(self.recognizer.Result(), self.stream_time)
        return heard + self.results.final(self.recognizer.FinalResult(), self.stream_time)


@dataclass
class SpeechModel:
    """A loaded Vosk model, shared by every recogniser (one per channel and thread), and the
    recognisers kept warm for its owner (a batch worker, a live session): one per speaker,
    used by one call at a time."""

    path: Path
    model: object
    sample_rate: int
    warm: dict[Speaker, ChannelRecognizer] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    def recognizer(
        self, speaker: Speaker, input_rate: int, settings: RecognizerSettings = RecognizerSettings()
    ) -> ChannelRecognizer:
        """The speaker's recogniser, ready for a new stream at `input_rate`."""
        recognizer = self.warm.get(speaker)
        if recognizer is None:
            recognizer = self.warm[speaker] = ChannelRecognizer(self.model, self.sample_rate, speaker, input_rate, settings)
        else:
            recognizer.settings = settings  # before the reset: the new stream's gate follows it
            recognizer.reset(input_rate)
        return recognizer


@dataclass(frozen=True)
class VoskRecognition:
    """A loaded Vosk model as the call pipeline's `Recognition`."""

    model: SpeechModel
    settings: RecognizerSettings = RecognizerSettings()

    @property
    def name(self) -> str:
        return f"vosk:{self.model.name}"

    def open_channel(self, speaker: Speaker, input_rate: int) -> ChannelRecognition:
        return self.model.recognizer(speaker, input_rate, self.settings)  # kept warm from call to call


def open_speech_model(explicit: Path | None, interactive: bool) -> SpeechModel:
    """Find (or, when a person at the keyboard agrees, download) and load the model."""
    import sys

    from callassist.models import (
        DEFAULT_MODEL, ModelNotFoundError, configuration_notes, find_model, load_model, offer_download,
    )

    path = offer_download(DEFAULT_MODEL, interactive, explicit=explicit)
    if path is None:
        try:
            find_model(explicit)
        except ModelNotFoundError as error:
            raise ModelNotFoundError(f"download declined; {error}") from None
    for note in configuration_notes(path):
        print(f"callassist: note: {note}; `callassist models verify {path}` sets it", file=sys.stderr)
    return SpeechModel(path, load_model(path), model_sample_rate(path))
