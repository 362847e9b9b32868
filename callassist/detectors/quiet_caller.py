"""Quiet caller: caller speech well below normal telephone level for 1.5 s → step 1; still too
quiet after the agent has answered → step 2; 5 s after the agent's step-2 line → hang up."""

from __future__ import annotations

from callassist.detectors.base import Detector, FrameClock
from callassist.inputs import LevelFrame, SpeechEnded

HANG_UP_STEP = 3


class QuietCallerDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.clock = FrameClock()
        self.quiet_speech = 0.0
        self.step = 0
        self.agent_answered = False
        self.hang_up_from: float | None = None

    def on_level(self, frame: LevelFrame) -> None:
        dt = self.clock.tick(frame)
        if frame.speaker != "caller" or not frame.voiced or self.state.ended_by:
            return
        limits = self.settings.acoustic
        if frame.level_dbfs >= limits.quiet_level_dbfs:
            self.quiet_speech = 0.0
            if self.step:  # the caller is audible again: the situation is over
                self.ctx.clear("quiet_caller")
                self.step = 0
                self.hang_up_from = None
                if self.state.ending == "quiet_caller":
                    self.state.ending = None
            return
        self.quiet_speech += dt
        due = self.step == 0 or (self.step == 1 and self.agent_answered)
        if due and self.quiet_speech >= limits.quiet_min_speech - 1e-9:
            self.step += 1
            self.agent_answered = False
            start = frame.t - self.quiet_speech
            self.quiet_speech = 0.0
            self.ctx.event("quiet_caller", "situation", frame.t, start, frame.t, "caller", step=self.step)
            if self.step == 2:
                self.state.ending = "quiet_caller"

    def on_speech_ended(self, item: SpeechEnded) -> None:
        if item.speaker == "agent" and self.step:
            self.agent_answered = True
            self.quiet_speech = 0.0  # step 2 needs quiet speech after the agent's answer
            if self.step == 2:
                self.hang_up_from = item.t

    def deadline(self) -> float | None:
        if self.hang_up_from is None or self.state.anyone_speaking or self.state.ending != "quiet_caller":
            return None
        return self.hang_up_from + self.settings.timings.hangup_step_wait

    def on_deadline(self, t: float) -> None:
        self.step = HANG_UP_STEP
        self.ctx.event("quiet_caller", "situation", t, self.hang_up_from or t, t, "caller", step=self.step)
        self.hang_up_from = None
        self.state.ended_by = "quiet_caller"
