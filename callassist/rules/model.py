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
class Phrase:
    """One phrase a condition matches. Phrases named through a reference carry where they came
    from: a `[[required]]` entry's id and threshold (its phrases are one line), a
    `[[forbidden]]` entry's id, threshold and the situation whose approved line replaces it, or
    (`line_of`) the situation whose approved line it is."""

    text: str
    threshold: float | None = None  # None: the condition's, else the matcher's default
    id: str | None = None
    situation: str | None = None
    line_of: str | None = None

    @property
    def line(self) -> str:
        """Which line of a rule's `each` the phrase says: its entry's id, else its own text."""
        return self.id or self.text


@dataclass(frozen=True)
class Condition:
    """What one utterance must contain: every part given holds (an empty part is no constraint).

    `said`: any of these phrases, matched fuzzily as forbidden phrases are; `regex`: a
    linear-time regular expression on the recognised text; `any`/`all`/`none`: sub-conditions
    of which at least one / every one / none holds in the same utterance. `speaker` overrides
    the rule's speaker scope. `spoken_before`: only once that speaker's voice has been heard
    before the utterance began (the short greeting answers a caller who spoke first).
    """

    said: tuple[Phrase, ...] = ()
    regex: str | None = None
    any: tuple["Condition", ...] = ()
    all: tuple["Condition", ...] = ()
    none: tuple["Condition", ...] = ()
    speaker: Speaker | None = None
    threshold: float | None = None
    spoken_before: Speaker | None = None


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
    `after` anchor's reach, the speaker's first utterance (`first_turn`), their first utterance
    after each hold (`after_hold`), else the whole call); raised once per window that closes
    without it. A required rule may instead list lines of which `each` must be said in the window
    (in any utterances; one event names the lines missing).

    `deduction` None: the points come from the settings' `[score.deductions]` for the rule's id
    (the standard's own rules). `situation`: the situation whose approved line and advice the
    event carries (default: the one with the rule's id, if any). `per_phrase`: one event for each
    phrase heard, carrying the phrase's id and its situation's line (forbidden phrases).
    """

    id: str
    title: str
    kind: RuleKind
    when: Condition | None = None
    silence: float | None = None
    speaker: Speaker | None = None  # None: either speaker
    deduction: int | None = None
    fatal: bool = False
    first: float | None = None
    last: float | None = None
    during: str | None = None  # `while`: a situation id, or "on_hold"
    after: Context | None = None  # anchor: the trigger counts (or is owed) only after this
    unless: tuple[Context, ...] = ()
    advice: str | None = None
    follow_up_hours: float | None = None
    situation: str | None = None
    per_phrase: bool = False
    each: tuple[Phrase, ...] = ()
    first_turn: bool = False  # required: in the speaker's first utterance (begun within `first` s)
    skip_first_turn: bool = False  # the speaker's first utterance does not count (the greeting)
    after_hold: bool = False  # required: in the speaker's first utterance after each hold
    waived_by_hang_up: bool = False  # required: not owed when a script hung up the call
    source: "SourceRef | None" = None

    def conditions(self) -> list[Condition]:
        """Every top-level condition the rule names (for checks and listings)."""
        found = [self.when] if self.when else []
        found += [c.condition for c in (self.after, *self.unless) if c is not None]
        return found
