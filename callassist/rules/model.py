"""What a rule is, once read from a pack: typed conditions, windows and exceptions.

A rule's `when` is judged on one utterance at a time (a phrase set, a regex, any/all/none of
sub-conditions, all in that same utterance), or is a stretch of silence. Everything that relates
the trigger to the rest of the call (time windows, turns, situation episodes, exceptions) is a
field of the rule, so the evaluator can run them in stream time as text arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from callassist.inputs import Speaker

if TYPE_CHECKING:
    from callassist.scriptpack import SourceRef

RuleKind = Literal["violation", "required", "hint"]
Side = Literal["before", "after"]
ON_HOLD = "on_hold"  # the `while` scope of a hold; any other `while` names a situation


@dataclass(frozen=True)
class Condition:
    """What one utterance must contain: every part given holds (an empty part is no constraint).

    `said`: any of these phrases, matched fuzzily as forbidden phrases are; `regex`: a
    linear-time regular expression on the recognised text; `any`/`all`/`none`: sub-conditions
    of which at least one / every one / none holds in the same utterance. `speaker` overrides
    the rule's speaker scope.
    """

    said: tuple[str, ...] = ()
    regex: str | None = None
    any: tuple["Condition", ...] = ()
    all: tuple["Condition", ...] = ()
    none: tuple["Condition", ...] = ()
    speaker: Speaker | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class Context:
    """A condition placed relative to the trigger: said `before` it (or `after` it), within
    `within` seconds and/or `turns` utterances of any speaker; no bound means anywhere on that
    side of it in the call."""

    condition: Condition
    side: Side = "before"
    within: float | None = None
    turns: int | None = None


@dataclass(frozen=True)
class Rule:
    """One QA check. `violation`/`hint`: raised each time `when` holds (or silence lasts
    `silence` seconds) inside the rule's windows, unless an exception holds. `required`: `when`
    must hold inside each window (the first `first` seconds, the last `last` seconds, within an
    `after` anchor's reach, else the whole call); raised once per window that closes without it.
    """

    id: str
    title: str
    kind: RuleKind
    when: Condition | None = None
    silence: float | None = None
    speaker: Speaker | None = None  # None: either speaker
    deduction: int = 0
    fatal: bool = False
    first: float | None = None
    last: float | None = None
    during: str | None = None  # `while`: a situation id, or "on_hold"
    after: Context | None = None  # anchor: the trigger counts (or is owed) only after this
    unless: tuple[Context, ...] = ()
    advice: str | None = None
    follow_up_hours: float | None = None
    source: "SourceRef | None" = None

    def conditions(self) -> list[Condition]:
        """Every top-level condition the rule names (for checks and listings)."""
        found = [self.when] if self.when else []
        found += [c.condition for c in (self.after, *self.unless) if c is not None]
        return found
