"""One call's streaming pipeline: channel audio (and/or a transcript) in, the engine's judgement out.

Headless replay, batch, the replay screen and live calls all drive this one component; they
differ only in where the audio comes from and how fast it is fed. Per channel, audio goes to an
acoustic analyser and (optionally) a recogniser running in its own thread; their inputs are
merged in stream-time order and fed to the engine.

Determinism. The engine is only ever moved to a *watermark*: a stream time before which every
input is known. An analyser says exactly how far it has settled (`ChannelAnalyzer.settled_until`:
during voiced speech the audio fed, at most a frame behind; in a pause, the end of the last
voiced frame until the turn goes on or ends, up to its hangover later; at an onset, the onset
until it is confirmed); a recogniser has decided everything up to the audio it has processed.
So text (a flagged phrase) reaches the engine and the screen as soon as it is known and the
analysis has settled up to it, no fixed latency later. The engine waits for a slow recogniser
(bounded by its queue) instead of taking late text out of turn, and the inputs it sees, in the
order it sees them, do not depend on block sizes or thread timing: a live call, a paced replay and
a headless replay of the same audio raise the same events at the same times. Recognisers get the
audio in fixed blocks of `RECOGNITION_BLOCK_SECONDS` of stream time for the same reason.

Memory holds what is pending (a few seconds of inputs), never the call's whole input list.
"""

from __future__ import annotations

import heapq
import itertools
import math
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from callassist.audio.features import AnalyzerSettings, ChannelAnalyzer
from callassist.detectors import DETECTORS, Detector
from callassist.detectors.base import Countdown
from callassist.engine import Engine
from callassist.events import Event
from callassist.inputs import (
    INPUT_ORDER,
    SPEAKERS,
    AudioMissing,
    EngineInput,
    HoldChanged,
    ManualSituation,
    Speaker,
    Utterance,
    UtteranceHeard,
)
from callassist.reporting.report import CallReport, CallSource, Deduction, build_report, checklist
from callassist.scriptpack import ScriptPack
from callassist.settings import Settings
from callassist.sources import activity_from_utterances, heard_inputs

if TYPE_CHECKING:
    from callassist.live.messages import Checklist, SessionMessage

# What the pipeline tells a listener (callassist.live.messages) is imported when there is one:
# a headless replay or batch run need not load the live package.

RECOGNITION_BLOCK_SECONDS = 0.05
"""Recognisers are fed in blocks of this much stream time, live or not: the partials' pace. The
live audio sources' block (0.05 s), so that a live recogniser is never kept waiting for more
audio; larger blocks delay a flag by half a block on average and save no CPU (Vosk decodes in
its own chunks whatever the block; benchmarks/bench_recognition.py)."""
_SPEAKER_RANK = {speaker: rank for rank, speaker in enumerate(SPEAKERS)}
RECOGNITION_QUEUE_BLOCKS = 64  # how far (in blocks: 3.2 s) a recogniser may fall behind before feeding waits for it


class ChannelRecognition(Protocol):
    """One channel's streaming recogniser (used from one thread at a time)."""

    def feed(self, samples: np.ndarray) -> list[UtteranceHeard]:
        """Take the next samples; return the text decided so far, stamped with stream time."""
        ...

    def finish(self) -> list[UtteranceHeard]:
        """The stream ended: the last text."""
        ...


class Recognition(Protocol):
    """What turns speech into text for a call: opens one recogniser per channel."""

    @property
    def name(self) -> str:
        """How reports name the text's origin, e.g. "vosk:<model>"."""
        ...

    def open_channel(self, speaker: Speaker, input_rate: int) -> ChannelRecognition: ...


class ChannelAnalysis(Protocol):
    """One channel's audio analysis, as `ChannelAnalyzer` does it (used from the pipeline's thread)."""

    settings: AnalyzerSettings

    @property
    def settled_until(self) -> float:
        """Stream time before which every output has been given (`ChannelAnalyzer.settled_until`)."""
        ...

    @property
    def hearing(self) -> bool:
        """The speech-confirmation model is hearing a stretch."""
        ...

    def feed(self, samples: np.ndarray) -> list[EngineInput]: ...

    def flush(self) -> list[EngineInput]: ...

    def reserve_model(self) -> None: ...


Analysis = Callable[[Speaker, int], ChannelAnalysis]
"""Opens a channel's analysis (speaker, sample rate); by default a new `ChannelAnalyzer`."""


class _RecognitionThread(threading.Thread):
    """Runs one channel's recogniser. Blocks in through a bounded queue (None ends the stream);
    out come (samples processed so far, text) pairs, so the pipeline knows how far text is known.
    A decoding error is kept in `error`; the channel then has no more text but the call goes on."""

    def __init__(self, speaker: Speaker, recognizer: ChannelRecognition) -> None:
        super().__init__(name=f"recognizer-{speaker}", daemon=True)
        self.recognizer = recognizer
        self.blocks: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=RECOGNITION_QUEUE_BLOCKS)
        self.results: queue.Queue[tuple[float, list[UtteranceHeard]]] = queue.Queue()
        self.error: BaseException | None = None

    def run(self) -> None:
        processed = 0
        try:
            while (block := self.blocks.get()) is not None:
                heard = self.recognizer.feed(block)
                processed += len(block)
                self.results.put((processed, heard))
            self.results.put((math.inf, self.recognizer.finish()))
        except BaseException as error:  # reported by the pipeline's owner, never lost
            self.error = error
            self.results.put((math.inf, []))
            while self.blocks.get() is not None:  # keep the producer from blocking on a full queue
                pass


class _Channel:
    """One speaker's audio: analyser, recogniser thread, and how far each has got."""

    def __init__(
        self, speaker: Speaker, rate: int, recognition: Recognition | None, live: bool, analysis: Analysis | None
    ) -> None:
        self.speaker = speaker
        self.rate = rate
        self.analyzer: ChannelAnalysis = (
            analysis(speaker, rate) if analysis is not None else ChannelAnalyzer(speaker, rate, live=live)
        )
        self.fed_frames = 0
        self.missing = False
        self.thread: _RecognitionThread | None = None
        self.block_frames = max(1, round(RECOGNITION_BLOCK_SECONDS * rate))
        self.unsent: list[np.ndarray] = []  # samples for the recogniser not yet making a whole block
        self.unsent_frames = 0
        self.recognized_frames: float = 0  # samples the recogniser has processed (inf: finished)
        if recognition is not None:
            self.thread = _RecognitionThread(speaker, recognition.open_channel(speaker, rate))
            self.thread.start()

    @property
    def fed(self) -> float:
        return self.fed_frames / self.rate

    @property
    def known_until(self) -> float:
        """Every input of this channel before this time is known: the analyser has settled
        everything before `ChannelAnalyzer.settled_until`, and the pipeline itself adds an
        AudioMissing only at the channel's end so far (`fed`: a gap, or the audio's end at
        `finish`). An input at exactly that time may still come (ties are ordered by kind), so
        judging stops just before it."""
        return min(self.analyzer.settled_until, self.fed) - 1e-6

    def send(self, samples: np.ndarray) -> None:
        """Hand samples to the recogniser in whole blocks of stream time."""
        if self.thread is None:
            return
        self.unsent.append(samples)
        self.unsent_frames += len(samples)
        if self.unsent_frames < self.block_frames:
            return
        pending = np.concatenate(self.unsent)
        whole = len(pending) - len(pending) % self.block_frames
        for start in range(0, whole, self.block_frames):
            self.thread.blocks.put(pending[start : start + self.block_frames])
        rest = pending[whole:]
        self.unsent, self.unsent_frames = ([rest] if len(rest) else []), len(rest)

    def close(self) -> None:
        """End the recogniser's stream (what is left of a block goes too)."""
        if self.thread is None:
            return
        if self.unsent_frames:
            self.thread.blocks.put(np.concatenate(self.unsent))
        self.unsent, self.unsent_frames = [], 0
        self.thread.blocks.put(None)


class CallPipeline:
    """One call from its time 0: feed each channel's samples (and commands), `pump()` to let the
    engine judge what is known, `finish()` at the end. What it tells the screen goes to `listener`."""

    def __init__(
        self,
        pack: ScriptPack,
        settings: Settings,
        channels: dict[Speaker, int],
        *,
        recognition: Recognition | None = None,
        transcript: list[Utterance] | None = None,
        transcript_activity: bool = False,
        caller_audio: bool | None = None,
        listener: Callable[[SessionMessage], None] | None = None,
        detectors: Sequence[type[Detector]] = DETECTORS,
        live: bool = False,
        analysis: Analysis | None = None,
    ) -> None:
        """`channels`: the sample rate of each speaker's audio (none: a transcript-only call).
        `transcript`: text known in advance, heard as each utterance ends; with
        `transcript_activity` it also says who speaks when (no audio to tell). `live`: audio
        comes in real time and a screen waits for the judgement, so what the analysis needs is
        loaded before the first words, and it decides as soon as it can (`ChannelAnalyzer`).
        `analysis`: opens each channel's analysis instead of a new `ChannelAnalyzer` (a replay's,
        kept from one judgement to the next: `live.taped`)."""
        self.engine = Engine(
            pack, settings,
            caller_audio="caller" in channels or not channels if caller_audio is None else caller_audio,
            has_text=recognition is not None or transcript is not None,
            detectors=detectors,
        )
        self.channels = {
            speaker: _Channel(speaker, rate, recognition, live, analysis) for speaker, rate in channels.items()
        }
        if live:
            for channel in self.channels.values():
                channel.analyzer.reserve_model()
        self.listener = listener
        self.utterances: list[Utterance] = []
        self.recognition_errors: list[str] = []
        self.transcript_end = max((u.end for u in transcript or ()), default=0.0)
        self._pending: list[tuple[tuple[float, int, int], int, EngineInput]] = []
        self._counter = itertools.count()
        self._withdrawn_told = 0
        self._finished = False
        if transcript is not None:
            self.schedule(heard_inputs(transcript))
            if transcript_activity:
                self.schedule(activity_from_utterances(transcript))

    # ------------------------------------------------------------------ input

    def schedule(self, items: Iterable[EngineInput]) -> None:
        """Inputs known ahead of their time (a transcript, keys replayed after a seek)."""
        for item in items:
            self._push(item)

    def feed(self, speaker: Speaker, samples: np.ndarray, gap: bool = False) -> None:
        """The next samples of one speaker's channel (mono float32). `gap`: silence standing in for
        time the device delivered nothing, which proves nothing about who speaks."""
        channel = self.channels[speaker]
        if gap != channel.missing:
            channel.missing = gap
            self._push(AudioMissing(channel.fed, gap))
        self._push_all(channel.analyzer.feed(samples), _SPEAKER_RANK[speaker])
        channel.fed_frames += len(samples)
        channel.send(samples)

    def hearing(self, speaker: Speaker) -> bool:
        """The speaker's speech model is hearing a stretch (it holds a loaded model)."""
        return self.channels[speaker].analyzer.hearing

    def end_audio(self, speaker: Speaker) -> None:
        """The speaker's audio has ended: what its analysis still holds open is decided now."""
        self._push_all(self.channels[speaker].analyzer.flush(), _SPEAKER_RANK[speaker])

    def hold(self) -> HoldChanged:
        """The agent's hold key, now (returned so a replay can apply it again after a seek)."""
        item = HoldChanged(self.engine.state.now, not self._on_hold_after_pending())
        self._push(item)
        return item

    def mark(self, situation: str) -> ManualSituation:
        """A situation key, now."""
        item = ManualSituation(self.engine.state.now, situation)
        self._push(item)
        return item

    # ------------------------------------------------------------------ judging

    @property
    def fed(self) -> float:
        """Stream time of the audio fed so far (the longest channel)."""
        return max((c.fed for c in self.channels.values()), default=0.0)

    @property
    def now(self) -> float:
        return self.engine.state.now

    def watermark(self) -> float:
        """Every input before this stream time is known."""
        if self._finished:
            return math.inf
        known = [c.known_until for c in self.channels.values()]
        known += [c.recognized_frames / c.rate for c in self.channels.values() if c.thread is not None]
        return min(known, default=0.0)

    def pump(self) -> None:
        """Let the engine judge everything known by now."""
        self._collect_text()
        self._judge_until(self.watermark())

    def finish(self, end: float | None = None) -> None:
        """The call ends at `end` (at least where its audio or transcript ends): flush everything
        still open, judge it and run the end-of-call checks. A channel whose audio ends before
        the call (a device that went away and never came back) is missing from its end on: the
        silence checks do not judge time with no audio from it."""
        call_end = max(end or 0.0, self.fed, self.transcript_end)
        for channel in self.channels.values():
            if channel.fed < call_end and not channel.missing:
                channel.missing = True
                self._push(AudioMissing(channel.fed, True))
            channel.close()
        for channel in self.channels.values():
            if channel.thread is not None:
                channel.thread.join()
                if channel.thread.error is not None:
                    self.recognition_errors.append(
                        f"recognition failed on the {channel.speaker} channel: {channel.thread.error}"
                    )
        self._collect_text()
        for channel in self.channels.values():
            for item in channel.analyzer.flush():
                self._push(item)
        self._finished = True
        self._judge_until(math.inf)
        self._tell_events(self.engine.finish(max(call_end, self.now)))

    def settle(self, end: float) -> float:
        """A call whose end is unknown (a transcript alone) ends when the talk does, unless a script
        is counting down to its last step (hanging up): then it ends when that step is due. Judges
        everything first; returns the end."""
        self._collect_text()
        self._judge_until(math.inf)
        while True:
            self._tell_events(self.engine.advance(end))
            closing = [end + c.total - c.elapsed for c in self.engine.countdowns() if self._hangs_up(c)]
            if not closing or min(closing) <= end:
                return end
            end = min(closing)

    def _hangs_up(self, countdown: Countdown) -> bool:
        situation = self.engine.pack.situations.get(countdown.situation)
        step = countdown.next_step
        return bool(situation and step and step <= len(situation.steps) and situation.steps[step - 1].action == "hang_up")

    @property
    def no_speech(self) -> bool:
        """Nobody spoke: no speech on any channel, no text."""
        return all(t is None for t in self.engine.state.first_speech.values()) and not any(
            u.text.strip() for u in self.utterances
        )

    def report_utterances(self) -> list[Utterance]:
        """The call's final text, in time order."""
        return sorted(self.utterances, key=lambda u: u.start)

    def report(self, source: CallSource) -> CallReport:
        """The finished call's report (live, replayed or batch-scored alike)."""
        analyzer = next((c.analyzer.settings for c in self.channels.values()), None)
        report = build_report(self.engine, source, self.report_utterances(), analyzer)
        return marked_no_speech(report, self.engine.settings) if self.no_speech else report

    def checklist(self) -> Checklist:
        from callassist.live.messages import Checklist

        check = checklist(self.engine)
        return Checklist(
            greeting=check.greeting.ok,
            closing={k: v is not None for k, v in check.closing.said.items()},
            holds=len(check.hold.holds),
            hold_ok=check.hold.ok,
        )

    # ------------------------------------------------------------------ inside

    def _push(self, item: EngineInput) -> None:
        speaker = item.utterance.speaker if isinstance(item, UtteranceHeard) else getattr(item, "speaker", None)
        self._push_all((item,), _SPEAKER_RANK.get(speaker, len(SPEAKERS)))

    def _push_all(self, items: Iterable[EngineInput], rank: int) -> None:
        """Queue inputs of one speaker (`rank`: the speaker's place in SPEAKERS, or past it for
        inputs of no speaker). Speakers tie-break inputs at one instant, so the order never
        depends on which channel was fed first; the counter keeps equal keys in arrival order."""
        pending, counter, order, push = self._pending, self._counter, INPUT_ORDER, heapq.heappush
        for item in items:
            push(pending, ((item.t, order[type(item)], rank), next(counter), item))

    def _on_hold_after_pending(self) -> bool:
        holds = [item for _, _, item in self._pending if isinstance(item, HoldChanged)]
        return max(holds, key=lambda h: h.t).on_hold if holds else self.engine.state.on_hold

    def _collect_text(self) -> None:
        for channel in self.channels.values():
            if channel.thread is None:
                continue
            while True:
                try:
                    processed, heard = channel.thread.results.get_nowait()
                except queue.Empty:
                    break
                for item in heard:
                    self._push(item)
                channel.recognized_frames = processed

    def _judge_until(self, until: float) -> None:
        engine, state, pending, pop = self.engine, self.engine.state, self._pending, heapq.heappop
        told = self.listener is not None
        while pending and pending[0][0][0] <= until:
            item = pop(pending)[2]
            if item.t < state.now:  # a key pressed while earlier inputs were pending: it is known now
                item = replace(item, t=state.now)
            raised = engine.feed(item)
            if told:
                self._tell_events(raised)
                self._tell_input(item)
            elif type(item) is UtteranceHeard:  # nobody listens: only the final text is kept
                self._tell_input(item)
        if not told and engine.cleared:
            engine.take_cleared()  # nobody shows prompts going
        if until != math.inf and until > state.now:
            self._tell_events(engine.advance(until))

    def _tell_input(self, item: EngineInput) -> None:
        from callassist.live.messages import Heard

        if isinstance(item, UtteranceHeard):
            if item.final and item.utterance.text:
                self.utterances.append(item.utterance)
            if self.listener is not None:
                self.listener(Heard(item))
                if item.final and item.utterance.text:
                    self.listener(self.checklist())
        elif isinstance(item, HoldChanged) and self.listener is not None:
            self.listener(self.checklist())

    def _tell_events(self, events: list[Event]) -> None:
        if self.listener is None:
            if self.engine.cleared:
                self.engine.take_cleared()  # nobody shows prompts going
            return
        from callassist.live.messages import Cleared, Raised, Withdrawn

        for event in events:
            self.listener(Raised(event))
        withdrawn = self.engine.withdrawn
        for event in withdrawn[self._withdrawn_told :]:
            self.listener(Withdrawn(event))
        self._withdrawn_told = len(withdrawn)
        for situation in self.engine.take_cleared():
            self.listener(Cleared(situation))


NO_SPEECH_NOTE = (
    "no speech on either channel (silence, a tone or noise only): nothing was judged; "
    "check the recording, its channels and the line"
)


def marked_no_speech(report: CallReport, settings: Settings) -> CallReport:
    """A call nobody speaks in is not a perfect call: it is flagged (`call.no_speech`), noted,
    and takes the `no_speech` deduction (the whole score by default)."""
    points = settings.score.deductions.get("no_speech", 0)
    score = report.score
    score = replace(
        score, value=max(0, score.value - points), deductions=(*score.deductions, Deduction("no_speech", 0.0, points))
    )
    return replace(report, score=score).with_source(no_speech=True, notes=(*report.source.notes, NO_SPEECH_NOTE))
