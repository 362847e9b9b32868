"""Holds: a hold phrase starts a hold; `hold_too_long` past the check-back time.

The engine keeps the holds (the hold key, the agent speaking again); this detector asks it to
start one when the agent says a hold phrase, and times each hold. What the agent says when back
(thanks or an apology) is the standard's `missing_hold_return` rule (scripts_zh/rules.toml).
"""

from __future__ import annotations

from callassist.detectors.base import Countdown, Detector
from callassist.heard import HeardText


class HoldDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.start_phrases = [p for r in ctx.pack.required_for("hold_start") for p in r.phrases]
        self.too_long: list[int] = []  # the holds (index in the call phase) raised as too long

    def on_heard(self, heard: HeardText) -> None:
        if heard.speaker != "agent" or not heard.final:
            return
        if not self.state.on_hold and self.ctx.matcher.best(heard.prepared, self.start_phrases):
            self.ctx.phase.start_hold(heard.utterance.end)

    def deadline(self) -> float | None:
        since = self.state.phase.hold_since
        if since is None or len(self.state.phase.holds) - 1 in self.too_long:
            return None
        return since + self.settings.timings.hold_check_back

    def on_deadline(self, t: float) -> None:
        self.too_long.append(len(self.state.phase.holds) - 1)
        since = self.state.phase.hold_since
        self.ctx.event("hold_too_long", "violation", t, since if since is not None else t, t, "agent")

    def countdown(self, now: float) -> Countdown | None:
        return Countdown.towards("hold_too_long", None, self.deadline(), self.settings.timings.hold_check_back, now)
