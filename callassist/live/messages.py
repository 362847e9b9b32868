"""What a call session tells its screen. Plain dataclasses: the session runs without Textual
and the UI wraps these in its own message class when they cross into the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from callassist.detectors.base import Countdown
from callassist.events import Event
from callassist.inputs import UtteranceHeard

CallPhase = Literal["waiting", "in_call", "on_hold", "ending", "saved", "save_failed", "ended"]
"""A call's lifecycle: waiting -> in_call (<-> on_hold) -> ending -> saved | save_failed -> waiting.
A replay, which saves nothing, ends in `ended`."""


@dataclass(frozen=True)
class Tick:
    """Sent at the meter rate: the call's state, clock, levels and running countdowns."""

    phase: CallPhase
    call_time: float  # seconds since the call started (0 while waiting; its length once ended)
    agent_dbfs: float | None
    caller_dbfs: float | None  # None: no caller channel wired
    countdowns: tuple[Countdown, ...] = ()
    position: float | None = None  # replay: where in the recording playback is
    paused: bool = False


@dataclass(frozen=True)
class Heard:
    """Recognised or transcribed text (partial or final) for the live transcript."""

    heard: UtteranceHeard


@dataclass(frozen=True)
class Raised:
    event: Event


@dataclass(frozen=True)
class Withdrawn:
    """A flag raised from partial text that the final result did not confirm."""

    event: Event


@dataclass(frozen=True)
class Cleared:
    """A situation is over (the caller spoke, the caller is audible again): its prompt goes."""

    situation: str


@dataclass(frozen=True)
class Checklist:
    greeting: bool | None
    closing: dict[str, bool] = field(default_factory=dict)
    holds: int = 0
    hold_ok: bool = True


@dataclass(frozen=True)
class CallStarted:
    caller_audio: bool  # False: no caller channel, caller-side situations are off


@dataclass(frozen=True)
class CallEnded:
    """The call is over and judged. `error`: why its report could not be saved (it is kept:
    `unsaved` reports wait for a retry)."""

    report_path: str | None
    score: int
    recording_path: str | None = None
    error: str | None = None
    unsaved: int = 0


@dataclass(frozen=True)
class SaveRetried:
    """Reports kept after a failed save were written again: `saved` now, `unsaved` still waiting."""

    saved: tuple[str, ...]
    error: str | None
    unsaved: int


@dataclass(frozen=True)
class Jumped:
    """Replay: the playhead moved to `position`. The call is judged from its start whatever the
    jumps; `known` is what the judgement raised and heard up to the new position that the screen
    has not shown (everything since the start when `restart`: the screen starts over)."""

    position: float
    restart: bool
    known: tuple["SessionMessage", ...] = ()


@dataclass(frozen=True)
class DeviceProblem:
    """Audio stopped arriving, or the device reported trouble; None text: resolved. The counts
    are two different losses, shown apart: `overflows`, input overflows the device reported
    (samples it had that nobody took in time), and `dropped_blocks`, blocks the session threw
    away itself because the analysis fell behind."""

    text: str | None
    overflows: int = 0
    dropped_blocks: int = 0


@dataclass(frozen=True)
class WorkerFailed:
    """An error in the analysis; the session goes on and the UI keeps running."""

    text: str


@dataclass(frozen=True)
class ReplayFinished:
    pass


SessionMessage = (
    Tick | Heard | Raised | Withdrawn | Cleared | Checklist | CallStarted | CallEnded | SaveRetried | Jumped
    | DeviceProblem | WorkerFailed | ReplayFinished
)
