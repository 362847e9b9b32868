"""`callassist eval` scoring: the matching rule, per-id counts, precision, recall, timing error,
labels files and the table. Expected figures are worked out by hand from the labels given."""

from __future__ import annotations

import json

import pytest

from callassist.errors import InputFileError
from callassist.evaluation import (
    CallLabels,
    IdScore,
    Label,
    format_table,
    labelled_calls,
    match_events,
    read_labels,
    score_call,
)
from callassist.events import Event


def event(id: str, t: float, step: int | None = None, speaker: str | None = "caller", phrase_id: str | None = None) -> Event:
    return Event(id=id, kind="situation", t=t, start=t, end=t, speaker=speaker, step=step, phrase_id=phrase_id)


def label(id: str, t: float, step: int | None = None, tolerance: float = 1.0, **given) -> Label:
    return Label(id=id, t=t, lo=t - tolerance, hi=t + tolerance, step=step, **given)


def test_a_label_takes_the_nearest_matching_event_and_each_event_once():
    early, late = event("silent_caller", 9.2), event("silent_caller", 10.1)
    result = match_events([early, late], [label("silent_caller", 10.0)])
    assert result.found == ((label("silent_caller", 10.0), late),)
    assert result.missed == () and result.unexpected == (early,)
    two = match_events([early], [label("silent_caller", 9.0), label("silent_caller", 9.5)])
    assert len(two.found) == 1 and len(two.missed) == 1


def test_window_bounds_are_inclusive_and_step_speaker_phrase_must_agree():
    assert label("dead", 5.0).matches(event("dead", 6.0)) and label("dead", 5.0).matches(event("dead", 4.0))
    assert not label("dead", 5.0).matches(event("dead", 6.01))
    assert not label("silent_caller", 8.0, step=2).matches(event("silent_caller", 8.0, step=1))
    assert label("silent_caller", 8.0).matches(event("silent_caller", 8.0, step=1))  # no step given
    assert not label("x", 8.0, speaker="agent").matches(event("x", 8.0, speaker="caller"))
    assert not label("forbidden_phrase", 3.0, phrase_id="a").matches(event("forbidden_phrase", 3.0, phrase_id="b"))


def test_score_call_counts_found_missed_false_alarms_and_ignores_optional_ids():
    labels = CallLabels(
        expect=(label("silent_caller", 8.0, step=1), label("silent_caller", 13.0, step=2), label("crosstalk", 20.0)),
        optional=frozenset({"thanked"}),
    )
    events = [
        event("silent_caller", 8.4, step=1),  # found, 0.4 s late
        event("silent_caller", 13.0, step=3),  # wrong step: step 2 missed, this a false alarm
        event("crosstalk", 19.8),  # found, 0.2 s early
        event("thanked", 5.0),  # optional: neither
        event("agent_dead_air", 30.0),  # false alarm
    ]
    scores = score_call(events, labels)
    assert (scores["silent_caller"].found, scores["silent_caller"].missed, scores["silent_caller"].false_alarms) == (1, 1, 1)
    assert scores["silent_caller"].timing_errors == [pytest.approx(0.4)]
    assert scores["silent_caller"].precision == 0.5 and scores["silent_caller"].recall == 0.5
    assert (scores["crosstalk"].found, scores["crosstalk"].mean_timing_error) == (1, pytest.approx(0.2))
    assert scores["agent_dead_air"].false_alarms == 1 and scores["agent_dead_air"].precision == 0.0
    assert scores["agent_dead_air"].recall is None  # nothing was expected
    assert "thanked" not in scores


def test_table_totals_every_id():
    per_id = {"a": IdScore(found=3, missed=1, timing_errors=[0.1, 0.2, 0.3]), "b": IdScore(found=1, false_alarms=1, timing_errors=[0.4])}
    overall = format_table(per_id, calls=2).splitlines()[-1].split()
    # 4 found, 1 missed, 1 false: precision 4/5, recall 4/5, mean timing error 1.0/4
    assert overall == ["overall", "4", "1", "1", "80%", "80%", "0.25", "s"]


def test_labels_default_to_one_second_either_side_and_keep_phrase_ids(tmp_path):
    path = tmp_path / "call.labels.json"
    path.write_text(json.dumps({
        "expect": [{"id": "forbidden_phrase", "t": 3.0, "phrase_id": "ni_bie_jidong"}, {"id": "x", "t": 9.0, "lo": 8.5, "hi": 12.0}],
        "optional": ["thanked"], "duration": 40,
    }), encoding="utf-8")
    labels = read_labels(path)
    assert labels.expect[0] == Label("forbidden_phrase", 3.0, 2.0, 4.0, phrase_id="ni_bie_jidong")
    assert (labels.expect[1].lo, labels.expect[1].hi) == (8.5, 12.0)
    assert labels.optional == {"thanked"} and labels.duration == 40.0


def test_a_label_without_a_time_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "call.labels.json"
    path.write_text('{"expect": [{"id": "silent_caller"}]}', encoding="utf-8")
    with pytest.raises(InputFileError, match="call.labels.json.*expect\\[0\\]"):
        read_labels(path)


def test_labelled_calls_need_a_recording_or_transcript_beside_them(tmp_path):
    (tmp_path / "a.labels.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputFileError, match="a.labels.json"):
        labelled_calls(tmp_path)
    (tmp_path / "a.jsonl").write_text("", encoding="utf-8")
    assert labelled_calls(tmp_path) == [(tmp_path / "a.labels.json", None, tmp_path / "a.jsonl")]


def test_eval_command_scores_the_labelled_transcript_calls(capsys):
    from pathlib import Path

    from callassist.cli import main

    calls = Path(__file__).parent / "data" / "calls"
    assert main(["eval", str(calls)]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = sum(len(json.loads(p.read_text(encoding="utf-8"))["expect"]) for p in calls.glob("*.labels.json"))
    assert lines[0] == f"{len(list(calls.glob('*.labels.json')))} labelled call(s)"
    assert lines[-1].split()[:6] == ["overall", str(expected), "0", "0", "100%", "100%"]
