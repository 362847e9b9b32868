"""Rule evaluation on labelled calls: precision, recall and timing error per event id.

A labelled call is CALL.wav and/or CALL.jsonl with CALL.labels.json:
`{"expect": [{"id": ..., "t": ..., "lo": ..., "hi": ..., "step": ..., "speaker": ..., "phrase_id": ...}], "optional": [ids]}`
(and, for a transcript with no recording, optionally `"duration"`: where the call ended).
An expected event is found when an event of that id (and step, speaker and phrase id, where the
label gives them) was raised with `t` in [lo, hi] (default: t ± 1 s); `match_events` is that one
rule, used by `callassist eval` and by the tests alike. Events of an `optional` id neither count
against the rules nor are required; other events that match no label are false alarms.
A labels file with no recording or transcript beside it may name them (`"audio"`,
`"transcript"`), as the review page does for the labels it saves beside a batch report.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean

from callassist.errors import InputFileError
from callassist.events import Event
from callassist.reporting.masking import find_masked_file

DEFAULT_TOLERANCE = 1.0


@dataclass(frozen=True)
class Label:
    id: str
    t: float
    lo: float
    hi: float
    step: int | None = None
    speaker: str | None = None
    phrase_id: str | None = None

    def matches(self, event: Event) -> bool:
        return (
            event.id == self.id
            and self.lo <= event.t <= self.hi
            and (self.step is None or event.step == self.step)
            and (self.speaker is None or event.speaker == self.speaker)
            and (self.phrase_id is None or event.phrase_id == self.phrase_id)
        )


@dataclass(frozen=True)
class EventMatch:
    """Expected events paired with raised ones, and what is left on either side."""

    found: tuple[tuple[Label, Event], ...]
    missed: tuple[Label, ...]
    unexpected: tuple[Event, ...]


def match_events(events: Sequence[Event], expected: Sequence[Label]) -> EventMatch:
    """Pair each expected event, in time order, with the raised event it matches that is
    nearest its `t` and not yet taken; each raised event pairs with at most one label."""
    remaining = list(events)
    found, missed = [], []
    for label in sorted(expected, key=lambda l: l.t):
        candidates = [e for e in remaining if label.matches(e)]
        if not candidates:
            missed.append(label)
            continue
        hit = min(candidates, key=lambda e: abs(e.t - label.t))
        remaining.remove(hit)
        found.append((label, hit))
    return EventMatch(tuple(found), tuple(missed), tuple(remaining))


@dataclass(frozen=True)
class CallLabels:
    expect: tuple[Label, ...]
    optional: frozenset[str]
    duration: float | None = None  # where a transcript-only call ends (audio says it itself)


@dataclass
class IdScore:
    found: int = 0
    missed: int = 0
    false_alarms: int = 0
    timing_errors: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        raised = self.found + self.false_alarms
        return self.found / raised if raised else None

    @property
    def recall(self) -> float | None:
        expected = self.found + self.missed
        return self.found / expected if expected else None

    @property
    def mean_timing_error(self) -> float | None:
        return mean(self.timing_errors) if self.timing_errors else None

    def add(self, other: "IdScore") -> None:
        self.found += other.found
        self.missed += other.missed
        self.false_alarms += other.false_alarms
        self.timing_errors += other.timing_errors


def read_labels(path: Path) -> CallLabels:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputFileError.at(path, f"cannot read labels ({error})") from None
    labels = []
    for index, item in enumerate(data.get("expect", [])):
        try:
            t = float(item["t"])
            labels.append(Label(
                id=str(item["id"]), t=t,
                lo=float(item.get("lo", t - DEFAULT_TOLERANCE)), hi=float(item.get("hi", t + DEFAULT_TOLERANCE)),
                step=item.get("step"), speaker=item.get("speaker"), phrase_id=item.get("phrase_id"),
            ))
        except (KeyError, TypeError, ValueError):
            raise InputFileError.at(path, f"expect[{index}] needs at least id and t (seconds)") from None
    duration = data.get("duration")
    return CallLabels(tuple(labels), frozenset(data.get("optional", [])), float(duration) if duration else None)


def score_call(events: Sequence[Event], labels: CallLabels) -> dict[str, IdScore]:
    scores: dict[str, IdScore] = defaultdict(IdScore)
    result = match_events(events, labels.expect)
    for label, hit in result.found:
        scores[label.id].found += 1
        scores[label.id].timing_errors.append(abs(hit.t - label.t))
    for label in result.missed:
        scores[label.id].missed += 1
    for event in result.unexpected:
        if event.id not in labels.optional:
            scores[event.id].false_alarms += 1
    return scores


def format_table(per_id: dict[str, IdScore], calls: int) -> str:
    def pct(value: float | None) -> str:
        return "   -" if value is None else f"{100 * value:4.0f}%"

    total = IdScore()
    lines = [f"{calls} labelled call(s)", f"{'event id':<22} {'found':>5} {'missed':>6} {'false':>5} {'precision':>9} {'recall':>6} {'timing error':>12}"]
    for event_id in sorted(per_id):
        score = per_id[event_id]
        total.add(score)
        timing = "-" if score.mean_timing_error is None else f"{score.mean_timing_error:.2f} s"
        lines.append(f"{event_id:<22} {score.found:>5} {score.missed:>6} {score.false_alarms:>5} {pct(score.precision):>9} {pct(score.recall):>6} {timing:>12}")
    timing = "-" if total.mean_timing_error is None else f"{total.mean_timing_error:.2f} s"
    lines.append(f"{'overall':<22} {total.found:>5} {total.missed:>6} {total.false_alarms:>5} {pct(total.precision):>9} {pct(total.recall):>6} {timing:>12}")
    return "\n".join(lines)


def named_sources(labels: Path) -> tuple[Path | None, Path | None]:
    """The recording and transcript a labels file names (`audio`, `transcript`: as the review
    page writes them beside a batch report), relative paths from the labels file's folder. A
    masked batch's labels name them masked: the one file a name stands for, `*` for digits, is
    found (`find_masked_file`)."""
    try:
        data = json.loads(labels.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputFileError.at(labels, f"cannot read labels ({error})") from None
    named = []
    for key in ("audio", "transcript"):
        value = data.get(key) if isinstance(data, dict) else None
        path = labels.parent / value if isinstance(value, str) and value else None
        if path is not None and not path.is_file():
            found = find_masked_file(path)
            if found is None:
                raise InputFileError.at(labels, f"names a {key} file that is missing: {path}")
            path = found
        named.append(path)
    if named == [None, None]:
        raise InputFileError.at(labels, "has no recording or transcript beside it (and names none)")
    return named[0], named[1]


def labelled_calls(folder: Path) -> list[tuple[Path, Path | None, Path | None]]:
    """(labels, audio, transcript) for every CALL.labels.json under `folder`."""
    if not folder.is_dir():
        raise InputFileError.at(folder, "is not a folder of labelled calls")
    found = []
    for labels in sorted(folder.rglob("*.labels.json")):
        stem = labels.with_name(labels.name.removesuffix(".labels.json"))
        audio = next((stem.with_suffix(s) for s in (".wav", ".flac", ".ogg") if stem.with_suffix(s).is_file()), None)
        transcript = stem.with_suffix(".jsonl") if stem.with_suffix(".jsonl").is_file() else None
        if audio is None and transcript is None:
            audio, transcript = named_sources(labels)
        found.append((labels, audio, transcript))
    if not found:
        raise InputFileError.at(folder, "holds no *.labels.json files")
    return found
