"""Crosstalk: the agent starts talking while the caller is talking and both go on for 1 s."""

from __future__ import annotations

from callassist.detectors.base import Detector
from callassist.inputs import SpeechEnded, SpeechStarted


class CrosstalkDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.overlap_start: float | None = None

    def on_speech_started(self, item: SpeechStarted) -> None:
        if item.speaker == "agent" and self.state.speaking["caller"]:
            self.overlap_start = item.t

    def on_speech_ended(self, item: SpeechEnded) -> None:
        self.overlap_start = None

    def deadline(self) -> float | None:
        if self.overlap_start is None:
            return None
        return self.overlap_start + self.settings.timings.crosstalk_overlap

    def on_deadline(self, t: float) -> None:
        self.ctx.event("crosstalk", "violation", t, self.overlap_start or t, t, "agent")
        self.overlap_start = None
