"""Recognition from the command line: replay and transcribe with a real model, --asr none, and
the missing-model error."""

from __future__ import annotations

import json
from pathlib import Path


from callassist.cli import main
from callassist.transcript import read_transcript

FIXTURES = Path(__file__).parent / "fixtures"


def test_replay_without_transcript_transcribes_both_channels(tmp_path, capsys, ko_model):
    out = tmp_path / "r.json"
    assert main(["replay", str(FIXTURES / "ko" / "stereo16k.wav"), "--model", str(ko_model), "--report", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["call"]["text_from"] == "vosk:model"
    assert {u["speaker"] for u in report["utterances"]} == {"agent", "caller"}
    assert all(u["words"] for u in report["utterances"])


def test_transcribe_writes_the_transcript_format(tmp_path, capsys, ko_model):
    out = tmp_path / "call.jsonl"
    assert main(["transcribe", str(FIXTURES / "ko" / "stereo16k.wav"), "--model", str(ko_model), "-o", str(out)]) == 0
    utterances = read_transcript(out)
    assert {u.speaker for u in utterances} == {"agent", "caller"}
    assert all(w.conf is not None for u in utterances for w in u.words)
    # ... and the transcript replays, so recordings are transcribed once and judged many times.
    assert main(["replay", str(FIXTURES / "ko" / "stereo16k.wav"), "--transcript", str(out), "--headless"]) == 0


def test_asr_none_runs_the_acoustic_analysis_alone(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["replay", str(FIXTURES / "calls" / "dead_air.wav"), "--asr", "none", "--headless"]) == 0
    assert "坐席冷场" in capsys.readouterr().out  # agent_dead_air, by its title


def test_missing_model_stops_replay_with_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("CALLASSIST_MODEL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    status = main(["replay", str(FIXTURES / "calls" / "dead_air.wav")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1
    assert "no Vosk model found" in err and "callassist models download" in err
