"""Noisy line: caller speech with a low signal-to-noise ratio for 2 s, or a loud background on
the caller's turn → the approved line; 5 s after the agent says it → hang up."""

from __future__ import annotations

from callassist.detectors.base import Detector, FrameClock
from callassist.inputs import LevelFrame, SpeechEnded

HANG_UP_STEP = 2


class NoisyLineDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.clock = FrameClock()
        self.low_snr_speech = 0.0
        self.loud_background = 0.0
        self.raised = False
        self.hang_up_from: float | None = None

    def on_level(self, frame: LevelFrame) -> None:
        dt = self.clock.tick(frame)
        if frame.speaker != "caller" or self.raised or self.state.ended_by or self.state.on_hold:
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
        if evidence:
            self.raised = True
            window = max(self.low_snr_speech, self.loud_background)
            self.ctx.event(
                "noisy_line", "situation", frame.t, frame.t - window, frame.t, "caller", step=1,
                detail=f"noise floor {frame.noise_floor_dbfs:.0f} dBFS",
            )
            self.state.ending = "noisy_line"

    def on_speech_ended(self, item: SpeechEnded) -> None:
        if item.speaker == "agent" and self.raised and self.state.ending == "noisy_line":
            self.hang_up_from = item.t

    def deadline(self) -> float | None:
        if self.hang_up_from is None or self.state.anyone_speaking or self.state.ended_by:
            return None
        return self.hang_up_from + self.settings.timings.hangup_step_wait

    def on_deadline(self, t: float) -> None:
        self.ctx.event("noisy_line", "situation", t, self.hang_up_from or t, t, "caller", step=HANG_UP_STEP)
        self.hang_up_from = None
        self.state.ended_by = "noisy_line"
