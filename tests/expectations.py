"""Comparing a report's events with a fixture's expected events, by the one matching rule
`callassist eval` uses (callassist.evaluation.match_events)."""

from __future__ import annotations

from collections.abc import Sequence

from callassist.evaluation import Label, match_events as match
from callassist.events import Event


def match_events(actual: Sequence[Event], expected: list[dict], tolerance: float = 1.0) -> list[str]:
    """Pair every expected event with one actual event (same id, step, speaker and phrase id
    where given, `t` within tolerance). Returns what is unmatched on either side."""
    labels = [
        Label(
            id=want["id"], t=want["t"], lo=want["t"] - tolerance, hi=want["t"] + tolerance,
            step=want.get("step"), speaker=want.get("speaker"), phrase_id=want.get("phrase_id"),
        )
        for want in expected
    ]
    result = match(actual, labels)
    problems = [f"missing {label}" for label in result.missed]
    problems += [f"unexpected {got.id} at {got.t} ({got.detail or got.heard})" for got in result.unexpected]
    return problems
