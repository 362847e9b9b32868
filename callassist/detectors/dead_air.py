"""Dead air: the caller has finished and the agent says nothing for too long, not on hold."""

from __future__ import annotations

from callassist.detectors.base import Countdown, Detector
from callassist.inputs import SpeechEnded, SpeechStarted


class DeadAirDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.caller_finished: float | None = None

    def on_speech_started(self, item: SpeechStarted) -> None:
        self.caller_finished = None

    def on_speech_ended(self, item: SpeechEnded) -> None:
        if item.speaker == "caller" and not self.state.speaking["agent"]:
            self.caller_finished = item.t

    def deadline(self) -> float | None:
        state = self.state
        if self.caller_finished is None or state.silence_paused or state.anyone_speaking or state.winding_down:
            return None
        anchor = max(self.caller_finished, state.silence_counts_from)
        return anchor + self.settings.timings.dead_air

    def on_deadline(self, t: float) -> None:
        start = t - self.settings.timings.dead_air
        self.ctx.event("agent_dead_air", "violation", t, start, t, "agent")
        self.caller_finished = None

    def countdown(self, now: float) -> Countdown | None:
        due = self.deadline()
        if due is None:
            return None
        total = self.settings.timings.dead_air
        return Countdown("agent_dead_air", None, max(0.0, total - (due - now)), total)
