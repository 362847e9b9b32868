"""Judging one condition on one utterance: which stretch of its text satisfies it, if any."""

from __future__ import annotations

from collections.abc import Callable

from callassist.heard import HeardText
from callassist.matching import PhraseHit, PhraseMatcher
from callassist.rules.model import Condition
from callassist.rules.regex import compile_linear


class ConditionJudge:
    """Finds a condition in an utterance with the pack's phrase matcher (fuzzy, as forbidden
    phrases are) and RE2 patterns; phrases with {placeholders} match as templates."""

    def __init__(self, matcher: PhraseMatcher, fill: Callable[[str], str]) -> None:
        self.matcher = matcher
        self.fill = fill

    def find(self, condition: Condition, heard: HeardText, speaker: str | None = None) -> PhraseHit | None:
        """The text span satisfying `condition` in `heard` (its parts' spans joined), or None.
        `speaker` is the scope inherited from the rule; the condition's own speaker wins."""
        scope = condition.speaker or speaker
        if scope is not None and heard.speaker != scope:
            return None
        hits: list[PhraseHit] = []
        if condition.said:
            hit = self._said(condition, heard)
            if hit is None:
                return None
            hits.append(hit)
        if condition.regex is not None:
            found = compile_linear(condition.regex).search(heard.text)
            if found is None:
                return None
            hits.append(PhraseHit(condition.regex, 100.0, found.start(), found.end(), found.group(0)))
        if condition.any:
            hit = next((h for sub in condition.any if (h := self.find(sub, heard, scope)) is not None), None)
            if hit is None:
                return None
            hits.append(hit)
        for sub in condition.all:
            hit = self.find(sub, heard, scope)
            if hit is None:
                return None
            hits.append(hit)
        if any(self.find(sub, heard, scope) is not None for sub in condition.none):
            return None
        if not hits:
            return None
        start, end = min(h.start for h in hits), max(h.end for h in hits)
        text = heard.text
        return PhraseHit(hits[0].phrase, min(h.score for h in hits), start, end, text[start:end])

    def _said(self, condition: Condition, heard: HeardText) -> PhraseHit | None:
        best: PhraseHit | None = None
        for phrase in condition.said:
            if "{" in phrase:
                hit = self.matcher.find_template(heard.prepared, self.fill(phrase), condition.threshold)
            else:
                hit = self.matcher.find(heard.prepared, phrase, condition.threshold)
            if hit is not None and (best is None or hit.score > best.score):
                best = hit
        return best
