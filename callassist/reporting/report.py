"""The QA report of one call: schema `callassist.report/1` (see docs/report-schema.md)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callassist import __version__
from callassist.detectors.closing import ClosingDetector
from callassist.detectors.greeting import GreetingDetector
from callassist.detectors.hold import HoldDetector, HoldVerdict
from callassist.engine import Engine
from callassist.events import Event
from callassist.inputs import Utterance
from callassist.transcript import utterance_to_json

SCHEMA = "callassist.report/1"


@dataclass(frozen=True)
class CallSource:
    """Where a call's material came from, as the report states it."""

    audio: str | None
    transcript: str | None
    duration: float
    channel_map: dict[str, int | str] = field(default_factory=dict)
    text_from: str = "transcript"  # "transcript", "vosk:<model>" or "none"
    activity_from: str = "transcript"  # "transcript" or "audio"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deduction:
    event_id: str
    t: float
    points: int


def score(events: list[Event], start: int, deductions: dict[str, int]) -> tuple[int, list[Deduction]]:
    taken = [Deduction(e.id, e.t, deductions[e.id]) for e in events if deductions.get(e.id)]
    return max(0, start - sum(d.points for d in taken)), taken


def checklist(engine: Engine) -> dict[str, Any]:
    greeting = engine.detector(GreetingDetector)
    closing = engine.detector(ClosingDetector)
    hold = engine.detector(HoldDetector)
    waived_by = engine.state.ended_by
    judged = engine.state.has_text  # greeting and closing are judged on what was said
    closing_ids = [r.id for r in engine.pack.required_for("closing")]
    holds = []
    for index, held in enumerate(engine.state.phase.holds):
        verdict = hold.verdicts[index] if index < len(hold.verdicts) else HoldVerdict()
        holds.append({
            "start": round(held.start, 2),
            "end": round(held.end, 2) if held.end is not None else None,
            "returned_with_thanks": verdict.returned_with_thanks,
            "too_long": verdict.too_long,
        })
    return {
        "greeting": {"ok": bool(greeting.greeted) if judged else None, "t": greeting.greeted_at},
        "closing": {
            "ok": (bool(waived_by) or all(i in closing.said for i in closing_ids)) if judged else None,
            "said": {i: (round(closing.said[i], 2) if i in closing.said else None) for i in closing_ids},
            "waived_by": waived_by,
        },
        "hold": {
            "ok": all(h["returned_with_thanks"] is not False and not h["too_long"] for h in holds),
            "holds": holds,
        },
    }


def build_report(engine: Engine, source: CallSource, utterances: list[Utterance]) -> dict[str, Any]:
    settings = engine.settings
    total, taken = score(engine.events, settings.score.start, settings.score.deductions)
    return {
        "schema": SCHEMA,
        "generator": f"callassist {__version__}",
        "call": {
            "audio": source.audio,
            "transcript": source.transcript,
            "duration": round(source.duration, 2),
            "channel_map": source.channel_map,
            "text_from": source.text_from,
            "activity_from": source.activity_from,
            "notes": list(source.notes),
            "withdrawn_flags": len(engine.withdrawn),
            "script_pack": list(engine.pack.sources),
            "settings": settings.to_json(),
        },
        "utterances": [utterance_to_json(u) | engine.stats.utterance_levels(u) for u in utterances],
        "events": [e.to_json() for e in engine.events],
        "checklist": checklist(engine),
        "talk": engine.stats.to_json(source.duration)
        | {"interruptions": sum(1 for e in engine.events if e.id == "crosstalk")},
        "score": {
            "value": total,
            "start": settings.score.start,
            "deductions": [{"id": d.event_id, "t": round(d.t, 2), "points": d.points} for d in taken],
        },
    }


def write_text_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: a reader never sees half a file,
    and a run killed mid-write leaves only a `.NAME.*.tmp` file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomically(path: Path, data: Any) -> None:
    write_text_atomically(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def format_time(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes):02d}:{rest:05.2f}"


def summary_text(report: dict[str, Any]) -> str:
    """A readable summary for the terminal."""
    call = report["call"]
    lines = [
        f"Call: {call['audio'] or call['transcript']}  ({format_time(call['duration'])}, text from {call['text_from']})",
        f"Score: {report['score']['value']}/{report['score']['start']}",
        "",
    ]
    if not report["events"]:
        lines.append("No events.")
    for e in report["events"]:
        head = f"{format_time(e['t'])}  {e['kind']:<9} {e['id']}"
        if e.get("step"):
            head += f" (step {e['step']})"
        if e.get("speaker"):
            head += f" [{e['speaker']}]"
        lines.append(head)
        if e.get("heard"):
            lines.append(f"           heard: 「{e['heard']}」" + (f" score {e['score']}" if "score" in e else ""))
        if e.get("detail"):
            lines.append(f"           {e['detail']}")
        if e.get("say"):
            lines.append(f"           say: {e['say']}")
    check = report["checklist"]
    lines += [
        "",
        "Checklist: greeting " + _verdict(check["greeting"]["ok"], "MISSING")
        + ", closing " + _verdict(check["closing"]["ok"], "MISSING")
        + ", hold " + ("ok" if check["hold"]["ok"] else "NOT OK")
        + f" ({len(check['hold']['holds'])} hold(s))",
    ]
    return "\n".join(lines)


def _verdict(ok: bool | None, bad: str) -> str:
    return "not judged (no text)" if ok is None else "ok" if ok else bad
