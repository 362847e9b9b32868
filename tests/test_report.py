"""The typed report: one JSON form (schema callassist.report/2) that reads back into the same
objects, states every setting used (the audio analyser's too), and renders as text."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from callassist.audio.features import AnalyzerSettings
from callassist.replay import ReplayRequest, replay
from callassist.reporting.report import CallReport
from callassist.reporting.text import summary_text

HERE = Path(__file__).parent
SCHEMA = json.loads((HERE.parent / "callassist" / "reporting" / "report.schema.json").read_text(encoding="utf-8"))
REQUESTS = {
    "transcript with a hold": ReplayRequest(transcript=HERE / "data" / "calls" / "long_hold.jsonl"),
    "audio alone": ReplayRequest(audio=HERE / "fixtures" / "calls" / "crosstalk.wav"),
    "audio and transcript": ReplayRequest(
        audio=HERE / "fixtures" / "calls" / "angry.wav", transcript=HERE / "fixtures" / "calls" / "angry.jsonl"
    ),
}


@pytest.mark.parametrize("name", REQUESTS)
def test_the_json_matches_the_schema_and_reads_back_to_the_same_report(name, settings, pack):
    report = replay(REQUESTS[name], settings, pack)
    data = report.to_json()
    jsonschema.validate(data, SCHEMA)
    again = CallReport.from_json(json.loads(json.dumps(data)))
    assert again.to_json() == data
    assert again.events == tuple(e for e in again.events) and len(again.events) == len(report.events)
    assert [(e.id, e.step, round(e.t, 2)) for e in again.events] == [(e.id, e.step, round(e.t, 2)) for e in report.events]


def test_the_audio_analysers_settings_are_stated_when_audio_was_analysed(settings, pack):
    audio = replay(REQUESTS["audio alone"], settings, pack)
    assert audio.analyzer == AnalyzerSettings()
    assert audio.to_json()["call"]["analyzer"]["hangover"] == AnalyzerSettings().hangover
    transcript = replay(REQUESTS["transcript with a hold"], settings, pack)
    assert transcript.analyzer is None and transcript.to_json()["call"]["analyzer"] is None


def test_holds_in_the_checklist_come_from_the_call(settings, pack):
    report = replay(REQUESTS["transcript with a hold"], settings, pack)
    holds = report.checklist.hold.holds
    assert len(holds) == 2 and all(h.end is not None and h.end > h.start for h in holds)
    assert report.checklist.hold.ok is False and any(h.too_long for h in holds)


def test_a_report_of_another_schema_is_refused(settings, pack):
    data = replay(REQUESTS["transcript with a hold"], settings, pack).to_json()
    data["schema"] = "callassist.report/1"
    with pytest.raises(ValueError, match="report/2"):
        CallReport.from_json(data)


def test_text_summary_reads_the_typed_report(settings, pack):
    report = replay(REQUESTS["transcript with a hold"], settings, pack)
    text = summary_text(report)
    assert f"得分: {report.score.value}/{report.score.start}  扣分: " in text
    assert "等待时间过长" in text and "等待礼仪 ✗ 未做到 (2 次)" in text  # hold_too_long, by its title


def test_a_report_written_before_the_privacy_setting_reads_back_with_it_off(settings, pack):
    """An earlier run's report (no [privacy] in its settings) still reads: the batch summary
    lists it rather than dropping it as unreadable."""
    data = replay(REQUESTS["transcript with a hold"], settings, pack).to_json()
    del data["call"]["settings"]["privacy"]
    assert CallReport.from_json(data).settings.privacy.mask is False
