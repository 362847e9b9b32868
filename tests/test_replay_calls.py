"""Each transcript fixture in tests/data/calls replays to exactly its expected events."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from callassist.replay import ReplayRequest, replay
from expectations import match_events

CALLS = Path(__file__).parent / "data" / "calls"
NAMES = sorted(p.name.removesuffix(".expected.json") for p in CALLS.glob("*.expected.json"))


@pytest.mark.parametrize("name", NAMES)
def test_call_gives_exactly_expected_events(name, settings, pack):
    expected = json.loads((CALLS / f"{name}.expected.json").read_text(encoding="utf-8"))
    request = ReplayRequest(transcript=CALLS / f"{name}.jsonl", duration=expected.get("duration"))
    report = replay(request, settings, pack)
    assert match_events(report.events, expected["events"]) == []


def test_forbidden_phrase_events_carry_phrase_heard_score_and_alternative(settings, pack):
    report = replay(ReplayRequest(transcript=CALLS / "forbidden_agent.jsonl"), settings, pack)
    flagged = [e for e in report.events if e.id == "forbidden_phrase"]
    assert flagged
    for event in flagged:
        assert event.kind == "violation"
        assert event.phrase_id and event.heard and 0 < event.score <= 100
        assert event.say, "the approved alternative is shown"
        assert event.start <= event.end <= event.t + 1e-9


def test_silent_call_waives_closing_and_counts_steps(settings, pack):
    report = replay(ReplayRequest(transcript=CALLS / "silent.jsonl", duration=34.8), settings, pack)
    steps = [e.step for e in report.events if e.id == "silent_caller"]
    assert steps == [1, 2, 3]
    says = [e.say for e in report.events]
    assert says[0] == "您好！请问有什么可以帮助您？"
    assert report.checklist.closing.waived_by == "silent_caller"


def test_one_event_per_step_not_per_input(settings, pack):
    """A situation that persists is raised once per step."""
    report = replay(ReplayRequest(transcript=CALLS / "long_hold.jsonl"), settings, pack)
    assert Counter(e.id for e in report.events)["hold_too_long"] == 1
