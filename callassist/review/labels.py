"""A call's review verdicts, saved as its labels file (`NAME.labels.json`, the `callassist
eval` format) beside its report.

Every event of the report that is not marked a false alarm is written as expected (`expect`):
an event a QA lead has not disputed stands, as in an appeal process. A false alarm is left out
of `expect`, so the next `callassist eval` counts it against its rule's precision. `review`
keeps every verdict with its note; `audio`, `transcript` and `duration` let eval replay the
call from the labels file alone. The two paths are relative to the labels file's folder and are
the report's own (masked, and with `*` for digits, when the report is; `callassist eval` finds the
file a masked path stands for); a masked report's notes are masked as they are saved.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from callassist.atomic import write_json_atomically

Verdict = Literal["confirmed", "false_alarm"]
VERDICTS: tuple[Verdict, ...] = ("confirmed", "false_alarm")
NOTE_LIMIT = 2000  # characters


@dataclass(frozen=True)
class EventVerdict:
    index: int  # the event's position in the report's `events`
    id: str
    t: float
    verdict: Verdict
    note: str = ""
    at: str = ""  # when it was marked (UTC, ISO)


def labels_path(report_path: Path) -> Path:
    return report_path.with_name(report_path.name.removesuffix(".json") + ".labels.json")


def read_verdicts(path: Path) -> dict[int, EventVerdict]:
    """The verdicts saved so far (none when there is no labels file or it holds no review)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    verdicts = {}
    for item in data.get("review", []) if isinstance(data, dict) else []:
        try:
            verdict = EventVerdict(int(item["index"]), str(item["id"]), float(item["t"]), item["verdict"],
                                   str(item.get("note", "")), str(item.get("at", "")))
        except (KeyError, TypeError, ValueError):
            continue
        if verdict.verdict in VERDICTS:
            verdicts[verdict.index] = verdict
    return verdicts


def labels_document(report: dict[str, Any], verdicts: dict[int, EventVerdict], sources: dict[str, str | None]) -> dict[str, Any]:
    expect = []
    for index, event in enumerate(report["events"]):
        verdict = verdicts.get(index)
        if verdict is not None and verdict.verdict == "false_alarm":
            continue
        label = {"id": event["id"], "t": event["t"]}
        label |= {key: event[key] for key in ("step", "speaker", "phrase_id") if event.get(key) is not None}
        expect.append(label)
    return {
        "expect": expect,
        "optional": [],
        "duration": report["call"]["duration"],
        **sources,
        "review": [asdict(v) for _, v in sorted(verdicts.items())],
    }


def save_verdict(
    report_path: Path, report: dict[str, Any], index: int, verdict: Verdict | None, note: str,
    sources: dict[str, str | None],
) -> dict[int, EventVerdict]:
    """Record (or, with verdict None, clear) one event's verdict and rewrite the labels file
    atomically. Raises ValueError for an index the report does not have."""
    events = report["events"]
    if not 0 <= index < len(events):
        raise ValueError(f"the report has no event {index}")
    path = labels_path(report_path)
    verdicts = read_verdicts(path)
    if verdict is None:
        verdicts.pop(index, None)
    else:
        event = events[index]
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if report["call"].get("masked"):  # a masked report's labels are masked too: a note can hold a number
            from callassist.reporting.masking import mask_free_text

            note = mask_free_text(note)
        verdicts[index] = EventVerdict(index, event["id"], event["t"], verdict, note[:NOTE_LIMIT], at)
    write_json_atomically(path, labels_document(report, verdicts, sources))
    return verdicts
