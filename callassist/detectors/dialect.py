"""Dialect (lexical part): dialect-only characters in the text, or unusually low recogniser
confidence. The caller gets step 1, then step 2 if the dialect goes on after the agent has
answered (as many steps as the pack gives); the agent's own dialect is a violation (`agent_dialect`)."""

from __future__ import annotations

from callassist.detectors.base import Detector, Episodes, ScriptSteps
from callassist.heard import HeardText
from callassist.inputs import Utterance


class DialectDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.characters = {
            speaker: "".join(c.characters for c in ctx.pack.cues if c.situation == situation)
            for speaker, situation in (("caller", "dialect_caller"), ("agent", "agent_dialect"))
        }
        self.caller_steps = ScriptSteps(ctx.pack, "dialect_caller")
        self.step_raised_at: float | None = None
        self.agent_replied = False
        self.caller_episodes = Episodes(self.settings.timings.episode_gap)
        self.agent_episodes = Episodes(self.settings.timings.episode_gap)

    def on_heard(self, heard: HeardText) -> None:
        if not heard.final:
            return
        u = heard.utterance
        if heard.speaker == "agent":
            if self.step_raised_at is not None:
                self.agent_replied = True
            evidence = self._evidence(u, heard.text, "agent")
            if evidence and self.agent_episodes.cue(u.end):
                self.ctx.event("agent_dialect", "violation", u.end, u.start, u.end, "agent", detail=evidence)
            return
        evidence = self._evidence(u, heard.text, "caller")
        if not evidence:
            return
        if self.caller_episodes.cue(u.end):
            self.caller_steps.reset()
        steps = self.caller_steps
        if steps.has_next and (not steps.started or self.agent_replied):
            step = steps.advance()
            self.step_raised_at = u.end
            self.agent_replied = False
            self.ctx.event(
                "dialect_caller", "situation", u.end, u.start, u.end, "caller",
                step=step, detail=evidence,
            )

    def _evidence(self, u: Utterance, text: str, speaker: str) -> str | None:
        """Why this utterance looks like dialect, or None."""
        limits = self.settings.dialect
        found = [ch for ch in text if ch in self.characters[speaker]]
        if len(found) >= limits.min_characters:
            return "dialect characters: " + "".join(found)
        confidences = [w.conf for w in u.words if w.conf is not None]
        if len(confidences) >= limits.min_words_for_confidence:
            mean = sum(confidences) / len(confidences)
            if mean < limits.low_confidence:
                return f"low recognition confidence: {mean:.2f}"
        return None
