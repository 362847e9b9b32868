"""The timeline engine: feeds stream-time-ordered inputs to the detectors and collects events.

Time only moves through the inputs: before an input at `t` is handled, every detector deadline
up to `t` fires at its own instant, so a recording replays deterministically at any speed and a
live call behaves the same as its replay.

The engine owns the call phase (hold, a script winding the call down, the script that ended
it). Detectors ask for phase changes; the engine applies them once all detectors have handled an
input (or every deadline of one instant), and orders the events of one step by time and id, so
the order of the detector list changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from callassist.detectors import DETECTORS, CallState, Countdown, Detector, DetectorContext
from callassist.detectors.base import Hold
from callassist.events import Event
from callassist.heard import HeardText
from callassist.matching import PhraseMatcher
from callassist.scriptpack import ScriptPack
from callassist.settings import Settings
from callassist.stats import CallStatistics
from callassist.inputs import (
    AudioMissing,
    EngineInput,
    HoldChanged,
    LevelFrame,
    ManualSituation,
    SpeechEnded,
    SpeechStarted,
    UtteranceHeard,
)


class Engine:
    def __init__(
        self,
        pack: ScriptPack,
        settings: Settings,
        matcher: PhraseMatcher | None = None,
        caller_audio: bool = True,
        has_text: bool = True,
        detectors: Sequence[type[Detector]] = DETECTORS,
    ) -> None:
        self.pack = pack
        self.settings = settings
        self.state = CallState(caller_audio=caller_audio, has_text=has_text)
        self.events: list[Event] = []
        self._new: list[Event] = []
        self.withdrawn: list[Event] = []  # flags raised from partial text that the final result undid
        self.cleared: list[str] = []  # situations that ended since last asked (live prompts go)
        self.ctx = DetectorContext(
            pack=pack,
            settings=settings,
            matcher=matcher or PhraseMatcher(settings.matching.threshold),
            state=self.state,
            emit=self._emit,
            withdraw=self._withdraw,
            retime=self._retime,
            clear=self.cleared.append,
            phase=self,
        )
        self._hold_requests: list[tuple[float, bool]] = []  # (t, on hold), applied in order
        self._ending_requests: list[tuple[str, bool]] = []  # (situation, winding down)
        self._hang_ups: list[str] = []
        self.stats = CallStatistics(self.ctx)
        self.detectors: list[Detector] = [cls(self.ctx) for cls in detectors] + [self.stats]
        # Only the detectors that use a hook are called on it (in the detector list's order): the
        # engine calls these on every input, and most detectors use few of them.
        self._settlers = self._using("on_settled")
        self._observers = self._using("on_event")
        self._timed = self._using("deadline")
        self._by_input = {
            SpeechStarted: self._using("on_speech_started"),
            SpeechEnded: self._using("on_speech_ended"),
            UtteranceHeard: self._using("on_heard"),
            LevelFrame: self._using("on_level"),
            ManualSituation: self._using("on_manual"),
        }
        self.finished = False

    def _using(self, hook: str) -> list[Detector]:
        return [d for d in self.detectors if getattr(type(d), hook) is not getattr(Detector, hook)]

    def detector(self, cls: type[Detector]) -> Detector:
        return next(d for d in self.detectors if isinstance(d, cls))

    def feed(self, item: EngineInput) -> list[Event]:
        """Handle one input; returns the events it (and any deadline before it) raised."""
        if item.t < self.state.now:
            raise ValueError(f"input at {item.t:.3f}s arrived after stream time {self.state.now:.3f}s")
        self._advance(item.t)
        self.state.now = item.t
        self._dispatch(item)
        self._apply_phase()
        self._settle()
        return self._take()

    def feed_all(self, items: Iterable[EngineInput]) -> list[Event]:
        raised = []
        for item in items:
            raised.extend(self.feed(item))
        return raised

    def advance(self, t: float) -> list[Event]:
        """Let stream time reach `t` with no input (live: called on every audio block)."""
        self._advance(t)
        self.state.now = max(self.state.now, t)
        return self._take()

    def finish(self, t: float) -> list[Event]:
        """The call ends at `t`: fire what is due, then the end-of-call checks."""
        self._advance(t)
        self.state.now = max(self.state.now, t)
        for detector in self.detectors:
            detector.on_call_end(self.state.now)
        self._apply_phase()
        self.finished = True
        return self._take()

    def _advance(self, t: float) -> None:
        """Fire every deadline up to `t`; all the deadlines of one instant fire together."""
        while True:
            due = [(d.deadline(), d) for d in self._timed]
            due = [(when, d) for when, d in due if when is not None and when <= t]
            if not due:
                return
            when = min(when for when, _ in due)
            self.state.now = max(self.state.now, when)
            for at, detector in due:
                if at == when:
                    detector.on_deadline(when)
            self._apply_phase()
            self._settle()

    # Phase requests (PhaseRequests): detectors ask, `_apply_phase` changes the phase.

    def start_hold(self, t: float) -> None:
        self._hold_requests.append((t, True))

    def wind_down(self, situation: str) -> None:
        self._ending_requests.append((situation, True))

    def stop_winding_down(self, situation: str) -> None:
        self._ending_requests.append((situation, False))

    def hang_up(self, situation: str) -> None:
        self._hang_ups.append(situation)

    def _apply_phase(self) -> None:
        phase = self.state.phase
        for t, on_hold in self._hold_requests:
            if on_hold and not phase.on_hold:
                phase.holds.append(Hold(start=t))
            elif not on_hold and phase.on_hold:
                phase.holds[-1] = replace(phase.holds[-1], end=t)
        ending = set(phase.ending)
        for situation, winding_down in self._ending_requests:
            (ending.add if winding_down else ending.discard)(situation)
        phase.ending = frozenset(ending)
        if self._hang_ups and phase.ended_by is None:
            phase.ended_by = min(self._hang_ups)  # two scripts hanging up at one instant: by id
        self._hold_requests.clear()
        self._ending_requests.clear()
        self._hang_ups.clear()

    def _dispatch(self, item: EngineInput) -> None:
        state = self.state
        match item:
            case SpeechStarted(t=t, speaker=speaker):
                if speaker == "agent" and state.on_hold:
                    self._hold_requests.append((t, False))  # the agent is back on the line
                state.speaking[speaker] = True
                state.speech_start[speaker] = t
                if state.first_speech[speaker] is None:
                    state.first_speech[speaker] = t
                for d in self._by_input[SpeechStarted]:
                    d.on_speech_started(item)
            case SpeechEnded(t=t, speaker=speaker):
                state.speaking[speaker] = False
                state.last_speech_end[speaker] = t
                for d in self._by_input[SpeechEnded]:
                    d.on_speech_ended(item)
            case UtteranceHeard():
                heard = HeardText(item.utterance, final=item.final, key=item.key)
                if item.final:
                    state.utterances[heard.utterance.speaker] += 1
                for d in self._by_input[UtteranceHeard]:
                    d.on_heard(heard)
            case LevelFrame():
                for d in self._by_input[LevelFrame]:
                    d.on_level(item)
            case HoldChanged(t=t, on_hold=on_hold):
                self._hold_requests.append((t, on_hold))
            case AudioMissing(t=t, missing=missing):
                state.audio_missing = missing
                if not missing:
                    state.audio_back_at = t
            case ManualSituation():
                for d in self._by_input[ManualSituation]:
                    d.on_manual(item)

    def countdowns(self) -> list[Countdown]:
        """Steps that are due unless something happens first, at the current stream time."""
        return [c for d in self.detectors if (c := d.countdown(self.state.now)) is not None]

    def take_cleared(self) -> list[str]:
        cleared = self.cleared[:]
        self.cleared.clear()
        return cleared

    def _settle(self) -> None:
        for detector in self._settlers:
            detector.on_settled()

    def _emit(self, event: Event) -> None:
        self._new.append(event)
        for detector in self._observers:
            detector.on_event(event)

    def _withdraw(self, event: Event) -> None:
        for pending in (self._new, self.events):
            if event in pending:
                pending.remove(event)
        self.withdrawn.append(event)

    def _retime(self, event: Event, better: Event) -> None:
        for pending in (self._new, self.events):
            if event in pending:
                pending[pending.index(event)] = better

    def _take(self) -> list[Event]:
        if not self._new:  # most inputs raise nothing
            return []
        new = sorted(self._new, key=lambda e: (e.t, e.id))  # not in detector order
        self._new.clear()
        self.events.extend(new)
        return new
