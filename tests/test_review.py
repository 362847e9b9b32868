"""The review server: loopback only, nothing outside the output folder, byte ranges for the
audio, and the page in a real (headless Chromium) browser: play, seek by clicking an event and a
transcript line, mark a false alarm, find the labels file, and see `callassist eval` change."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from callassist.batch import BatchOptions, run_batch
from callassist.review.server import make_server

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "qa_rules" / "rules.toml"
RULE_CALLS = Path(__file__).parent / "fixtures" / "rule_calls"
SECRET = "这是输出文件夹之外的秘密"


@pytest.fixture(scope="module")
def batch_out(tmp_path_factory) -> Path:
    """A batch run over the two rule calls (recording + transcript), with a file beside the
    output folder that the server must never serve."""
    root = tmp_path_factory.mktemp("review")
    calls = root / "calls"
    calls.mkdir()
    for name in ("angry_promise", "fatal_callback"):
        for suffix in (".wav", ".jsonl"):
            shutil.copy(RULE_CALLS / f"{name}{suffix}", calls / f"{name}{suffix}")
    out = root / "out"
    result = run_batch([calls], BatchOptions(out=out, workers=1, asr="none", scripts=(EXAMPLE,)), stream=open(root / "progress.txt", "w"))
    assert not result.failures
    (root / "secret.txt").write_text(SECRET, encoding="utf-8")
    return out


@pytest.fixture
def server(batch_out):
    server = make_server(batch_out, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def request(server, path: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for key, value in ({"Host": f"127.0.0.1:{server.server_address[1]}"} | (headers or {})).items():
        connection.putheader(key, value)
    connection.putheader("Content-Length", str(len(body or b"")))
    connection.endheaders(body)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def outward_address() -> str | None:
    """An address of this machine other than loopback, if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_the_server_listens_on_loopback_only(server):
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to try")
    with pytest.raises(OSError):
        socket.create_connection((address, port), timeout=2).close()


@pytest.mark.parametrize("path", [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/calls/..%2f..%2fsecret.txt",
    "/calls/%2e%2e/%2e%2e/secret.txt",
    "/review/..%2F..%2Fsecret",
    "/api/call/..%2F..%2Fsecret",
    "/audio/..%2F..%2Fsecret",
    "//etc/passwd",
    "/calls/.angry_promise.json.x.tmp",
])
def test_paths_outside_the_output_folder_are_refused(server, path):
    response, data = request(server, path)
    assert response.status in (403, 404), path
    assert SECRET.encode() not in data and b"root:" not in data


def test_a_foreign_host_header_is_refused(server):
    response, _ = request(server, "/", headers={"Host": "evil.example:80"})
    assert response.status == 403


def test_the_recording_is_served_in_byte_ranges(server):
    whole = (RULE_CALLS / "angry_promise.wav").read_bytes()
    response, data = request(server, "/audio/angry_promise", headers={"Range": "bytes=1000-1999"})
    assert response.status == 206
    assert response.getheader("Content-Range") == f"bytes 1000-1999/{len(whole)}"
    assert data == whole[1000:2000]
    response, data = request(server, "/audio/angry_promise")
    assert response.status == 200 and data == whole


def test_a_verdict_for_an_event_the_report_lacks_is_refused(server, batch_out):
    body = json.dumps({"index": 99, "verdict": "false_alarm"}).encode()
    response, _ = request(server, "/api/verdict/angry_promise", "POST", {"Content-Type": "application/json"}, body)
    assert response.status == 400
    response, _ = request(
        server, "/api/verdict/angry_promise", "POST", {"Origin": "http://evil.example"}, json.dumps({"index": 0}).encode()
    )
    assert response.status == 403
    assert not (batch_out / "calls" / "angry_promise.labels.json").exists()


def test_review_refuses_recordings_that_are_not_a_folder(batch_out, tmp_path):
    missing = tmp_path / "no-such-folder"
    result = subprocess.run(
        [sys.executable, "-m", "callassist", "review", str(batch_out), "--recordings", str(missing), "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"callassist: error: --recordings {missing}: is not a folder; give a folder that was given to the batch"
    )


def test_review_refuses_a_folder_that_is_not_a_batch_output(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "callassist", "review", str(tmp_path), "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"callassist: error: {tmp_path}: has no calls/ folder: give the --out folder of a `callassist batch` run"
    )


def test_the_summary_lists_fatal_calls_first_with_filters_and_follow_ups(batch_out):
    page = (batch_out / "summary.html").read_text(encoding="utf-8")
    rows = re.findall(r'<tr data-agent="[^"]*" data-ids="([^"]*)" data-fatal="([01])">.*?<a href="([^"]+)"', page)
    assert [(href, fatal) for _, fatal, href in rows] == [
        ("calls/fatal_callback.html", "1"), ("calls/angry_promise.html", "0"),
    ]  # fatal first although its score (85) is higher than the other's (80)
    assert " not_my_job " in rows[0][0] and " details_before_identity " in rows[1][0]
    assert '<select name="rule">' in page and '<input type="checkbox" name="fatal">' in page
    follow_ups = page.split("<h3>规则要求的回访</h3>")[1].split("</table>")[0]
    assert "fatal_callback" in follow_ups and "承诺回电：72 小时内需回访" in follow_ups


def eval_row(out: Path, event_id: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "callassist", "eval", str(out / "calls"), "--scripts", str(EXAMPLE)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return next(line.split() for line in result.stdout.splitlines() if line.startswith(event_id + " "))


def test_the_page_in_a_browser_plays_seeks_and_saves_a_false_alarm_that_eval_counts(server, batch_out):
    from cdp import Browser, find_browser

    executable = find_browser()
    if executable is None:
        pytest.skip("no Chromium on PATH (Debian: apt-get install chromium)")
    base = f"http://127.0.0.1:{server.server_address[1]}"
    report = json.loads((batch_out / "calls" / "fatal_callback.json").read_text(encoding="utf-8"))
    silence = next(i for i, e in enumerate(report["events"]) if e["id"] == "long_silence")
    labels = batch_out / "calls" / "fatal_callback.labels.json"

    # Before: the QA lead confirmed the long silence (precision 100%).
    body = json.dumps({"index": silence, "id": "long_silence", "verdict": "confirmed", "note": ""}).encode()
    response, _ = request(server, "/api/verdict/fatal_callback", "POST", {"Content-Type": "application/json"}, body)
    assert response.status == 200
    assert eval_row(batch_out, "long_silence")[1:5] == ["1", "0", "0", "100%"]

    browser = Browser(executable)
    try:
        browser.open(base + "/")
        browser.evaluate("document.querySelector('a[href=\"/review/fatal_callback\"]').click()")
        browser.wait_for("document.body && document.body.dataset.ready === '1'")
        assert browser.evaluate("location.pathname") == "/review/fatal_callback"
        # play
        browser.evaluate("document.getElementById('audio').play()")
        browser.wait_for("document.getElementById('audio').currentTime > 0.3")
        assert browser.evaluate("document.getElementById('audio').paused") is False
        # seek by clicking the event: the audio jumps to its evidence, the playhead follows
        before = float(browser.evaluate("document.getElementById('playhead').getAttribute('x1')"))
        browser.evaluate(f"document.querySelector('#events tr[data-index=\"{silence}\"] td').click()")
        start = report["events"][silence]["start"]
        browser.wait_for(f"Math.abs(document.getElementById('audio').currentTime - {start}) < 0.6")
        browser.wait_for(f"parseFloat(document.getElementById('playhead').getAttribute('x1')) > {before + 500}")
        # a transcript line seeks too
        browser.evaluate("document.querySelectorAll('#transcript tbody tr')[3].click()")
        line_start = report["utterances"][3]["start"]
        browser.wait_for(f"Math.abs(document.getElementById('audio').currentTime - {line_start}) < 0.6")
        # mark the silence a false alarm, with a note
        browser.evaluate(
            f"(() => {{ const row = document.querySelector('#events tr[data-index=\"{silence}\"]');"
            " row.querySelector('input.note').value = '在查资料，已告知客户';"
            " row.querySelector('button.false_alarm').click(); })()"
        )
        browser.wait_for(f"document.querySelector('#events tr[data-index=\"{silence}\"]').classList.contains('false_alarm')")
        # the static summary's filter: fatal calls only
        browser.open(base + "/summary.html")
        browser.evaluate("document.querySelector('#calls-filter input[name=fatal]').click()")
        shown = "[...document.querySelectorAll('table.calls tbody tr')].filter(r => !r.hidden).map(r => r.dataset.fatal)"
        assert browser.evaluate(shown) == ["1"]
    finally:
        browser.close()

    saved = json.loads(labels.read_text(encoding="utf-8"))
    assert [(v["id"], v["verdict"], v["note"]) for v in saved["review"]] == [("long_silence", "false_alarm", "在查资料，已告知客户")]
    assert "long_silence" not in [label["id"] for label in saved["expect"]]
    assert not list(labels.parent.glob(".*.tmp"))  # written atomically: no leftovers
    # After: the next eval run counts it as a false alarm.
    assert eval_row(batch_out, "long_silence")[1:5] == ["0", "0", "1", "0%"]


def test_a_masked_batchs_labels_name_its_files_masked_and_relative_and_eval_still_finds_them(tmp_path):
    """With --mask, what the review page writes leaks no number and no absolute path: not the
    recording's name (a caller's number), not a link's target, not a note's number; and eval
    still finds each call's recording and transcript from the labels file alone."""
    from callassist.evaluation import labelled_calls
    from test_masking_outputs import leaks

    phone, linked_phone = "13912345678", "13987654321"
    calls, elsewhere, out = tmp_path / "calls", tmp_path / "elsewhere", tmp_path / "out"
    (calls / f"客户{phone}").mkdir(parents=True)
    elsewhere.mkdir()
    named = calls / f"客户{phone}" / f"来电{phone}"
    for suffix in (".wav", ".jsonl"):
        shutil.copy(RULE_CALLS / f"angry_promise{suffix}", named.with_suffix(suffix))
    shutil.copy(RULE_CALLS / "fatal_callback.wav", elsewhere / f"{linked_phone}.wav")
    (calls / "转接.wav").symlink_to(elsewhere / f"{linked_phone}.wav")
    shutil.copy(RULE_CALLS / "fatal_callback.jsonl", calls / "转接.jsonl")
    result = run_batch([calls], BatchOptions(out=out, workers=1, asr="none", mask=True, scripts=(EXAMPLE,)),
                       stream=open(tmp_path / "progress.txt", "w"))
    assert not result.failures
    names = sorted(p.relative_to(out / "calls").as_posix().removesuffix(".json")
                   for p in (out / "calls").rglob("*.json"))
    assert names == ["客户*******5678/来电*******5678", "转接"]
    expected_audio = {names[0]: named.with_suffix(".wav"), names[1]: elsewhere / f"{linked_phone}.wav"}
    expected_transcript = {names[0]: named.with_suffix(".jsonl"), names[1]: calls / "转接.jsonl"}
    # The reports name the files relative to the folder given (the link by its own name):
    # the server is told that folder.
    reports = {name: json.loads((out / "calls" / f"{name}.json").read_text(encoding="utf-8")) for name in names}
    assert [(r["call"]["audio"], r["call"]["transcript"]) for r in reports.values()] == [
        ("客户*******5678/来电*******5678.wav", "客户*******5678/来电*******5678.jsonl"), ("转接.wav", "转接.jsonl"),
    ]
    from callassist.review.server import ReviewSite

    assert [ReviewSite(out).source(report, "audio") for report in reports.values()] == [None, None]  # not told: not found
    assert ReviewSite(out).recordings_unfound() and not ReviewSite(out, [calls]).recordings_unfound()

    server = make_server(out, 0, [calls])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for name in names:
            from urllib.parse import quote

            response, data = request(server, f"/audio/{quote(name)}")
            assert response.status == 200 and data == expected_audio[name].read_bytes()
            body = json.dumps({"index": 0, "verdict": "confirmed", "note": f"客户说号码是{phone}"}, ensure_ascii=False)
            response, _ = request(server, f"/api/verdict/{quote(name)}", "POST", {"Content-Type": "application/json"}, body.encode())
            assert response.status == 200
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    for name in names:
        labels = out / "calls" / f"{name}.labels.json"
        text = labels.read_text(encoding="utf-8")
        assert not leaks(text, [phone, linked_phone]), leaks(text, [phone, linked_phone])
        assert str(tmp_path) not in text and "elsewhere" not in text
        saved = json.loads(text)
        assert [v["note"] for v in saved["review"]] == ["客户说号码是*******5678"]
        assert not Path(saved["audio"]).is_absolute() and not Path(saved["transcript"]).is_absolute()
    found = {labels.relative_to(out / "calls").as_posix().removesuffix(".labels.json"): (audio, transcript)
             for labels, audio, transcript in labelled_calls(out / "calls")}
    assert set(found) == set(names)
    for name, (audio, transcript) in found.items():
        assert audio.samefile(expected_audio[name]) and transcript.samefile(expected_transcript[name])
