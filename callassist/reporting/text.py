"""The call report as a readable summary for the terminal (`callassist replay` without --report)."""

from __future__ import annotations

from callassist.reporting.report import CallReport, format_time


def summary_text(report: CallReport) -> str:
    source = report.source
    lines = [
        f"Call: {source.audio or source.transcript}  ({format_time(source.duration)}, text from {source.text_from})",
        f"Score: {report.score.value}/{report.score.start}",
        "",
    ]
    if not report.events:
        lines.append("No events.")
    for e in report.events:
        head = f"{format_time(e.t)}  {e.kind:<9} {e.id}"
        if e.step:
            head += f" (step {e.step})"
        if e.speaker:
            head += f" [{e.speaker}]"
        lines.append(head)
        if e.heard:
            lines.append(f"           heard: 「{e.heard}」" + (f" score {e.score}" if e.score is not None else ""))
        if e.detail:
            lines.append(f"           {e.detail}")
        if e.say:
            lines.append(f"           say: {e.say}")
    check = report.checklist
    lines += [
        "",
        "Checklist: greeting " + _verdict(check.greeting.ok, "MISSING")
        + ", closing " + _verdict(check.closing.ok, "MISSING")
        + ", hold " + ("ok" if check.hold.ok else "NOT OK")
        + f" ({len(check.hold.holds)} hold(s))",
    ]
    return "\n".join(lines)


def _verdict(ok: bool | None, bad: str) -> str:
    return "not judged (no text)" if ok is None else "ok" if ok else bad
