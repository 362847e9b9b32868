"""The QA report of one call, as typed objects: schema `callassist.report/2`
(see docs/report-schema.md).

`build_report` makes a `CallReport` from an engine that has finished a call; `to_json` is its one
JSON form and `CallReport.from_json` reads it back (batch summaries, evaluation). The HTML page,
the CSV, the text summary and `callassist eval` all read these objects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from callassist import __version__
from callassist.audio.features import AnalyzerSettings
from callassist.detectors.hold import HoldDetector
from callassist.detectors.rules import RulesDetector
from callassist.engine import Engine
from callassist.events import Event
from callassist.inputs import Utterance, Word
from callassist.settings import Settings
from callassist.reporting import SCHEMA
from callassist.transcript import utterance_to_json


def _r(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


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
    name: str | None = None  # batch: the call's name, agent, start (ISO) and fingerprint
    agent: str | None = None
    started: str | None = None
    fingerprint: str | None = None
    masked: tuple[str, ...] = ()  # the kinds of numbers masked, when masked
    no_speech: bool = False  # nobody spoke on either channel (see pipeline.marked_no_speech)


@dataclass(frozen=True)
class UtteranceRecord:
    """One utterance of the call's text, with its level and SNR when audio was analysed."""

    utterance: Utterance
    level_dbfs: float | None = None
    snr_db: float | None = None

    def to_json(self) -> dict[str, Any]:
        levels = {"level_dbfs": self.level_dbfs, "snr_db": self.snr_db}
        return utterance_to_json(self.utterance) | {k: v for k, v in levels.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UtteranceRecord:
        words = tuple(Word(w["word"], w["start"], w["end"], w.get("conf")) for w in data.get("words", ()))
        utterance = Utterance(data["speaker"], data["start"], data["end"], data["text"], words)
        return cls(utterance, data.get("level_dbfs"), data.get("snr_db"))


@dataclass(frozen=True)
class GreetingCheck:
    """The opening greeting: said (when) or not."""

    ok: bool | None  # None: not judged (no text)
    t: float | None


@dataclass(frozen=True)
class ClosingCheck:
    """The closing lines: which were said when, or which script's hang-up waived them."""

    ok: bool | None
    said: dict[str, float | None]  # closing line id -> when said
    waived_by: str | None  # the situation whose script ended the call


@dataclass(frozen=True)
class HoldRecord:
    """One hold: when it started and ended, and how the agent came back."""

    start: float
    end: float | None
    returned_with_thanks: bool | None
    too_long: bool


@dataclass(frozen=True)
class HoldCheck:
    """Hold etiquette over the call's holds."""

    ok: bool
    holds: tuple[HoldRecord, ...]


@dataclass(frozen=True)
class Checklist:
    """The report's checklist: greeting, closing and holds."""

    greeting: GreetingCheck
    closing: ClosingCheck
    hold: HoldCheck

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checklist:
        hold = data["hold"]
        return cls(
            GreetingCheck(**data["greeting"]),
            ClosingCheck(**data["closing"]),
            HoldCheck(hold["ok"], tuple(HoldRecord(**h) for h in hold["holds"])),
        )


@dataclass(frozen=True)
class SpeakerTalk:
    """One speaker's talk time and share, and the levels measured from their audio."""

    talk_time: float
    talk_share: float
    level_dbfs: float | None = None  # from audio only
    noise_floor_dbfs: float | None = None
    snr_db: float | None = None


@dataclass(frozen=True)
class TalkFigures:
    """Talk time, silence and overlap over the call."""

    duration: float
    non_talk_time: float
    non_talk_share: float
    overlap_time: float
    interruptions: int
    speakers: dict[str, SpeakerTalk]
    from_audio: bool  # levels, noise floors and SNRs were measured

    def to_json(self) -> dict[str, Any]:
        speakers = {}
        for speaker, figures in self.speakers.items():
            entry = asdict(figures)
            if not self.from_audio:
                entry = {"talk_time": entry["talk_time"], "talk_share": entry["talk_share"]}
            speakers[speaker] = entry
        return {
            "duration": self.duration, "non_talk_time": self.non_talk_time,
            "non_talk_share": self.non_talk_share, "overlap_time": self.overlap_time,
            "interruptions": self.interruptions, "speakers": speakers,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TalkFigures:
        speakers = {s: SpeakerTalk(**figures) for s, figures in data["speakers"].items()}
        from_audio = any("level_dbfs" in figures for figures in data["speakers"].values())
        fields_ = {k: data[k] for k in ("duration", "non_talk_time", "non_talk_share", "overlap_time", "interruptions")}
        return cls(**fields_, speakers=speakers, from_audio=from_audio)


@dataclass(frozen=True)
class Deduction:
    """Points taken off the score for an event."""

    event_id: str
    t: float
    points: int


@dataclass(frozen=True)
class FatalItem:
    """An event of a fatal rule: the call fails whatever its score."""

    event_id: str
    t: float
    title: str


@dataclass(frozen=True)
class Score:
    """The call's score: the starting points less the deductions; a fatal item fails the call whatever its score."""

    value: int
    start: int
    deductions: tuple[Deduction, ...]
    fatal: tuple[FatalItem, ...] = ()

    @property
    def failed(self) -> bool:
        return bool(self.fatal)


def score(events: list[Event], start: int, deductions: dict[str, int]) -> Score:
    """Points off per event id (`deductions`), and the fatal items among the events."""
    taken = tuple(Deduction(e.id, e.t, deductions[e.id]) for e in events if deductions.get(e.id))
    fatal = tuple(FatalItem(e.id, e.t, e.title or e.id) for e in events if e.fatal)
    return Score(max(0, start - sum(d.points for d in taken)), start, taken, fatal)


def deductions_of(engine: Engine) -> dict[str, int]:
    """Points per event id: the settings' `[score.deductions]`, then each pack rule's own."""
    return engine.settings.score.deductions | {r.id: r.deduction for r in engine.pack.rules if r.deduction is not None}


@dataclass(frozen=True)
class CallReport:
    """Everything a call's judgement says: its source, settings, text, events, checklist and score."""

    source: CallSource
    settings: Settings
    analyzer: AnalyzerSettings | None  # None when no audio was analysed
    script_pack: tuple[str, ...]
    withdrawn_flags: int
    utterances: tuple[UtteranceRecord, ...]
    events: tuple[Event, ...]
    checklist: Checklist
    talk: TalkFigures
    score: Score
    generator: str = f"callassist {__version__}"
    schema: str = SCHEMA

    @property
    def name(self) -> str:
        """The call's name: its batch name, else its audio or transcript file's stem."""
        if self.source.name:
            return self.source.name
        return Path(self.source.audio or self.source.transcript or "call").stem

    def with_source(self, **changes: Any) -> CallReport:
        return replace(self, source=replace(self.source, **changes))

    def to_json(self) -> dict[str, Any]:
        source = self.source
        call: dict[str, Any] = {
            "audio": source.audio,
            "transcript": source.transcript,
            "duration": round(source.duration, 2),
            "channel_map": dict(source.channel_map),
            "text_from": source.text_from,
            "activity_from": source.activity_from,
            "notes": list(source.notes),
            "withdrawn_flags": self.withdrawn_flags,
            "script_pack": list(self.script_pack),
            "settings": self.settings.to_json(),
            "analyzer": asdict(self.analyzer) if self.analyzer is not None else None,
        }
        for key in ("name", "agent", "started", "fingerprint"):
            if getattr(source, key) is not None:
                call[key] = getattr(source, key)
        if source.masked:
            call["masked"] = list(source.masked)
        if source.no_speech:
            call["no_speech"] = True
        check = self.checklist
        return {
            "schema": self.schema,
            "generator": self.generator,
            "call": call,
            "utterances": [u.to_json() for u in self.utterances],
            "events": [e.to_json() for e in self.events],
            "checklist": {
                "greeting": {"ok": check.greeting.ok, "t": _r(check.greeting.t)},
                "closing": {
                    "ok": check.closing.ok,
                    "said": {k: _r(v) for k, v in check.closing.said.items()},
                    "waived_by": check.closing.waived_by,
                },
                "hold": {
                    "ok": check.hold.ok,
                    "holds": [
                        {"start": _r(h.start), "end": _r(h.end), "returned_with_thanks": h.returned_with_thanks, "too_long": h.too_long}
                        for h in check.hold.holds
                    ],
                },
            },
            "talk": self.talk.to_json(),
            "score": {
                "value": self.score.value,
                "start": self.score.start,
                "deductions": [{"id": d.event_id, "t": round(d.t, 2), "points": d.points} for d in self.score.deductions],
                "fatal": [{"id": f.event_id, "t": round(f.t, 2), "title": f.title} for f in self.score.fatal],
                "failed": self.score.failed,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallReport:
        """A report read back from its JSON (schema callassist.report/2)."""
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} report (schema: {data.get('schema')!r})")
        call = data["call"]
        source = CallSource(
            audio=call["audio"], transcript=call["transcript"], duration=call["duration"],
            channel_map=call["channel_map"], text_from=call["text_from"], activity_from=call["activity_from"],
            notes=tuple(call["notes"]), name=call.get("name"), agent=call.get("agent"),
            started=call.get("started"), fingerprint=call.get("fingerprint"), masked=tuple(call.get("masked", ())),
            no_speech=bool(call.get("no_speech")),
        )
        score_data = data["score"]
        return cls(
            source=source,
            settings=Settings.from_json(call["settings"]),
            analyzer=AnalyzerSettings(**call["analyzer"]) if call.get("analyzer") else None,
            script_pack=tuple(call["script_pack"]),
            withdrawn_flags=call["withdrawn_flags"],
            utterances=tuple(UtteranceRecord.from_json(u) for u in data["utterances"]),
            events=tuple(Event(**e) for e in data["events"]),
            checklist=Checklist.from_json(data["checklist"]),
            talk=TalkFigures.from_json(data["talk"]),
            score=Score(
                score_data["value"], score_data["start"],
                tuple(Deduction(d["id"], d["t"], d["points"]) for d in score_data["deductions"]),
                tuple(FatalItem(f["id"], f["t"], f["title"]) for f in score_data.get("fatal", ())),
            ),
            generator=data["generator"],
        )


# The standard's rules (scripts_zh/rules.toml) whose verdicts make the checklist.
GREETING_RULE, CLOSING_RULE, HOLD_RETURN_RULE = "missing_greeting", "missing_closing", "missing_hold_return"


def checklist(engine: Engine) -> Checklist:
    """The standard's checklist, from the verdicts of its greeting, closing and hold-return rules
    (a deployment that disables one leaves its item unjudged) and the hold timer."""
    rules = engine.detector(RulesDetector)
    assert isinstance(rules, RulesDetector)
    hold = engine.detector(HoldDetector)
    assert isinstance(hold, HoldDetector)
    waived_by = engine.state.ended_by
    judged = engine.state.has_text  # greeting and closing are judged on what was said
    greeting = next(iter(rules.verdicts(GREETING_RULE)), None)
    closing = next(iter(rules.verdicts(CLOSING_RULE)), None)
    closing_lines = rules.lines(CLOSING_RULE)
    said = closing.said if closing else {}
    returns = {w.hold: w.ok for w in rules.verdicts(HOLD_RETURN_RULE)}
    holds = tuple(
        HoldRecord(held.start, held.end, returns.get(index), index in hold.too_long)
        for index, held in enumerate(engine.state.phase.holds)
    )
    return Checklist(
        greeting=GreetingCheck(
            bool(greeting.ok) if judged and greeting else None, greeting.said_in if greeting else None
        ),
        closing=ClosingCheck(
            ok=(bool(waived_by) or all(line in said for line in closing_lines)) if judged and closing else None,
            said={line: said.get(line) for line in closing_lines},
            waived_by=waived_by,
        ),
        hold=HoldCheck(
            ok=all(h.returned_with_thanks is not False and not h.too_long for h in holds),
            holds=holds,
        ),
    )


def talk_figures(engine: Engine, duration: float) -> TalkFigures:
    stats = engine.stats
    total_talk = sum(stats.talk.values()) or 1.0
    speakers = {}
    for speaker, talk in stats.talk.items():
        levels = stats.speaker_levels(speaker) if stats.has_levels else (None, None, None)
        speakers[speaker] = SpeakerTalk(round(talk, 2), round(talk / total_talk, 3), *levels)
    return TalkFigures(
        duration=round(duration, 2),
        non_talk_time=round(stats.non_talk, 2),
        non_talk_share=round(stats.non_talk / duration, 3) if duration else 0.0,
        overlap_time=round(stats.overlap, 2),
        interruptions=sum(1 for e in engine.events if e.id == "crosstalk"),
        speakers=speakers,
        from_audio=stats.has_levels,
    )


def build_report(
    engine: Engine,
    source: CallSource,
    utterances: list[Utterance],
    analyzer: AnalyzerSettings | None = None,
) -> CallReport:
    """The report of a finished call. `analyzer`: the audio analyser's settings, when audio
    was analysed (the report states every setting a verdict depended on)."""
    settings = engine.settings
    levels = [engine.stats.utterance_levels(u) for u in utterances]
    return CallReport(
        source=source,
        settings=settings,
        analyzer=analyzer,
        script_pack=tuple(engine.pack.sources),
        withdrawn_flags=len(engine.withdrawn),
        utterances=tuple(UtteranceRecord(u, *level) for u, level in zip(utterances, levels)),
        events=tuple(engine.events),
        checklist=checklist(engine),
        talk=talk_figures(engine, source.duration),
        score=score(engine.events, settings.score.start, deductions_of(engine)),
    )


def format_time(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes):02d}:{rest:05.2f}"
