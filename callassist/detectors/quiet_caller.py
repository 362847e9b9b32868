"""Quiet caller: caller speech well below normal telephone level for 1.5 s → step 1; still too
quiet after the agent has answered → the next step. A step with a `wait` in the pack is followed
on its own that long after the agent has said its line (standard: 5 s after step 2 → hang up);
it does not fall due while someone talks, and fires when they stop, with that time.

The voice level is the power mean of the caller's recent speech (`levels`), so a word tail or a
soft syllable is not a quiet caller, nor one loud syllable an audible one. A voice drowned in
loud noise is the noisy line's case, not this one: a call runs one of the two scripts.
"""

from __future__ import annotations

from callassist.detectors.base import Detector, FrameClock, PacedSteps
from callassist.detectors.levels import CallerLevels
from callassist.inputs import LevelFrame, SpeechEnded
from callassist.settings import AcousticSettings


class QuietCallerDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        limits = self.settings.acoustic
        self.script = PacedSteps(ctx, "quiet_caller")
        self.clock = FrameClock()
        self.levels = CallerLevels(limits.voice_window, limits.background_window)
        self.quiet_speech = 0.0
        self.agent_answered = False

    def on_level(self, frame: LevelFrame) -> None:
        dt = self.clock.tick(frame)
        if frame.speaker != "caller":
            return
        self.levels.add(frame, dt)
        if not frame.voiced or self.state.ended_by or "noisy_line" in self.state.phase.ending:
            return
        limits = self.settings.acoustic
        voice = self.levels.voice_dbfs
        assert voice is not None  # this frame is in it
        if voice >= limits.quiet_level_dbfs:
            self.quiet_speech = 0.0
            if self.script.steps.started:  # the caller is audible again: the situation is over
                self.ctx.clear("quiet_caller")
                self.ctx.phase.stop_winding_down("quiet_caller")
                self.script.reset()
            return
        if self._drowned(limits):
            return
        self.quiet_speech += dt
        steps = self.script.steps
        by_evidence = not steps.started or (steps.wait is None and self.agent_answered)
        if by_evidence and steps.has_next and self.quiet_speech >= limits.quiet_min_speech - 1e-9:
            self.agent_answered = False
            start = frame.t - self.quiet_speech
            self.quiet_speech = 0.0
            self.script.raise_step(frame.t, start, detail=f"voice {voice:.0f} dBFS")

    def _drowned(self, limits: AcousticSettings) -> bool:
        """The background is loud and the voice barely over it: noise, not a weak voice."""
        background, snr = self.levels.background_dbfs, self.levels.snr_db
        return (
            background is not None and snr is not None
            and background >= limits.noisy_min_background_dbfs and snr < limits.noisy_snr_db
        )

    def on_speech_ended(self, item: SpeechEnded) -> None:
        if item.speaker == "agent" and self.script.steps.started:
            self.agent_answered = True
            self.quiet_speech = 0.0  # the next step needs quiet speech after the agent's answer
            self.script.agent_said_line(item.t)

    def deadline(self) -> float | None:
        return self.script.deadline()

    def on_deadline(self, t: float) -> None:
        self.script.on_deadline(t)
