"""Situation keys: the agent saw a situation detection missed (silent, quiet, noisy line,
dialect, angry). Each press shows the next approved step, and the report records it."""

from __future__ import annotations

from callassist.detectors.base import Detector
from callassist.inputs import ManualSituation


class ManualSituationDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.steps: dict[str, int] = {}

    def on_manual(self, item: ManualSituation) -> None:
        situation = self.ctx.pack.situations.get(item.situation)
        if situation is None:
            return
        step = min(self.steps.get(item.situation, 0) + 1, max(len(situation.steps), 1))
        self.steps[item.situation] = step
        self.ctx.event(
            item.situation, situation.kind, item.t, item.t, item.t, "caller", step=step, detail="marked by the agent"
        )
