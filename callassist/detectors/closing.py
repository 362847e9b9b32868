"""Missing closing: the call ends without both closing lines, unless a script ended it."""

from __future__ import annotations

from callassist.detectors.base import Detector
from callassist.heard import HeardText


class ClosingDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.closing = ctx.pack.required_for("closing")
        self.said: dict[str, float] = {}  # required id -> when it was said

    def on_heard(self, heard: HeardText) -> None:
        if heard.speaker != "agent" or not heard.final:
            return
        if self.state.utterances["agent"] == 1:
            return  # the greeting's own 「请问有什么可以帮助您」 is not the closing offer
        for required in self.closing:
            if required.id not in self.said:
                hit = self.ctx.matcher.best(heard.prepared, [self.ctx.pack.fill(p) for p in required.phrases], required.threshold)
                if hit is not None:
                    self.said[required.id] = heard.span_times(hit)[1]

    def on_call_end(self, t: float) -> None:
        if self.state.ended_by or not self.state.has_text:
            return
        missing = [r for r in self.closing if r.id not in self.said]
        if missing:
            last = self.state.last_speech_end["agent"] or t
            lines = "、".join(self.ctx.pack.fill(r.phrases[0]) for r in missing)
            self.ctx.event(
                "missing_closing", "violation", t, min(last, t), t, "agent",
                situation="closing", detail=f"not said: {lines}",
            )
