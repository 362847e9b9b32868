"""Quiet caller: caller speech well below normal telephone level for 1.5 s → step 1; still too
quiet after the agent has answered → the next step. A step with a `wait` in the pack is followed
on its own that long after the agent has said its line (standard: 5 s after step 2 → hang up).
"""

from __future__ import annotations

from callassist.detectors.base import Detector, FrameClock, ScriptSteps
from callassist.inputs import LevelFrame, SpeechEnded


class QuietCallerDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.steps = ScriptSteps(ctx.pack, "quiet_caller")
        self.clock = FrameClock()
        self.quiet_speech = 0.0
        self.agent_answered = False
        self.timer_from: float | None = None  # the agent's line ended: the step's wait runs

    def on_level(self, frame: LevelFrame) -> None:
        dt = self.clock.tick(frame)
        if frame.speaker != "caller" or not frame.voiced or self.state.ended_by:
            return
        limits = self.settings.acoustic
        if frame.level_dbfs >= limits.quiet_level_dbfs:
            self.quiet_speech = 0.0
            if self.steps.started:  # the caller is audible again: the situation is over
                self.ctx.clear("quiet_caller")
                self.ctx.phase.stop_winding_down("quiet_caller")
                self.steps.reset()
                self.timer_from = None
            return
        self.quiet_speech += dt
        by_evidence = not self.steps.started or (self.steps.wait is None and self.agent_answered)
        if by_evidence and self.steps.has_next and self.quiet_speech >= limits.quiet_min_speech - 1e-9:
            self.agent_answered = False
            start = frame.t - self.quiet_speech
            self.quiet_speech = 0.0
            self._raise(frame.t, start)

    def on_speech_ended(self, item: SpeechEnded) -> None:
        if item.speaker == "agent" and self.steps.started:
            self.agent_answered = True
            self.quiet_speech = 0.0  # the next step needs quiet speech after the agent's answer
            if self.steps.wait is not None:
                self.timer_from = item.t

    def deadline(self) -> float | None:
        wait = self.steps.wait
        if self.timer_from is None or wait is None or self.state.anyone_speaking or self.state.ended_by:
            return None
        return self.timer_from + wait

    def on_deadline(self, t: float) -> None:
        start = self.timer_from if self.timer_from is not None else t
        self.timer_from = None
        self._raise(t, start)

    def _raise(self, t: float, start: float) -> None:
        step = self.steps.advance()
        self.ctx.event("quiet_caller", "situation", t, start, t, "caller", step=step)
        if self.steps.hangs_up:
            self.ctx.phase.hang_up("quiet_caller")
        elif self.steps.next_hangs_up:
            self.ctx.phase.wind_down("quiet_caller")
