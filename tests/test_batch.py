"""Batch scoring: 50+ rendered calls with one corrupt, resumable, killed and restarted."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from callassist import batch
from callassist.batch import BatchOptions, find_calls, run_batch

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import variations  # noqa: E402


@pytest.fixture(scope="module")
def call_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("calls")
    variations.render_all(folder)
    (folder / "broken_call.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    return folder


def reports(out: Path) -> list[Path]:
    return sorted((out / "calls").glob("*.json"))


def test_batch_scores_every_call_reports_the_corrupt_one_and_resumes(call_folder, tmp_path, settings):
    out = tmp_path / "out"
    jobs = find_calls([call_folder])
    assert len(jobs) >= 55
    options = BatchOptions(out=out, workers=2, asr="none")
    first = run_batch([call_folder], options)
    (failure,) = first.failures
    assert failure.name == "broken_call" and "broken_call.wav" in failure.error
    assert len(reports(out)) == len(jobs) - 1
    for path in reports(out):
        report = json.loads(path.read_text(encoding="utf-8"))
        assert report["call"]["fingerprint"] and path.with_suffix(".html").is_file()
    summary = first.summary_html.read_text(encoding="utf-8")
    assert "broken_call" in summary
    csv_lines = first.summary_csv.read_text(encoding="utf-8-sig").splitlines()
    assert len(csv_lines) == len(jobs)  # header + every scored call

    mtimes = {p: p.stat().st_mtime_ns for p in reports(out)}
    second = run_batch([call_folder], options)
    assert all(o.skipped for o in second.outcomes if not o.error), "a second run skips everything"
    assert {p: p.stat().st_mtime_ns for p in reports(out)} == mtimes


def test_rerun_with_everything_current_starts_no_worker(call_folder, tmp_path, monkeypatch):
    out = tmp_path / "out"
    calls = [call_folder / "dead_air_louder.wav", call_folder / "normal_louder.wav"]
    options = BatchOptions(out=out, workers=2, asr="none")
    assert not run_batch(calls, options).failures

    def no_workers(*args):
        raise AssertionError("workers were started for calls whose reports are current")

    monkeypatch.setattr("callassist.batch.run_local", no_workers)
    again = run_batch(calls, options)
    assert [(o.name, o.skipped, o.error) for o in again.outcomes] == [
        ("dead_air_louder", True, None), ("normal_louder", True, None)
    ]
    assert again.summary_csv.read_text(encoding="utf-8-sig").count("\n") == 3  # header + both calls


def summary_rows(out: Path) -> list[str]:
    """The calls the summary CSV lists, and those the HTML summary lists as failed."""
    rows = [line.split(",")[0] for line in (out / "summary.csv").read_text(encoding="utf-8-sig").splitlines()[1:]]
    failed = re.findall(r"broken_call", (out / "summary.html").read_text(encoding="utf-8"))
    return rows + (["failed: broken_call"] if failed else [])


def file_versions(out: Path) -> list[tuple[int, int]]:
    """Which write of each summary file is on disk (an atomic write renames a new file into place)."""
    return [((out / name).stat().st_ino, (out / name).stat().st_mtime_ns) for name in ("summary.csv", "summary.html")]


def test_the_summary_is_rewritten_when_what_it_lists_changes(call_folder, tmp_path, monkeypatch):
    """A re-run with every report current and no failure keeps the summary written from the
    same calls; another set of calls, a failure, or a summary left unfinished rewrites it."""
    out = tmp_path / "out"
    a, b, broken = call_folder / "dead_air_louder.wav", call_folder / "normal_louder.wav", call_folder / "broken_call.wav"
    options = BatchOptions(out=out, workers=1, asr="none")
    run_batch([a, b], options)
    assert summary_rows(out) == ["dead_air_louder", "normal_louder"]
    written = file_versions(out)
    run_batch([a, b], options)
    assert file_versions(out) == written, "the same calls, all current: the summary stands"

    run_batch([a], options)  # one call fewer, its report current
    assert summary_rows(out) == ["dead_air_louder"]
    run_batch([a, b], options)  # both current again
    assert summary_rows(out) == ["dead_air_louder", "normal_louder"]

    for _ in range(2):  # a failure is listed, by every run that has it
        written = file_versions(out)
        assert run_batch([a, b, broken], options).failures
        assert summary_rows(out) == ["dead_air_louder", "normal_louder", "failed: broken_call"]
        assert file_versions(out) != written
    run_batch([a, b], options)
    assert summary_rows(out) == ["dead_air_louder", "normal_louder"]

    real_write = batch._write_summary

    def stopped_after_the_csv(jobs, outcomes, options, summary_csv, summary_html):
        real_write(jobs, outcomes, options, summary_csv, summary_html)
        (out / "summary.html").write_text("half a page", encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "_write_summary", stopped_after_the_csv)
    with pytest.raises(KeyboardInterrupt):
        run_batch([a], options)
    monkeypatch.setattr(batch, "_write_summary", real_write)
    run_batch([a, b], options)  # what the summary listed last time it was finished, but it was not
    assert summary_rows(out) == ["dead_air_louder", "normal_louder"]
    assert "half a page" not in (out / "summary.html").read_text(encoding="utf-8")


def test_changed_rules_rescore(call_folder, tmp_path):
    out = tmp_path / "out"
    single = call_folder / "dead_air_louder.wav"
    run_batch([single], BatchOptions(out=out, workers=1, asr="none"))
    config = tmp_path / "callassist.toml"
    config.write_text("[timings]\ndead_air = 5.0\n", encoding="utf-8")
    again = run_batch([single], BatchOptions(out=out, workers=1, asr="none", config=config))
    assert [o.skipped for o in again.outcomes] == [False]


def test_killed_run_restarted_ends_with_one_complete_report_per_call(call_folder, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "callassist", "batch", str(call_folder), "--out", str(out), "--workers", "2", "--asr", "none"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(reports(out)) < 10:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # power loss: no clean-up at all
    process.wait()
    partial = len(reports(out))
    assert 10 <= partial < 55, "killed halfway"
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 1  # the corrupt call, reported at the end
    names = [p.stem for p in reports(out)]
    assert len(names) == len(set(names)) == len(find_calls([call_folder])) - 1
    for path in reports(out):
        json.loads(path.read_text(encoding="utf-8"))  # complete, parseable
    assert not list(out.rglob("*.tmp")), "no half-written file is left"
    assert f"{partial} already current" in result.stdout or "already current" in result.stdout


def test_agents_from_the_file_name_and_metadata(tmp_path):
    from callassist.batch import CallJob, with_metadata

    jobs = [CallJob("A017_20261122-093000", None, None), CallJob("other", None, None)]
    meta = tmp_path / "meta.csv"
    meta.write_text("call,agent,started\nother.wav,B002,2026-11-22T10:00:00\n", encoding="utf-8")
    options = BatchOptions(out=tmp_path, agent_pattern=r"(?P<agent>A\d+)_(?P<started>\d{8}-\d{6})", metadata=meta)
    enriched = with_metadata(jobs, options)
    assert [(j.agent, j.started) for j in enriched] == [("A017", "2026-11-22T09:30:00"), ("B002", "2026-11-22T10:00:00")]


def test_on_a_local_ray_instance(call_folder, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "out"
    picked = sorted(call_folder.glob("*_phone.wav"))[:4]
    result = run_batch(picked, BatchOptions(out=out, workers=2, asr="none", cluster="auto"))
    assert not result.failures
    assert len(reports(out)) == 4
