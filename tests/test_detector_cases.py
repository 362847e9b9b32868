"""The detector cases in tests/detectors/: one TOML file per detector, each case an input stream
and the exact events it must raise (`t` to 0.05 s), run through the engine with that detector
alone (or the few it names). The standard's lexical checks are rules, so their case files run the
rules detector with only the rule they pin (`rules`). The timings come from the standard (/work/shared/standard-phrasing.md) and defaults.toml,
so a timing changed by 0.5 s fails a case. Format: tests/detectors/README.md.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from callassist.detectors import DETECTORS
from callassist.engine import Engine
from callassist.evaluation import Label, match_events
from callassist.events import Event
from callassist.scriptpack import load_pack
from callassist.inputs import (
    AudioMissing,
    EngineInput,
    HoldChanged,
    LevelFrame,
    ManualSituation,
    SpeechEnded,
    SpeechStarted,
    Utterance,
    UtteranceHeard,
    input_sort_key,
)

CASES = Path(__file__).parent / "detectors"
TOLERANCE = 0.05  # seconds: every expected `t` is pinned this tightly
BY_NAME = {cls.__name__: cls for cls in DETECTORS}


@dataclass(frozen=True)
class DetectorCase:
    file: str
    detectors: tuple[str, ...]
    name: str
    inputs: tuple[EngineInput, ...]
    end: float
    expect: tuple[Label, ...]
    withdrawn: tuple[Label, ...]
    has_text: bool
    caller_audio: bool
    scripts: tuple[str, ...] = ()  # extra packs (paths from the repository root), e.g. rules
    rules: tuple[str, ...] | None = None  # the pack's rules that run (None: all of them)


def _inputs(raw: dict[str, Any], number: int) -> list[EngineInput]:
    """One line of a case's `inputs` as engine inputs (a `said` line is speech and its text)."""
    kind = raw["input"]
    speaker = raw.get("speaker")
    if kind == "started":
        return [SpeechStarted(raw["t"], speaker)]
    if kind == "ended":
        return [SpeechEnded(raw["t"], speaker)]
    if kind in ("speech", "said"):
        out: list[EngineInput] = [SpeechStarted(raw["from"], speaker), SpeechEnded(raw["to"], speaker)]
        if kind == "said":
            utterance = Utterance(speaker, raw["from"], raw["to"], raw["text"])
            out.append(UtteranceHeard(raw["to"], utterance, True, f"{speaker}:{number}"))
        return out
    if kind == "heard":  # text alone, e.g. partial results of one utterance (same `key`)
        utterance = Utterance(speaker, raw["from"], raw["to"], raw["text"])
        return [UtteranceHeard(raw.get("t", raw["to"]), utterance, raw.get("final", True), raw["key"])]
    if kind == "levels":  # one frame every `every` s after `from`, up to and including `to`
        every, frames = raw.get("every", 0.1), []
        count = round((raw["to"] - raw["from"]) / every)
        for index in range(1, count + 1):
            frames.append(LevelFrame(
                round(raw["from"] + index * every, 3), speaker, raw["voiced"],
                raw["level"], raw["floor"], raw.get("pitch"),
            ))
        return frames
    if kind == "hold":
        return [HoldChanged(raw["t"], raw["on"])]
    if kind == "audio_missing":
        return [AudioMissing(raw["t"], raw["missing"])]
    if kind == "key":
        return [ManualSituation(raw["t"], raw["situation"])]
    raise ValueError(f"unknown input {kind!r}")


def _labels(raw: list[dict[str, Any]]) -> tuple[Label, ...]:
    return tuple(
        Label(
            id=e["id"], t=e["t"], lo=e["t"] - TOLERANCE, hi=e["t"] + TOLERANCE,
            step=e.get("step"), speaker=e.get("speaker"), phrase_id=e.get("phrase_id"),
        )
        for e in raw
    )


def load_cases() -> list[DetectorCase]:
    cases = []
    for path in sorted(CASES.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        detectors = tuple(data["detectors"]) if "detectors" in data else (data["detector"],)
        assert all(d in BY_NAME for d in detectors), f"{path.name}: no detector among {detectors}"
        for raw in data["case"]:
            inputs = [item for n, line in enumerate(raw["inputs"]) for item in _inputs(line, n)]
            inputs.sort(key=input_sort_key)
            cases.append(DetectorCase(
                file=path.stem, detectors=detectors, name=raw["name"], inputs=tuple(inputs),
                end=raw["end"], expect=_labels(raw["expect"]), withdrawn=_labels(raw.get("withdrawn", [])),
                has_text=raw.get("has_text", True), caller_audio=raw.get("caller_audio", True),
                scripts=tuple(data.get("scripts", ())),
                rules=tuple(data["rules"]) if "rules" in data else None,
            ))
    return cases


def _show(events: list[Event]) -> str:
    return "\n".join(f"  {e.id} step={e.step} t={e.t:.2f} [{e.speaker}]" for e in events) or "  (none)"


@pytest.mark.parametrize("case", load_cases(), ids=lambda c: f"{c.file}: {c.name}")
def test_detector_case(case: DetectorCase, settings, pack):
    if case.scripts:
        root = Path(__file__).resolve().parent.parent
        pack = load_pack([root / path for path in case.scripts], {"company": "平安", "agent": "三零二"})
    if case.rules is not None:
        assert set(case.rules) <= {r.id for r in pack.rules}, f"{case.file}: no rule among {case.rules}"
        pack = replace(pack, rules=tuple(r for r in pack.rules if r.id in case.rules))
    engine = Engine(
        pack, settings, caller_audio=case.caller_audio, has_text=case.has_text,
        detectors=[BY_NAME[name] for name in case.detectors],
    )
    engine.feed_all(case.inputs)
    engine.finish(case.end)
    for got, want in ((engine.events, case.expect), (engine.withdrawn, case.withdrawn)):
        result = match_events(got, want)
        assert not result.missed and not result.unexpected, (
            f"raised:\n{_show(got)}\nmissed: {[(l.id, l.step, l.t) for l in result.missed]}"
        )


def test_every_detector_has_a_case_file():
    covered = {name for case in load_cases() for name in case.detectors}
    assert covered == set(BY_NAME)
