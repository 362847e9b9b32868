"""Scoring folders of recorded calls: in parallel, resumable, one bad file never stops a batch.

Every call's report is written atomically (temporary file, then rename), HTML first and JSON
last, so a JSON report on disk is always complete and marks the call as done. A re-run skips a
call whose JSON report carries the same fingerprint: the same audio and transcript bytes, the
same script pack, the same settings and the same callassist version.
"""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from callassist import __version__
from callassist.errors import CallassistError, InputFileError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


@dataclass(frozen=True)
class CallJob:
    """One call to score: a recording, its transcript, or both; `name` is unique in the batch."""

    name: str
    audio: Path | None
    transcript: Path | None
    agent: str | None = None
    started: str | None = None  # ISO datetime, when the call metadata says


@dataclass(frozen=True)
class BatchOptions:
    out: Path
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    asr: str = "vosk"  # "vosk": transcribe calls without a transcript; "none": acoustic analysis only
    model: Path | None = None
    config: Path | None = None
    scripts: tuple[Path, ...] = ()
    mask: bool = False
    agent_pattern: str | None = None  # regex on the call name with a group named `agent` (and `started`)
    metadata: Path | None = None  # CSV with columns call, agent, started (ISO datetime)
    cluster: str | None = None  # Ray address, or "auto" for a local Ray instance


@dataclass(frozen=True)
class CallOutcome:
    name: str
    report: Path | None = None  # the JSON report, when scored (or already scored)
    error: str | None = None
    skipped: bool = False
    duration: float = 0.0


def find_calls(paths: list[Path]) -> list[CallJob]:
    """Every recording under the given files and folders (with `NAME.jsonl` beside it when there
    is one), and every transcript with no recording, in a stable order."""
    jobs: dict[str, CallJob] = {}
    for root in paths:
        if not root.exists():
            raise InputFileError.at(root, "no such file or folder")
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        base = root.parent if root.is_file() else root
        stems: dict[Path, dict[str, Path]] = {}
        for path in files:
            suffix = path.suffix.lower()
            if suffix in AUDIO_SUFFIXES or suffix == ".jsonl":
                stems.setdefault(path.with_suffix(""), {})[suffix] = path
        for stem, found in stems.items():
            audio = next((found[s] for s in AUDIO_SUFFIXES if s in found), None)
            transcript = found.get(".jsonl") or (stem.with_suffix(".jsonl") if stem.with_suffix(".jsonl").is_file() else None)
            name = stem.relative_to(base).as_posix() if stem.is_relative_to(base) else stem.name
            jobs.setdefault(name, CallJob(name, audio, transcript))
    return [jobs[name] for name in sorted(jobs)]


def file_digest(path: Path | None) -> str:
    if path is None:
        return "-"
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def rules_digest(settings_json: dict[str, Any], pack_sources: tuple[str, ...], options: BatchOptions) -> str:
    """What the rules are: settings, the pack's files' bytes, the options that change a report."""
    digest = hashlib.sha256()
    digest.update(json.dumps(settings_json, sort_keys=True, ensure_ascii=False).encode())
    for source in pack_sources:
        digest.update(Path(source).read_bytes())
    digest.update(f"{__version__}|{options.asr}|{options.model}|{options.mask}".encode())
    return digest.hexdigest()


def call_fingerprint(job: CallJob, rules: str) -> str:
    return hashlib.sha256(f"{file_digest(job.audio)}|{file_digest(job.transcript)}|{rules}".encode()).hexdigest()


def report_paths(out: Path, name: str) -> tuple[Path, Path]:
    base = out / "calls" / name
    return base.with_name(base.name + ".json"), base.with_name(base.name + ".html")


def is_current(report_path: Path, fingerprint: str) -> bool:
    try:
        data = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return data.get("call", {}).get("fingerprint") == fingerprint


def remove_leftovers(out: Path) -> None:
    """Temporary files of a run that was killed mid-write (reports are renamed into place)."""
    for leftover in out.rglob(".*.tmp"):
        leftover.unlink(missing_ok=True)


class CallScorer:
    """Scores calls in one worker (process or Ray actor): settings, pack and the speech model
    are loaded once per worker, not once per call."""

    def __init__(self, options: BatchOptions) -> None:
        from callassist.settings import effective_pack, load_settings

        self.options = options
        self.settings = load_settings(options.config)
        self.pack = effective_pack(self.settings, list(options.scripts))
        self.rules = rules_digest(self.settings.to_json(), self.pack.sources, options)
        self.speech_model = None

    def _model(self):
        if self.speech_model is None:
            from callassist.recognition import open_speech_model

            self.speech_model = open_speech_model(self.options.model, interactive=False)
        return self.speech_model

    def score(self, job: CallJob) -> CallOutcome:
        try:
            return self._score(job)
        except CallassistError as error:
            return CallOutcome(job.name, error=str(error))
        except Exception as error:  # one bad file never stops a batch: it is reported with the rest
            return CallOutcome(job.name, error=f"{job.audio or job.transcript}: unexpected {type(error).__name__}: {error}")

    def _score(self, job: CallJob) -> CallOutcome:
        from callassist.reporting.html import call_report_html
        from callassist.replay import ReplayRequest, replay
        from callassist.reporting.report import write_json_atomically, write_text_atomically

        json_path, html_path = report_paths(self.options.out, job.name)
        fingerprint = call_fingerprint(job, self.rules)
        needs_model = job.transcript is None and job.audio is not None and self.options.asr == "vosk"
        request = ReplayRequest(audio=job.audio, transcript=job.transcript)
        report = replay(request, self.settings, self.pack, self._model() if needs_model else None)
        report["call"] |= {"name": job.name, "agent": job.agent, "started": job.started, "fingerprint": fingerprint}
        if self.options.mask:
            from callassist.reporting.masking import mask_report

            report = mask_report(report)
        write_text_atomically(html_path, call_report_html(report, title=job.name))
        write_json_atomically(json_path, report)  # last: a JSON report on disk means the call is done
        return CallOutcome(job.name, json_path, duration=report["call"]["duration"])


_worker: CallScorer | None = None


def _init_worker(options: BatchOptions) -> None:
    global _worker
    _worker = CallScorer(options)


def _score_in_worker(job: CallJob) -> CallOutcome:
    assert _worker is not None
    return _worker.score(job)


def with_metadata(jobs: list[CallJob], options: BatchOptions) -> list[CallJob]:
    """Agent and start time from the metadata CSV, else from the name pattern."""
    from dataclasses import replace

    table: dict[str, dict[str, str]] = {}
    if options.metadata is not None:
        try:
            with open(options.metadata, newline="", encoding="utf-8-sig") as stream:
                for row in csv.DictReader(stream):
                    table[Path(row.get("call", "")).stem] = row
        except OSError as error:
            raise InputFileError.at(options.metadata, f"cannot read call metadata ({error.strerror})") from None
    pattern = re.compile(options.agent_pattern) if options.agent_pattern else None
    enriched = []
    for job in jobs:
        row = table.get(Path(job.name).name, {})
        match = pattern.search(Path(job.name).name) if pattern else None
        groups = match.groupdict() if match else {}
        enriched.append(replace(job, agent=row.get("agent") or groups.get("agent"), started=row.get("started") or _started(groups.get("started"))))
    return enriched


def _started(text: str | None) -> str | None:
    """A start time from a file name: 20261122-143000 or 20261122143000."""
    if not text:
        return None
    digits = re.sub(r"\D", "", text)
    try:
        return datetime.strptime(digits[:14], "%Y%m%d%H%M%S").isoformat()
    except ValueError:
        return None


@dataclass
class Progress:
    """One line on stderr: calls done, audio hours, speed, errors, time left."""

    total: int
    stream: Any = field(default_factory=lambda: sys.stderr)
    clock: Callable[[], float] = time.monotonic
    done: int = 0
    errors: int = 0
    audio_seconds: float = 0.0
    started: float = field(default=0.0)
    last_print: float = field(default=-1e9)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def add(self, outcome: CallOutcome) -> None:
        self.done += 1
        self.errors += outcome.error is not None
        self.audio_seconds += outcome.duration
        now = self.clock()
        if now - self.last_print >= 0.5 or self.done == self.total:
            self.last_print = now
            self.stream.write(self.line(now) + ("\n" if not self.stream.isatty() or self.done == self.total else "\r"))
            self.stream.flush()

    def line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-6)
        speed = self.audio_seconds / elapsed
        left = (self.total - self.done) * elapsed / self.done if self.done else 0.0
        return (
            f"{self.done}/{self.total} calls, {self.audio_seconds / 3600:.2f} h audio, "
            f"{speed:.0f}x real time, {self.errors} error(s), about {left:.0f} s left"
        )


def run_local(jobs: list[CallJob], options: BatchOptions, progress: Progress) -> list[CallOutcome]:
    """Calls in parallel across local processes (spawned: the same on Windows)."""
    outcomes: list[CallOutcome] = []
    if options.workers <= 1:
        scorer = CallScorer(options)
        for job in jobs:
            outcome = scorer.score(job)
            outcomes.append(outcome)
            progress.add(outcome)
        return outcomes
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(options.workers, mp_context=context, initializer=_init_worker, initargs=(options,)) as pool:
        pending: set[Future] = set()
        queue: Iterator[CallJob] = iter(jobs)
        try:
            for job in queue:  # keep a bounded number in flight, so Ctrl-C stops promptly
                pending.add(pool.submit(_score_in_worker, job))
                if len(pending) >= options.workers * 2:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        outcomes.append(future.result())
                        progress.add(outcomes[-1])
            for future in pending:
                outcomes.append(future.result())
                progress.add(outcomes[-1])
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return outcomes


def run_on_ray(jobs: list[CallJob], options: BatchOptions, progress: Progress) -> list[CallOutcome]:
    """The same scoring on a Ray cluster: one actor per worker holds the loaded model."""
    try:
        import ray
        from ray.util import ActorPool
    except ImportError:
        raise CallassistError("--cluster needs Ray: pip install 'callassist[ray]'") from None
    ray.init(address=None if options.cluster == "auto" else options.cluster, ignore_reinit_error=True,
             include_dashboard=False, log_to_driver=False)
    try:
        actor = ray.remote(CallScorer)
        workers = options.workers or int(ray.available_resources().get("CPU", 1))
        pool = ActorPool([actor.remote(options) for _ in range(max(1, workers))])
        outcomes = []
        for outcome in pool.map_unordered(lambda scorer, job: scorer.score.remote(job), jobs):
            outcomes.append(outcome)
            progress.add(outcome)
        return outcomes
    finally:
        ray.shutdown()


def already_current(jobs: list[CallJob], options: BatchOptions) -> list[CallOutcome]:
    """The calls whose report on disk carries the fingerprint they would get now, checked here
    before any worker starts."""
    from callassist.settings import effective_pack, load_settings

    settings = load_settings(options.config)
    pack = effective_pack(settings, list(options.scripts))
    rules = rules_digest(settings.to_json(), pack.sources, options)
    current = []
    for job in jobs:
        json_path, _ = report_paths(options.out, job.name)
        try:
            if json_path.is_file() and is_current(json_path, call_fingerprint(job, rules)):
                current.append(CallOutcome(job.name, json_path, skipped=True))
        except OSError:
            continue  # unreadable now: scored (and its problem reported) by a worker
    return current


@dataclass(frozen=True)
class BatchResult:
    outcomes: list[CallOutcome]
    summary_html: Path
    summary_csv: Path

    @property
    def failures(self) -> list[CallOutcome]:
        return [o for o in self.outcomes if o.error]


def run_batch(paths: list[Path], options: BatchOptions, stream: Any = None) -> BatchResult:
    options.out.mkdir(parents=True, exist_ok=True)
    remove_leftovers(options.out)
    jobs = with_metadata(find_calls(paths), options)
    progress = Progress(len(jobs), stream or sys.stderr)
    outcomes = already_current(jobs, options)
    for outcome in outcomes:
        progress.add(outcome)
    skipped = {outcome.name for outcome in outcomes}
    to_score = [job for job in jobs if job.name not in skipped]
    try:
        if to_score:  # no workers are started (nor Vosk loaded) when everything is current
            runner = run_on_ray if options.cluster else run_local
            outcomes += runner(to_score, options, progress)
    finally:
        summary_html, summary_csv = write_summary(jobs, outcomes, options)
    return BatchResult(outcomes, summary_html, summary_csv)


def write_summary(jobs: list[CallJob], outcomes: list[CallOutcome], options: BatchOptions) -> tuple[Path, Path]:
    """The batch summary over every call with a complete report, this run's or an earlier one's."""
    from callassist.reporting.html import CallRow, FailedCall, batch_summary_html, write_batch_csv
    from callassist.reporting.report import write_text_atomically

    errors = {o.name: o.error for o in outcomes if o.error}
    rows, failures = [], []
    for job in jobs:
        json_path, html_path = report_paths(options.out, job.name)
        if job.name in errors:
            failures.append(FailedCall(job.name, str(job.audio or job.transcript), errors[job.name]))
            continue
        try:
            report = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not scored (yet): an interrupted run
        started = datetime.fromisoformat(job.started) if job.started else None
        rows.append(CallRow.from_report(report, job.name, html_path.relative_to(options.out).as_posix(), job.agent, started))
    event_ids = sorted({event_id for row in rows for event_id in row.counts})
    summary_csv = options.out / "summary.csv"
    write_batch_csv(summary_csv, rows, event_ids)
    summary_html = options.out / "summary.html"
    write_text_atomically(summary_html, batch_summary_html(rows, failures, datetime.now().isoformat(timespec="seconds")))
    return summary_html, summary_csv
