"""Hold etiquette: a hold phrase starts a hold; `hold_too_long` past the check-back time;
`missing_hold_return` when the agent resumes without thanks or apology.

The engine keeps the holds (the hold key, the agent speaking again); this detector asks it to
start one when the agent says a hold phrase, and judges each hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from callassist.detectors.base import Countdown, Detector
from callassist.heard import HeardText


@dataclass
class HoldVerdict:
    """How the agent handled one hold: None while not yet known."""

    returned_with_thanks: bool | None = None
    too_long: bool = False


class HoldDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.start_phrases = [p for r in ctx.pack.required_for("hold_start") for p in r.phrases]
        self.return_phrases = [p for r in ctx.pack.required_for("hold_return") for p in r.phrases]
        self.verdicts: list[HoldVerdict] = []  # one per hold of the call phase, in order

    def _verdict(self, index: int) -> HoldVerdict:
        while len(self.verdicts) <= index:
            self.verdicts.append(HoldVerdict())
        return self.verdicts[index]

    def on_heard(self, heard: HeardText) -> None:
        if heard.speaker != "agent" or not heard.final:
            return
        holds = self.state.phase.holds
        if holds and holds[-1].end is not None:
            verdict = self._verdict(len(holds) - 1)
            if verdict.returned_with_thanks is None:  # the first line after the hold
                returned = self.ctx.matcher.best(heard.prepared, self.return_phrases) is not None
                verdict.returned_with_thanks = returned
                if not returned:
                    u = heard.utterance
                    self.ctx.event("missing_hold_return", "violation", u.end, u.start, u.end, "agent")
        if not self.state.on_hold and self.ctx.matcher.best(heard.prepared, self.start_phrases):
            self.ctx.phase.start_hold(heard.utterance.end)

    def deadline(self) -> float | None:
        since = self.state.phase.hold_since
        if since is None or self._verdict(len(self.state.phase.holds) - 1).too_long:
            return None
        return since + self.settings.timings.hold_check_back

    def on_deadline(self, t: float) -> None:
        self._verdict(len(self.state.phase.holds) - 1).too_long = True
        since = self.state.phase.hold_since
        self.ctx.event("hold_too_long", "violation", t, since if since is not None else t, t, "agent")

    def countdown(self, now: float) -> Countdown | None:
        due = self.deadline()
        if due is None:
            return None
        total = self.settings.timings.hold_check_back
        return Countdown("hold_too_long", None, max(0.0, total - (due - now)), total)
