"""Angry caller (lexical part): complaint and anger words from the caller, once per episode."""

from __future__ import annotations

from callassist.detectors.base import Detector, Episodes
from callassist.heard import HeardText


class AngryCallerDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.cues = ctx.pack.cues_for("angry_caller")
        self.episodes = Episodes(self.settings.timings.episode_gap)

    def on_heard(self, heard: HeardText) -> None:
        if heard.speaker != "caller" or not heard.final:
            return
        for cue in self.cues:
            hit = self.ctx.matcher.best(heard.prepared, cue.phrases, cue.threshold)
            if hit is None:
                continue
            start, end = heard.span_times(hit)
            if self.episodes.cue(end):
                self.ctx.event(
                    "angry_caller", "situation", heard.utterance.end, start, end, "caller",
                    step=1, heard=hit.heard, detail=f"cue: {cue.id}",
                )
            return
