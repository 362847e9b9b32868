"""Bad input as a new user or an attacker gives it: every case ends in a correct result or one
line naming the file, line or option and what to do (exit status 2), never a traceback."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from callassist.cli import main

ROOT = Path(__file__).parent.parent
CALLS = Path(__file__).parent / "data" / "calls"
FIXTURE_CALLS = Path(__file__).parent / "fixtures" / "calls"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("callassist: error: "), err
    return lines[0]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


LINE = '{{"speaker": "caller", "start": {start}, "end": {end}, "text": "{text}"}}\n'
GOOD = LINE.format(start=0.5, end=2.0, text="您好")


# ---------------------------------------------------------------- transcript numbers and text


@pytest.mark.parametrize(
    "line, expected",
    [
        (LINE.format(start="NaN", end=3, text="x"), ":2: NaN is not a number JSON allows"),
        (LINE.format(start=1, end="Infinity", text="x"), ":2: Infinity is not a number JSON allows"),
        (LINE.format(start=1, end="-Infinity", text="x"), ":2: -Infinity is not a number JSON allows"),
        (LINE.format(start=1, end="1e300", text="x"), ":2: field 'end' must be seconds from the call's start, 0 to 86400"),
        (LINE.format(start=1, end="1e400", text="x"), ":2: field 'end' must be seconds from the call's start"),
        (LINE.format(start=1_733_000_000, end=1_733_000_002, text="x"), "(epoch or millisecond times must be converted)"),
        (LINE.format(start=1, end="1" * 400, text="x"), ":2: number 11111111111111111111... has 400 digits"),
        (LINE.format(start=1, end=2, text="\\ud800"), ":2: field 'text' holds a lone surrogate (\\ud800 at character 1)"),
        ('{"a":' * 100_000 + "1" + "}" * 100_000 + "\n", ":2: JSON nested too deeply"),
        ("[" * 100_000 + "]" * 100_000 + "\n", ":2: JSON nested too deeply"),
    ],
    ids=["nan", "infinity", "minus-infinity", "1e300", "1e400", "epoch", "400-digits", "lone-surrogate", "deep-object", "deep-list"],
)
def test_transcript_numbers_must_be_finite_seconds_and_text_encodable(tmp_path, capsys, line, expected):
    path = write(tmp_path / "call.jsonl", GOOD + line)
    status, _, err = run(capsys, "replay", "--transcript", str(path), "--headless")
    assert status == 2
    assert f"{path}{expected}" in one_error_line(err) or expected in one_error_line(err)
    assert f"{path}:2:" in err


def test_surrogate_pair_written_as_escapes_is_text(tmp_path, capsys):
    path = write(tmp_path / "call.jsonl", GOOD + LINE.format(start=3, end=4, text="\\ud83d\\ude00 好"))
    status, out, err = run(capsys, "replay", "--transcript", str(path), "--headless")
    assert status == 0, err


@pytest.mark.parametrize("value", ["nan", "inf", "-3", "1e999", "soon"])
def test_duration_option_must_be_finite_seconds(capsys, value):
    with pytest.raises(SystemExit) as exit_:
        main(["replay", "--transcript", str(CALLS / "normal.jsonl"), "--duration", value])
    assert exit_.value.code == 2
    assert "argument --duration:" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_speed_option_must_be_a_finite_positive_factor(capsys, value):
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--speed", value])
    assert exit_.value.code == 2 and "argument --speed:" in capsys.readouterr().err


# ---------------------------------------------------------------- config numbers


@pytest.mark.parametrize(
    "config, expected",
    [
        ("[timings]\ncrosstalk_overlap = -5.0\n", ":2: timings.crosstalk_overlap: must be more than 0 to 86400, not -5.0"),
        ("[timings]\ndead_air = 0\n", ":2: timings.dead_air: must be more than 0 to 86400, not 0"),
        ("[timings]\ndead_air = nan\n", ":2: timings.dead_air: must be more than 0 to 86400, not nan"),
        ("[timings]\n\nhold_check_back = inf\n", ":3: timings.hold_check_back: must be more than 0 to 86400, not inf"),
        ("[matching]\nthreshold = 500\n", ":2: matching.threshold: must be from 0 to 100, not 500"),
        ("[score.deductions]\ncrosstalk = -3\n", ":2: score.deductions.crosstalk: must be whole points from 0 to 1000, not -3"),
        ("[score.deductions]\nmy_event = 2.5\n", ":2: score.deductions.my_event: must be whole points from 0 to 1000, not 2.5"),
        ("[live]\nmeter_hz = 0\n", ":2: live.meter_hz: must be from 1 to 60, not 0"),
        ("[live]\nsample_rate = 100\n", ":2: live.sample_rate: must be from 8000 to 192000, not 100"),
        ("[acoustic]\nquiet_level_dbfs = 20.0\n", ":2: acoustic.quiet_level_dbfs: must be from -120 to 0, not 20.0"),
        ("[dialect]\nlow_confidence = 1.5\n", ":2: dialect.low_confidence: must be from 0 to 1, not 1.5"),
        ("[timings]\ndead_air = " + "9" * 400 + "\n", ":2: timings.dead_air: must be more than 0 to 86400, not 99999999999999999999... (400 characters)"),
        ("[score.deductions]\ncrosstalk = " + "9" * 400 + "\n", ":2: score.deductions.crosstalk: must be whole points from 0 to 1000, not 99999999999999999999... (400 characters)"),
    ],
)
def test_config_numbers_must_be_finite_and_in_range(tmp_path, capsys, config, expected):
    path = write(tmp_path / "callassist.toml", config)
    status, _, err = run(capsys, "replay", "--transcript", str(CALLS / "normal.jsonl"), "--config", str(path), "--headless")
    assert status == 2
    assert f"{path}{expected}" in one_error_line(err)


def test_config_that_cannot_be_read(tmp_path, capsys):
    path = tmp_path / "callassist.toml"
    path.write_bytes("[call]\ncompany = '平安'\n".encode("gbk"))
    status, _, err = run(capsys, "scripts", "show", "--config", str(path))
    assert status == 2 and f"{path}: config file is not UTF-8 text; save it as UTF-8" in one_error_line(err)


def test_user_config_folder_that_cannot_be_read(tmp_path, capsys, monkeypatch):
    config_home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    real_is_file = Path.is_file

    def is_file(path: Path) -> bool:  # as a folder without read permission answers (root ignores chmod)
        if path.name == "config.toml":
            raise PermissionError(13, "Permission denied", str(path))
        return real_is_file(path)

    monkeypatch.setattr(Path, "is_file", is_file)
    status, _, err = run(capsys, "scripts", "show")
    assert status == 2
    assert "callassist/config.toml: cannot read config file (Permission denied)" in one_error_line(err)


def test_unreadable_config_file(tmp_path, capsys, monkeypatch):
    path = write(tmp_path / "callassist.toml", "[call]\n")

    real_read_text = Path.read_text

    def read_text(self, *args, **kwargs):  # as a file without read permission answers (root ignores chmod)
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    status, _, err = run(capsys, "scripts", "show", "--config", str(path))
    assert status == 2 and f"{path}: cannot read config file (Permission denied)" in one_error_line(err)


# ---------------------------------------------------------------- output paths


def test_report_to_a_folder_is_refused_before_any_work(tmp_path, capsys):
    status, _, err = run(capsys, "replay", "--transcript", str(CALLS / "normal.jsonl"), "--report", str(tmp_path), "--headless")
    assert status == 2 and f"--report {tmp_path}: is a folder; give a file name" in one_error_line(err)
    missing = tmp_path / "no" / "such" / "r.json"
    status, _, err = run(capsys, "replay", "--transcript", str(CALLS / "normal.jsonl"), "--report", str(missing), "--headless")
    assert status == 2 and "does not exist; create it first" in one_error_line(err)


def test_transcribe_refuses_to_overwrite_a_transcript_without_force(tmp_path, capsys):
    audio = tmp_path / "call.wav"
    audio.write_bytes(b"")
    transcript = write(tmp_path / "call.jsonl", GOOD)
    status, _, err = run(capsys, "transcribe", str(audio))
    assert status == 2
    assert f"{transcript} already exists; give --force to overwrite it" in one_error_line(err)
    assert transcript.read_text(encoding="utf-8") == GOOD
    # With --force the existing file is no obstacle: what fails next is the (empty) audio.
    status, _, err = run(capsys, "transcribe", str(audio), "--force")
    assert status == 2 and "call.wav: is empty" in one_error_line(err)


# ---------------------------------------------------------------- pipes


def run_into_closed_pipe(*argv: str) -> subprocess.CompletedProcess:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "callassist", *argv], stdout=write_end, stderr=subprocess.PIPE, text=True,
            cwd=ROOT, timeout=120,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "argv",
    [("scripts", "show"), ("scripts", "show", "--json"), ("replay", "--transcript", str(CALLS / "normal.jsonl"), "--headless")],
    ids=["scripts-show", "scripts-show-json", "replay"],
)
def test_output_into_a_closed_pipe_ends_quietly(argv):
    result = run_into_closed_pipe(*argv)
    assert result.stderr == "" and result.returncode == 1


# ---------------------------------------------------------------- script pack patterns


BACKTRACKING_PACK = (Path(__file__).parent / "data" / "packs" / "backtracking" / "site.toml").read_text(encoding="utf-8")


def test_a_backtracking_pattern_runs_in_linear_time(tmp_path, capsys):
    pack = write(tmp_path / "site.toml", BACKTRACKING_PACK)
    lines = [LINE.format(start=i, end=i + 0.9, text="a" * 32 + "!") for i in range(1, 40)]
    transcript = write(tmp_path / "call.jsonl", "".join(lines) + LINE.format(start=50, end=51, text="a" * 5000))
    started = time.monotonic()
    status, out, err = run(capsys, "replay", "--transcript", str(transcript), "--scripts", str(pack), "--headless")
    assert status == 0, err
    assert time.monotonic() - started < 20  # Python's re: 52 s for ONE of these utterances
    assert "得知来电人职务" in out  # and the cue still works: the last line matches (caller_title, by its title)


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("我是[经理]", "needs a group"),
        ("我是(经理)?", "its first group is optional"),
        ("(经理)|主任", "its first group is optional"),
        ("(经理)*", "its first group is optional"),
        ("(?=经理)(.)", "not a valid regular expression for RE2"),
        ("(经理)\\1", "not a valid regular expression for RE2"),
    ],
)
def test_scripts_check_refuses_patterns_the_cue_cannot_use(tmp_path, capsys, pattern, expected):
    pack = write(tmp_path / "site.toml", BACKTRACKING_PACK.replace("(a+)+$", pattern))
    status, out, _ = run(capsys, "scripts", "check", str(pack))
    assert status == 1 and f"{pack}:13: pattern: {expected}" in out
    status, _, err = run(capsys, "replay", "--transcript", str(CALLS / "normal.jsonl"), "--scripts", str(pack), "--headless")
    assert status == 2 and f"{pack}:" in one_error_line(err)  # the first of the problems


# ---------------------------------------------------------------- recordings without speech


def write_stereo(path: Path, samples: np.ndarray, subtype: str = "PCM_16") -> Path:
    soundfile.write(path, np.stack([samples, samples], axis=1).astype("float32"), 16000, subtype=subtype)
    return path


SECONDS = np.arange(16000 * 30) / 16000


@pytest.mark.parametrize(
    "name, samples",
    [
        ("digital_silence", np.zeros_like(SECONDS)),
        ("square_wave", 0.3 * np.sign(np.sin(2 * np.pi * 440 * SECONDS))),
        ("noise_only", 0.05 * np.random.default_rng(7).standard_normal(SECONDS.size)),
    ],
)
def test_a_recording_without_speech_is_flagged_not_scored_perfect(tmp_path, capsys, name, samples):
    audio = write_stereo(tmp_path / f"{name}.wav", samples)
    report_path = tmp_path / "report.json"
    status, _, err = run(capsys, "replay", str(audio), "--asr", "none", "--report", str(report_path), "--headless")
    assert status == 0, err
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["call"]["no_speech"] is True
    assert any("no speech on either channel" in note for note in report["call"]["notes"])
    assert report["score"]["value"] == 0
    assert {"id": "no_speech", "t": 0.0, "points": 100} in report["score"]["deductions"]


def test_a_recording_with_speech_is_not_flagged(tmp_path, capsys):
    report_path = tmp_path / "report.json"
    status, _, err = run(capsys, "replay", str(FIXTURE_CALLS / "normal.wav"), "--asr", "none", "--report", str(report_path), "--headless")
    assert status == 0, err
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert "no_speech" not in report["call"] and report["score"]["value"] > 0


def test_no_speech_is_a_column_and_a_mark_in_the_batch_summary(tmp_path):
    from callassist.batch import BatchOptions, run_batch

    calls = tmp_path / "calls"
    calls.mkdir()
    write_stereo(calls / "dead_line.wav", np.zeros_like(SECONDS))
    (calls / "normal.wav").write_bytes((FIXTURE_CALLS / "normal.wav").read_bytes())
    result = run_batch([calls], BatchOptions(out=tmp_path / "out", workers=1, asr="none"))
    rows = {row["call"]: row for row in csv.DictReader(result.summary_csv.read_text(encoding="utf-8-sig").splitlines())}
    assert rows["dead_line"]["no_speech"] == "yes" and rows["dead_line"]["score"] == "0"
    assert rows["normal"]["no_speech"] == "no"
    assert "无语音" in result.summary_html.read_text(encoding="utf-8")


def test_one_nan_sample_in_a_float_wav_does_not_switch_voice_activity_off(tmp_path, capsys):
    clean, sample_rate = soundfile.read(FIXTURE_CALLS / "normal.wav", dtype="float32", always_2d=True)
    poisoned = clean.copy()
    poisoned[sample_rate // 2, :] = np.nan  # half a second in, before anyone speaks
    poisoned[sample_rate, 0] = np.inf
    talk = {}
    for name, samples in (("clean", clean), ("nan", poisoned)):
        soundfile.write(tmp_path / f"{name}.wav", samples, sample_rate, subtype="FLOAT")
        status, _, err = run(capsys, "replay", str(tmp_path / f"{name}.wav"), "--asr", "none", "--report", str(tmp_path / f"{name}.json"), "--headless")
        assert status == 0, err
        report = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
        talk[name] = {s: v["talk_time"] for s, v in report["talk"]["speakers"].items()}
    assert talk["clean"]["agent"] > 10 and talk["clean"]["caller"] > 2  # the fixture's speech, heard
    assert talk["nan"] == pytest.approx(talk["clean"], abs=0.05)


# ---------------------------------------------------------------- bounded timeline, linear HTML


def test_a_day_long_call_draws_a_bounded_timeline(tmp_path, capsys):
    import re

    from callassist.replay import ReplayRequest, replay
    from callassist.reporting.html import MAX_SVG_WIDTH, MAX_TICKS, call_report_html
    from callassist.settings import effective_pack, load_settings

    settings = load_settings(None)
    path = write(tmp_path / "day.jsonl", GOOD + LINE.format(start=86_000, end=86_400, text="再见"))
    page = call_report_html(replay(ReplayRequest(transcript=path), settings, effective_pack(settings, [])))
    svg = page[page.index('<svg class="timeline"'):page.index("</svg>")]
    labels = re.findall(r'<text x="[\d.]+" y="\d+" text-anchor="middle">\d+:\d\d</text>', svg)
    assert 20 <= len(labels) <= MAX_TICKS
    width = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))
    assert width <= MAX_SVG_WIDTH and len(page) < 200_000


def test_overlaps_found_by_the_sweep_are_those_of_every_pair():
    import random

    from callassist.inputs import Utterance
    from callassist.reporting.html import speech_overlaps
    from callassist.reporting.report import UtteranceRecord

    generator = random.Random(3)
    for _ in range(200):
        said = []
        for _ in range(generator.randint(0, 25)):
            start = round(generator.uniform(0, 50), 1)
            end = round(start + generator.choice([0, 0.5, 1, 3, 10]), 1)
            said.append(Utterance(generator.choice(["agent", "caller"]), start, end, "x"))
        pairs = [(max(a.start, c.start), min(a.end, c.end)) for a in said if a.speaker == "agent" for c in said if c.speaker == "caller"]
        assert speech_overlaps([UtteranceRecord(u) for u in said]) == sorted((s, e) for s, e in pairs if e > s)


def test_reports_are_strict_json(tmp_path):
    from callassist.atomic import write_json_atomically

    with pytest.raises(ValueError):
        write_json_atomically(tmp_path / "r.json", {"t": float("nan")})
    assert not (tmp_path / "r.json").exists() and not list(tmp_path.iterdir())
