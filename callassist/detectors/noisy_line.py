"""Noisy line: the caller's speech drowned in loud noise for 2 s, or a loud background on the
caller's turn → step 1 (the approved line). Each further step follows the pack's `wait` after
the agent has said the line before it (standard: 5 s → hang up); it does not fall due while
someone talks, and fires when they stop, with that time.

Evidence is the caller's voice against the line's background (`levels`), not single frames, and
only from noise that is really loud: a weak voice over a quiet line is a quiet caller (the weak
voice is the problem, not the noise), so a call runs one of the two scripts, never both. Drowned
speech decays while the caller is heard clearly, so word tails and pauses over a good line
never add up to a noisy line. Words drowned so deeply that the voice test hears only some of
them leave the rest as loud background: once the caller's drowned speech has begun (since the
agent last spoke), the loud background on their turn counts with it.
"""

from __future__ import annotations

from callassist.detectors.base import Detector, FrameClock, PacedSteps
from callassist.detectors.levels import CallerLevels
from callassist.inputs import LevelFrame, SpeechEnded


class NoisyLineDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        limits = self.settings.acoustic
        self.script = PacedSteps(ctx, "noisy_line")
        self.clock = FrameClock()
        self.levels = CallerLevels(limits.voice_window, limits.background_window)
        self.drowned_speech = 0.0
        self.loud_background = 0.0
        self.drowned_gaps = 0.0  # loud background on the caller's turn after drowned speech
        self.drowned_this_turn = False  # drowned speech since the agent last spoke

    def on_level(self, frame: LevelFrame) -> None:
        dt = self.clock.tick(frame)
        if frame.speaker != "caller":
            return
        self.levels.add(frame, dt)
        state = self.state
        if self.script.steps.started or state.ended_by or state.on_hold or "quiet_caller" in state.phase.ending:
            return
        limits = self.settings.acoustic
        background = self.levels.background_dbfs
        if frame.voiced:
            snr = self.levels.snr_db
            loud = background is not None and background >= limits.noisy_min_background_dbfs
            if loud and snr is not None and snr < limits.noisy_snr_db:
                self.drowned_speech += dt
                self.drowned_this_turn = True
            else:
                self.drowned_speech = max(0.0, self.drowned_speech - dt)
                self.drowned_gaps = max(0.0, self.drowned_gaps - dt)
            window = self.drowned_speech + self.drowned_gaps
            evidence = window >= limits.noisy_min_speech - 1e-9
        else:
            callers_turn = state.last_speech_end["agent"] is not None and not state.speaking["agent"]
            if callers_turn and background is not None and background > limits.noisy_floor_dbfs:
                self.loud_background += dt
                if self.drowned_this_turn:
                    self.drowned_gaps += dt
            else:
                self.loud_background = 0.0
                self.drowned_gaps = 0.0
            window = max(self.loud_background, self.drowned_speech + self.drowned_gaps)
            evidence = (
                self.loud_background >= limits.noisy_min_floor_time - 1e-9
                or self.drowned_speech + self.drowned_gaps >= limits.noisy_min_speech - 1e-9
            )
        if evidence and self.script.steps.has_next:
            snr = self.levels.snr_db
            detail = f"background {background:.0f} dBFS" + (f", voice {snr:.0f} dB over it" if snr is not None else "")
            self.script.raise_step(frame.t, frame.t - window, detail=detail)

    def on_speech_ended(self, item: SpeechEnded) -> None:
        if item.speaker == "agent":
            self.drowned_this_turn = False
            self.drowned_gaps = 0.0
            self.script.agent_said_line(item.t)

    def deadline(self) -> float | None:
        return self.script.deadline()

    def on_deadline(self, t: float) -> None:
        self.script.on_deadline(t)
