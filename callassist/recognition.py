"""Offline speech recognition with Vosk: one recogniser per channel, each in its own worker
thread, sharing one loaded model.

Audio is resampled to the model's rate with soxr (8 kHz telephony is upsampled properly, not by
repeating samples) and fed as 16-bit PCM. Results become engine inputs: partial results as
provisional text (`final=False`), final results with word times and confidences. Spaces Vosk
puts between Chinese words are removed.
"""

from __future__ import annotations

import json
import queue
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from callassist.inputs import Speaker, Utterance, UtteranceHeard, Word

DEFAULT_MODEL_RATE = 16000
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
    its final result share a key; a partial equal to the previous one is not repeated."""

    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker
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
        words = self._words(data.get("partial_result", []))
        start = words[0].start if words else self.last_final_end
        utterance = Utterance(self.speaker, start, max(t if not words else words[-1].end, start), text, words)
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

    @staticmethod
    def _words(items: list[dict]) -> tuple[Word, ...]:
        return tuple(
            Word(word=join_chinese(w["word"]), start=float(w["start"]), end=float(w["end"]), conf=w.get("conf"))
            for w in items
        )


@dataclass(frozen=True)
class RecognizerSettings:
    partials: bool = True  # report partial results (live flags before the sentence ends)


class ChannelRecognizer:
    """Streams one channel through its own Vosk recogniser. Not thread-safe: one per thread."""

    def __init__(self, model, model_rate: int, speaker: Speaker, input_rate: int,
                 settings: RecognizerSettings = RecognizerSettings()) -> None:
        import vosk

        self.recognizer = vosk.KaldiRecognizer(model, model_rate)
        self.recognizer.SetWords(True)
        self.recognizer.SetPartialWords(True)
        self.resampler = StreamResampler(input_rate, model_rate)
        self.results = VoskResults(speaker)
        self.input_rate = input_rate
        self.samples_in = 0
        self.settings = settings

    @property
    def stream_time(self) -> float:
        return self.samples_in / self.input_rate

    def accept(self, samples: np.ndarray) -> list[UtteranceHeard]:
        self.samples_in += len(samples)
        pcm = self.resampler.process(samples)
        if self.recognizer.AcceptWaveform(pcm):
            return self.results.final(self.recognizer.Result(), self.stream_time)
        if self.settings.partials:
            return self.results.partial(self.recognizer.PartialResult(), self.stream_time)
        return []

    def finish(self) -> list[UtteranceHeard]:
        pcm = self.resampler.process(np.zeros(0, dtype=np.float32), last=True)
        heard = []
        if pcm and self.recognizer.AcceptWaveform(pcm):
            heard += self.results.final(self.recognizer.Result(), self.stream_time)
        return heard + self.results.final(self.recognizer.FinalResult(), self.stream_time)


class RecognitionWorker(threading.Thread):
    """Decodes one channel in its own thread: audio blocks in through a bounded queue (None
    ends the stream), recognised text out through `deliver`. A decoding error is kept in
    `error` and reported by the owner; the worker never raises into the audio path."""

    def __init__(self, recognizer: ChannelRecognizer, deliver: Callable[[list[UtteranceHeard]], None],
                 max_blocks: int = 64) -> None:
        super().__init__(name=f"recognizer-{recognizer.results.speaker}", daemon=True)
        self.recognizer = recognizer
        self.deliver = deliver
        self.blocks: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=max_blocks)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while (block := self.blocks.get()) is not None:
                heard = self.recognizer.accept(block)
                if heard:
                    self.deliver(heard)
            self.deliver(self.recognizer.finish())
        except BaseException as error:  # reported by the owner, never lost
            self.error = error
            while self.blocks.get() is not None:  # keep the producer from blocking on a full queue
                pass


def recognize_channels(
    model, model_rate: int, input_rate: int, channels: dict[Speaker, int],
    blocks: Iterable[np.ndarray], settings: RecognizerSettings = RecognizerSettings(),
) -> list[UtteranceHeard]:
    """Recognise the mapped channels of a stream of (n, channels) blocks, each channel on its
    own thread with its own recogniser and the shared model. Deterministic: each recogniser
    sees the same blocks whatever the threads' timing."""
    collected: dict[Speaker, list[UtteranceHeard]] = {speaker: [] for speaker in channels}
    workers = {
        speaker: RecognitionWorker(
            ChannelRecognizer(model, model_rate, speaker, input_rate, settings), collected[speaker].extend
        )
        for speaker in channels
    }
    for worker in workers.values():
        worker.start()
    try:
        for block in blocks:
            for speaker, channel in channels.items():
                workers[speaker].blocks.put(np.ascontiguousarray(block[:, channel]))
    finally:
        for worker in workers.values():
            worker.blocks.put(None)
        for worker in workers.values():
            worker.join()
    for worker in workers.values():
        if worker.error is not None:
            raise RuntimeError(f"recognition failed on the {worker.recognizer.results.speaker} channel: {worker.error}")
    return [heard for speaker in channels for heard in collected[speaker]]


@dataclass(frozen=True)
class SpeechModel:
    """A loaded Vosk model, shared by every recogniser (one per channel and thread)."""

    path: Path
    model: object
    sample_rate: int

    @property
    def name(self) -> str:
        return self.path.name


def open_speech_model(explicit: Path | None, interactive: bool) -> SpeechModel:
    """Find (or, when a person at the keyboard agrees, download) and load the model."""
    from callassist.models import DEFAULT_MODEL, ModelNotFoundError, find_model, load_model, offer_download

    path = offer_download(DEFAULT_MODEL, interactive, explicit=explicit)
    if path is None:
        try:
            find_model(explicit)
        except ModelNotFoundError as error:
            raise ModelNotFoundError(f"download declined; {error}") from None
    return SpeechModel(path, load_model(path), model_sample_rate(path))
