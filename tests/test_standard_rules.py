"""The standard's lexical checks are rules of the standard pack (scripts_zh/rules.toml): on every
fixture call, and on the 54 variations of tests/fixtures/variations.py, they give what the four
detectors they replaced gave. The truth is tests/data/standard_events/, recorded with the code
before the change (see its README): every event's id, kind, step, speaker, phrase id and
approved line, its t, start and end within 0.05 s, the score, and the checklist (times within
0.05 s)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from standard_events import RECORDED, fixture_calls, outcome, variation_calls

TOLERANCE = 0.05
FIXTURES = json.loads((RECORDED / "fixtures.json").read_text(encoding="utf-8"))
VARIATIONS = json.loads((RECORDED / "variations.json").read_text(encoding="utf-8"))


def differences(got: Any, want: Any, where: str = "") -> list[str]:
    """Where `got` differs from `want`: numbers by more than TOLERANCE, anything else at all."""
    if isinstance(want, dict) and isinstance(got, dict):
        keys = sorted(set(got) | set(want))
        return [d for key in keys for d in differences(got.get(key), want.get(key), f"{where}.{key}")]
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{where}: {len(got)} items, want {len(want)}: {got} vs {want}"]
        return [d for index, (g, w) in enumerate(zip(got, want)) for d in differences(g, w, f"{where}[{index}]")]
    numbers = (int, float)
    if isinstance(want, numbers) and isinstance(got, numbers) and not isinstance(want, bool) and not isinstance(got, bool):
        return [] if abs(got - want) <= TOLERANCE else [f"{where}: {got}, want {want}"]
    return [] if got == want else [f"{where}: {got!r}, want {want!r}"]


@pytest.mark.parametrize("call", fixture_calls(), ids=lambda call: call.name)
def test_fixture_call_gives_the_events_of_before(call):
    assert set(FIXTURES) == {c.name for c in fixture_calls()}
    assert differences(outcome(call), FIXTURES[call.name]) == []


def test_variations_give_the_events_of_before(tmp_path):
    calls = variation_calls(tmp_path)
    assert {c.name for c in calls} == set(VARIATIONS) and len(calls) == 54
    found = {call.name: differences(outcome(call), VARIATIONS[call.name]) for call in calls}
    assert {name: d for name, d in found.items() if d} == {}


def test_the_comparison_catches_a_moved_event():
    want = FIXTURES["data/forbidden_agent"]
    moved = json.loads(json.dumps(want))
    moved["events"][0]["t"] += 0.06
    assert differences(moved, want) and not differences(want, want)


def test_the_standard_checks_are_rules_not_detectors():
    from callassist.detectors import DETECTORS
    from callassist.scriptpack import load_pack

    rules = {r.id for r in load_pack([]).rules}
    assert {"missing_greeting", "missing_closing", "missing_hold_return", "forbidden_phrase"} <= rules
    names = {cls.__name__ for cls in DETECTORS}
    assert not names & {"GreetingDetector", "ClosingDetector", "ForbiddenPhraseDetector"}
    assert not (Path(__file__).parent.parent / "callassist" / "detectors" / "greeting.py").exists()
