"""Events: what the engine tells the agent (live) or the QA report (replay)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

EventKind = Literal["situation", "violation", "hint"]


@dataclass(frozen=True)
class Event:
    """One raised situation, violation or hint.

    `t` is the call time at which a live assistant would raise it; `start`/`end` bound the
    evidence (the silence, the overlap, the phrase). `emitted` is the stream time at which the
    engine actually produced it, which is later than `t` when the evidence needed confirming.
    """

    id: str
    kind: EventKind
    t: float
    start: float
    end: float
    speaker: str | None = None
    step: int | None = None
    say: str | None = None
    advice: str | None = None
    phrase_id: str | None = None
    heard: str | None = None
    score: float | None = None
    detail: str | None = None
    emitted: float | None = None
    rule: str | None = None  # the pack rule that raised it (its id is also the event id)
    title: str | None = None  # the rule's title, for QA staff
    fatal: bool | None = None  # a fatal item: the call fails whatever its score
    follow_up_hours: float | None = None  # a hint that owes the caller a follow-up this soon

    def to_json(self) -> dict[str, Any]:
        return {key: _rounded(value) for key, value in asdict(self).items() if value is not None}


def _rounded(value: Any) -> Any:
    return round(value, 2) if isinstance(value, float) else value
