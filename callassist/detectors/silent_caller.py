"""Silent caller: after the agent speaks, no voice on the line for 5 s per step (standard).

Step 1 comes 5 s after the agent stops; each further step 5 s after the agent's next utterance,
or after the previous step when the agent says nothing. Step 3 is hanging up, which ends the
call through the script. Any caller speech resets it.
"""

from __future__ import annotations

from callassist.detectors.base import Countdown, Detector
from callassist.inputs import SpeechEnded, SpeechStarted

LAST_STEP = 3


class SilentCallerDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.step = 0
        self.anchor: float | None = None  # silence is counted from here

    def on_speech_started(self, item: SpeechStarted) -> None:
        if item.speaker == "caller":
            if self.step:
                self.ctx.clear("silent_caller")
            self.step = 0
            self.anchor = None

    def on_speech_ended(self, item: SpeechEnded) -> None:
        if item.speaker == "agent" and not self.state.speaking["caller"] and self.step < LAST_STEP:
            self.anchor = item.t

    def deadline(self) -> float | None:
        state = self.state
        if (
            self.anchor is None
            or self.step >= LAST_STEP
            or not state.caller_audio
            or state.silence_paused
            or state.anyone_speaking
            or state.winding_down
        ):
            return None
        anchor = max(self.anchor, state.silence_counts_from)
        return anchor + self.settings.timings.silent_step

    def on_deadline(self, t: float) -> None:
        self.step += 1
        start = t - self.settings.timings.silent_step
        self.ctx.event("silent_caller", "situation", t, start, t, "caller", step=self.step)
        self.anchor = t
        if self.step == LAST_STEP:
            self.state.ended_by = "silent_caller"

    def countdown(self, now: float) -> Countdown | None:
        due = self.deadline()
        if due is None:
            return None
        total = self.settings.timings.silent_step
        return Countdown("silent_caller", self.step + 1, max(0.0, total - (due - now)), total)
