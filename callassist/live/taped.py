"""A replay's recognition and audio analysis, kept: judging the same audio again does not decode
or analyse it again.

A replay that seeks back judges the call again from its start (a new `CallPipeline`) up to the
new position. Recognition is by far the dearest part of that (Vosk: about 0.1 CPU s per second
of audio), and its results for audio already decoded are known: the pipeline feeds a recogniser
whole blocks of `RECOGNITION_BLOCK_SECONDS` of stream time, so a judgement from 0 feeds it the
very same blocks in the very same order, and a streaming recogniser's answer to a block depends
only on the blocks before it. So each channel's recogniser is opened once per call, and what it
answered to each block is recorded (a tape). A later judgement of the call plays the tape
back; where it passes the end of the tape, the same recogniser, in the state it was left in,
decodes on. The recogniser's stream is thus one unbroken stream, as in a replay that never
seeked, and so is its text: same events, same report. A tape costs 8 bytes a block (160 bytes
a second of audio, a channel) and the text heard: 2.3 MB for a two-hour stereo call.

The audio analysis (`TapedAnalysis`) is kept the same way; without it a seek back at minute 10
re-analysed ten minutes of audio (4 s of waiting). Its outputs do not depend on how the audio
is cut into blocks, only on the audio, but when each is given does; the tape keeps, after each
feed, the samples fed so far, the outputs given so far and the analyser's `settled_until`. A
judgement fed to a point between two of those gets what was given by the earlier one, and that
one's bound: its judging may stop up to a block short of where an analyser fed exactly so far
would let it, and goes on at the next feed; the inputs the engine gets, and their order, are
the same. Its outputs are mostly a level frame a channel every 0.1 s: 4.7 MB for 10.5 minutes
of stereo audio (about 54 MB for two hours).

Hence the one rule for the session: the judgement being dropped must not end the recogniser's
stream (`finish` would force a final result that an unbroken decode would not have had), nor
feed it what it still had queued, nor flush the analyser. `rewind()` detaches its channels
first; then its pipeline can be finished as usual.
"""

from __future__ import annotations

import bisect
import math
import threading
from array import array
from typing import TYPE_CHECKING

import numpy as np

from callassist.audio.features import AnalyzerSettings, ChannelAnalyzer
from callassist.inputs import EngineInput, Speaker, UtteranceHeard

if TYPE_CHECKING:
    from callassist.pipeline import ChannelAnalysis, ChannelRecognition, Recognition


class TapedRecognition:
    """A `Recognition` for one call judged any number of times from its start (a replay that
    seeks back): each channel is decoded once, whatever the number of judgements."""

    def __init__(self, recognition: Recognition) -> None:
        self.recognition = recognition
        self._tapes: dict[Speaker, _Tape] = {}

    @property
    def name(self) -> str:
        return self.recognition.name

    def open_channel(self, speaker: Speaker, input_rate: int) -> ChannelRecognition:
        """The channel from the call's start: played back from the tape as far as it goes, then
        decoded by the recogniser the tape was made with. The first judgement opens the real one."""
        tape = self._tapes.get(speaker)
        if tape is None:
            tape = self._tapes[speaker] = _Tape(self.recognition.open_channel(speaker, input_rate), input_rate)
        elif tape.rate != input_rate:
            raise ValueError(f"the {speaker} channel was recorded at {tape.rate} Hz, not {input_rate} Hz")
        return tape.play()

    def rewind(self) -> None:
        """The judgement in progress is being dropped: its channels hear nothing more from now on
        (blocks still queued for them, the rest of a block, the end of the stream), so the
        recogniser stays exactly where the tape ends, for the next judgement to decode on from."""
        for tape in self._tapes.values():
            tape.detach()


class _Tape:
    """One channel's recogniser and what it answered to each block fed to it, in order.

    At most one player decodes on past the tape's end: the latest one opened (the others belong
    to dropped judgements). Players run on their pipelines' recogniser threads while the session
    rewinds from its own, hence the lock; it is held while the recogniser decodes a block, so a
    rewind waits for at most one block."""

    def __init__(self, recognizer: ChannelRecognition, rate: int) -> None:
        self.recognizer = recognizer
        self.rate = rate
        self.lock = threading.Lock()
        self.frames = array("q")  # samples in each block decoded
        self.heard: dict[int, tuple[UtteranceHeard, ...]] = {}  # block index -> what it gave (if anything)
        self.ending: tuple[UtteranceHeard, ...] | None = None  # what `finish` gave, once the stream has ended
        self.player: _Player | None = None

    def play(self) -> _Player:
        with self.lock:
            self.player = _Player(self)
            return self.player

    def detach(self) -> None:
        with self.lock:
            self.player = None


class _Player:
    """One judgement's channel: a `ChannelRecognition` reading the tape, then recording onto it."""

    def __init__(self, tape: _Tape) -> None:
        self.tape = tape
        self.block = 0  # index of the next block

    def feed(self, samples: np.ndarray) -> list[UtteranceHeard]:
        tape = self.tape
        with tape.lock:
            if tape.player is not self:
                return []  # a dropped judgement's
            if self.block < len(tape.frames):
                if len(samples) != tape.frames[self.block]:
                    raise RuntimeError(
                        f"block {self.block} has {len(samples)} samples, not the {tape.frames[self.block]} "
                        "it was decoded with: a judgement from the start must feed the same blocks"
                    )
                heard = tape.heard.get(self.block, ())
                self.block += 1
                return list(heard)
            if tape.ending is not None:
                raise RuntimeError("audio past the end of a stream that has ended")
            heard = tape.recognizer.feed(samples)
            if heard:
                tape.heard[len(tape.frames)] = tuple(heard)
            tape.frames.append(len(samples))
            self.block += 1
            return heard

    def finish(self) -> list[UtteranceHeard]:
        """The end of the stream: the recogniser's last text, once. A judgement that ends before
        the tape does (a replay quit after seeking back) hears nothing more: the recogniser is
        not at that point of the stream to end it there."""
        tape = self.tape
        with tape.lock:
            if tape.player is not self or self.block < len(tape.frames):
                return []
            if tape.ending is None:
                tape.ending = tuple(tape.recognizer.finish())
            return list(tape.ending)


class TapedAnalysis:
    """A call pipeline's `analysis` for one call judged any number of times from its start (a
    replay that seeks back): each channel's audio is analysed once, whatever the number of
    judgements. Driven from one thread (the session's)."""

    def __init__(self, live: bool) -> None:
        self.live = live
        self._tapes: dict[Speaker, _AnalysisTape] = {}

    def open_channel(self, speaker: Speaker, rate: int) -> ChannelAnalysis:
        """The channel from the call's start: played back from the tape as far as it goes, then
        analysed by the analyser the tape was made with."""
        tape = self._tapes.get(speaker)
        if tape is None:
            tape = self._tapes[speaker] = _AnalysisTape(ChannelAnalyzer(speaker, rate, live=self.live), rate)
        elif tape.rate != rate:
            raise ValueError(f"the {speaker} channel was analysed at {tape.rate} Hz, not {rate} Hz")
        tape.player = _AnalysisPlayer(tape)
        return tape.player

    def rewind(self) -> None:
        """The judgement in progress is being dropped: its channels are given nothing more and
        flush nothing, so the analyser stays where the tape ends."""
        for tape in self._tapes.values():
            tape.player = None


class _AnalysisTape:
    """One channel's analyser and, after each feed, the samples fed, outputs given and bound so far."""

    def __init__(self, analyzer: ChannelAnalyzer, rate: int) -> None:
        self.analyzer = analyzer
        self.rate = rate
        self.fed = array("q")  # samples fed in all, after each feed
        self.given = array("q")  # outputs given in all, after each feed
        self.settled = array("d")  # the analyser's settled_until, after each feed
        self.outputs: list[EngineInput] = []
        self.ending: list[EngineInput] | None = None  # what `flush` gave, once the stream has ended
        self.player: _AnalysisPlayer | None = None

    @property
    def end(self) -> int:
        return self.fed[-1] if self.fed else 0


class _AnalysisPlayer:
    """One judgement's channel analysis (a `ChannelAnalysis`): the tape, then the analyser."""

    def __init__(self, tape: _AnalysisTape) -> None:
        self.tape = tape
        self.settings: AnalyzerSettings = tape.analyzer.settings
        self.fed = 0
        self.given = 0
        self._settled = 0.0
        self._flushed = False

    @property
    def settled_until(self) -> float:
        return self._settled

    @property
    def hearing(self) -> bool:
        tape = self.tape
        return tape.player is self and self.fed >= tape.end and tape.analyzer.hearing

    def reserve_model(self) -> None:
        self.tape.analyzer.reserve_model()

    def feed(self, samples: np.ndarray) -> list[EngineInput]:
        tape = self.tape
        if tape.player is not self:
            return []  # a dropped judgement's
        self.fed += len(samples)
        if self.fed <= tape.end:
            index = bisect.bisect_right(tape.fed, self.fed) - 1  # the last feed of the tape within
            if index < 0:
                return []
            return self._give(tape.given[index], tape.settled[index])
        if tape.ending is not None:
            raise RuntimeError("audio past the end of a stream that has ended")
        new = samples[len(samples) - (self.fed - tape.end) :]
        tape.outputs += tape.analyzer.feed(new)
        tape.fed.append(self.fed)
        tape.given.append(len(tape.outputs))
        tape.settled.append(tape.analyzer.settled_until)
        return self._give(len(tape.outputs), tape.settled[-1])

    def flush(self) -> list[EngineInput]:
        """The end of the stream: what the analyser still holds open, once. A judgement that ends
        before the tape does (a replay quit after seeking back) gets nothing more: the analyser is
        not at that point of the audio to decide it there, so a turn open then stays open, as in
        a call cut off mid-word."""
        tape = self.tape
        if tape.player is not self or self.fed < tape.end or self._flushed:
            return []
        self._flushed = True
        if tape.ending is None:
            tape.ending = tape.analyzer.flush()
        given = self._give(len(tape.outputs), math.inf)
        return given + tape.ending

    def _give(self, upto: int, settled: float) -> list[EngineInput]:
        given = self.tape.outputs[self.given : upto]
        self.given = upto
        self._settled = max(self._settled, settled)
        return given
