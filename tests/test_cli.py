"""The command line as a user meets it: commands, reports, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from callassist.cli import main

ROOT = Path(__file__).parent.parent
CALLS = Path(__file__).parent / "data" / "calls"
SCHEMA = json.loads((ROOT / "callassist" / "reporting" / "report.schema.json").read_text(encoding="utf-8"))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("name", sorted(p.stem for p in CALLS.glob("*.jsonl")))
def test_every_report_matches_the_schema(tmp_path, capsys, name):
    out_path = tmp_path / "report.json"
    status, out, _ = run(capsys, "replay", "--transcript", str(CALLS / f"{name}.jsonl"), "--report", str(out_path), "--headless")
    assert status == 0 and "report written" in out
    report = json.loads(out_path.read_text(encoding="utf-8"))
    jsonschema.validate(report, SCHEMA)
    assert report["schema"] == "callassist.report/2"
    assert report["call"]["settings"]["source"] == "defaults"
    assert report["call"]["script_pack"]


def test_demo_prints_a_summary(capsys):
    status, out, _ = run(capsys, "demo", "--headless")
    assert status == 0
    assert "得分: 88/100  扣分: 坐席冷场 −2 (00:41.32)、禁用语 −10 (00:43.00)" in out  # the deductions behind it
    assert "违规  禁用语  [坐席]" in out and "提示  得知来电人姓氏  [客户]" in out  # labels, not ids
    assert "听到: 「我不知道」  (匹配度 100/100)" in out  # a labelled match score, never a bare `score 100.0`
    assert "听到: 「这个我不」\n           原话: 「这个我不知道。」" in out  # a partial cue match, with its sentence
    assert "forbidden_phrase" not in out and "caller_name" not in out


def test_python_dash_m_runs():
    result = subprocess.run([sys.executable, "-m", "callassist", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("callassist ")


def test_summary_without_report(capsys):
    status, out, _ = run(capsys, "replay", "--transcript", str(CALLS / "forbidden_agent.jsonl"))
    assert status == 0
    assert "听到: 「为，说话」" in out and "应说:" in out


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = '{"speaker": "agent", "start": 0.5, "end": 2.0, "text": "您好"}\n'


@pytest.mark.parametrize(
    "content, expected",
    [
        (GOOD + '{"speaker": "agent", "start": 1, "end": \n', "call.jsonl:2: not valid JSON"),
        (GOOD + '{"speaker": "boss", "start": 3, "end": 4, "text": "x"}\n', "call.jsonl:2: field 'speaker' must be \"agent\" or \"caller\", not 'boss'"),
        ('{"speaker": "agent", "end": 4, "text": "x"}\n', "call.jsonl:1: missing field 'start'"),
        ('{"speaker": "agent", "start": 5, "end": 4, "text": "x"}\n', "call.jsonl:1: field 'end' (4.0) is before 'start' (5.0)"),
        ('{"speaker": "agent", "start": 1, "end": 4, "txt": "x"}\n', "call.jsonl:1: unknown field 'txt'"),
        ('{"speaker": "agent", "start": 1, "end": 4, "text": "x", "words": [{"word": "x", "start": 1, "end": 2, "conf": 3}]}\n', "call.jsonl:1: field 'words[0].conf' must be a number from 0 to 1"),
        ("\n\n[1, 2]\n", "call.jsonl:3: expected a JSON object"),
    ],
)
def test_bad_transcript_lines_name_file_line_and_field(tmp_path, capsys, content, expected):
    path = write(tmp_path, "call.jsonl", content)
    status, out, err = run(capsys, "replay", "--transcript", str(path), "--headless")
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("callassist: error: ")
    assert expected in lines[0]


def test_missing_transcript(tmp_path, capsys):
    status, _, err = run(capsys, "replay", "--transcript", str(tmp_path / "nope.jsonl"))
    assert status == 2
    assert err.strip() == f"callassist: error: {tmp_path / 'nope.jsonl'}: transcript not found; check the path"


def test_missing_and_corrupt_audio(tmp_path, capsys):
    status, _, err = run(capsys, "replay", str(tmp_path / "nope.wav"))
    assert status == 2 and "nope.wav: no such file; check the path" in err
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    status, _, err = run(capsys, "replay", str(bad))
    assert status == 2 and "bad.wav:" in err and len(err.strip().splitlines()) == 1


def test_broken_script_pack_names_file_and_line(tmp_path, capsys):
    pack = write(tmp_path, "site.toml", '[[forbidden]]\nid = "x"\nphrase = ""\nsituation = "greeting"\n')
    status, _, err = run(capsys, "replay", "--transcript", str(CALLS / "normal.jsonl"), "--scripts", str(pack))
    assert status == 2
    assert f"{pack}:3: phrase:" in err and len(err.strip().splitlines()) == 1


def test_scripts_check_lists_every_problem_and_exits_1(tmp_path, capsys):
    pack = write(
        tmp_path, "site.toml",
        '[[forbidden]]\nid = "x"\nphrase = ""\nsituation = "greeting"\n\n[[situation]]\nid = "s"\ntitle = "t"\nkind = "situation"\ncolour = "red"\n[[situation.step]]\nsay = "好"\nwait = -1\n[[situation.step]]\nsay = "再见"\n',
    )
    status, out, _ = run(capsys, "scripts", "check", str(pack))
    assert status == 1
    problems = out.strip().splitlines()
    assert any(p.startswith(f"{pack}:3: phrase:") for p in problems)
    assert any(p.startswith(f"{pack}:10: colour:") for p in problems)
    assert any(p.startswith(f"{pack}:13: wait:") for p in problems)


def test_scripts_check_standard_pack_is_clean(capsys):
    status, out, err = run(capsys, "scripts", "check")
    assert status == 0 and out == "" and "0 problem(s)" in err


def test_scripts_show_prints_effective_pack_with_deployment_override(tmp_path, capsys):
    pack = write(tmp_path, "site.toml", '[[forbidden]]\nid = "site_only"\nphrase = "关我什么事"\nsituation = "cannot_answer"\n')
    config = write(tmp_path, "callassist.toml", '[call]\ncompany = "星河电信"\n')
    status, out, _ = run(capsys, "scripts", "show", "--scripts", str(pack), "--config", str(config))
    assert status == 0
    assert "site_only: 「关我什么事」" in out and "欢迎致电星河电信" in out


def test_config_errors_name_file_line_and_key(tmp_path, capsys):
    config = write(tmp_path, "callassist.toml", '[timings]\ndead_air = 5.0\nsilent_stepp = 3\n')
    status, _, err = run(capsys, "replay", "--transcript", str(CALLS / "normal.jsonl"), "--config", str(config))
    assert status == 2 and f"{config}:3: timings.silent_stepp: unknown setting" in err
    config = write(tmp_path, "callassist.toml", '[timings]\ndead_air = "long"\n')
    status, _, err = run(capsys, "replay", "--transcript", str(CALLS / "normal.jsonl"), "--config", str(config))
    assert status == 2 and f"{config}:2: timings.dead_air: must be float" in err


def test_config_in_working_folder_changes_timings(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "callassist.toml", "[timings]\ndead_air = 7.0\n")
    out_path = tmp_path / "r.json"
    run(capsys, "replay", "--transcript", str(CALLS / "dead_air.jsonl"), "--report", str(out_path))
    report = json.loads(out_path.read_text(encoding="utf-8"))
    assert report["call"]["settings"]["source"] == "callassist.toml"
    assert not [e for e in report["events"] if e["id"] == "agent_dead_air"]  # 6 s < 7 s


def test_core_imports_without_textual():
    """Everything but the UI runs without Textual installed."""
    code = (
        "import sys; sys.modules['textual'] = None\n"
        "import callassist.cli, callassist.engine, callassist.replay, callassist.reporting.report\n"
        "from callassist.cli import main\n"
        "raise SystemExit(main(['demo', '--headless']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "得分:" in result.stdout
