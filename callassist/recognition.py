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
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soxr

from callassist.inputs import Speaker, Utterance, UtteranceHeard, Word

DEFAULT_MODEL_RATE = 16000
# A warm Vosk recogniser counts time from its creation, in single precision: after an hour of
# audio its word times would be off by up to 0.1 ms, so it is replaced then (a cold start an
# hour costs about a second of CPU).
RENEW_AFTER_SECONDS = 3600.0
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
            Word(word=join_chinese(w["word"]), start=self._time(w["start"]), end=self._time(w["end"]), conf=w.get("conf"))
            for w in items
        )

    def _time(self, vosk_time: float) -> float:
        return round(float(vosk_time) - self.time_base, 3)


@dataclass(frozen=True)
class RecognizerSettings:
    partials: bool = True  # report partial results (live flags before the sentence ends)


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
        return self.recognizer.AcceptWaveform(pcm)

    def feed(self, samples: np.ndarray) -> list[UtteranceHeard]:
        self.samples_in += len(samples)
        pcm = self.resampler.process(samples)
        if self._accept(pcm):
            return self.results.final(self.recognizer.Result(), self.stream_time)
        if self.settings.partials:
            return self.results.partial(self.recognizer.PartialResult(), self.stream_time)
        return []

    def finish(self) -> list[UtteranceHeard]:
        pcm = self.resampler.process(np.zeros(0, dtype=np.float32), last=True)
        heard = []
        if pcm and self._accept(pcm):
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
            recognizer.reset(input_rate)
            recognizer.settings = settings
        return recognizer


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
