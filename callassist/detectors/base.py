"""What every detector is: a small stateful object driven by stream time through the engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from callassist.events import Event, EventKind
from callassist.heard import HeardText
from callassist.matching import PhraseMatcher
from callassist.scriptpack import ScriptPack
from callassist.settings import Settings
from callassist.inputs import (
    SPEAKERS,
    HoldChanged,
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


@dataclass
class CallState:
    """Facts several detectors share. The engine updates speech facts before detectors see an
    input; the hold detector (which runs first) owns the hold facts."""

    now: float = 0.0
    speaking: dict[Speaker, bool] = field(default_factory=lambda: {s: False for s in SPEAKERS})
    speech_start: dict[Speaker, float | None] = field(default_factory=lambda: {s: None for s in SPEAKERS})
    last_speech_end: dict[Speaker, float | None] = field(default_factory=lambda: {s: None for s in SPEAKERS})
    utterances: dict[Speaker, int] = field(default_factory=lambda: {s: 0 for s in SPEAKERS})
    first_speech: dict[Speaker, float | None] = field(default_factory=lambda: {s: None for s in SPEAKERS})
    on_hold: bool = False
    hold_since: float | None = None
    hold_ended_at: float | None = None
    audio_missing: bool = False  # a device delivers nothing (unplugged): silence proves nothing
    audio_back_at: float | None = None
    ending: str | None = None  # a situation whose script is winding the call down (last line said)
    ended_by: str | None = None  # the situation whose script ended the call (hang up)
    caller_audio: bool = True  # False when no caller channel is wired: caller-side checks are off
    has_text: bool = True  # False when nothing is recognised or transcribed: text checks are off

    @property
    def silence_paused(self) -> bool:
        """Silence does not count now: on hold, or no audio arrives."""
        return self.on_hold or self.audio_missing

    @property
    def silence_counts_from(self) -> float:
        """Silence before this (a hold, missing audio) does not count."""
        return max(self.hold_ended_at or 0.0, self.audio_back_at or 0.0)

    @property
    def winding_down(self) -> bool:
        """A script is ending the call: the silence checks no longer apply."""
        return self.ending is not None or self.ended_by is not None

    @property
    def anyone_speaking(self) -> bool:
        return any(self.speaking.values())


@dataclass
class DetectorContext:
    pack: ScriptPack
    settings: Settings
    matcher: PhraseMatcher
    state: CallState
    emit: Callable[[Event], None]
    withdraw: Callable[[Event], None]
    clear: Callable[[str], None]  # a situation is over (its prompt can go)

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

    def on_hold_changed(self, item: HoldChanged) -> None: ...

    def on_manual(self, item: ManualSituation) -> None: ...

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
