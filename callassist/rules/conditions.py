"""Judging one condition on one utterance: which stretch of its text satisfies it, if any."""

from __future__ import annotations

from collections.abc import Callable

from callassist.heard import HeardText
from callassist.matching import PhraseHit, PhraseMatcher, PhraseSet
from callassist.rules.model import Condition, Phrase
from callassist.rules.regex import compile_linear

PhraseFound = tuple[Phrase, PhraseHit]


class ConditionJudge:
    """Finds a condition in an utterance with the pack's phrase matcher (fuzzy, as forbidden
    phrases are) and RE2 patterns; phrases with {placeholders} match as templates.

    A condition's plain phrases are indexed once (`PhraseMatcher.phrase_set`), so an utterance
    is aligned only against the phrases that could reach their threshold in it: a list of
    hundreds of forbidden phrases costs about what a few do.
    """

    def __init__(
        self, matcher: PhraseMatcher, fill: Callable[[str], str],
        spoke_before: Callable[[str, float], bool] = lambda speaker, t: False,
    ) -> None:
        self.matcher = matcher
        self.fill = fill
        self.spoke_before = spoke_before  # (speaker, t): was their voice heard before t?
        self._indexes: dict[int, tuple[PhraseSet, tuple[Phrase, ...], tuple[Phrase, ...]]] = {}

    def find(self, condition: Condition, heard: HeardText, speaker: str | None = None) -> PhraseHit | None:
        """The text span satisfying `condition` in `heard` (its parts' spans joined), or None.
        `speaker` is the scope inherited from the rule; the condition's own speaker wins."""
        scope = condition.speaker or speaker
        if scope is not None and heard.speaker != scope:
            return None
        if condition.spoken_before is not None and not self.spoke_before(condition.spoken_before, heard.utterance.start):
            return None
        hits: list[PhraseHit] = []
        if condition.said:
            found = self.said(condition, heard)
            if not found:
                return None
            hits.append(max(found, key=lambda pair: pair[1].score)[1])  # the first of the best
        if condition.regex is not None:
            match = compile_linear(condition.regex).search(heard.text)
            if match is None:
                return None
            hits.append(PhraseHit(condition.regex, 100.0, match.start(), match.end(), match.group(0)))
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

    def phrases_found(self, condition: Condition, heard: HeardText, speaker: str | None = None) -> list[PhraseFound]:
        """Each phrase of `said` heard where `condition` holds, one per stretch of text: where
        hits overlap (「喂，说话呀！」 inside 「喂，说话呀！再不说话我就挂了啊！」) the best score
        wins, then the longer phrase. In text order."""
        only_said = not (condition.regex or condition.any or condition.all or condition.none or condition.spoken_before)
        scope = condition.speaker or speaker
        if only_said:
            if scope is not None and heard.speaker != scope:
                return []
        elif self.find(condition, heard, speaker) is None:
            return []
        found = sorted(self.said(condition, heard), key=lambda pair: (-pair[1].score, -len(pair[0].text)))
        kept: list[PhraseFound] = []
        for phrase, hit in found:
            if all(hit.end <= other.start or hit.start >= other.end for _, other in kept):
                kept.append((phrase, hit))
        kept.sort(key=lambda pair: pair[1].start)
        return kept

    def said(self, condition: Condition, heard: HeardText) -> list[PhraseFound]:
        """Every phrase of `said` found in the utterance, in the order the condition lists them."""
        index, plain, templates = self._index(condition)
        found = [(plain[i], hit) for i, hit in self.matcher.find_all(heard.prepared, index)] if plain else []
        for phrase in templates:
            hit = self.matcher.find_template(heard.prepared, self.fill(phrase.text), self._threshold(phrase, condition))
            if hit is not None:
                found.append((phrase, hit))
        if templates:
            order = {id(phrase): n for n, phrase in enumerate(condition.said)}
            found.sort(key=lambda pair: order[id(pair[0])])
        return found

    def _index(self, condition: Condition) -> tuple[PhraseSet, tuple[Phrase, ...], tuple[Phrase, ...]]:
        key = id(condition)
        if key not in self._indexes:
            plain = tuple(p for p in condition.said if "{" not in p.text)
            templates = tuple(p for p in condition.said if "{" in p.text)
            index = self.matcher.phrase_set([(p.text, self._threshold(p, condition)) for p in plain])
            self._indexes[key] = (index, plain, templates)
        return self._indexes[key]

    @staticmethod
    def _threshold(phrase: Phrase, condition: Condition) -> float | None:
        return phrase.threshold if phrase.threshold is not None else condition.threshold
