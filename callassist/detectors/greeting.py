"""Missing greeting: the agent's first utterance (within the first seconds) is not the greeting.

When the caller greets first, the shorter reply the standard gives for that case also counts.
"""

from __future__ import annotations

from callassist.detectors.base import Detector
from callassist.heard import HeardText


class GreetingDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.judged = False
        self.greeted: bool | None = None  # for the checklist
        self.greeted_at: float | None = None

    def on_heard(self, heard: HeardText) -> None:
        if self.judged or heard.speaker != "agent" or not heard.final:
            return
        self.judged = True
        u = heard.utterance
        if u.start > self.settings.timings.greeting_within:
            self._missing(self.settings.timings.greeting_within, "no greeting in time")
            return
        if self._is_greeting(heard):
            self.greeted, self.greeted_at = True, u.start
        else:
            self._missing(u.end, "first utterance is not the greeting", start=u.start)

    def _is_greeting(self, heard: HeardText) -> bool:
        pack, matcher = self.ctx.pack, self.ctx.matcher
        for required in pack.required_for("opening"):
            for template in required.phrases:
                if matcher.find_template(heard.prepared, pack.fill(template), required.threshold):
                    return True
        reply = pack.say("greeted_by_caller", 1)
        caller_first = self.state.first_speech["caller"]
        if reply and caller_first is not None and caller_first < heard.utterance.start:
            return matcher.find(heard.prepared, reply) is not None
        return False

    def _missing(self, t: float, detail: str, start: float = 0.0) -> None:
        self.greeted = False
        self.ctx.event(
            "missing_greeting", "violation", t, start, t, "agent", situation="greeting", detail=detail
        )

    def deadline(self) -> float | None:
        if self.judged or self.state.first_speech["agent"] is not None or not self.state.has_text:
            return None
        return self.settings.timings.greeting_within

    def on_deadline(self, t: float) -> None:
        self.judged = True
        self._missing(t, "no greeting in time")
