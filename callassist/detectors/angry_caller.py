"""Angry caller, raised once per episode from either kind of evidence:

- lexical: complaint and anger words from the caller (投诉, 什么破, 退钱, …);
- acoustic: the caller's voice jumps well above their own earlier speech in this call (about
  6 dB) and goes up in pitch, for about a second of speech.
"""

from __future__ import annotations

from callassist.detectors.base import Detector, Episodes, FrameClock
from callassist.heard import HeardText
from callassist.inputs import LevelFrame


class AngryCallerDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.cues = ctx.pack.cues_for("angry_caller")
        self.episodes = Episodes(self.settings.timings.episode_gap)
        self.clock = FrameClock()
        self.calm_level = RunningMean()  # the caller's earlier, calm speech
        self.calm_pitch = RunningMean()
        self.calm_speech = 0.0
        self.heated_speech = 0.0

    def on_heard(self, heard: HeardText) -> None:
        if heard.speaker != "caller" or not heard.final:
            return
        for cue in self.cues:
            hit = self.ctx.matcher.best(heard.prepared, cue.phrases, cue.threshold)
            if hit is not None:
                start, end = heard.span_times(hit)
                self._raise(heard.utterance.end, start, end, heard=hit.heard, detail=f"cue: {cue.id}")
                return

    def on_level(self, frame: LevelFrame) -> None:
        dt = self.clock.tick(frame)
        if frame.speaker != "caller" or not frame.voiced:
            return
        limits = self.settings.acoustic
        if self.calm_speech < limits.angry_baseline_speech:
            self._calm(frame, dt)
            return
        louder = frame.level_dbfs - self.calm_level.value
        higher = (
            frame.pitch_hz / self.calm_pitch.value
            if frame.pitch_hz is not None and self.calm_pitch.count
            else None
        )
        if louder >= limits.angry_jump_db and (higher is None or higher >= limits.angry_pitch_rise):
            self.heated_speech += dt
            if self.heated_speech >= limits.angry_min_speech - 1e-9:
                self._raise(
                    frame.t, frame.t - self.heated_speech, frame.t,
                    detail=f"voice {louder:+.0f} dB" + (f", pitch ×{higher:.2f}" if higher else ""),
                )
                self.heated_speech = 0.0
        else:
            self.heated_speech = max(0.0, self.heated_speech - dt)
            if louder < limits.angry_jump_db / 2:
                self._calm(frame, dt)

    def _calm(self, frame: LevelFrame, dt: float) -> None:
        self.calm_speech += dt
        self.calm_level.add(frame.level_dbfs)
        if frame.pitch_hz is not None:
            self.calm_pitch.add(frame.pitch_hz)

    def _raise(self, t: float, start: float, end: float, **extra) -> None:
        if self.episodes.cue(t):
            self.ctx.event("angry_caller", "situation", t, start, end, "caller", step=1, **extra)


class RunningMean:
    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0

    def add(self, value: float) -> None:
        self.total += value
        self.count += 1

    @property
    def value(self) -> float:
        return self.total / self.count if self.count else 0.0
