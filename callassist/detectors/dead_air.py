"""Dead air: the caller has finished and the agent says nothing for too long, not on hold.

Only turns count (`turns`): a stretch shorter than `min_turn` on either line neither ends the
caller's turn nor breaks the agent's silence, and a step that fell due during one fires when
it ends.
"""

from __future__ import annotations

from callassist.detectors.base import Countdown, Detector, once_quiet
from callassist.detectors.turns import Turns
from callassist.inputs import LevelFrame, SpeechEnded, SpeechStarted


class DeadAirDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.caller_finished: float | None = None
        self.turns = Turns(self.settings.acoustic.min_turn)

    def on_speech_started(self, item: SpeechStarted) -> None:
        self.turns.started(item)

    def on_level(self, frame: LevelFrame) -> None:
        if self.turns.lasted(frame):
            self.caller_finished = None  # someone talks: the caller is not done, or the agent answers

    def on_speech_ended(self, item: SpeechEnded) -> None:
        if self.turns.ended(item):
            self.caller_finished = None
        if item.speaker == "caller" and self.turns.counted["caller"] and not self.turns.talking("agent"):
            self.caller_finished = item.t

    def deadline(self) -> float | None:
        state = self.state
        if self.caller_finished is None or state.silence_paused or state.anyone_speaking or state.winding_down:
            return None
        anchor = max(self.caller_finished, state.silence_counts_from)
        return once_quiet(state, anchor + self.settings.timings.dead_air)

    def on_deadline(self, t: float) -> None:
        start = t - self.settings.timings.dead_air
        self.ctx.event("agent_dead_air", "violation", t, start, t, "agent")
        self.caller_finished = None

    def countdown(self, now: float) -> Countdown | None:
        return Countdown.towards("agent_dead_air", None, self.deadline(), self.settings.timings.dead_air, now)
