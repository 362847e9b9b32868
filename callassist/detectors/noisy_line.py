"""Noisy line: caller speech with a low signal-to-noise ratio for 2 s, or a loud background on
the caller's turn → step 1 (the approved line). Each further step follows the pack's `wait`
after the agent has said the line before it (standard: 5 s → hang up)."""

from __future__ import annotations

from callassist.detectors.base import Detector, FrameClock, ScriptSteps
from callassist.inputs import LevelFrame, SpeechEnded


class NoisyLineDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.steps = ScriptSteps(ctx.pack, "noisy_line")
        self.clock = FrameClock()
        self.low_snr_speech = 0.0
        self.loud_background = 0.0
        self.timer_from: float | None = None  # the agent's line ended: the step's wait runs

    def on_level(self, frame: LevelFrame) -> None:
        dt = self.clock.tick(frame)
        if frame.speaker != "caller" or self.steps.started or self.state.ended_by or self.state.on_hold:
            return
        limits = self.settings.acoustic
        if frame.voiced:
            if frame.level_dbfs - frame.noise_floor_dbfs < limits.noisy_snr_db:
                self.low_snr_speech += dt
            evidence = self.low_snr_speech >= limits.noisy_min_speech - 1e-9
        else:
            callers_turn = self.state.last_speech_end["agent"] is not None and not self.state.speaking["agent"]
            if callers_turn and frame.noise_floor_dbfs > limits.noisy_floor_dbfs:
                self.loud_background += dt
            else:
                self.loud_background = 0.0
            evidence = self.loud_background >= limits.noisy_min_floor_time - 1e-9
        if evidence and self.steps.has_next:
            window = max(self.low_snr_speech, self.loud_background)
            self._raise(frame.t, frame.t - window, detail=f"noise floor {frame.noise_floor_dbfs:.0f} dBFS")

    def on_speech_ended(self, item: SpeechEnded) -> None:
        if item.speaker == "agent" and self.steps.wait is not None:
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

    def _raise(self, t: float, start: float, detail: str | None = None) -> None:
        step = self.steps.advance()
        self.ctx.event("noisy_line", "situation", t, start, t, "caller", step=step, detail=detail)
        if self.steps.hangs_up:
            self.ctx.phase.hang_up("noisy_line")
        elif self.steps.next_hangs_up:
            self.ctx.phase.wind_down("noisy_line")
