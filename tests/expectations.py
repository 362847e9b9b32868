"""Comparing a report's events with a fixture's expected events."""

from __future__ import annotations


def match_events(actual: list[dict], expected: list[dict], tolerance: float = 1.0) -> list[str]:
    """Pair every expected event with one actual event (same id, step, speaker and phrase id
    where given, `t` within tolerance). Returns what is unmatched on either side."""
    remaining = list(actual)
    problems = []
    for want in expected:
        for got in remaining:
            same = all(
                got.get(key) == want[key] for key in ("id", "step", "speaker", "phrase_id") if key in want
            )
            if same and abs(got["t"] - want["t"]) <= tolerance:
                remaining.remove(got)
                break
        else:
            problems.append(f"missing {want}")
    problems += [f"unexpected {got['id']} at {got['t']} ({got.get('detail') or got.get('heard')})" for got in remaining]
    return problems
