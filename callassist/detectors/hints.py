"""Lexical prompts (kind `hint`): cues in what was said suggest the approved line to say next.

Each hint situation of the pack (greeted_by_caller, caller_name, thanked, suggestion,
cannot_answer, ...) is raised when one of its cues is heard from the cue's speaker, at most once
per episode. A cue's regex group fills `{1}` in the line (the caller's surname).
"""

from __future__ import annotations

from callassist.detectors.base import Detector, Episodes
from callassist.heard import HeardText
from callassist.scriptpack import Cue, compile_pattern


class HintDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        hints = {s.id for s in ctx.pack.situations.values() if s.kind == "hint"}
        self.cues = [c for c in ctx.pack.cues if c.situation in hints]
        self.patterns = {c.id: compile_pattern(c.pattern) for c in self.cues if c.pattern}
        self.episodes = {c.situation: Episodes(self.settings.timings.episode_gap) for c in self.cues}
        self.named: set[str] = set()

    def on_heard(self, heard: HeardText) -> None:
        if not heard.final:
            return
        for cue in self.cues:
            if cue.speaker == heard.speaker and self._applies(cue, heard):
                self._try(cue, heard)

    def _applies(self, cue: Cue, heard: HeardText) -> bool:
        # The caller "greets first" only before the agent has said anything.
        if cue.situation == "greeted_by_caller":
            agent_first = self.state.first_speech["agent"]
            return agent_first is None or heard.utterance.start < agent_first
        return True

    def _try(self, cue: Cue, heard: HeardText) -> None:
        u = heard.utterance
        say = self.ctx.pack.say(cue.situation, 1)
        if cue.id in self.patterns:
            match = self.patterns[cue.id].search(heard.text)
            if match is None or match.group(1) in self.named:
                return
            self.named.add(match.group(1))
            start, end, heard_text = u.start, u.end, match.group(0)
            say = (say or "").replace("{1}", match.group(1))
        else:
            hit = self.ctx.matcher.best(heard.prepared, cue.phrases, cue.threshold)
            if hit is None:
                return
            start, end = heard.span_times(hit)
            heard_text = hit.heard
        if cue.pattern is None and not self.episodes[cue.situation].cue(end):
            return
        self.ctx.event(cue.situation, "hint", u.end, start, end, cue.speaker, say=say, heard=heard_text)
