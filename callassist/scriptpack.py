"""The script pack: approved steps, forbidden phrases, required phrases and lexical cues.

The standard pack ships in `scripts_zh/` (installed as `callassist.scripts_zh`); a deployment
adds its own TOML files, whose entries extend the standard one or override it by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Speaker = Literal["agent", "caller"]
SituationKind = Literal["situation", "hint"]
RequiredWhere = Literal["opening", "closing", "hold_start", "hold_return"]


@dataclass(frozen=True)
class SourceRef:
    """Where an entry was defined, so problems and reports can point at it."""

    path: str
    line: int


@dataclass(frozen=True)
class Step:
    """One approved step of a situation: what to say, then how long to wait for the next step."""

    say: str
    wait: float | None = None  # seconds before the next step; None on the last step
    action: Literal["hang_up"] | None = None


@dataclass(frozen=True)
class Situation:
    id: str
    title: str
    kind: SituationKind
    steps: tuple[Step, ...]
    advice: str | None = None  # coaching note for situations with no line to say (pace, crosstalk)
    source: SourceRef | None = None


@dataclass(frozen=True)
class ForbiddenPhrase:
    id: str
    phrase: str
    situation: str  # the situation whose approved line replaces it
    threshold: float | None = None  # match score 0-100 needed; None = the matcher's default
    source: SourceRef | None = None


@dataclass(frozen=True)
class RequiredPhrase:
    """A line the agent must say at a given point of the call; any of `phrases` satisfies it."""

    id: str
    where: RequiredWhere
    phrases: tuple[str, ...]
    threshold: float | None = None
    source: SourceRef | None = None


@dataclass(frozen=True)
class Cue:
    """Lexical evidence for a situation: fuzzy phrases, single characters, or a regex."""

    id: str
    situation: str
    speaker: Speaker
    phrases: tuple[str, ...] = ()
    characters: str = ""  # each occurrence counts (dialect-only characters)
    pattern: str | None = None  # regex; its first group fills {1} in the situation's line
    threshold: float | None = None
    source: SourceRef | None = None


@dataclass(frozen=True)
class ScriptPack:
    sources: tuple[str, ...]
    situations: dict[str, Situation]
    forbidden: tuple[ForbiddenPhrase, ...]
    required: dict[str, RequiredPhrase]
    cues: tuple[Cue, ...]
    placeholders: dict[str, str] = field(default_factory=dict)

    def fill(self, text: str) -> str:
        """Fill `{company}`, `{agent}` and other placeholders known to the pack."""
        for name, value in self.placeholders.items():
            text = text.replace("{" + name + "}", value)
        return text

    def say(self, situation_id: str, step: int) -> str | None:
        """The approved line for step `step` (1-based) of a situation, placeholders filled."""
        situation = self.situations.get(situation_id)
        if situation is None or not situation.steps:
            return None
        index = min(step, len(situation.steps)) - 1
        return self.fill(situation.steps[index].say)

    def required_for(self, where: RequiredWhere) -> list[RequiredPhrase]:
        return [r for r in self.required.values() if r.where == where]

    def cues_for(self, situation_id: str) -> list[Cue]:
        return [c for c in self.cues if c.situation == situation_id]


def standard_pack_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("callassist.scripts_zh")))
