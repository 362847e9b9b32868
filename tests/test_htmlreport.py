"""The HTML pages: a call's report page (timeline, transcript with forbidden phrases marked,
events, checklist, talk) and the batch summary and CSV. Structure is checked with the stdlib
HTML parser; one test renders the pages in Chromium when it is installed."""

from __future__ import annotations

import csv
import json
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from callassist.reporting.html import (
    CSV_COLUMNS,
    CallRow,
    FailedCall,
    batch_summary_html,
    call_report_html,
    phrase_span,
    write_batch_csv,
)
from callassist.replay import ReplayRequest, replay
from callassist.reporting.report import CallReport

TESTS = Path(__file__).parent
CALLS = TESTS / "data" / "calls"
AUDIO_CALLS = TESTS / "fixtures" / "calls"
SAMPLES = TESTS.parent / "callassist" / "samples"
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    classes: list[str]
    ancestors: list[str]  # ids and tags of the enclosing elements, outermost first
    text: str = ""


class ParsedPage(HTMLParser):
    """Every element with its attributes, enclosing ids and text; nesting errors are recorded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.errors: list[str] = []
        self.open: list[Element] = []

    def handle_starttag(self, tag, attrs):
        values = {k: v or "" for k, v in attrs}
        ancestors = [e.attrs.get("id") or e.tag for e in self.open]
        element = Element(tag, values, values.get("class", "").split(), ancestors)
        self.elements.append(element)
        if tag not in VOID_TAGS:
            self.open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.open.pop()

    def handle_endtag(self, tag):
        if not self.open or self.open[-1].tag != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1].tag if self.open else 'nothing'}")
            return
        self.open.pop()

    def handle_data(self, data):
        for element in self.open:
            element.text += data

    def find(self, tag: str, cls: str | None = None, inside: str | None = None) -> list[Element]:
        return [
            e for e in self.elements
            if e.tag == tag and (cls is None or cls in e.classes) and (inside is None or inside in e.ancestors)
        ]

    def section(self, section_id: str) -> Element | None:
        return next((e for e in self.elements if e.attrs.get("id") == section_id), None)


def parse(page: str) -> ParsedPage:
    parsed = ParsedPage()
    parsed.feed(page)
    parsed.close()
    assert parsed.errors == [] and [e.tag for e in parsed.open] == [], "page is well-formed"
    return parsed


def transcript_report(name: str, settings, pack) -> CallReport:
    return replay(ReplayRequest(transcript=CALLS / f"{name}.jsonl"), settings, pack)


@pytest.fixture(scope="module")
def sample_report(settings, pack) -> CallReport:
    request = ReplayRequest(audio=SAMPLES / "sample_call.wav", transcript=SAMPLES / "sample_call.jsonl")
    return replay(request, settings, pack)


# ---------------------------------------------------------------- a call's page


@pytest.mark.parametrize("source", ["sample", "long_hold", "audio_only"])
def test_call_page_is_well_formed_and_self_contained(source, sample_report, settings, pack):
    report = {
        "sample": lambda: sample_report,
        "long_hold": lambda: transcript_report("long_hold", settings, pack),
        "audio_only": lambda: replay(ReplayRequest(audio=AUDIO_CALLS / "crosstalk.wav"), settings, pack),
    }[source]()
    page = parse(call_report_html(report))
    html_tag = page.find("html")[0]
    assert html_tag.attrs["lang"] == "zh-CN"
    assert page.find("script") == [] and page.find("link") == [] and page.find("img") == []
    assert not [e for e in page.elements if "src" in e.attrs]
    assert not [e for e in page.elements if e.attrs.get("href", "").startswith(("http:", "https:", "//"))]
    assert len(page.find("svg", "timeline")) == 1


def test_timeline_has_a_marker_per_event_coloured_by_kind(sample_report):
    page = parse(call_report_html(sample_report))
    markers = page.find("g", "event", inside="timeline")
    assert [m.classes[1] for m in markers] == [e.kind for e in sorted(sample_report.events, key=lambda e: e.t)]
    tooltips = [m.text for m in markers]
    forbidden = next(e for e in sample_report.events if e.id == "forbidden_phrase")
    assert any("违规 禁用语" in t and forbidden.heard in t for t in tooltips)  # labelled, not forbidden_phrase
    speech = page.find("rect", "speech", inside="timeline")
    assert len(speech) == len(sample_report.utterances)
    assert len(page.find("tr", "utterance")) == len(sample_report.utterances)
    assert len(page.find("tr", "event-row", inside="transcript")) == len(sample_report.events)
    assert len(page.find("tr", "event-row", inside="events")) == len(sample_report.events)


def test_forbidden_phrases_are_marked_in_the_transcript(settings, pack):
    report = transcript_report("forbidden_agent", settings, pack)
    heard = [e.heard for e in report.events if e.id == "forbidden_phrase"]
    assert len(heard) == 4
    marks = [m.text for m in parse(call_report_html(report)).find("mark", "forbidden", inside="transcript")]
    assert [m.replace(" ", "") for m in marks] == [h.replace(" ", "") for h in heard]


@pytest.mark.parametrize(
    "text, heard, marked",
    [
        ("这个 不 归 我 管", "不 归 我 管", "不 归 我 管"),  # exact
        ("你别激动啊", "你别 激动", "你别激动"),  # heard has spaces the text has not
        ("这个 不 归 我 管", "不归我管", "不 归 我 管"),  # the text has spaces heard has not
        ("为，说话呀", "为说话", "为，说话"),  # punctuation in between
        ("您好", "我不知道", None),
    ],
)
def test_phrase_span_finds_heard_text_despite_spacing(text, heard, marked):
    span = phrase_span(text, heard)
    assert (text[span[0] : span[1]] if span else None) == marked


def test_holds_are_a_band_on_the_timeline(settings, pack):
    report = transcript_report("long_hold", settings, pack)
    page = parse(call_report_html(report))
    bands = page.find("rect", "hold", inside="timeline")
    assert len(bands) == len(report.checklist.hold.holds) == 2
    assert len(page.find("tr", inside="checklist")) >= 2 + 3  # the checklist rows and a row per hold


def test_overlapping_speech_is_marked(settings, pack):
    page = parse(call_report_html(transcript_report("crosstalk", settings, pack)))
    assert page.find("rect", "overlap", inside="timeline")
    assert not parse(call_report_html(transcript_report("normal", settings, pack))).find("rect", "overlap")


def test_call_without_text_says_the_timeline_shows_events_only(settings, pack):
    report = replay(ReplayRequest(audio=AUDIO_CALLS / "dead_air.wav"), settings, pack)
    assert report.utterances == () and report.events
    page = parse(call_report_html(report))
    assert page.find("rect", "speech") == []
    assert len(page.find("g", "event", inside="timeline")) == len(report.events)
    assert "没有逐句文字" in page.section("timeline").text


def test_transcript_text_is_escaped(tmp_path, settings, pack):
    transcript = tmp_path / "evil.jsonl"
    lines = [
        {"speaker": "agent", "start": 0.5, "end": 3.0, "text": "您好<script>alert('x')</script>"},
        {"speaker": "caller", "start": 4.0, "end": 5.0, "text": 'a & b "<b>粗</b>"'},
    ]
    transcript.write_text("\n".join(json.dumps(u, ensure_ascii=False) for u in lines), encoding="utf-8")
    report = replay(ReplayRequest(transcript=transcript), settings, pack)
    html_text = call_report_html(report, title="<i>标题</i>")
    page = parse(html_text)
    assert page.find("script") == [] and page.find("b", inside="transcript") == [] and page.find("i") == []
    texts = [row.text for row in page.find("td", "text", inside="transcript")]
    assert "您好<script>alert('x')</script>" in texts and 'a & b "<b>粗</b>"' in texts
    assert "&lt;script&gt;" in html_text and page.find("h1")[0].text == "<i>标题</i>"


def test_header_shows_score_deductions_source_and_agent(sample_report):
    report = sample_report.with_source(agent="工号 302")
    header = parse(call_report_html(report)).find("header")[0]
    assert str(report.score.value) in header.text and "工号 302" in header.text
    titles = {"forbidden_phrase": "禁用语", "agent_dead_air": "坐席冷场", "missing_closing": "未按规范结束通话",
              "missing_greeting": "未按规范问候", "crosstalk": "打断来电人", "fast_speech": "语速过快"}
    assert report.score.deductions
    assert all(titles[d.event_id] in header.text for d in report.score.deductions)
    assert not any(d.event_id in header.text for d in report.score.deductions)  # ids stay in the JSON
    assert "transcript" in header.text


# ---------------------------------------------------------------- the batch summary and CSV


@pytest.fixture(scope="module")
def batch_reports(settings, pack) -> dict[str, CallReport]:
    names = ["forbidden_agent", "normal", "angry_dialect_hints", "long_hold", "dead_air", "silent"]
    return {name: transcript_report(name, settings, pack) for name in names}


def rows_of(reports: dict[str, CallReport], agents: dict[str, str] | None = None, started: datetime | None = None) -> list[CallRow]:
    return [
        CallRow.from_report(report, name, f"calls/{name}.html", (agents or {}).get(name), started)
        for name, report in reports.items()
    ]


FAILURE = FailedCall("broken", "in/broken.wav", "InputFileError: not a WAV file")


def test_summary_lists_calls_worst_first_with_links(batch_reports):
    rows = rows_of(batch_reports)
    page = parse(batch_summary_html(rows, [FAILURE], "2024-05-07 08:00"))
    links = [a.attrs["href"] for a in page.find("a", inside="worst")]
    by_score = sorted(rows, key=lambda r: (r.score, r.name))
    assert links == [r.html_path for r in by_score]
    assert by_score[0].name == "forbidden_agent"
    totals = page.find("header")[0].text
    assert str(len(rows)) in totals and "2024-05-07 08:00" in totals
    counts = page.section("event-counts")
    assert counts is not None and "forbidden_phrase" in counts.text
    assert len(page.find("rect", "count", inside="event-counts")) == len({k for r in rows for k in r.counts})


def test_agent_scorecards_only_when_agents_are_known(batch_reports):
    anonymous = parse(batch_summary_html(rows_of(batch_reports), [], "now"))
    assert anonymous.section("agents") is None
    agents = {"forbidden_agent": "张伟", "normal": "张伟", "long_hold": "李娜"}
    page = parse(batch_summary_html(rows_of(batch_reports, agents), [], "now"))
    cards = page.find("div", "card", inside="agents")
    assert [c.text.split("通话")[0] for c in cards] == ["张伟", "李娜"]  # lowest mean score first
    assert "forbidden_agent" in cards[0].text and "禁用语×4" in cards[0].text


def test_complaints_are_due_72_hours_after_the_call(batch_reports):
    started = datetime(2024, 5, 6, 9, 30)
    rows = rows_of(batch_reports, started=started)
    complaint = next(r for r in rows if r.complaint)
    assert complaint.name == "angry_dialect_hints" and [r.name for r in rows if r.complaint] == [complaint.name]
    assert complaint.started == "2024-05-06T09:30:00" and complaint.follow_up_due == "2024-05-09T09:30:00"
    page = parse(batch_summary_html(rows, [], "now"))
    due = page.find("time", inside="complaints")
    assert [t.attrs["datetime"] for t in due] == ["2024-05-06T09:30:00", "2024-05-09T09:30:00"]

    unknown_start = rows_of({"angry_dialect_hints": batch_reports["angry_dialect_hints"]})
    assert unknown_start[0].follow_up_due is None
    page = parse(batch_summary_html(unknown_start, [], "now"))
    assert "72 h after the call" in page.section("complaints").text


def test_failures_are_listed_with_their_error(batch_reports):
    page = parse(batch_summary_html(rows_of(batch_reports), [FAILURE], "now"))
    failures = page.section("failures")
    assert "broken" in failures.text and "in/broken.wav" in failures.text and FAILURE.error in failures.text
    assert "1" in page.find("header")[0].text


def test_batch_csv_has_bom_columns_and_counts(tmp_path, batch_reports):
    rows = rows_of(batch_reports, agents={"normal": "张伟"}, started=datetime(2024, 5, 6, 9, 30))
    event_ids = ["forbidden_phrase", "angry_caller", "hold_too_long"]
    out = tmp_path / "batch.csv"
    write_batch_csv(out, rows, event_ids)
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    with out.open(encoding="utf-8-sig", newline="") as f:
        records = list(csv.DictReader(f))
    assert list(records[0]) == [*CSV_COLUMNS, "count_forbidden_phrase", "count_angry_caller", "count_hold_too_long"]
    by_call = {r["call"]: r for r in records}
    assert by_call["forbidden_agent"]["count_forbidden_phrase"] == "4"
    assert by_call["normal"]["agent"] == "张伟" and by_call["normal"]["score"] == "100"
    assert by_call["angry_dialect_hints"]["complaint"] == "yes"
    assert by_call["angry_dialect_hints"]["follow_up_due"] == "2024-05-09T09:30:00"
    assert by_call["long_hold"]["count_hold_too_long"] == "1" and by_call["long_hold"]["follow_up_due"] == ""


# ---------------------------------------------------------------- in a real browser


def png_rgb(data: bytes) -> np.ndarray:
    """Pixels (height, width, channels) of an 8-bit, non-interlaced RGB or RGBA PNG: what
    Chromium writes. Enough of PNG to check a screenshot without an imaging library."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        header = struct.unpack(">IIBBBBB", body) if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    rows, previous = [], bytearray(stride)
    for y in range(height):
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        unfilter(raw[y * (stride + 1)], line, previous, channels)
        rows.append(line)
        previous = line
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(height, width, channels)


def unfilter(kind: int, line: bytearray, previous: bytearray, step: int) -> None:
    """Undo a PNG row filter in place (0 none, 1 sub, 2 up, 3 average, 4 Paeth)."""
    if kind == 0:
        return
    if kind == 2:  # the commonest: one vector add (uint8 wraps like the filter does)
        line[:] = (np.frombuffer(line, np.uint8) + np.frombuffer(previous, np.uint8)).tobytes()
        return
    for i in range(len(line)):
        left = line[i - step] if i >= step else 0
        up, up_left = previous[i], previous[i - step] if i >= step else 0
        if kind == 1:
            line[i] = (line[i] + left) & 255
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 255
        else:
            p = left + up - up_left
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
            line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else up_left)) & 255


def screenshot(page: Path, png: Path, profile: Path) -> np.ndarray:
    command = [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1280,1200", page.as_uri(),
    ]
    subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert png.exists(), "chromium wrote the screenshot"
    return png_rgb(png.read_bytes())


def distinct_colours(pixels: np.ndarray) -> int:
    rgb = pixels[:, :, :3].astype(np.uint32)
    return len(np.unique(rgb[:, :, 0] << 16 | rgb[:, :, 1] << 8 | rgb[:, :, 2]))


def has_colour(pixels: np.ndarray, hex_colour: str) -> bool:
    rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    return bool(np.all(pixels[:, :, :3] == rgb, axis=2).any())


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_pages_render_in_chromium(tmp_path, sample_report, batch_reports):
    call_page = tmp_path / "call.html"
    call_page.write_text(call_report_html(sample_report), encoding="utf-8")
    pixels = screenshot(call_page, tmp_path / "call.png", tmp_path / "profile")
    assert distinct_colours(pixels) > 50, "text and the timeline are drawn, not a blank page"
    assert has_colour(pixels, "#0f9488") and has_colour(pixels, "#7c3aed"), "agent and caller speech on the timeline"

    summary = tmp_path / "index.html"
    summary.write_text(batch_summary_html(rows_of(batch_reports), [FAILURE], "now"), encoding="utf-8")
    pixels = screenshot(summary, tmp_path / "summary.png", tmp_path / "profile")
    assert distinct_colours(pixels) > 50
