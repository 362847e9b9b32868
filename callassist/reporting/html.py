"""HTML pages for QA staff: one call's report and a batch summary, plus the batch CSV.

Every page is self-contained: inline CSS and inline SVG, no fonts or images to fetch, so a
team lead can open it from a shared folder with no network; the only script is the batch
summary's inline filter (by agent, rule, fatal). All report text (transcripts, paths, notes) is
user data and is escaped.
"""

from __future__ import annotations

import csv
import html
import io
from bisect import bisect_left, bisect_right
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from statistics import mean
from string import Template
from typing import Any
from urllib.parse import quote

from callassist.atomic import write_text_atomically
from callassist.events import Event
from callassist.inputs import Utterance
from callassist.labels import standard_labels
from callassist.reporting.report import (
    CallReport,
    CallSource,
    Checklist,
    ClosingCheck,
    HoldRecord,
    Score,
    TalkFigures,
    UtteranceRecord,
)

SPEAKER_LABELS = {"agent": "坐席", "caller": "客户"}
KIND_LABELS = {"violation": "违规", "situation": "情况", "hint": "提示"}
TEXT_FROM_LABELS = {"transcript": "文字稿", "none": "无文字"}
CLOSING_LABELS = {"closing_offer": "还有什么可以帮助您", "closing_thanks": "感谢来电，再见"}
FOLLOW_UP = timedelta(hours=72)
FOLLOW_UP_UNKNOWN = "通话后 72 小时内（72 h after the call）"
TOO_LONG_MARK = '<span class="bad">超时</span>'
COMPLAINT_MARK = '<span class="bad">投诉</span>'
NO_SPEECH_MARK = ' <span class="badge violation" title="两个声道都没有人讲话">无语音</span>'
FATAL_MARK = ' <span class="bad fatal-mark">致命项·不合格</span>'
VIOLATION_MARK = ' <span class="bad">违规</span>'
NOT_SAID = '<span class="bad">未说</span>'
NO_UTTERANCES_NOTE = "本通话没有逐句文字，讲话区间无法画出：时间轴只显示事件（含证据区间）和保持。"
NO_TEXT_NOTE = "本通话没有文字（未提供文字稿，也未做语音识别）。事件见下表。"
HIGHLIGHT_MARGIN = 0.5  # a forbidden phrase's event time may lie this far outside its utterance

CSS = """
:root {
  --agent: #0f9488; --caller: #7c3aed;
  --violation: #dc2626; --situation: #ea580c; --hint: #2563eb;
  --hold: #64748b; --overlap: #eab308; --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb;
}
* { box-sizing: border-box; }
body {
  margin: 0; color: var(--ink); background: #f8fafc; line-height: 1.6; font-size: 15px;
  font-family: "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC",
    "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", system-ui,
    -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
main { max-width: 1200px; margin: 0 auto; padding: 24px; }
section, header.page { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 20px; margin-bottom: 20px; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 0 0 12px; border-left: 4px solid var(--ink); padding-left: 8px; }
h3 { font-size: 16px; margin: 16px 0 6px; }
.card h3 { margin-top: 0; }
table.checklist { width: auto; min-width: 60%; }
a { color: var(--hint); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.time { font-variant-numeric: tabular-nums; white-space: nowrap; color: var(--muted); }
.muted, .note { color: var(--muted); }
.note { background: #fffbeb; border-left: 4px solid var(--overlap); padding: 6px 10px; }
header.page { display: flex; gap: 24px; justify-content: space-between; flex-wrap: wrap; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table + dl.facts { margin-top: 12px; }
.score-box { min-width: 220px; text-align: right; }
.score { font-size: 56px; font-weight: 700; line-height: 1; }
.score small { font-size: 20px; color: var(--muted); font-weight: 400; }
.score.good { color: #15803d; } .score.fair { color: #b45309; } .score.poor { color: var(--violation); }
ul.deductions { list-style: none; padding: 0; margin: 8px 0 0; }
.score-box p.fatal { color: var(--violation); margin: 4px 0 0; }
form.filter { margin: 0 0 8px; } form.filter label { margin-right: 12px; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 13px;
  color: #fff; white-space: nowrap; }
.badge.agent { background: var(--agent); } .badge.caller { background: var(--caller); }
.badge.violation { background: var(--violation); } .badge.situation { background: var(--situation); }
.badge.hint { background: var(--hint); }
tr.utterance.agent td.text { border-left: 4px solid var(--agent); }
tr.utterance.caller td { background: #faf5ff; }
tr.utterance.caller td.text { border-left: 4px solid var(--caller); }
tr.event-row td { font-size: 13px; background: #f9fafb; }
tr.event-row.violation td.text { border-left: 4px solid var(--violation); }
tr.event-row.situation td.text { border-left: 4px solid var(--situation); }
tr.event-row.hint td.text { border-left: 4px solid var(--hint); }
mark.forbidden { background: #fecaca; color: #7f1d1d; border-bottom: 2px solid var(--violation);
  padding: 0 2px; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; }
.say { color: #065f46; } .say::before { content: "应说："; color: var(--muted); }
.heard::before { content: "听到："; color: var(--muted); }
.detail::before { content: "说明："; color: var(--muted); }
.advice::before { content: "指导："; }
.advice { color: var(--muted); font-size: 13px; }
.ok { color: #15803d; font-weight: 600; } .bad { color: var(--violation); font-weight: 600; }
.timeline-wrap { overflow-x: auto; }
svg.timeline { width: 100%; height: auto; display: block; }
svg text { font-size: 12px; fill: var(--muted); }
svg .lane { fill: #f1f5f9; }
svg .lane-label { fill: var(--ink); font-size: 13px; }
svg .speech.agent { fill: var(--agent); } svg .speech.caller { fill: var(--caller); }
svg .hold { fill: var(--hold); fill-opacity: 0.28; }
svg .hold-label { fill: var(--hold); }
svg .overlap { fill: var(--overlap); stroke: #a16207; stroke-width: 1; }
svg .axis line { stroke: #9ca3af; }
svg .event line { stroke-width: 1.2; stroke-dasharray: 3 2; }
svg .event circle { stroke: #fff; stroke-width: 1.5; }
svg .event.violation line, svg .event.violation .evidence { stroke: var(--violation); fill: var(--violation); }
svg .event.situation line, svg .event.situation .evidence { stroke: var(--situation); fill: var(--situation); }
svg .event.hint line, svg .event.hint .evidence { stroke: var(--hint); fill: var(--hint); }
svg .event.violation circle { fill: var(--violation); }
svg .event.situation circle { fill: var(--situation); }
svg .event.hint circle { fill: var(--hint); }
svg .event .evidence { fill-opacity: 0.35; stroke: none; }
ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 6px 18px; padding: 0; margin: 8px 0 0;
  font-size: 13px; }
.swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; vertical-align: -2px;
  margin-right: 4px; }
.swatch.round { border-radius: 50%; }
.swatch.agent { background: var(--agent); } .swatch.caller { background: var(--caller); }
.swatch.hold { background: var(--hold); opacity: 0.4; } .swatch.overlap { background: var(--overlap); }
.swatch.violation { background: var(--violation); } .swatch.situation { background: var(--situation); }
.swatch.hint { background: var(--hint); }
.bar { display: inline-block; width: 120px; height: 10px; background: var(--line); border-radius: 5px;
  vertical-align: middle; margin-right: 6px; overflow: hidden; }
.bar span { display: block; height: 100%; }
.share { white-space: nowrap; }
.bar.agent span { background: var(--agent); } .bar.caller span { background: var(--caller); }
.totals { display: flex; gap: 16px; flex-wrap: wrap; margin-top: 8px; }
.total { background: #f1f5f9; border-radius: 8px; padding: 8px 16px; min-width: 140px; }
.total b { display: block; font-size: 28px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
svg.bars { width: 100%; max-width: 640px; height: auto; display: block; margin-bottom: 12px; }
svg.bars rect.count { fill: var(--situation); } svg.bars rect.count.violation { fill: var(--violation); }
svg.bars text.label { fill: var(--ink); }
@media print { body { background: #fff; } section, header.page { break-inside: avoid; border: none; } }
"""

PAGE = Template(
    """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>$css</style>
</head>
<body>
<main>
$body
</main>
</body>
</html>
"""
)


# ---------------------------------------------------------------- formatting


def event_name(event_id: str, title: str | None = None) -> str:
    """An event id as people read it (its Chinese title, or a pack rule's own `title`); the id
    itself stays in the tooltip."""
    shown = standard_labels().event(event_id, title)
    return f'<span class="event-name" title="{esc(event_id)}">{esc(shown)}</span>'


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def clock(seconds: float) -> str:
    """Call time as m:ss.s (one decimal: the reports are rounded to 0.01 s)."""
    minutes, rest = divmod(round(seconds, 1), 60)
    return f"{int(minutes)}:{rest:04.1f}"


def time_or(t: float | None, missing: str = "—") -> str:
    """A call time, or `missing` (HTML) when there is none."""
    return f'<span class="time">{clock(t)}</span>' if t is not None else missing


def span_clock(start: float, end: float) -> str:
    return f"{clock(start)}–{clock(end)}"


def seconds_text(seconds: float) -> str:
    return f"{seconds:.1f} 秒"


def percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def db_text(value: float | None, unit: str) -> str:
    return "—" if value is None else f"{value:.1f} {unit}"


def local_time(iso: str) -> str:
    """`<time>` element: machine-readable ISO in the attribute, minutes precision shown."""
    shown = iso.replace("T", " ")[:16]
    return f'<time datetime="{esc(iso)}">{esc(shown)}</time>'


def page(title: str, body: str) -> str:
    return PAGE.substitute(title=esc(title), css=CSS, body=body)


def section(section_id: str, heading: str, body: str) -> str:
    return f'<section id="{section_id}">\n<h2>{esc(heading)}</h2>\n{body}\n</section>'


def table(headers: Sequence[str], rows: Iterable[str], css_class: str = "", numeric: Sequence[int] = ()) -> str:
    """A table; the headers at the `numeric` column indexes are right-aligned like their numbers."""
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>" for i, h in enumerate(headers)
    )
    body = "\n".join(rows)
    return f'<table class="{css_class}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>'


def speaker_badge(speaker: str | None) -> str:
    if speaker is None:
        return '<span class="muted">—</span>'
    return f'<span class="badge {esc(speaker)}">{esc(SPEAKER_LABELS.get(speaker, speaker))}</span>'


def kind_badge(kind: str) -> str:
    return f'<span class="badge {esc(kind)}">{esc(KIND_LABELS.get(kind, kind))}</span>'


def verdict(ok: bool | None, unjudged: str = "未判定（无文字）") -> str:
    if ok is None:
        return f'<span class="muted">{esc(unjudged)}</span>'
    return '<span class="ok">✓ 合格</span>' if ok else '<span class="bad">✗ 不合格</span>'


def share_bar(speaker: str, share: float) -> str:
    width = max(0.0, min(share, 1.0)) * 100
    bar = f'<span class="bar {esc(speaker)}"><span style="width:{width:.1f}%"></span></span>'
    return f'<span class="share">{bar}{percent(share)}</span>'


# ---------------------------------------------------------------- one call: header


def call_name(source: CallSource) -> str:
    return Path(source.audio or source.transcript or "call").stem


def text_from_label(text_from: str) -> str:
    if text_from.startswith("vosk:"):
        return f"语音识别（{text_from}）"
    return f"{TEXT_FROM_LABELS.get(text_from, text_from)}（{text_from}）"


def call_facts(call: CallSource) -> str:
    facts = [
        ("音频", call.audio or "—"),
        ("文字稿", call.transcript or "—"),
        ("时长", f"{clock(call.duration)}（{call.duration:.1f} 秒）"),
        ("文字来源", text_from_label(call.text_from)),
        ("语音活动来源", call.activity_from),
    ]
    if call.started:
        facts.insert(2, ("日期", str(call.started).replace("T", " ")))
    if call.agent:
        facts.insert(0, ("坐席", call.agent))
    return '<dl class="facts">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts) + "</dl>"


def score_class(value: int, start: int) -> str:
    ratio = value / start if start else 0
    return "good" if ratio >= 0.9 else "fair" if ratio >= 0.75 else "poor"


def score_box(score: Score) -> str:
    items = [
        f'<li><b>−{d.points}</b> {event_name(d.event_id)} <span class="time">{clock(d.t)}</span></li>'
        for d in score.deductions
    ] or ['<li class="muted">无扣分</li>']
    fatal = "".join(
        f'<p class="fatal">致命项：{esc(f.title)} <span class="time">{clock(f.t)}</span></p>'
        for f in score.fatal
    )
    verdict = '<p class="fatal"><b>本通话不合格</b>（致命项，不论得分）</p>' if fatal else ""
    return (
        f'<div class="score-box"><div class="score {score_class(score.value, score.start)}">'
        f'{score.value}<small>/{score.start}</small></div>{verdict}{fatal}'
        f'<ul class="deductions">{"".join(items)}</ul></div>'
    )


def header_section(report: CallReport, title: str) -> str:
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in report.source.notes)
    return (
        f'<header class="page"><div><h1>{esc(title)}</h1>{call_facts(report.source)}{notes}'
        f'<p class="muted">{esc(report.generator)} · {esc(report.schema)}</p></div>'
        f"{score_box(report.score)}</header>"
    )


# ---------------------------------------------------------------- one call: timeline picture

SVG_WIDTH = 1000  # a short call's timeline: scaled to the page width
LANE_X0 = 56  # left of the lanes: room for the lane labels
LANE_RIGHT_MARGIN = 16
MARKER_ROWS = (42, 30, 18)  # y of event markers; close events stack upwards
LANE_Y = {"agent": 54, "caller": 94}
LANE_HEIGHT = 34
LANES_BOTTOM = LANE_Y["caller"] + LANE_HEIGHT
AXIS_Y = LANES_BOTTOM + 8
SVG_HEIGHT = AXIS_Y + 24
MARKER_GAP = 10  # markers closer than this (in SVG units) go to the next row
PIXELS_PER_SECOND = 2.0  # a long call's timeline is this wide, unscaled, and scrolls sideways ...
MAX_SVG_WIDTH = 24_000.0  # ... up to this width (a 3 h 20 min call); longer calls are drawn denser


@dataclass(frozen=True)
class TimeScale:
    """Maps call time to x in the timeline's SVG units."""

    duration: float  # > 0
    svg_width: float

    @property
    def lane_x1(self) -> float:
        return self.svg_width - LANE_RIGHT_MARGIN

    def x(self, t: float) -> float:
        clamped = min(max(t, 0.0), self.duration)
        return LANE_X0 + (self.lane_x1 - LANE_X0) * clamped / self.duration

    def width(self, start: float, end: float) -> float:
        return max(self.x(end) - self.x(start), 1.0)


MAX_TICKS = 120  # labels on the time axis, however long the call


def tick_step(duration: float) -> int:
    """Seconds between axis labels: 5 s for a short call, whole minutes (then hours) for a long
    one, never more than MAX_TICKS labels."""
    for limit, step in ((40, 5), (150, 10), (600, 30)):
        if duration <= limit:
            return step
    minutes = -(-duration // (60 * MAX_TICKS))  # ceiling
    for nice in (1, 2, 5, 10, 15, 30, 60):
        if nice >= minutes:
            return 60 * nice
    return 3600 * int(-(-minutes // 60))


def speech_overlaps(utterances: Sequence[UtteranceRecord]) -> list[tuple[float, float]]:
    """Where an agent utterance and a caller utterance intersect."""
    # A sweep over start and end points: linear in the utterances plus the overlaps found
    # (pairing every agent utterance with every caller one is quadratic: minutes for long calls).
    said = [record.utterance for record in utterances]
    points = []
    for index, u in enumerate(said):
        if u.speaker in ("agent", "caller") and u.end > u.start:
            points += [(u.start, 1, index), (u.end, 0, index)]  # at one instant, ends first
    speaking: dict[str, dict[int, Utterance]] = {"agent": {}, "caller": {}}
    spans = []
    for _, is_start, index in sorted(points):
        u = said[index]
        if not is_start:
            speaking[u.speaker].pop(index, None)
            continue
        other = "caller" if u.speaker == "agent" else "agent"
        spans += [(u.start, min(u.end, o.end)) for o in speaking[other].values()]
        speaking[u.speaker][index] = u
    return sorted(spans)


def svg_lanes(scale: TimeScale) -> list[str]:
    parts = []
    for speaker, y in LANE_Y.items():
        width = scale.lane_x1 - LANE_X0
        parts.append(f'<rect class="lane" x="{LANE_X0}" y="{y}" width="{width:.0f}" height="{LANE_HEIGHT}"/>')
        parts.append(
            f'<text class="lane-label" x="{LANE_X0 - 8}" y="{y + LANE_HEIGHT / 2 + 5}" text-anchor="end">'
            f"{SPEAKER_LABELS[speaker]}</text>"
        )
    return parts


def svg_speech(utterances: Sequence[UtteranceRecord], scale: TimeScale) -> list[str]:
    return [
        f'<rect class="speech {esc(u.speaker)}" x="{scale.x(u.start):.1f}" y="{LANE_Y[u.speaker] + 3}" '
        f'width="{scale.width(u.start, u.end):.1f}" height="{LANE_HEIGHT - 6}" rx="2">'
        f'<title>{SPEAKER_LABELS[u.speaker]} {span_clock(u.start, u.end)}\n{esc(u.text)}</title></rect>'
        for u in (record.utterance for record in utterances)
        if u.speaker in LANE_Y
    ]


def svg_holds(holds: Sequence[HoldRecord], scale: TimeScale) -> list[str]:
    parts = []
    for hold in holds:
        end = hold.end if hold.end is not None else scale.duration
        x = scale.x(hold.start)
        title = f"保持 {span_clock(hold.start, end)}（{end - hold.start:.1f} 秒）"
        parts.append(
            f'<rect class="hold" x="{x:.1f}" y="{LANE_Y["agent"] - 4}" width="{scale.width(hold.start, end):.1f}" '
            f'height="{LANES_BOTTOM - LANE_Y["agent"] + 8}"><title>{esc(title)}</title></rect>'
            f'<text class="hold-label" x="{x + 3:.1f}" y="{LANE_Y["agent"] + LANE_HEIGHT + 3}">保持</text>'
        )
    return parts


def svg_overlaps(overlaps: Sequence[tuple[float, float]], scale: TimeScale) -> list[str]:
    """A bridge between the lanes, over the edges of both speakers' spans."""
    top, bottom = LANE_Y["agent"] + LANE_HEIGHT - 8, LANE_Y["caller"] + 8
    return [
        f'<rect class="overlap" x="{scale.x(s):.1f}" y="{top}" width="{scale.width(s, e):.1f}" '
        f'height="{bottom - top}"><title>重叠（抢话）{span_clock(s, e)}</title></rect>'
        for s, e in overlaps
    ]


def event_tooltip(event: Event) -> str:
    lines = [f"{KIND_LABELS.get(event.kind, event.kind)} {standard_labels().event(event.id, event.title)}", f"时间 {clock(event.t)}"]
    if event.step is not None:
        lines.append(f"第 {event.step} 步")
    if event.heard:
        lines.append(f"听到：{event.heard}")
    return "\n".join(lines)


def marker_rows(xs: Sequence[float]) -> list[int]:
    """Row index per marker (in time order): a marker too close to the last one in a row moves up."""
    last_x = [-MARKER_GAP] * len(MARKER_ROWS)
    rows = []
    for x in xs:
        row = next((r for r, lx in enumerate(last_x) if x - lx >= MARKER_GAP), len(MARKER_ROWS) - 1)
        last_x[row] = x
        rows.append(row)
    return rows


def svg_events(events: Sequence[Event], scale: TimeScale) -> list[str]:
    order = sorted(range(len(events)), key=lambda i: events[i].t)
    rows = marker_rows([scale.x(events[i].t) for i in order])
    parts = []
    for i, row in zip(order, rows):
        event, x, y = events[i], scale.x(events[i].t), MARKER_ROWS[row]
        evidence = (
            f'<rect class="evidence" x="{scale.x(event.start):.1f}" y="{y - 2}" '
            f'width="{scale.width(event.start, event.end):.1f}" height="4"/>'
            if event.end > event.start
            else ""
        )
        parts.append(
            f'<a href="#event-{i}"><g class="event {esc(event.kind)}"><title>{esc(event_tooltip(event))}</title>'
            f'{evidence}<line x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{LANES_BOTTOM}"/>'
            f'<circle cx="{x:.1f}" cy="{y}" r="6"/></g></a>'
        )
    return parts


def svg_axis(scale: TimeScale) -> list[str]:
    step = tick_step(scale.duration)
    ticks = range(0, int(scale.duration) + 1, step)
    parts = [f'<line x1="{LANE_X0}" x2="{scale.lane_x1:.0f}" y1="{AXIS_Y}" y2="{AXIS_Y}"/>']
    for t in ticks:
        x = scale.x(t)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{AXIS_Y}" y2="{AXIS_Y + 5}"/>')
        parts.append(f'<text x="{x:.1f}" y="{AXIS_Y + 18}" text-anchor="middle">{t // 60}:{t % 60:02d}</text>')
    return ['<g class="axis">', *parts, "</g>"]


def timeline_svg(report: CallReport) -> str:
    duration = max(report.source.duration, 1.0)
    long_call = duration * PIXELS_PER_SECOND > SVG_WIDTH
    scale = TimeScale(duration, min(duration * PIXELS_PER_SECOND, MAX_SVG_WIDTH) if long_call else SVG_WIDTH)
    utterances = report.utterances
    parts = [
        *svg_lanes(scale),
        *svg_speech(utterances, scale),
        *svg_overlaps(speech_overlaps(utterances), scale),
        *svg_holds(report.checklist.hold.holds, scale),
        *svg_axis(scale),
        *svg_events(report.events, scale),
    ]
    size = f' style="width:{scale.svg_width:.0f}px"' if long_call else ""
    return (
        f'<svg class="timeline" viewBox="0 0 {scale.svg_width:.0f} {SVG_HEIGHT}"{size} aria-label="通话时间轴">\n'
        + "\n".join(parts)
        + "\n</svg>"
    )


def legend() -> str:
    items = [
        ("agent", "坐席讲话"), ("caller", "客户讲话"), ("hold", "保持"), ("overlap", "重叠（抢话）"),
        ("violation round", "违规"), ("situation round", "情况"), ("hint round", "提示"),
    ]
    entries = "".join(f'<li><span class="swatch {swatch}"></span>{label}</li>' for swatch, label in items)
    hint = '<li class="muted">空白 = 无人讲话；悬停查看详情，点击事件跳到事件表</li>'
    return f'<ul class="legend">{entries}{hint}</ul>'


def timeline_section(report: CallReport) -> str:
    note = "" if report.utterances else f'<p class="note">{esc(NO_UTTERANCES_NOTE)}</p>'
    return section("timeline", "时间轴", f'{note}<div class="timeline-wrap">{timeline_svg(report)}</div>{legend()}')


# ---------------------------------------------------------------- one call: transcript


def phrase_span(text: str, heard: str) -> tuple[int, int] | None:
    """Where `heard` lies in `text`: the exact substring, else the same characters with any
    spaces or punctuation between them (recognisers and transcribers space text differently)."""
    at = text.find(heard)
    if heard and at >= 0:
        return at, at + len(heard)
    chars = [c for c in heard if re.match(r"\w", c)]
    if not chars:
        return None
    found = re.search(r"\W*".join(re.escape(c) for c in chars), text)
    return found.span() if found else None


def highlighted(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Escaped text with the (possibly overlapping) spans wrapped in <mark class="forbidden">."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, pos = [], 0
    for start, end in merged:
        out.append(esc(text[pos:start]))
        out.append(f'<mark class="forbidden">{esc(text[start:end])}</mark>')
        pos = end
    out.append(esc(text[pos:]))
    return "".join(out)


def forbidden_spans(utterance: Utterance, events: Sequence[Event]) -> list[tuple[int, int]]:
    spans = []
    for event in events:
        if event.id != "forbidden_phrase" or not event.heard:
            continue
        if (event.speaker or utterance.speaker) != utterance.speaker:
            continue
        if utterance.start - HIGHLIGHT_MARGIN <= event.t <= utterance.end + HIGHLIGHT_MARGIN:
            span = phrase_span(utterance.text, event.heard)
            spans += [span] if span else []
    return spans


def utterance_levels(record: UtteranceRecord) -> str:
    parts = []
    if record.level_dbfs is not None:
        parts.append(f"{record.level_dbfs:.1f} dBFS")
    if record.snr_db is not None:
        parts.append(f"SNR {record.snr_db:.1f} dB")
    return "<br>".join(parts)


def utterance_row(record: UtteranceRecord, events: Sequence[Event]) -> str:
    utterance = record.utterance
    speaker = utterance.speaker
    text = highlighted(utterance.text, forbidden_spans(utterance, events))
    return (
        f'<tr class="utterance {esc(speaker)}"><td class="time">{span_clock(utterance.start, utterance.end)}</td>'
        f'<td>{speaker_badge(speaker)}</td><td class="text">{text}</td>'
        f'<td class="num muted">{utterance_levels(record)}</td></tr>'
    )


def event_lines(event: Event, keys: Sequence[str] = ("say", "heard", "detail")) -> str:
    """One line per present field (class = its name); a detail that only repeats `heard` is left out."""
    values = {k: getattr(event, k) for k in keys}
    shown = [k for k in keys if values[k] and not (k == "detail" and values[k] == event.heard)]
    if "detail" in shown:
        values["detail"] = standard_labels().detail(values["detail"])
    return "".join(f'<div class="{k}">{esc(values[k])}</div>' for k in shown)


def event_summary(event: Event) -> str:
    """The event's id and step, then the line to say, what was heard and why."""
    step = f" 第 {event.step} 步" if event.step is not None else ""
    return f"{event_name(event.id, event.title)}{step}{event_lines(event)}"


def event_row(event: Event) -> str:
    kind = esc(event.kind)
    return (
        f'<tr class="event-row {kind}"><td class="time">{clock(event.t)}</td><td>{kind_badge(event.kind)}</td>'
        f'<td class="text">{event_summary(event)}</td><td></td></tr>'
    )


def transcript_section(report: CallReport) -> str:
    utterances, events = report.utterances, report.events
    if not utterances:
        return section("transcript", "通话文字", f'<p class="muted">{esc(NO_TEXT_NOTE)}</p>')
    # Each utterance is given only the forbidden-phrase events near it (found by bisection):
    # linear in utterances and events, however long the call.
    forbidden = sorted((e for e in events if e.id == "forbidden_phrase" and e.heard), key=lambda e: e.t)
    times = [e.t for e in forbidden]
    timed = []
    for record in utterances:
        u = record.utterance
        near = forbidden[bisect_left(times, u.start - HIGHLIGHT_MARGIN) : bisect_right(times, u.end + HIGHLIGHT_MARGIN)]
        timed.append((u.start, 0, utterance_row(record, near)))
    timed += [(e.t, 1, event_row(e)) for e in events]
    rows = [row for _, _, row in sorted(timed, key=lambda item: item[:2])]
    headers = ["时间", "说话人", "内容", "音量 / 信噪比"]
    return section("transcript", "通话文字", table(headers, rows, "transcript", numeric=(3,)))


# ---------------------------------------------------------------- one call: events, checklist, talk


def events_section(events: Sequence[Event]) -> str:
    if not events:
        return section("events", "事件", '<p class="muted">没有事件。</p>')
    rows = []
    for i, event in enumerate(events):
        lines = event_lines(event, ("say", "heard", "detail", "advice"))
        rows.append(
            f'<tr id="event-{i}" class="event-row {esc(event.kind)}"><td class="time">{clock(event.t)}</td>'
            f'<td>{kind_badge(event.kind)}</td><td>{event_name(event.id, event.title)}</td>'
            f'<td class="num">{esc(event.step if event.step is not None else "")}</td><td>{speaker_badge(event.speaker)}</td>'
            f'<td class="text">{lines}</td></tr>'
        )
    headers = ["时间", "类型", "事件", "步骤", "说话人", "应说 / 说明"]
    return section("events", "事件", table(headers, rows, "events", numeric=(3,)))


def closing_detail(closing: ClosingCheck) -> str:
    said = [f"{esc(CLOSING_LABELS.get(key, key))}：{time_or(t, NOT_SAID)}" for key, t in closing.said.items()]
    if closing.waived_by:
        said.append(f"免除（由 {event_name(closing.waived_by)} 结束通话）")
    return "<br>".join(said)


def hold_rows(holds: Sequence[HoldRecord]) -> list[str]:
    rows = []
    for hold in holds:
        length = f"{hold.end - hold.start:.1f} 秒" if hold.end is not None else "未回来"
        rows.append(
            f'<tr><td>{time_or(hold.start)}</td><td>{time_or(hold.end)}</td>'
            f'<td class="num">{length}</td><td>{verdict(hold.returned_with_thanks, "—")}</td>'
            f'<td>{TOO_LONG_MARK if hold.too_long else "否"}</td></tr>'
        )
    return rows


def checklist_section(checklist: Checklist) -> str:
    greeting, closing, hold = checklist.greeting, checklist.closing, checklist.hold
    summary = [
        f"<tr><th>开场问候</th><td>{verdict(greeting.ok)}</td><td>{time_or(greeting.t)}</td></tr>",
        f"<tr><th>结束语</th><td>{verdict(closing.ok)}</td><td>{closing_detail(closing)}</td></tr>",
        f"<tr><th>保持</th><td>{verdict(hold.ok)}</td><td>{len(hold.holds)} 次</td></tr>",
    ]
    body = f'<table class="checklist"><tbody>{"".join(summary)}</tbody></table>'
    if hold.holds:
        headers = ["开始", "结束", "时长", "回来致谢", "超时"]
        body += "<h3>保持记录</h3>" + table(headers, hold_rows(hold.holds), "holds", numeric=(2,))
    return section("checklist", "检查项", body)


def talk_section(talk: TalkFigures) -> str:
    rows = [
        f'<tr><td>{speaker_badge(speaker)}</td><td class="num">{seconds_text(figures.talk_time)}</td>'
        f'<td>{share_bar(speaker, figures.talk_share)}</td>'
        f'<td class="num">{db_text(figures.level_dbfs, "dBFS")}</td>'
        f'<td class="num">{db_text(figures.noise_floor_dbfs, "dBFS")}</td>'
        f'<td class="num">{db_text(figures.snr_db, "dB")}</td></tr>'
        for speaker, figures in talk.speakers.items()
    ]
    facts = [
        ("通话时长", seconds_text(talk.duration)),
        ("无人讲话（不含保持）", f"{seconds_text(talk.non_talk_time)}（{percent(talk.non_talk_share)}）"),
        ("重叠（同时讲话）", seconds_text(talk.overlap_time)),
        ("打断次数", str(talk.interruptions)),
    ]
    facts_html = '<dl class="facts">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts) + "</dl>"
    headers = ["说话人", "讲话时长", "占比", "平均音量", "底噪", "信噪比"]
    speakers = table(headers, rows, "talk", numeric=(1, 3, 4, 5))
    return section("talk", "讲话统计", speakers + facts_html)


def call_report_html(report: CallReport, title: str | None = None) -> str:
    """One call's QA page from its report: header with the score, the timeline picture, the
    transcript with forbidden phrases marked, events, checklist and talk figures. `title`
    defaults to the call's file name. A batch's `agent` and `started` (ISO datetime) of the
    call's source are shown in the header."""
    heading = title or f"通话质检 · {call_name(report.source)}"
    body = "\n".join(
        [
            header_section(report, heading),
            timeline_section(report),
            transcript_section(report),
            events_section(report.events),
            checklist_section(report.checklist),
            talk_section(report.talk),
        ]
    )
    return page(heading, body)


# ---------------------------------------------------------------- batch


@dataclass(frozen=True)
class CallRow:
    """One call of a batch, as the summary page and the CSV show it."""

    name: str
    html_path: str  # the call's HTML page: a URL path ("/"-separated) relative to the summary page
    audio: str | None
    agent: str | None
    duration: float
    score: int
    counts: dict[str, int]  # events per event id
    violations: dict[str, int]  # the violation events among them, per event id
    talk_share_agent: float
    talk_share_caller: float
    non_talk_time: float
    complaint: bool  # the caller complained (an angry_caller event)
    follow_up_due: str | None  # ISO datetime: complaints need a resolution within 72 h
    started: str | None  # ISO datetime the call started, when known
    no_speech: bool = False  # nobody spoke on either channel (flagged, not a perfect call)
    fatal: tuple[str, ...] = ()  # titles of the fatal items raised: the call fails
    follow_ups: tuple[tuple[str, str | None], ...] = ()  # (rule title, ISO due time) per follow-up hint

    @classmethod
    def from_report(
        cls, report: CallReport, name: str, html_path: str, agent: str | None, started: datetime | None
    ) -> CallRow:
        """Counts per event id and the complaint flag from the report. `agent` defaults to the
        report source's agent when None; a complaint's follow-up is due 72 h after `started`
        (None when the start is not known: the page then says "72 h after the call")."""
        events = report.events
        speakers = report.talk.speakers
        complaint = any(e.id == "angry_caller" for e in events)
        return cls(
            name=name,
            html_path=html_path,
            audio=report.source.audio,
            agent=agent if agent is not None else report.source.agent,
            duration=report.source.duration,
            score=report.score.value,
            counts=dict(Counter(e.id for e in events)),
            violations=dict(Counter(e.id for e in events if e.kind == "violation")),
            talk_share_agent=speakers["agent"].talk_share if "agent" in speakers else 0.0,
            talk_share_caller=speakers["caller"].talk_share if "caller" in speakers else 0.0,
            non_talk_time=report.talk.non_talk_time,
            complaint=complaint,
            follow_up_due=iso(started + FOLLOW_UP) if complaint and started else None,
            started=iso(started) if started else None,
            no_speech=report.source.no_speech,
            fatal=tuple(f.title for f in report.score.fatal),
            follow_ups=tuple(
                (e.title or e.id, iso(started + timedelta(hours=e.follow_up_hours)) if started else None)
                for e in events
                if e.follow_up_hours
            ),
        )


@dataclass(frozen=True)
class FailedCall:
    """A call of the batch that could not be replayed."""

    name: str
    path: str
    error: str  # one line


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def call_link(row: CallRow) -> str:
    return f'<a href="{esc(quote(row.html_path, safe="/:#"))}">{esc(row.name)}</a>'


def top_counts(counts: Mapping[str, int], limit: int) -> list[tuple[str, int]]:
    return sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0]))[:limit]


def counts_text(counts: Mapping[str, int], limit: int = 3) -> str:
    top = top_counts(counts, limit)
    return "、".join(f"{event_name(k)}×{v}" for k, v in top) if top else '<span class="muted">—</span>'


def totals_header(rows: Sequence[CallRow], failures: Sequence[FailedCall], generated: str) -> str:
    mean_score = f"{mean(r.score for r in rows):.1f}" if rows else "—"
    totals = [
        ("通话", str(len(rows))),
        ("音频时长（小时）", f"{sum(r.duration for r in rows) / 3600:.2f}"),
        ("平均分", mean_score),
        ("失败", str(len(failures))),
    ]
    cards = "".join(f'<div class="total"><b>{esc(v)}</b>{esc(k)}</div>' for k, v in totals)
    return (
        f'<header class="page"><div><h1>批量通话质检汇总</h1>'
        f'<p class="muted">生成于 {esc(generated)}</p><div class="totals">{cards}</div></div></header>'
    )


def started_cell(started: str | None) -> str:
    return local_time(started) if started else '<span class="muted">—</span>'


def worst_calls_section(rows: Sequence[CallRow]) -> str:
    """Every call, fatal ones first, then by score; filterable by agent, event id and fatal."""
    table_rows = [
        f'<tr data-agent="{esc(r.agent or "")}" data-ids=" {esc(" ".join(sorted(r.counts)))} " '
        f'data-fatal="{"1" if r.fatal else "0"}">'
        f'<td>{call_link(r)}</td><td>{esc(r.agent or "—")}</td><td class="time">{started_cell(r.started)}</td>'
        f'<td class="num">{clock(r.duration)}</td><td class="num"><b>{r.score}</b>{NO_SPEECH_MARK if r.no_speech else ""}{FATAL_MARK if r.fatal else ""}</td>'
        f'<td>{counts_text(r.counts)}</td>'
        f'<td>{share_bar("agent", r.talk_share_agent)}</td><td class="num">{seconds_text(r.non_talk_time)}</td>'
        f'<td>{COMPLAINT_MARK if r.complaint else ""}</td></tr>'
        for r in sorted(rows, key=lambda r: (not r.fatal, r.score, r.name))
    ]
    headers = ["通话", "坐席", "开始", "时长", "得分", "主要事件", "坐席讲话占比", "无人讲话", "投诉"]
    calls_table = table(headers, table_rows, "calls", numeric=(3, 4, 7))
    return section("worst", "通话（致命项在前，得分从低到高）", calls_filter(rows) + calls_table)


def calls_filter(rows: Sequence[CallRow]) -> str:
    """Selects over the calls table (agent, event or rule id, fatal only) and the script that
    hides the rows that do not match; without scripts every row stays shown."""
    agents = sorted({r.agent for r in rows if r.agent})
    ids = sorted({event_id for r in rows for event_id in r.counts})
    agent_options = "".join(f'<option value="{esc(a)}">{esc(a)}</option>' for a in agents)
    id_options = "".join(f'<option value="{esc(i)}">{esc(i)}</option>' for i in ids)
    return (
        '<form class="filter" id="calls-filter">'
        f'<label>坐席 <select name="agent"><option value="">全部</option>{agent_options}</select></label> '
        f'<label>规则/事件 <select name="rule"><option value="">全部</option>{id_options}</select></label> '
        '<label><input type="checkbox" name="fatal"> 只看致命项</label> '
        '<span class="muted" id="calls-shown"></span></form>'
        f"<script>{FILTER_SCRIPT}</script>"
    )


FILTER_SCRIPT = """
(function () {
  var form = document.getElementById('calls-filter');
  function apply() {
    var agent = form.agent.value, rule = form.rule.value, fatal = form.fatal.checked, shown = 0;
    var rows = document.querySelectorAll('table.calls tbody tr');
    rows.forEach(function (row) {
      var ok = (!agent || row.dataset.agent === agent) && (!rule || row.dataset.ids.indexOf(' ' + rule + ' ') >= 0)
        && (!fatal || row.dataset.fatal === '1');
      row.hidden = !ok; shown += ok ? 1 : 0;
    });
    document.getElementById('calls-shown').textContent = shown + ' / ' + rows.length;
  }
  form.addEventListener('change', apply);
  document.addEventListener('DOMContentLoaded', apply);
})();
"""


def bar_chart(totals: Sequence[tuple[str, int]], violation_ids: set[str]) -> str:
    row_height, label_width, bar_width = 24, 200, 360
    biggest = max(count for _, count in totals)
    bars = []
    for i, (event_id, count) in enumerate(totals):
        y, width = i * row_height, max(bar_width * count / biggest, 2)
        kind = " violation" if event_id in violation_ids else ""
        bars.append(
            f'<text class="label" x="{label_width - 8}" y="{y + 16}" text-anchor="end">{esc(standard_labels().event(event_id))}<title>{esc(event_id)}</title></text>'
            f'<rect class="count{kind}" x="{label_width}" y="{y + 4}" width="{width:.1f}" height="16" rx="2"/>'
            f'<text x="{label_width + width + 6:.1f}" y="{y + 16}">{count}</text>'
        )
    view_box = f"0 0 {label_width + bar_width + 60} {row_height * len(totals)}"
    return f'<svg class="bars" viewBox="{view_box}" role="img" aria-label="事件次数">' + "".join(bars) + "</svg>"


def event_counts_section(rows: Sequence[CallRow]) -> str:
    totals = Counter[str]()
    calls_with = Counter[str]()
    for row in rows:
        totals.update(row.counts)
        calls_with.update(k for k, v in row.counts.items() if v)
    ordered = top_counts(totals, len(totals))
    if not ordered:
        return section("event-counts", "事件次数", '<p class="muted">本批通话没有事件。</p>')
    violation_ids = {k for row in rows for k, v in row.violations.items() if v}
    table_rows = [
        f'<tr><td>{event_name(k)}{VIOLATION_MARK if k in violation_ids else ""}</td>'
        f'<td class="num">{v}</td><td class="num">{calls_with[k]}</td></tr>'
        for k, v in ordered
    ]
    legend_html = (
        '<ul class="legend"><li><span class="swatch violation"></span>违规</li>'
        '<li><span class="swatch situation"></span>情况 / 提示</li></ul>'
    )
    counts_table = table(["事件", "次数", "涉及通话"], table_rows, "event-counts", numeric=(1, 2))
    body = bar_chart(ordered, violation_ids) + legend_html + counts_table
    return section("event-counts", "事件次数", body)


def agent_card(agent: str, calls: Sequence[CallRow]) -> str:
    worst = min(calls, key=lambda r: (r.score, r.name))
    violations = Counter[str]()
    for row in calls:
        violations.update(row.violations)
    top = counts_text(violations) if violations else '<span class="muted">无违规</span>'
    return (
        f'<div class="card"><h3>{esc(agent)}</h3><dl class="facts">'
        f"<dt>通话</dt><dd>{len(calls)}</dd><dt>平均分</dt><dd>{mean(r.score for r in calls):.1f}</dd>"
        f"<dt>最差通话</dt><dd>{call_link(worst)}（{worst.score}）</dd><dt>主要违规</dt><dd>{top}</dd></dl></div>"
    )


def agents_section(rows: Sequence[CallRow]) -> str:
    """Scorecards per agent; empty when no call's agent is known."""
    by_agent: dict[str, list[CallRow]] = {}
    for row in rows:
        if row.agent:
            by_agent.setdefault(row.agent, []).append(row)
    if not by_agent:
        return ""
    ranked = sorted(by_agent.items(), key=lambda item: (mean(r.score for r in item[1]), item[0]))
    cards = "".join(agent_card(agent, calls) for agent, calls in ranked)
    return section("agents", "坐席成绩（平均分从低到高）", f'<div class="cards">{cards}</div>')


def follow_ups_table(rows: Sequence[CallRow]) -> str:
    """Follow-ups that rules owe (a promised call back), soonest first."""
    owed = sorted(
        ((due, r, title) for r in rows for title, due in r.follow_ups), key=lambda item: (item[0] or "~", item[1].name)
    )
    if not owed:
        return ""
    table_rows = [
        f'<tr><td>{call_link(r)}</td><td>{esc(r.agent or "—")}</td><td>{esc(title)}</td>'
        f'<td class="due">{local_time(due) if due else "—"}</td></tr>'
        for due, r, title in owed
    ]
    return "<h3>规则要求的回访</h3>" + table(["通话", "坐席", "规则", "跟进截止"], table_rows, "follow-ups")


def complaints_section(rows: Sequence[CallRow]) -> str:
    complaints = sorted((r for r in rows if r.complaint), key=lambda r: (r.follow_up_due or "~", r.name))
    follow_ups = follow_ups_table(rows)
    if not complaints:
        return section("complaints", "投诉与回访", '<p class="muted">本批没有投诉通话。</p>' + follow_ups)
    table_rows = [
        f'<tr><td>{call_link(r)}</td><td>{esc(r.agent or "—")}</td><td class="time">{started_cell(r.started)}</td>'
        f'<td class="due">{local_time(r.follow_up_due) if r.follow_up_due else esc(FOLLOW_UP_UNKNOWN)}</td></tr>'
        for r in complaints
    ]
    note = '<p class="muted">投诉须在 72 小时内给来电人处理方案。</p>'
    complaints_table = table(["通话", "坐席", "开始", "跟进截止"], table_rows, "complaints")
    return section("complaints", "投诉与回访", note + complaints_table + follow_ups)


def failures_section(failures: Sequence[FailedCall]) -> str:
    if not failures:
        return section("failures", "失败", '<p class="muted">全部通话都已处理。</p>')
    table_rows = [
        f'<tr><td>{esc(f.name)}</td><td><code>{esc(f.path)}</code></td><td class="bad">{esc(f.error)}</td></tr>'
        for f in failures
    ]
    return section("failures", "失败", table(["通话", "文件", "错误"], table_rows, "failures"))


def batch_summary_html(rows: Sequence[CallRow], failures: Sequence[FailedCall], generated: str) -> str:
    """The batch's summary page: totals, calls worst first (linking each call's page), event
    counts, per-agent scorecards (when agents are known), complaints with their follow-up due
    time, and the calls that failed."""
    body = "\n".join(
        part
        for part in (
            totals_header(rows, failures, generated),
            worst_calls_section(rows),
            event_counts_section(rows),
            agents_section(rows),
            complaints_section(rows),
            failures_section(failures),
        )
        if part
    )
    return page("批量通话质检汇总", body)


CSV_COLUMNS = (
    "call", "audio", "agent", "started", "duration_s", "score", "talk_share_agent", "talk_share_caller",
    "non_talk_s", "complaint", "follow_up_due", "no_speech",
)


def csv_record(row: CallRow, event_ids: Sequence[str]) -> list[str | int | float]:
    return [
        row.name, row.audio or "", row.agent or "", row.started or "", round(row.duration, 2), row.score,
        round(row.talk_share_agent, 3), round(row.talk_share_caller, 3), round(row.non_talk_time, 2),
        "yes" if row.complaint else "no", row.follow_up_due or "", "yes" if row.no_speech else "no",
        *(row.counts.get(event_id, 0) for event_id in event_ids),
    ]


# A cell starting with one of these is read by spreadsheets as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutral_cell(value: str | int | float) -> str | int | float:
    """A text cell that a spreadsheet shows as text: a leading apostrophe before a formula start."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def write_batch_csv(path: Path | str, rows: Sequence[CallRow], event_ids: Sequence[str]) -> None:
    """One line per call: the CSV_COLUMNS, then `count_<id>` for each of `event_ids` (events of
    other ids are not counted). Written atomically, as UTF-8 with a byte-order mark so that
    Excel opens the Chinese text correctly; empty cells for unknown agent, start and due time;
    text cells that would start a formula are neutralised (`neutral_cell`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, *(f"count_{event_id}" for event_id in event_ids)])
    writer.writerows([neutral_cell(cell) for cell in csv_record(row, event_ids)] for row in rows)
    write_text_atomically(Path(path), "\ufeff" + out.getvalue())
