"""What every detector is: a small stateful object driven by stream time through the engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from callassist.events import Event, EventKind
from callassist.heard import HeardText
from callassist.matching import PhraseMatcher
from callassist.scriptpack import ScriptPack, Step
from callassist.settings import Settings
from callassist.inputs import (
    SPEAKERS,
    LevelFrame,
    ManualSituation,
    Speaker,
    SpeechEnded,
    SpeechStarted,
)


@dataclass(frozen=True)
class Countdown:
    """A situation step that is due unless something happens first (caller silent 3.2 s of 5 s)."""

    situation: str
    next_step: int | None
    elapsed: float
    total: float

    @classmethod
    def towards(cls, situation: str, next_step: int | None, due: float | None, total: float, now: float,
                ) -> Countdown | None:
        """At stream time `now`, a wait of `total` seconds that ends at `due` (None: no wait runs)."""
        if due is None:
            return None
        return cls(situation, next_step, max(0.0, total - (due - now)), total)


@dataclass(frozen=True)
class Hold:
    """One hold of the call: from `start` until `end` (None while it lasts)."""

    start: float
    end: float | None = None


@dataclass
class CallPhase:
    """Where the call stands: on hold, wound down by a script, ended by a script.

    Only the engine changes it. Detectors ask for a change through their context; the engine
    applies what was asked once every detector has handled the input (or the deadlines of one
    instant), so every detector sees the same phase whatever order the detectors run in.
    """

    holds: list[Hold] = field(default_factory=list)
    ending: frozenset[str] = frozenset()  # situations whose script is winding the call down
    ended_by: str | None = None  # the situation whose script ended the call (hang up)

    @property
    def on_hold(self) -> bool:
        return bool(self.holds) and self.holds[-1].end is None

    @property
    def hold_since(self) -> float | None:
        return self.holds[-1].start if self.on_hold else None

    @property
    def hold_ended_at(self) -> float | None:
        # From the end: asked on every speech end, and a long call has many holds.
        return next((h.end for h in reversed(self.holds) if h.end is not None), None)


@dataclass
class CallState:
    """Facts every detector reads. The engine updates the speech facts before detectors see an
    input and owns the call phase (`phase`); no detector writes here."""

    now: float = 0.0
    speaking: dict[Speaker, bool] = field(default_factory=lambda: {s: False for s in SPEAKERS})
    speech_start: dict[Speaker, float | None] = field(default_factory=lambda: {s: None for s in SPEAKERS})
    last_speech_end: dict[Speaker, float | None] = field(default_factory=lambda: {s: None for s in SPEAKERS})
    utterances: dict[Speaker, int] = field(default_factory=lambda: {s: 0 for s in SPEAKERS})
    first_speech: dict[Speaker, float | None] = field(default_factory=lambda: {s: None for s in SPEAKERS})
    phase: CallPhase = field(default_factory=CallPhase)
    audio_missing: bool = False  # a device delivers nothing (unplugged): silence proves nothing
    audio_back_at: float | None = None
    caller_audio: bool = True  # False when no caller channel is wired: caller-side checks are off
    has_text: bool = True  # False when nothing is recognised or transcribed: text checks are off

    @property
    def on_hold(self) -> bool:
        return self.phase.on_hold

    @property
    def ended_by(self) -> str | None:
        return self.phase.ended_by

    @property
    def silence_paused(self) -> bool:
        """Silence does not count now: on hold, or no audio arrives."""
        return self.phase.on_hold or self.audio_missing

    @property
    def silence_counts_from(self) -> float:
        """Silence before this (a hold, missing audio) does not count."""
        return max(self.phase.hold_ended_at or 0.0, self.audio_back_at or 0.0)

    @property
    def winding_down(self) -> bool:
        """A script is ending the call: the silence checks no longer apply."""
        return bool(self.phase.ending) or self.phase.ended_by is not None

    @property
    def anyone_speaking(self) -> bool:
        return any(self.speaking.values())


class PhaseRequests(Protocol):
    """What a detector may ask of the engine about the call phase (applied after the input)."""

    def start_hold(self, t: float) -> None: ...

    def wind_down(self, situation: str) -> None: ...

    def stop_winding_down(self, situation: str) -> None: ...

    def hang_up(self, situation: str) -> None: ...


@dataclass
class DetectorContext:
    """What a detector is given: the pack, the settings, the call's state and how to raise events."""

    pack: ScriptPack
    settings: Settings
    matcher: PhraseMatcher
    state: CallState
    emit: Callable[[Event], None]
    withdraw: Callable[[Event], None]
    retime: Callable[[Event, Event], None]  # an event raised earlier, better timed now (same raise)
    clear: Callable[[str], None]  # a situation is over (its prompt can go)
    phase: PhaseRequests

    def event(
        self,
        id: str,
        kind: EventKind,
        t: float,
        start: float,
        end: float,
        speaker: str | None,
        step: int | None = None,
        situation: str | None = None,
        **extra,
    ) -> Event:
        """Emit an event; its approved line and advice come from the pack's situation
        (`situation`, defaulting to the event id) at `step`."""
        entry = self.pack.situations.get(situation or id)
        extra.setdefault("say", self.pack.say(situation or id, step or 1) if entry else None)
        event = Event(
            id=id,
            kind=kind,
            t=t,
            start=start,
            end=end,
            speaker=speaker,
            step=step,
            advice=entry.advice if entry else None,
            emitted=self.state.now,
            **extra,
        )
        self.emit(event)
        return event


class ScriptSteps:
    """Where one situation stands in the approved steps the pack gives it.

    The pack says how many steps there are, how long to wait after a step before the next one
    follows on its own (`wait`; without one, the next step follows when the situation is
    detected again) and which step hangs up. A situation the pack leaves out has no steps.
    """

    def __init__(self, pack: ScriptPack, situation_id: str) -> None:
        situation = pack.situations.get(situation_id)
        self.id = situation_id
        self.steps: tuple[Step, ...] = situation.steps if situation else ()
        self.after = situation.after if situation else None  # before step 1, where the pack times it
        self.reached = 0  # the last step raised; 0 before the first

    @property
    def started(self) -> bool:
        return self.reached > 0

    @property
    def has_next(self) -> bool:
        return self.reached < len(self.steps)

    @property
    def wait(self) -> float | None:
        """Seconds after the step reached before the next follows on its own."""
        if not self.started or not self.has_next:
            return None
        return self.steps[self.reached - 1].wait

    @property
    def hangs_up(self) -> bool:
        """The step reached is the hang-up."""
        return self.started and self.steps[self.reached - 1].action == "hang_up"

    @property
    def next_hangs_up(self) -> bool:
        """The next step is the hang-up: the line just said is the farewell."""
        return self.has_next and self.steps[self.reached].action == "hang_up"

    def advance(self) -> int:
        self.reached += 1
        return self.reached

    def reset(self) -> None:
        self.reached = 0


class PacedSteps:
    """A situation whose script goes on at the agent's pace (noisy line, quiet caller): the
    detector raises a step from its evidence; a step the pack gives a `wait` is followed on its
    own that long after the agent has said its line (`agent_said_line`), not while someone
    talks, and then when they stop, with that time. The step before the hang-up winds the call
    down; the hang-up ends it."""

    def __init__(self, ctx: DetectorContext, situation_id: str) -> None:
        self.ctx = ctx
        self.id = situation_id
        self.steps = ScriptSteps(ctx.pack, situation_id)
        self.timer_from: float | None = None  # the agent's line ended: the step's wait runs

    def agent_said_line(self, t: float) -> None:
        if self.steps.wait is not None:
            self.timer_from = t

    def deadline(self) -> float | None:
        state = self.ctx.state
        wait = self.steps.wait
        if self.timer_from is None or wait is None or state.anyone_speaking or state.ended_by:
            return None
        return once_quiet(state, self.timer_from + wait)

    def on_deadline(self, t: float) -> None:
        start = self.timer_from if self.timer_from is not None else t
        self.timer_from = None
        self.raise_step(t, start)

    def raise_step(self, t: float, start: float, detail: str | None = None) -> None:
        step = self.steps.advance()
        self.ctx.event(self.id, "situation", t, start, t, "caller", step=step, detail=detail)
        if self.steps.hangs_up:
            self.ctx.phase.hang_up(self.id)
        elif self.steps.next_hangs_up:
            self.ctx.phase.wind_down(self.id)

    def reset(self) -> None:
        """The situation is over: back before step 1, no step pending."""
        self.steps.reset()
        self.timer_from = None


class Detector:
    """Base: every hook is optional. `deadline()` is the stream time at which the detector wants
    `on_deadline` called if no input arrives first; the engine asks after every input."""

    def __init__(self, ctx: DetectorContext) -> None:
        self.ctx = ctx
        self.state = ctx.state
        self.settings = ctx.settings

    def on_speech_started(self, item: SpeechStarted) -> None: ...

    def on_speech_ended(self, item: SpeechEnded) -> None: ...

    def on_heard(self, heard: HeardText) -> None: ...

    def on_level(self, item: LevelFrame) -> None: ...

    def on_manual(self, item: ManualSituation) -> None: ...

    def on_event(self, event: Event) -> None:
        """Any detector raised `event` (situation episodes for the rules)."""

    def on_settled(self) -> None:
        """Every detector has handled the input (or the deadlines of one instant) and the phase
        changes they asked for are applied: what they raised for it has gone to `on_event`."""

    def deadline(self) -> float | None:
        return None

    def on_deadline(self, t: float) -> None: ...

    def on_call_end(self, t: float) -> None: ...

    def countdown(self, now: float) -> Countdown | None:
        """What this detector is counting towards at stream time `now`, for the live screen."""
        return None


class Episodes:
    """Groups cues into episodes: a cue more than `gap` seconds after the previous one starts a
    new episode, so a situation that persists is raised once, not once per utterance."""

    def __init__(self, gap: float) -> None:
        self.gap = gap
        self.last_cue: float | None = None

    def cue(self, t: float) -> bool:
        """Record a cue at `t`; True when it starts a new episode."""
        new = self.last_cue is None or t - self.last_cue > self.gap
        self.last_cue = t
        return new


class FrameClock:
    """How much stream time each LevelFrame of a channel stands for (the gap since the
    channel's previous frame), so detectors count seconds whatever the report interval."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def tick(self, frame: LevelFrame) -> float:
        previous = self.last.get(frame.speaker)
        self.last[frame.speaker] = frame.t
        return frame.t - previous if previous is not None else 0.0


def once_quiet(state: CallState, due: float) -> float:
    """When a step due at `due` may fire: not while anyone talks (the deadline is off then), and
    if someone was talking at `due`, the moment they stopped, so the event's t is when it fires."""
    ends = [t for t in state.last_speech_end.values() if t is not None]
    return max([due] + ends)
