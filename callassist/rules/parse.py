"""Reading `[[rule]]` and `[[phrase_set]]` tables of a pack file into typed rules.

The pack loader (callassist.scriptpack) owns files, line numbers, ids, merging and
`disabled`; this module checks one table's keys and values and reports each problem through a
callback with the top-level key it concerns, so the problem lands on that key's line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, get_args

from callassist.inputs import SPEAKERS
from callassist.rules.model import ON_HOLD, Condition, Context, Phrase, Rule, RuleKind, Side
from callassist.rules.regex import PatternError, compile_linear

RULE_REQUIRED = ("id", "title", "kind")
RULE_OPTIONAL = (
    "when", "silence", "each", "speaker", "deduction", "fatal", "first", "last", "while", "after",
    "unless", "advice", "follow_up_hours", "situation", "per_phrase", "first_turn",
    "skip_first_turn", "after_hold", "waived_by_hang_up", "disabled",
)
# Window keys only a required rule takes (what must be said, and where it is owed).
REQUIRED_ONLY = ("each", "first_turn", "skip_first_turn", "after_hold", "waived_by_hang_up")
PHRASE_SET_REQUIRED = ("id", "phrases")
PHRASE_SET_OPTIONAL = ("disabled",)
CONDITION_KEYS = ("said", "regex", "any", "all", "none", "speaker", "threshold", "spoken_before")
CONTEXT_KEYS = (*CONDITION_KEYS, "side", "within", "turns")
SET_PREFIX = "@"  # "@account_details" in `said` names a [[phrase_set]] (or the standard's lines)

Problem = Callable[[str, str], None]  # (top-level key, message)


@dataclass(frozen=True)
class Reference:
    """A name a rule uses that another entry must define: a phrase set or a situation."""

    kind: str  # "phrases" (a phrase set or the standard's lines) or "situation"
    name: str
    key: str  # the rule's top-level key it appears under


@dataclass
class RuleReader:
    """Checks one [[rule]] table; problems go to `problem`, names it uses to `references`."""

    problem: Problem
    references: list[Reference] = field(default_factory=list)

    def rule(self, rule_id: str, raw: Mapping[str, Any]) -> Rule:
        kind = raw.get("kind")
        if kind not in get_args(RuleKind):
            self.problem("kind", f"must be one of {', '.join(get_args(RuleKind))}; got {kind!r}")
            kind = "violation"
        title = raw.get("title")
        if not isinstance(title, str) or not title.strip():
            self.problem("title", "must be a non-empty string (the title QA staff read)")
        when = self._condition("when", raw["when"], "when") if "when" in raw else None
        silence = self._number(raw, "silence")
        each = self._said("each", raw["each"], "each") if "each" in raw else ()
        if sum(key in raw for key in ("when", "silence", "each")) != 1:
            self.problem("when", "a rule takes exactly one of when (what is said), silence (seconds) or each (lines)")
        if silence is not None and kind == "required":
            self.problem("silence", "a required rule needs `when` or `each`: what must be said")
        for key in REQUIRED_ONLY:
            if key in raw and kind != "required":
                self.problem(key, "applies to required rules only")
        flags = {key: self._flag(raw, key) for key in (*REQUIRED_ONLY[1:], "per_phrase")}
        if flags["per_phrase"] and (kind == "required" or when is None):
            self.problem("per_phrase", "applies to violations and hints with `when`")
        if flags["first_turn"] and flags["skip_first_turn"]:
            self.problem("skip_first_turn", "cannot go with first_turn")
        windows = [key for key in ("first_turn", "after_hold", "after", "last") if raw.get(key)]
        if len(windows) > 1:
            self.problem(windows[1], f"a required rule has one window; {windows[0]} is given already")
        situation = raw.get("situation")
        if situation is not None:
            if not isinstance(situation, str) or not situation:
                self.problem("situation", f"must name a situation, got {situation!r}")
                situation = None
            else:
                self.references.append(Reference("situation", situation, "situation"))
        fatal = raw.get("fatal", False)
        if not isinstance(fatal, bool):
            self.problem("fatal", f"must be true or false, got {fatal!r}")
            fatal = False
        deduction = raw.get("deduction")
        if deduction is not None and (isinstance(deduction, bool) or not isinstance(deduction, int) or deduction < 0):
            self.problem("deduction", f"must be a whole number of points (0 or more), got {deduction!r}")
            deduction = None
        if kind == "hint" and (fatal or deduction):
            self.problem("fatal" if fatal else "deduction", "a hint costs no points; make it a violation")
        during = raw.get("while")
        if during is not None:
            if not isinstance(during, str) or not during:
                self.problem("while", f"must name a situation (e.g. angry_caller) or {ON_HOLD}, got {during!r}")
                during = None
            elif during != ON_HOLD:
                self.references.append(Reference("situation", during, "while"))
        after = self._context("after", raw["after"]) if "after" in raw else None
        if after is not None and after.side != "before":
            self.problem("after", "an anchor comes before the trigger; side = \"after\" is not allowed here")
        if kind == "required" and after is not None and after.within is None and after.turns is None:
            self.problem("after", "a required rule's anchor needs within (seconds) or turns: how soon it is owed")
        unless_raw = raw.get("unless", [])
        if isinstance(unless_raw, Mapping):
            unless_raw = [unless_raw]
        if not isinstance(unless_raw, list):
            self.problem("unless", "must be a table or a list of tables")
            unless_raw = []
        unless = tuple(
            context
            for index, item in enumerate(unless_raw)
            if (context := self._context("unless", item, f"unless[{index}]")) is not None
        )
        if kind == "required":
            for key in ("while", "unless"):
                if key in raw:
                    self.problem(key, "a required rule's window is first, last or after; while and unless apply to violations and hints")
        advice = raw.get("advice")
        if advice is not None and (not isinstance(advice, str) or not advice.strip()):
            self.problem("advice", "must be a non-empty string")
            advice = None
        follow_up = self._number(raw, "follow_up_hours")
        if follow_up is not None and kind != "hint":
            self.problem("follow_up_hours", "only a hint carries a follow-up")
        return Rule(
            id=rule_id,
            title=title if isinstance(title, str) else "",
            kind=kind,
            when=when,
            silence=silence,
            speaker=self._speaker(raw, "speaker", "speaker"),
            deduction=deduction,
            fatal=fatal,
            first=self._number(raw, "first"),
            last=self._number(raw, "last"),
            during=during,
            after=after,
            unless=unless,
            advice=advice,
            follow_up_hours=follow_up,
            situation=situation,
            each=each,
            **flags,
        )

    def _flag(self, raw: Mapping[str, Any], key: str) -> bool:
        value = raw.get(key, False)
        if not isinstance(value, bool):
            self.problem(key, f"must be true or false, got {value!r}")
            return False
        return value

    def _number(
        self, raw: Mapping[str, Any], key: str, top: str | None = None, path: str | None = None
    ) -> float | None:
        if key not in raw:
            return None
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            self.problem(top or key, f"{_prefix(path, key)}must be a positive number, got {value!r}")
            return None
        return float(value)

    def _speaker(self, raw: Mapping[str, Any], key: str, top: str, path: str | None = None):
        value = raw.get(key)
        if value is None or value == "any":
            return None
        if value not in SPEAKERS:
            self.problem(top, f"{_prefix(path, key)}must be agent, caller or any; got {value!r}")
            return None
        return value

    def _context(self, top: str, raw: Any, path: str | None = None) -> Context | None:
        path = path or top
        if not isinstance(raw, Mapping):
            self.problem(top, f"{path}: must be a table of a condition")
            return None
        condition = self._condition(top, raw, path, extra=("side", "within", "turns"))
        side: Side = raw.get("side", "before")
        if side not in ("before", "after"):
            self.problem(top, f"{path}.side: must be before or after; got {side!r}")
            side = "before"
        turns = raw.get("turns")
        if turns is not None and (isinstance(turns, bool) or not isinstance(turns, int) or turns < 1):
            self.problem(top, f"{path}.turns: must be a whole number of utterances (1 or more), got {turns!r}")
            turns = None
        within = self._number(raw, "within", top, path)
        if condition is None:
            return None
        return Context(condition, side, within, turns)

    def _condition(self, top: str, raw: Any, path: str, extra: tuple[str, ...] = ()) -> Condition | None:
        if not isinstance(raw, Mapping):
            self.problem(top, f"{path}: must be a table such as {{ said = [\"...\"] }}")
            return None
        for key in raw:
            if key not in CONDITION_KEYS + extra:
                allowed = ", ".join(CONDITION_KEYS + extra)
                self.problem(top, f"{path}.{key}: unknown key; allowed: {allowed}")
        if not any(key in raw for key in ("said", "regex", "any", "all")):
            self.problem(top, f"{path}: needs said, regex, any or all (none alone matches everything)")
        said = self._said(top, raw.get("said"), f"{path}.said") if "said" in raw else ()
        regex = raw.get("regex")
        if regex is not None:
            if not isinstance(regex, str) or not regex:
                self.problem(top, f"{path}.regex: must be a non-empty string")
                regex = None
            else:
                try:
                    compile_linear(regex)
                except PatternError as error:
                    self.problem(top, f"{path}.regex: not a valid linear-time (RE2) regular expression: {error}")
                    regex = None
        threshold = raw.get("threshold")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 100):
            self.problem(top, f"{path}.threshold: must be a number from 0 to 100, got {threshold!r}")
            threshold = None
        parts = {}
        for key in ("any", "all", "none"):
            items = raw.get(key, [])
            if not isinstance(items, list) or (key in raw and not items):
                self.problem(top, f"{path}.{key}: must be a non-empty list of conditions")
                items = []
            parts[key] = tuple(
                sub for index, item in enumerate(items)
                if (sub := self._condition(top, item, f"{path}.{key}[{index}]")) is not None
            )
        return Condition(
            said=said,
            regex=regex,
            any=parts["any"],
            all=parts["all"],
            none=parts["none"],
            speaker=self._speaker(raw, "speaker", top, path),
            threshold=float(threshold) if threshold is not None else None,
            spoken_before=self._speaker(raw, "spoken_before", top, path),
        )

    def _said(self, top: str, value: Any, path: str) -> tuple[Phrase, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(top, f"{path}: must be a phrase, a list of phrases, or \"@set_id\"")
            return ()
        for item in value:
            if item.startswith(SET_PREFIX):
                self.references.append(Reference("phrases", item[len(SET_PREFIX):], top))
        return tuple(Phrase(item) for item in value)


def read_phrase_set(raw: Mapping[str, Any], problem: Problem) -> tuple[str, ...]:
    phrases = raw.get("phrases")
    if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
        problem("phrases", "must be a non-empty list of non-empty strings")
        return ()
    if any(p.startswith(SET_PREFIX) for p in phrases):
        problem("phrases", f"a phrase set lists phrases, not other sets ({SET_PREFIX}...)")
        return ()
    return tuple(phrases)


def _prefix(path: str | None, key: str) -> str:
    return f"{path}.{key}: " if path else ""


def expand_sets(rule: Rule, named: Mapping[str, tuple[Phrase, ...]]) -> Rule:
    """The rule with every "@name" in `said` and `each` replaced by the phrases it names (names
    are checked to exist when the pack is checked)."""

    def phrases(items: tuple[Phrase, ...]) -> tuple[Phrase, ...]:
        out: list[Phrase] = []
        for item in items:
            ref = item.text.startswith(SET_PREFIX)
            out.extend(named.get(item.text[len(SET_PREFIX):], ()) if ref else (item,))
        return tuple(out)

    def condition(c: Condition) -> Condition:
        return replace(
            c, said=phrases(c.said), any=tuple(map(condition, c.any)), all=tuple(map(condition, c.all)),
            none=tuple(map(condition, c.none)),
        )

    def context(c: Context | None) -> Context | None:
        return None if c is None else replace(c, condition=condition(c.condition))

    return replace(
        rule,
        when=condition(rule.when) if rule.when else None,
        each=phrases(rule.each),
        after=context(rule.after),
        unless=tuple(context(c) for c in rule.unless),  # type: ignore[misc]
    )
