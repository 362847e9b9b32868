"""Silent caller: after the agent speaks, no voice on the line (standard: 5 s per step).

Step 1 comes the pack's `after` (the standard: 5 s) of silence after the agent stops. Each
further step follows the pack's `wait` of the step before it, counted from that step or from the
end of the agent's next utterance, whichever is later (without a `wait`, another `after` of
silence). The pack's hang-up step ends the call through the script. A caller turn resets it; a stretch
shorter than `[acoustic] min_turn` (`turns`) does not, and a step that fell due during one
fires when it ends, with that time.
"""

from __future__ import annotations

from callassist.detectors.base import Countdown, Detector, ScriptSteps, once_quiet
from callassist.detectors.turns import Turns
from callassist.inputs import LevelFrame, SpeechEnded, SpeechStarted


class SilentCallerDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.steps = ScriptSteps(ctx.pack, "silent_caller")
        self.anchor: float | None = None  # silence is counted from here
        self.turns = Turns(self.settings.acoustic.min_turn)

    def on_speech_started(self, item: SpeechStarted) -> None:
        self.turns.started(item)

    def on_level(self, frame: LevelFrame) -> None:
        if "caller" in self.turns.lasted(frame):
            self._caller_spoke()

    def on_speech_ended(self, item: SpeechEnded) -> None:
        if self.turns.ended(item) and item.speaker == "caller":
            self._caller_spoke()
        if item.speaker == "agent" and not self.turns.talking("caller") and self.steps.has_next:
            self.anchor = item.t

    def _caller_spoke(self) -> None:
        if self.steps.started:
            self.ctx.clear("silent_caller")
        self.steps.reset()
        self.anchor = None

    def _silence_needed(self) -> float:
        needed = self.steps.wait or self.steps.after
        assert needed is not None, "the pack gives a silent_caller with steps its `after`"
        return needed

    def deadline(self) -> float | None:
        state = self.state
        if (
            self.anchor is None
            or not self.steps.has_next
            or not state.caller_audio
            or state.silence_paused
            or state.anyone_speaking
            or state.winding_down
        ):
            return None
        anchor = max(self.anchor, state.silence_counts_from)
        return once_quiet(state, anchor + self._silence_needed())

    def on_deadline(self, t: float) -> None:
        start = t - self._silence_needed()
        step = self.steps.advance()
        self.ctx.event("silent_caller", "situation", t, start, t, "caller", step=step)
        self.anchor = t
        if self.steps.hangs_up:
            self.ctx.phase.hang_up("silent_caller")

    def countdown(self, now: float) -> Countdown | None:
        return Countdown.towards("silent_caller", self.steps.reached + 1, self.deadline(), self._silence_needed(), now)
