"""Hold etiquette: a hold phrase starts a hold; `hold_too_long` past the check-back time;
`missing_hold_return` when the agent resumes without thanks or apology.

Runs first among detectors: the silence detectors read `state.on_hold`.
"""

from __future__ import annotations

from callassist.detectors.base import Countdown, Detector
from callassist.heard import HeardText
from callassist.inputs import HoldChanged, SpeechStarted


class HoldDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.start_phrases = [p for r in ctx.pack.required_for("hold_start") for p in r.phrases]
        self.return_phrases = [p for r in ctx.pack.required_for("hold_return") for p in r.phrases]
        self.reported_too_long = False
        self.awaiting_return_line = False
        self.holds: list[dict] = []  # for the report's checklist

    def _start(self, t: float) -> None:
        self.state.on_hold = True
        self.state.hold_since = t
        self.reported_too_long = False
        self.holds.append({"start": t, "end": None, "returned_with_thanks": None, "too_long": False})

    def _end(self, t: float, expect_return_line: bool) -> None:
        self.state.on_hold = False
        self.state.hold_ended_at = t
        self.holds[-1]["end"] = t
        self.awaiting_return_line = expect_return_line

    def on_hold_changed(self, item: HoldChanged) -> None:
        if item.on_hold and not self.state.on_hold:
            self._start(item.t)
        elif not item.on_hold and self.state.on_hold:
            self._end(item.t, expect_return_line=True)

    def on_speech_started(self, item: SpeechStarted) -> None:
        if item.speaker == "agent" and self.state.on_hold:
            self._end(item.t, expect_return_line=True)

    def on_heard(self, heard: HeardText) -> None:
        if heard.speaker != "agent" or not heard.final:
            return
        if self.awaiting_return_line:
            self.awaiting_return_line = False
            returned = self.ctx.matcher.best(heard.prepared, self.return_phrases) is not None
            self.holds[-1]["returned_with_thanks"] = returned
            if not returned:
                u = heard.utterance
                self.ctx.event("missing_hold_return", "violation", u.end, u.start, u.end, "agent")
        if not self.state.on_hold and self.ctx.matcher.best(heard.prepared, self.start_phrases):
            self._start(heard.utterance.end)

    def deadline(self) -> float | None:
        if self.state.on_hold and not self.reported_too_long and self.state.hold_since is not None:
            return self.state.hold_since + self.settings.timings.hold_check_back
        return None

    def on_deadline(self, t: float) -> None:
        self.reported_too_long = True
        self.holds[-1]["too_long"] = True
        self.ctx.event("hold_too_long", "violation", t, self.state.hold_since or t, t, "agent")

    def countdown(self, now: float) -> Countdown | None:
        due = self.deadline()
        if due is None:
            return None
        total = self.settings.timings.hold_check_back
        return Countdown("hold_too_long", None, max(0.0, total - (due - now)), total)
