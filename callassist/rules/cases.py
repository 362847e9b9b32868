"""`callassist rules test PACK CASES`: sample dialogues with the rule hits each must and must
not produce, run offline through the same engine as a call.

A cases file is TOML with one `[[case]]` per dialogue:

    [[case]]
    name = "余额前未核实身份"
    dialogue = [
      "agent: 您好，工号三零二很高兴为您服务。",
      "caller: 我想查一下余额。",
      { speaker = "agent", text = "您的余额是八十元。", pause = 9 },   # 9 s of silence before it
    ]
    must = ["details_before_identity"]
    must_not = ["not_my_job"]

A line is "agent: text" / "caller: text" or a table with speaker, text and optionally `at`
(start, seconds) or `pause` (silence before it; default 0.8 s) and `seconds` (its length;
default one second per 4.5 characters). Instead of `dialogue`, `transcript = "call.jsonl"` names
a transcript file (relative to the cases file). `duration` sets where the call ends (default:
one second after the last line).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callassist.engine import Engine
from callassist.errors import InputFileError
from callassist.inputs import SPEAKERS, Utterance
from callassist.scriptpack import ScriptPack
from callassist.settings import Settings
from callassist.sources import transcript_inputs
from callassist.transcript import read_transcript

CASE_KEYS = ("name", "dialogue", "transcript", "duration", "must", "must_not")
LINE_KEYS = ("speaker", "text", "at", "pause", "seconds")
DEFAULT_PAUSE = 0.8
CHARS_PER_SECOND = 4.5


@dataclass(frozen=True)
class Case:
    name: str
    line: int  # of its [[case]] header
    utterances: tuple[Utterance, ...]
    duration: float
    must: tuple[str, ...]
    must_not: tuple[str, ...]


@dataclass(frozen=True)
class CaseResult:
    case: Case
    raised: tuple[tuple[str, float], ...]  # (event id, t) of every event raised
    missing: tuple[str, ...]
    unexpected: tuple[tuple[str, float], ...]

    @property
    def passed(self) -> bool:
        return not self.missing and not self.unexpected

    def describe(self) -> str:
        if self.passed:
            hits = ", ".join(f"{i} @{t:.1f}s" for i, t in self.raised if i in self.case.must)
            return f"PASS  {self.case.name}" + (f"  ({hits})" if hits else "")
        parts = []
        if self.missing:
            parts.append("did not fire: " + ", ".join(self.missing))
        if self.unexpected:
            parts.append("fired but must not: " + ", ".join(f"{i} @{t:.1f}s" for i, t in self.unexpected))
        return f"FAIL  {self.case.name}  ({self.case.line and f'line {self.case.line}; '}{'; '.join(parts)})"


def read_cases(path: Path) -> list[Case]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError.at(path, "cases file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputFileError.at(path, f"cannot read cases as UTF-8 text ({error})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputFileError.at(path, f"not valid TOML: {error}") from None
    headers = [n for n, line in enumerate(text.splitlines(), 1) if re.match(r"\s*\[\[\s*case\s*\]\]", line)]
    unknown = [key for key in data if key != "case"]
    if unknown or not isinstance(data.get("case"), list) or not data["case"]:
        raise InputFileError.at(path, "write each sample dialogue as a [[case]] table", 1)
    return [
        _case(path, raw, headers[index] if index < len(headers) else 1, index)
        for index, raw in enumerate(data["case"])
    ]


def _case(path: Path, raw: Mapping[str, Any], line: int, index: int) -> Case:
    def fail(problem: str) -> InputFileError:
        return InputFileError.at(path, f"[[case]] #{index + 1}: {problem}", line)

    for key in raw:
        if key not in CASE_KEYS:
            raise fail(f"unknown key {key!r}; allowed: {', '.join(CASE_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("needs a name")
    if ("dialogue" in raw) == ("transcript" in raw):
        raise fail("give exactly one of dialogue (lines) or transcript (a .jsonl file)")
    if "transcript" in raw:
        utterances = read_transcript(path.parent / str(raw["transcript"]))
    else:
        utterances = _dialogue(raw["dialogue"], fail)
    if not utterances:
        raise fail("the dialogue is empty")
    ids = {}
    for key in ("must", "must_not"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise fail(f"{key} must be a list of rule (or event) ids")
        ids[key] = tuple(value)
    if not ids["must"] and not ids["must_not"]:
        raise fail("says nothing to check: give must and/or must_not")
    last = max(u.end for u in utterances)
    duration = raw.get("duration", last + 1.0)
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration < last:
        raise fail(f"duration must be a number of seconds, not before the last line ends ({last:.1f})")
    return Case(name, line, tuple(utterances), float(duration), ids["must"], ids["must_not"])


def _dialogue(lines: Any, fail) -> list[Utterance]:
    if not isinstance(lines, list):
        raise fail("dialogue must be a list of lines")
    utterances: list[Utterance] = []
    cursor = 0.5 - DEFAULT_PAUSE
    for number, item in enumerate(lines, 1):
        if isinstance(item, str):
            speaker, _, text = item.partition(":")
            item = {"speaker": speaker.strip(), "text": text.strip()}
        if not isinstance(item, Mapping):
            raise fail(f"dialogue line {number}: write \"agent: text\" or a table with speaker and text")
        unknown = [key for key in item if key not in LINE_KEYS]
        if unknown:
            raise fail(f"dialogue line {number}: unknown key {unknown[0]!r}; allowed: {', '.join(LINE_KEYS)}")
        speaker, text = item.get("speaker"), item.get("text")
        if speaker not in SPEAKERS or not isinstance(text, str) or not text:
            raise fail(f"dialogue line {number}: needs speaker agent or caller and some text")
        numbers = {}
        for key in ("at", "pause", "seconds"):
            value = item.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise fail(f"dialogue line {number}: {key} must be a number of seconds")
            numbers[key] = value
        start = numbers["at"] if numbers["at"] is not None else cursor + (numbers["pause"] if numbers["pause"] is not None else DEFAULT_PAUSE)
        seconds = numbers["seconds"] or max(0.6, len(text) / CHARS_PER_SECOND)
        utterances.append(Utterance(speaker, round(start, 2), round(start + seconds, 2), text))
        cursor = max(cursor, start + seconds)
    return sorted(utterances, key=lambda u: (u.start, u.end))


def run_case(case: Case, pack: ScriptPack, settings: Settings) -> CaseResult:
    engine = Engine(pack, settings)
    engine.feed_all(transcript_inputs(list(case.utterances)))
    engine.finish(case.duration)
    raised = tuple((e.id, e.t) for e in engine.events)
    ids = {event_id for event_id, _ in raised}
    missing = tuple(i for i in case.must if i not in ids)
    unexpected = tuple((i, t) for i, t in raised if i in case.must_not)
    return CaseResult(case, raised, missing, unexpected)
