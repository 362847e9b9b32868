"""The call report as a readable summary for the terminal (`callassist replay` without --report):
every line labelled, events by their names (ids stay in the JSON), and the deductions behind the
score."""

from __future__ import annotations

from callassist.labels import Labels, standard_labels
from callassist.reporting.report import CallReport, format_time

INDENT = " " * 11


def summary_text(report: CallReport, labels: Labels | None = None) -> str:
    labels = labels or standard_labels()
    word = labels.word
    source, score = report.source, report.score
    deductions = "、".join(
        f"{labels.event(d.event_id)} −{d.points} ({format_time(d.t)})" for d in score.deductions
    ) or word("no_deductions")
    lines = [
        f"{word('call')}: {source.audio or source.transcript}  "
        f"({format_time(source.duration)}, {word('text_from')} {source.text_from})",
        f"{word('score')}: {score.value}/{score.start}  {word('deductions')}: {deductions}" + fatal_note(report),
        "",
    ]
    if not report.events:
        lines.append(word("no_events"))
    for e in report.events:
        head = f"{format_time(e.t)}  {labels.kind(e.kind)}  {labels.event(e.id, e.title)}"  # the standard's label, or a rule's own title
        if e.step:
            head += f" · {labels.step(e.step)}"
        if e.speaker:
            head += f"  [{labels.speaker(e.speaker)}]"
        lines.append(head)
        if e.say:
            lines.append(f"{INDENT}{word('say')}: {e.say}")
        if e.advice:
            lines.append(f"{INDENT}{word('advice')}: {e.advice}")
        if e.heard:
            match = f"  ({word('match')} {e.score:.0f}/100)" if e.score is not None else ""
            lines.append(f"{INDENT}{word('heard')}: 「{e.heard}」{match}")
            said = _said(report, e.heard, e.speaker, e.t)
            if said:
                lines.append(f"{INDENT}{word('said')}: 「{said}」")
        if e.detail and e.detail.replace(" ", "") != (e.heard or "").replace(" ", ""):
            lines.append(f"{INDENT}{word('detail')}: {labels.detail(e.detail)}")
    check = report.checklist
    lines += [
        "",
        f"{word('checklist')}: {labels.check('greeting')} {_verdict(check.greeting.ok, labels)}, "
        f"{labels.check('closing')} {_verdict(check.closing.ok, labels)}, "
        f"{labels.check('hold')} {_verdict(check.hold.ok, labels)} ({word('hold_count', n=len(check.hold.holds))})",
    ]
    return "\n".join(lines)


def _said(report: CallReport, heard: str, speaker: str | None, t: float) -> str | None:
    """The whole utterance a phrase was heard in, when it says more than the phrase: a partial
    match (「这个我不」) reads right only with its sentence."""
    heard = heard.replace(" ", "")
    for record in report.utterances:
        u = record.utterance
        text = u.text.replace(" ", "")
        if (speaker in (None, u.speaker) and u.start - 0.5 <= t <= u.end + 0.5 and heard in text
                and text.strip("。！？!?，, ") != heard):
            return text
    return None


def _verdict(ok: bool | None, labels: Labels) -> str:
    return labels.word("not_judged") if ok is None else "✓" if ok else "✗ " + labels.word("missing")


def fatal_note(report: CallReport) -> str:
    """A fatal item fails the call whatever its score."""
    titles = [f.title for f in report.score.fatal]
    return f"  不合格（致命项：{'、'.join(titles)}）" if titles else ""
