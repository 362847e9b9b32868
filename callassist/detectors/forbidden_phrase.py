"""Forbidden phrases said by the agent (never the caller), each flagged once per utterance."""

from __future__ import annotations

from callassist.detectors.base import Detector
from callassist.heard import HeardText
from callassist.matching import PhraseHit
from callassist.scriptpack import ForbiddenPhrase


class ForbiddenPhraseDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.flagged: dict[str, set[str]] = {}  # utterance key -> phrase ids already flagged

    def on_heard(self, heard: HeardText) -> None:
        if heard.speaker != "agent":
            return
        already = self.flagged.setdefault(heard.key, set()) if heard.key else set()
        for phrase, hit in self._hits(heard):
            if phrase.id in already:
                continue
            already.add(phrase.id)
            start, end = heard.span_times(hit)
            self.ctx.event(
                "forbidden_phrase",
                "violation",
                max(end, start),
                start,
                end,
                "agent",
                situation=phrase.situation,
                phrase_id=phrase.id,
                heard=hit.heard,
                score=round(hit.score, 1),
                detail=phrase.phrase,
            )

    def _hits(self, heard: HeardText) -> list[tuple[ForbiddenPhrase, PhraseHit]]:
        """Every forbidden phrase found, keeping one phrase per stretch of text: where hits
        overlap (「喂，说话呀！」 inside 「喂，说话呀！再不说话我就挂了啊！」) the best score wins,
        then the longer phrase."""
        found = []
        for phrase in self.ctx.pack.forbidden:
            hit = self.ctx.matcher.find(heard.prepared, phrase.phrase, phrase.threshold)
            if hit is not None:
                found.append((phrase, hit))
        found.sort(key=lambda pair: (-pair[1].score, -len(pair[0].phrase)))
        kept: list[tuple[ForbiddenPhrase, PhraseHit]] = []
        for phrase, hit in found:
            if all(hit.end <= other.start or hit.start >= other.end for _, other in kept):
                kept.append((phrase, hit))
        kept.sort(key=lambda pair: pair[1].start)
        return kept
