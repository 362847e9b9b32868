"""Forbidden phrases said by the agent (never the caller).

Flagged as soon as recognised text contains one: from a partial result, before the sentence
ends. The final result of the same utterance does not flag it again: a flag it confirms is
re-timed by its words (partials have none, so their hits are timed by interpolation), and a flag
whose phrase it no longer contains is withdrawn, so no false violation stays in the report.
"""

from __future__ import annotations

from dataclasses import replace

from callassist.detectors.base import Detector
from callassist.events import Event
from callassist.heard import HeardText
from callassist.matching import PhraseHit, PhraseSet
from callassist.scriptpack import ForbiddenPhrase


class ForbiddenPhraseDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.from_partials: dict[str, dict[str, Event]] = {}  # utterance key -> phrase id -> flag
        self._phrases: PhraseSet | None = None

    def on_heard(self, heard: HeardText) -> None:
        if heard.speaker != "agent":
            return
        flagged = self.from_partials.pop(heard.key, {}) if heard.final else self.from_partials.setdefault(heard.key, {})
        found = set()
        for phrase, hit in self._hits(heard):
            found.add(phrase.id)
            if phrase.id not in flagged:
                event = self._flag(heard, phrase, hit)
                if not heard.final:
                    flagged[phrase.id] = event
            elif heard.final:
                self.ctx.retime(flagged[phrase.id], self._retimed(flagged[phrase.id], heard, hit))
        if heard.final:
            for phrase_id, event in flagged.items():
                if phrase_id not in found:
                    self.ctx.withdraw(event)

    @property
    def phrases(self) -> PhraseSet:
        """The pack's forbidden phrases, indexed on first use (no text, no pinyin to load)."""
        if self._phrases is None:
            self._phrases = self.ctx.matcher.phrase_set([(p.phrase, p.threshold) for p in self.ctx.pack.forbidden])
        return self._phrases

    def _flag(self, heard: HeardText, phrase: ForbiddenPhrase, hit: PhraseHit) -> Event:
        start, end = heard.span_times(hit)
        return self.ctx.event(
            "forbidden_phrase",
            "violation",
            end,
            start,
            end,
            "agent",
            situation=phrase.situation,
            phrase_id=phrase.id,
            heard=hit.heard,
            score=round(hit.score, 1),
            detail=phrase.phrase,
        )

    @staticmethod
    def _retimed(event: Event, heard: HeardText, hit: PhraseHit) -> Event:
        """The flag as the final result times it; when it was raised does not change."""
        start, end = heard.span_times(hit)
        return replace(event, t=end, start=start, end=end, heard=hit.heard, score=round(hit.score, 1))

    def _hits(self, heard: HeardText) -> list[tuple[ForbiddenPhrase, PhraseHit]]:
        """Every forbidden phrase found, keeping one phrase per stretch of text: where hits
        overlap (「喂，说话呀！」 inside 「喂，说话呀！再不说话我就挂了啊！」) the best score wins,
        then the longer phrase."""
        forbidden = self.ctx.pack.forbidden
        found = [(forbidden[index], hit) for index, hit in self.ctx.matcher.find_all(heard.prepared, self.phrases)]
        found.sort(key=lambda pair: (-pair[1].score, -len(pair[0].phrase)))
        kept: list[tuple[ForbiddenPhrase, PhraseHit]] = []
        for phrase, hit in found:
            if all(hit.end <= other.start or hit.start >= other.end for _, other in kept):
                kept.append((phrase, hit))
        kept.sort(key=lambda pair: pair[1].start)
        return kept
