"""Fast speech: an agent utterance of at least 3 s above 6.5 Chinese characters per second."""

from __future__ import annotations

from callassist.detectors.base import Detector
from callassist.heard import HeardText
from callassist.matching import han_count


class FastSpeechDetector(Detector):
    def on_heard(self, heard: HeardText) -> None:
        if heard.speaker != "agent" or not heard.final:
            return
        u = heard.utterance
        start, end = (u.words[0].start, u.words[-1].end) if u.words else (u.start, u.end)
        duration = end - start
        limits = self.settings.speech_rate
        if duration < limits.min_duration:
            return
        rate = han_count(heard.text) / duration
        if rate > limits.max_chars_per_second:
            self.ctx.event(
                "fast_speech", "violation", u.end, start, end, "agent",
                detail=f"{rate:.1f} characters/s (limit {limits.max_chars_per_second})",
            )
