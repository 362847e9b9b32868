"""Scoring folders of recorded calls: in parallel, resumable, one bad file never stops a batch.

Every call's report is written atomically (temporary file, then rename), HTML first and JSON
last, so a JSON report on disk is always complete and marks the call as done. A re-run skips a
call whose JSON report carries the same fingerprint: the same audio and transcript bytes, the
same name, agent and start time, the same script pack, the same settings and the same
callassist version.

Nothing is lost silently: every recording and transcript found is scored or listed as failed
with its reason (a broken link, a call over its time limit, a worker that died); every output
name is derived from the input's relative path and unique (case-insensitively, and after
masking); bad options and metadata are refused before any call is scored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from callassist import __version__
from callassist.errors import CallassistError, InputFileError
from callassist.reporting import SCHEMA

if TYPE_CHECKING:  # the worker processes' modules are imported where workers start
    import multiprocessing.connection
    import multiprocessing.process

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
TRANSCRIPT_SUFFIX = ".jsonl"
METADATA_COLUMNS = ("call", "agent", "started")
LOCK_NAME = ".callassist.lock"
SUMMARY_KEY_NAME = ".callassist.summary"  # what the summary was last written from (`summary_key`)
MIN_FREE_BYTES = 50_000_000  # less free space than this in --out is refused before any work


@dataclass(frozen=True)
class CallJob:
    """One call to score: a recording, its transcript, or both.

    `name` is the input's path relative to the folder given (without its suffix, unless two
    recordings share it), unique in the batch; `output` is the name its reports get (masked
    with --mask, unique case-insensitively). A job with a `problem` is listed as failed."""

    name: str
    audio: Path | None
    transcript: Path | None
    agent: str | None = None
    started: str | None = None  # ISO datetime, when the call metadata says
    output: str = ""  # defaults to `name`
    problem: str | None = None

    @property
    def source(self) -> str:
        return str(self.audio or self.transcript or self.name)

    @property
    def report_name(self) -> str:
        return self.output or self.name

    def shown(self, path: Path | None) -> str | None:
        """`path` (the job's recording or transcript) as the batch names it: relative to the
        folder given (what a masked report says; unmasked, as the masked report name is)."""
        if path is None:
            return None
        folder = self.name.rpartition("/")[0]
        return f"{folder}/{path.name}" if folder else path.name


@dataclass(frozen=True)
class BatchOptions:
    out: Path
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    asr: str = "vosk"  # "vosk": transcribe calls without a transcript; "none": acoustic analysis only
    model: Path | None = None
    config: Path | None = None
    scripts: tuple[Path, ...] = ()
    mask: bool = False  # also when the config's privacy.mask is true
    agent_pattern: str | None = None  # regex on the call name with a group named `agent` (and `started`)
    metadata: Path | None = None  # CSV with columns call, agent, started (ISO datetime)
    cluster: str | None = None  # Ray address, or "auto" for a local Ray instance
    call_timeout: float = 300.0  # seconds per call, plus twice the recording's length


@dataclass(frozen=True)
class CallOutcome:
    name: str  # the job's report name
    report: Path | None = None  # the JSON report, when scored (or already scored)
    error: str | None = None
    skipped: bool = False
    duration: float = 0.0
    fingerprint: str | None = None  # the report's, when scored (or already scored)


# ---------------------------------------------------------------- finding calls


def find_calls(paths: list[Path]) -> list[CallJob]:
    """Every recording under the given files and folders (with `NAME.jsonl` beside it when there
    is one), every transcript with no recording, and every broken link, in a stable order.

    Symlinked sub-folders are followed (a link back into the tree is not walked twice). With
    several folders given, names start with the folder's name; `x.wav` beside `x.flac` are two
    calls, `x.wav` and `x.flac`, both with `x.jsonl` when there is one."""
    roots = list(dict.fromkeys(Path(os.path.abspath(p)) for p in paths))
    folder_roots = [r for r in roots if r.is_dir()]
    prefixes = _unique_names([r.name or "root" for r in folder_roots]) if len(roots) > 1 else [""] * len(folder_roots)
    prefix_of = dict(zip(folder_roots, prefixes))
    jobs: list[CallJob] = []
    for root in roots:
        if root.is_symlink() and not root.exists():
            raise InputFileError.at(root, f"is a broken link (to {os.readlink(root)}); fix or remove it")
        if not root.exists():
            raise InputFileError.at(root, "no such file or folder")
        if root.is_file():
            jobs += _calls_in([root], root.parent, "")
            continue
        files, problems = _walk(root)
        prefix = prefix_of[root] + "/" if prefix_of[root] else ""
        jobs += _calls_in(files, root, prefix)
        jobs += [CallJob(prefix + rel, None, None, problem=problem) for rel, problem in problems]
    names = _unique_names([job.name for job in jobs])
    return sorted((replace(job, name=name) for job, name in zip(jobs, names)), key=lambda j: j.name)


def _walk(root: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Call files under `root` following symlinked folders, and (relative name, problem) for
    broken links and folders that cannot be read."""
    files: list[Path] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()

    def unreadable(error: OSError) -> None:
        rel = Path(error.filename).relative_to(root).as_posix() if error.filename else "."
        problems.append((rel, f"{error.filename}: cannot read folder ({error.strerror}); fix its permissions"))

    for folder, subfolders, names in os.walk(root, followlinks=True, onerror=unreadable):
        real = os.path.realpath(folder)
        if real in seen:  # a link to a folder already walked (or a loop): its calls are found once
            subfolders[:] = []
            continue
        seen.add(real)
        subfolders.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if path.suffix.lower() not in (*AUDIO_SUFFIXES, TRANSCRIPT_SUFFIX):
                continue
            if path.is_symlink() and not path.exists():
                rel = path.relative_to(root).as_posix()
                problems.append((rel, f"{path}: broken link (to {os.readlink(path)}); fix or remove it"))
            else:
                files.append(path)
    return files, problems


def _calls_in(files: Iterable[Path], base: Path, prefix: str) -> list[CallJob]:
    by_stem: dict[Path, list[Path]] = {}
    for path in files:
        by_stem.setdefault(path.with_suffix(""), []).append(path)
    jobs = []
    for stem, found in by_stem.items():
        audio = sorted(p for p in found if p.suffix.lower() in AUDIO_SUFFIXES)
        transcripts = sorted(p for p in found if p.suffix.lower() == TRANSCRIPT_SUFFIX)
        transcript = transcripts[0] if transcripts else None
        name = prefix + stem.relative_to(base).as_posix()
        if len(audio) <= 1:
            jobs.append(CallJob(name, audio[0] if audio else None, transcript))
        else:  # x.wav beside x.flac: two recordings, two calls, named with their suffix
            jobs += [CallJob(name + path.suffix, path, transcript) for path in audio]
    return jobs


def _unique_names(names: list[str]) -> list[str]:
    """The names, a later one that equals an earlier one case-insensitively (as Windows and
    macOS file names compare) getting `~2`, `~3`, ..."""
    taken: set[str] = set()
    unique = []
    for name in names:
        candidate, number = name, 2
        while candidate.casefold() in taken:
            candidate, number = f"{name}~{number}", number + 1
        taken.add(candidate.casefold())
        unique.append(candidate)
    return unique


def with_outputs(jobs: list[CallJob], mask: bool) -> list[CallJob]:
    """Each job's report name: its name, masked with --mask (numbers in file names are personal
    data too), unique in the batch."""
    wanted = [job.name for job in jobs]
    if mask:
        from callassist.reporting.masking import mask_free_text

        wanted = [mask_free_text(name) for name in wanted]
    return [replace(job, output=output) for job, output in zip(jobs, _unique_names(wanted))]


# ---------------------------------------------------------------- metadata


@dataclass(frozen=True)
class CallMetadata:
    agent: str | None
    started: str | None  # ISO datetime


def with_metadata(jobs: list[CallJob], options: BatchOptions) -> list[CallJob]:
    """Agent and start time from the metadata CSV (matched by the call's relative path), else
    from the name pattern. Problems with either are refused here, before any call is scored."""
    table = read_metadata(options.metadata, [job.name for job in jobs]) if options.metadata else {}
    pattern = compile_agent_pattern(options.agent_pattern) if options.agent_pattern else None
    enriched = []
    for job in jobs:
        row = table.get(job.name, CallMetadata(None, None))
        match = pattern.search(Path(job.name).name) if pattern else None
        groups = {k: v for k, v in match.groupdict().items() if v} if match else {}
        enriched.append(replace(job, agent=row.agent or groups.get("agent"), started=row.started or _started(groups.get("started"))))
    return enriched


def compile_agent_pattern(pattern: str) -> Any:
    """--agent-pattern, matched in linear time (RE2), with a group `agent` or `started`."""
    import re2

    from callassist.scriptpack import compile_pattern

    try:
        compiled = compile_pattern(pattern)
    except re2.error as error:
        reason = error.args[0].decode("utf-8", "replace") if isinstance(error.args[0], bytes) else str(error)
        raise CallassistError(f"--agent-pattern {pattern!r}: not a valid regular expression ({reason})") from None
    if not {"agent", "started"} & set(compiled.groupindex):
        raise CallassistError(f"--agent-pattern {pattern!r}: needs a group (?P<agent>...) or (?P<started>...)")
    return compiled


def read_metadata(path: Path, names: list[str]) -> dict[str, CallMetadata]:
    """The CSV's rows by call name. `call` is the recording's path relative to the folder given
    (with or without its suffix; a bare file name is enough when it names one call only)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputFileError.at(path, f"cannot read call metadata ({error.strerror}); check --metadata") from None
    text = InputFileError.decode_utf8(path, raw, "not UTF-8 text (a GBK/ANSI export?); save it as \"CSV UTF-8\"")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip().lower() for cell in next(reader, [])]
        if "call" not in header or len(set(header)) != len(header) or not set(header) <= set(METADATA_COLUMNS):
            shown = ",".join(header) or "nothing"
            raise InputFileError.at(path, f"the header must name the columns call,agent,started (agent or started may be left out), not {shown}", 1)
        table: dict[str, CallMetadata] = {}
        first_line: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputFileError.at(path, f"{len(row)} cell(s) where the header has {len(header)}", line)
            values = {column: cell.strip() for column, cell in zip(header, row)}
            started = values.get("started") or None
            if started is not None:
                started = _iso_started(path, line, started)
            for name in _matching_names(path, line, values["call"], names):
                if name in table:
                    raise InputFileError.at(path, f"call {name} is given twice (first on line {first_line[name]})", line)
                table[name], first_line[name] = CallMetadata(values.get("agent") or None, started), line
    except csv.Error as error:
        raise InputFileError.at(path, f"not a readable CSV file ({error})", reader.line_num) from None
    return table


def _iso_started(path: Path, line: int, text: str) -> str:
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise InputFileError.at(
            path, f"started {text!r} is not a date and time such as 2026-11-22 14:30:00 (ISO 8601)", line
        ) from None


def _matching_names(path: Path, line: int, call: str, names: list[str]) -> list[str]:
    if not call:
        raise InputFileError.at(path, "empty call cell; give the recording's path relative to the folder", line)
    key = call.replace("\\", "/").strip("/")
    stem = key[: -len(Path(key).suffix)] if Path(key).suffix.lower() in (*AUDIO_SUFFIXES, TRANSCRIPT_SUFFIX) else key
    if key in names:
        return [key]
    matched = [name for name in names if _without_audio_suffix(name) == stem]
    if matched or "/" in key:
        return matched
    matched = [name for name in names if _without_audio_suffix(name).rsplit("/", 1)[-1] == stem]
    if len({_without_audio_suffix(name) for name in matched}) > 1:
        shown = " and ".join(matched[:2]) + (" ..." if len(matched) > 2 else "")
        raise InputFileError.at(path, f"call {call!r} could be {shown}; give its path relative to the folder", line)
    return matched


def _without_audio_suffix(name: str) -> str:
    suffix = Path(name).suffix
    return name[: -len(suffix)] if suffix.lower() in AUDIO_SUFFIXES else name


def _started(text: str | None) -> str | None:
    """A start time from a file name: 20261122-143000 or 20261122143000."""
    if not text:
        return None
    digits = re.sub(r"\D", "", text)
    try:
        return datetime.strptime(digits[:14], "%Y%m%d%H%M%S").isoformat()
    except ValueError:
        return None


# ---------------------------------------------------------------- fingerprints and reports


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
    """The call's bytes, what the batch knows of it (name, agent, start) and the rules."""
    known = json.dumps([job.name, job.report_name, job.agent, job.started], ensure_ascii=False)
    return hashlib.sha256(f"{file_digest(job.audio)}|{file_digest(job.transcript)}|{known}|{rules}".encode()).hexdigest()


def report_paths(out: Path, name: str) -> tuple[Path, Path]:
    base = out / "calls" / name
    return base.with_name(base.name + ".json"), base.with_name(base.name + ".html")


def is_current(report_path: Path, fingerprint: str) -> bool:
    try:
        data = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return data.get("schema") == SCHEMA and data.get("call", {}).get("fingerprint") == fingerprint


def remove_leftovers(out: Path) -> None:
    """Temporary files of a run that was killed mid-write (reports are renamed into place).
    Called only while holding the lock on `out`: no other batch is writing there."""
    for leftover in out.rglob(".*.tmp"):
        leftover.unlink(missing_ok=True)


class CallScorer:
    """Scores calls in one worker (process or Ray actor): settings, pack and the speech model
    are loaded once per worker, not once per call."""

    def __init__(self, options: BatchOptions) -> None:
        # What scoring uses is imported now, so that a call's time limit is not spent on imports.
        import callassist.replay  # noqa: F401
        import callassist.reporting.html  # noqa: F401
        from callassist.settings import effective_pack, load_settings

        self.options = options
        self.settings = load_settings(options.config)
        self.pack = effective_pack(self.settings, list(options.scripts))
        self.rules = rules_digest(self.settings.to_json(), self.pack.sources, options)
        self.speech_model = None

    def ready(self) -> bool:
        """Answers once the scorer is loaded (a Ray actor's first call waits for its __init__)."""
        return True

    def _model(self):
        if self.speech_model is None:
            from callassist.recognition import open_speech_model

            self.speech_model = open_speech_model(self.options.model, interactive=False)
        return self.speech_model

    def score(self, job: CallJob) -> CallOutcome:
        try:
            return self._score(job)
        except CallassistError as error:
            return CallOutcome(job.report_name, error=str(error))
        except Exception as error:  # one bad file never stops a batch: it is reported with the rest
            return CallOutcome(job.report_name, error=f"{job.source}: unexpected {type(error).__name__}: {error}")

    def _score(self, job: CallJob) -> CallOutcome:
        from callassist.recognition import VoskRecognition
        from callassist.replay import ReplayRequest, replay
        from callassist.reporting.html import call_report_html
        from callassist.atomic import write_json_atomically, write_text_atomically
        from callassist.reporting.report import CallReport

        json_path, html_path = report_paths(self.options.out, job.report_name)
        fingerprint = call_fingerprint(job, self.rules)
        needs_model = job.transcript is None and job.audio is not None and self.options.asr == "vosk"
        request = ReplayRequest(audio=job.audio, transcript=job.transcript)
        report = replay(request, self.settings, self.pack, VoskRecognition(self._model()) if needs_model else None)
        report = report.with_source(name=job.report_name, agent=job.agent, started=job.started, fingerprint=fingerprint)
        data = report.to_json()
        if self.options.mask:
            from callassist.reporting.masking import mask_report

            data = mask_report(data, {"audio": job.shown(job.audio), "transcript": job.shown(job.transcript)})
            report = CallReport.from_json(data)
        write_text_atomically(html_path, call_report_html(report, title=job.report_name))
        write_json_atomically(json_path, data)  # last: a JSON report on disk means the call is done
        return CallOutcome(job.report_name, json_path, duration=report.source.duration, fingerprint=fingerprint)


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


# ---------------------------------------------------------------- worker processes


def _worker_main(options: BatchOptions, connection: multiprocessing.connection.Connection) -> None:
    """A worker: scores the jobs the parent sends, one at a time, until told to stop (None)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches every process; the parent stops us
    _exit_with_parent()
    try:
        scorer: CallScorer | None = CallScorer(options)
        problem = ""
    except CallassistError as error:  # checked by the parent already; reported per call if not
        scorer, problem = None, str(error)
    connection.send(_READY)  # a call's time limit runs from here, not from the process start
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        connection.send(scorer.score(job) if scorer else CallOutcome(job.report_name, error=problem))


def _exit_with_parent() -> None:
    """End this process when its parent ends, however the parent ends (kill -9 included): a
    thread waits on the parent's sentinel (a handle on Windows, a pipe elsewhere)."""
    import multiprocessing.connection

    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(3)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


_READY = "ready"
STARTUP_SECONDS = 300.0  # a worker not ready (imports, settings, pack) after this is stopped


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    connection: multiprocessing.connection.Connection
    job: CallJob | None = None
    deadline: float = 0.0
    ready: bool = False


def call_time_limit(job: CallJob, options: BatchOptions) -> float:
    """Seconds a call may take: --call-timeout, plus twice the recording's length."""
    seconds = 0.0
    if job.audio is not None:
        import soundfile

        try:
            seconds = soundfile.info(str(job.audio)).duration
        except Exception:  # unreadable: the worker reports why; the base limit applies
            seconds = 0.0
    return options.call_timeout + 2.0 * seconds


def over_time_limit(job: CallJob, options: BatchOptions) -> str:
    limit = call_time_limit(job, options)
    return f"{job.source}: took longer than its time limit ({limit:.0f} s; see --call-timeout); stopped"


def worker_ended(job: CallJob, detail: str) -> str:
    return f"{job.source}: the worker scoring it ended unexpectedly ({detail}); out of memory?"


def run_local(jobs: list[CallJob], options: BatchOptions, progress: Progress) -> list[CallOutcome]:
    """Calls in parallel across worker processes (spawned: the same on Windows). A call over its
    time limit, or whose worker dies, is listed as failed and its worker replaced."""
    import multiprocessing.connection

    context = multiprocessing.get_context("spawn")
    pending = deque(jobs)
    outcomes: list[CallOutcome] = []
    workers: list[_Worker] = []

    def start() -> _Worker:
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_worker_main, args=(options, child_end), daemon=True, name="callassist-worker")
        process.start()
        child_end.close()
        return _Worker(process, parent_end)

    def assign(worker: _Worker) -> None:
        worker.job = None
        if pending:
            job = pending.popleft()
            limit = call_time_limit(job, options)
            worker.deadline = time.monotonic() + limit + (0.0 if worker.ready else STARTUP_SECONDS)
            worker.job = job
            worker.connection.send(job)

    def finish(outcome: CallOutcome) -> None:
        outcomes.append(outcome)
        progress.add(outcome)

    try:
        for _ in range(max(1, min(options.workers, len(jobs)))):
            workers.append(start())
            assign(workers[-1])
        while busy := [w for w in workers if w.job is not None]:
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = set(multiprocessing.connection.wait(
                [w.connection for w in busy] + [w.process.sentinel for w in busy], timeout
            ))
            for worker in busy:
                assert worker.job is not None
                if worker.connection in ready:
                    try:
                        message = worker.connection.recv()
                        if message == _READY:  # its first call's time limit starts now
                            worker.ready = True
                            worker.deadline = time.monotonic() + call_time_limit(worker.job, options)
                        else:
                            finish(message)
                            assign(worker)
                        continue
                    except (EOFError, OSError):
                        pass  # died mid-answer: handled as a death below
                late = time.monotonic() >= worker.deadline
                if worker.process.sentinel not in ready and worker.connection not in ready and not late:
                    continue
                job = worker.job
                _stop(worker)
                if late:
                    reason = over_time_limit(job, options)
                else:
                    reason = worker_ended(job, f"exit code {worker.process.exitcode}")
                finish(CallOutcome(job.report_name, error=reason))
                replacement = start()
                workers[workers.index(worker)] = replacement
                assign(replacement)
    finally:
        for worker in workers:
            _stop(worker)
    return outcomes


def _stop(worker: _Worker) -> None:
    """Ask a worker to stop; terminate it if it is busy or does not."""
    if worker.process.is_alive() and worker.job is None:
        try:
            worker.connection.send(None)
        except OSError:
            pass
        worker.process.join(5)
    if worker.process.is_alive():
        worker.process.terminate()  # TerminateProcess on Windows
        worker.process.join(5)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join()
    worker.connection.close()


class RemoteWorkers(Protocol):
    """Workers elsewhere (Ray actors), as `run_remote` drives them: each call it submits gives a
    handle to wait on. The seam lets the scheduling be tested without Ray."""

    def start(self) -> Any:
        """A new worker; it loads settings, pack and model before it answers."""

    def ready(self, worker: Any) -> Any:
        """A handle that completes once `worker` has loaded what it needs."""

    def submit(self, worker: Any, job: CallJob) -> Any:
        """A handle on the outcome of `worker` scoring `job`."""

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        """The handles of `handles` complete within `timeout` seconds (none when none are)."""

    def result(self, handle: Any) -> Any:
        """What a complete handle holds; raises when its worker died or its call raised."""

    def stop(self, worker: Any) -> None:
        """End `worker` now, even mid-call."""


@dataclass
class _RemoteWorker:
    worker: Any
    handle: Any  # its readiness while it starts, then its call's outcome
    job: CallJob | None = None
    deadline: float = 0.0
    ready: bool = False


def run_remote(jobs: list[CallJob], options: BatchOptions, progress: Progress, remote: RemoteWorkers, count: int) -> list[CallOutcome]:
    """Calls across `count` remote workers with the local pool's rules: a call over its time
    limit (from when its worker is ready; a worker gets STARTUP_SECONDS more to get ready), or
    whose worker dies, is listed as failed with its reason and its worker replaced."""
    pending = deque(jobs)
    outcomes: list[CallOutcome] = []
    workers: list[_RemoteWorker] = []

    def start() -> _RemoteWorker:
        worker = remote.start()
        started = _RemoteWorker(worker, remote.ready(worker))
        if pending:
            started.job = pending.popleft()
            started.deadline = time.monotonic() + STARTUP_SECONDS + call_time_limit(started.job, options)
        return started

    def assign(worker: _RemoteWorker) -> None:
        worker.job = None
        if pending:
            worker.job = pending.popleft()
            worker.deadline = time.monotonic() + call_time_limit(worker.job, options)
            worker.handle = remote.submit(worker.worker, worker.job)

    def finish(outcome: CallOutcome) -> None:
        outcomes.append(outcome)
        progress.add(outcome)

    try:
        workers += [start() for _ in range(max(1, min(count, len(jobs))))]
        while busy := [w for w in workers if w.job is not None]:
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            done = remote.wait([w.handle for w in busy], timeout)
            for worker in busy:
                assert worker.job is not None
                job = worker.job
                if any(handle is worker.handle for handle in done):
                    try:
                        answer = remote.result(worker.handle)
                    except Exception as error:  # the actor died (or its call raised): listed, replaced
                        detail = " ".join(f"{type(error).__name__}: {error}".split())[:300]
                        reason = worker_ended(job, detail)
                    else:
                        if not worker.ready:  # loaded: its first call goes out, its time limit starts now
                            worker.ready = True
                            worker.deadline = time.monotonic() + call_time_limit(job, options)
                            worker.handle = remote.submit(worker.worker, job)
                        else:
                            finish(answer)
                            assign(worker)
                        continue
                elif time.monotonic() >= worker.deadline:
                    reason = over_time_limit(job, options)
                else:
                    continue
                remote.stop(worker.worker)
                finish(CallOutcome(job.report_name, error=reason))
                replacement = start()
                workers[workers.index(worker)] = replacement
    finally:
        for worker in workers:
            remote.stop(worker.worker)
    return outcomes


class _RayWorkers:
    """`RemoteWorkers` as Ray actors, each a `CallScorer` holding the loaded model."""

    def __init__(self, ray: Any, options: BatchOptions) -> None:
        self.ray = ray
        self.options = options
        self.actor = ray.remote(CallScorer)

    def start(self) -> Any:
        return self.actor.remote(self.options)

    def ready(self, worker: Any) -> Any:
        return worker.ready.remote()

    def submit(self, worker: Any, job: CallJob) -> Any:
        return worker.score.remote(job)

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        done, _ = self.ray.wait(handles, num_returns=1, timeout=timeout)
        return done

    def result(self, handle: Any) -> Any:
        return self.ray.get(handle)

    def stop(self, worker: Any) -> None:
        self.ray.kill(worker, no_restart=True)


def run_on_ray(jobs: list[CallJob], options: BatchOptions, progress: Progress) -> list[CallOutcome]:
    """The same scoring on a Ray cluster: one actor per worker holds the loaded model; the same
    per-call time limit and failure reporting as the local pool (`run_remote`)."""
    try:
        import ray
    except ImportError:
        raise CallassistError("--cluster needs Ray: pip install 'callassist[ray]'") from None
    ray.init(address=None if options.cluster == "auto" else options.cluster, ignore_reinit_error=True,
             include_dashboard=False, log_to_driver=False)
    try:
        count = options.workers or int(ray.available_resources().get("CPU", 1))
        return run_remote(jobs, options, progress, _RayWorkers(ray, options), count)
    finally:
        ray.shutdown()


# ---------------------------------------------------------------- the output folder


class OutputLock:
    """An exclusive lock on the output folder for one batch at a time. It is an OS lock on an
    open file (flock, or msvcrt on Windows), released by the OS when the process ends, however
    it ends: a killed batch never leaves a stale lock."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = out / LOCK_NAME
        self.file: Any = None

    def __enter__(self) -> OutputLock:
        self.file = os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), "r+b")  # 0600, as every file here
        try:
            if sys.platform == "win32":
                import msvcrt

                self.file.seek(0)
                msvcrt.locking(self.file.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.file.close()
            raise CallassistError(
                f"--out {self.out}: another batch is writing there now; wait for it to end or give another --out"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()  # closing releases the lock


def check_output_folder(out: Path) -> None:
    """Create `out` and prove a file can be written there, before any call is analysed. (The
    probe is not synced to disk, as reports are: that would only make every run wait.)"""
    import tempfile

    try:
        (out / "calls").mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", suffix=".tmp", dir=out / "calls")
        try:
            os.write(fd, b"callassist checks that reports can be written here\n")
        finally:
            os.close(fd)
            os.unlink(probe)
        free = shutil.disk_usage(out).free
    except OSError as error:
        raise CallassistError(
            f"--out {out}: cannot write there ({error.strerror or error}); give a folder you may write to"
        ) from None
    if free < MIN_FREE_BYTES:
        raise CallassistError(
            f"--out {out}: only {free / 1e6:.0f} MB free; free at least {MIN_FREE_BYTES / 1e6:.0f} MB or give another --out"
        )


def already_current(jobs: list[CallJob], options: BatchOptions, rules: str) -> list[CallOutcome]:
    """The calls whose report on disk carries the fingerprint they would get now (with the
    `rules_digest` `rules`), checked here before any worker starts."""
    current = []
    for job in jobs:
        json_path, _ = report_paths(options.out, job.report_name)
        try:
            if json_path.is_file() and is_current(json_path, fingerprint := call_fingerprint(job, rules)):
                current.append(CallOutcome(job.report_name, json_path, skipped=True, fingerprint=fingerprint))
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
    """Score every call under `paths` into `options.out`. Everything that can be refused
    (paths, metadata, name pattern, config, pack, the output folder) is, before any call is
    scored."""
    from callassist.settings import effective_pack, load_settings

    jobs = with_metadata(find_calls(paths), options)
    settings = load_settings(options.config)
    pack = effective_pack(settings, list(options.scripts))  # refuses a bad config or pack
    if settings.privacy.mask:
        options = replace(options, mask=True)
    jobs = with_outputs(jobs, options.mask)
    rules = rules_digest(settings.to_json(), pack.sources, options)
    check_output_folder(options.out)
    with OutputLock(options.out):
        remove_leftovers(options.out)
        progress = Progress(len(jobs), stream or sys.stderr)
        outcomes = [CallOutcome(job.report_name, error=job.problem) for job in jobs if job.problem]
        outcomes += already_current([job for job in jobs if not job.problem], options, rules)
        for outcome in outcomes:
            progress.add(outcome)
        done = {outcome.name for outcome in outcomes}
        to_score = [job for job in jobs if job.report_name not in done]
        try:
            if to_score:  # no workers are started (nor Vosk loaded) when everything is current
                runner = run_on_ray if options.cluster else run_local
                outcomes += runner(to_score, options, progress)
        finally:
            if options.mask:  # errors name files: their folders and the numbers in their names are personal data
                by_name = {job.report_name: job for job in jobs}
                outcomes = [
                    replace(o, error=masked_error(o.error, by_name.get(o.name), paths)) if o.error else o
                    for o in outcomes
                ]
            summary_html, summary_csv = write_summary(jobs, outcomes, options)
    return BatchResult(outcomes, summary_html, summary_csv)


# An absolute path in free text (POSIX or Windows): from the start or after a space, bracket or
# quote, up to a space, bracket, quote or colon.
_ABSOLUTE_PATH = re.compile(r"(?<![^\s(\['\"「（])(?:[A-Za-z]:[\\/]|[\\/])[^\s()'\"，。；;:]*")


def masked_error(error: str, job: CallJob | None, paths: list[Path]) -> str:
    """A failed call's error under --mask: its files named as the batch names them (relative
    to the folder given), paths under a folder given made relative, any other absolute path
    (a link's target) cut to its file name, and numbers masked."""
    from callassist.reporting.masking import file_name, mask_free_text

    if job is not None:
        for path in (job.audio, job.transcript):
            if path is not None:
                error = error.replace(str(path), job.shown(path) or "")
    roots = [Path(os.path.abspath(p)) for p in paths]
    several = len(roots) > 1
    for root in sorted(roots, key=lambda r: len(str(r)), reverse=True):
        folder = root if not root.is_file() else root.parent
        prefix = f"{folder.name}/" if several and folder == root else ""
        error = error.replace(str(folder) + os.sep, prefix)
        itself = prefix.rstrip("/") or "."
        error = re.sub(re.escape(str(folder)) + r"(?![^\s:;,)'\"])", lambda _: itself, error)  # the folder itself
    error = _ABSOLUTE_PATH.sub(lambda match: file_name(match.group()), error)
    return mask_free_text(error)


def summary_key(jobs: list[CallJob], outcomes: list[CallOutcome]) -> str | None:
    """What the summary is made from, when every call has a report and none failed: the calls'
    fingerprints in order (each names its call, agent and start, and its audio, transcript,
    rules, masking and callassist version, which decide its report). None otherwise."""
    fingerprints = {o.name: o.fingerprint for o in outcomes if o.error is None}
    known = [fingerprints.get(job.report_name) for job in jobs]
    if not jobs or None in known or len(outcomes) != len(jobs):
        return None
    return hashlib.sha256(json.dumps([SCHEMA, __version__, known]).encode()).hexdigest()


def write_summary(jobs: list[CallJob], outcomes: list[CallOutcome], options: BatchOptions) -> tuple[Path, Path]:
    """The batch summary over every call with a complete report, this run's or an earlier one's.

    Not written again when it was last written from the same `summary_key` (a re-run with every
    report current): a re-run is then as quick as checking the fingerprints. The key is written
    after both files and removed before either is written, so that a run stopped half-way never
    leaves a key that vouches for a summary it did not finish."""
    summary_csv, summary_html = options.out / "summary.csv", options.out / "summary.html"
    key, key_path = summary_key(jobs, outcomes), options.out / SUMMARY_KEY_NAME
    try:
        if key is not None and summary_csv.is_file() and summary_html.is_file() and key_path.read_text(encoding="ascii") == key:
            return summary_html, summary_csv
    except (OSError, ValueError):
        pass  # no key (or an unreadable one): written below
    key_path.unlink(missing_ok=True)
    _write_summary(jobs, outcomes, options, summary_csv, summary_html)
    if key is not None:
        from callassist.atomic import write_text_atomically

        write_text_atomically(key_path, key)
    return summary_html, summary_csv


def _write_summary(jobs: list[CallJob], outcomes: list[CallOutcome], options: BatchOptions, summary_csv: Path, summary_html: Path) -> None:
    from callassist.atomic import write_text_atomically
    from callassist.reporting.html import CallRow, FailedCall, batch_summary_html, write_batch_csv
    from callassist.reporting.masking import mask_free_text
    from callassist.reporting.report import CallReport

    def shown(text: str) -> str:
        return mask_free_text(text) if options.mask else text

    errors = {o.name: o.error for o in outcomes if o.error}
    rows, failures = [], []
    for job in jobs:
        json_path, html_path = report_paths(options.out, job.report_name)
        if job.report_name in errors:
            source = shown(job.shown(job.audio or job.transcript) or job.report_name) if options.mask else job.source
            failures.append(FailedCall(job.report_name, source, errors[job.report_name]))
            continue
        try:
            report = CallReport.from_json(json.loads(json_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not scored (yet): an interrupted run
        started = datetime.fromisoformat(job.started) if job.started else None
        agent = shown(job.agent) if job.agent else None
        rows.append(CallRow.from_report(report, job.report_name, html_path.relative_to(options.out).as_posix(), agent, started))
    event_ids = sorted({event_id for row in rows for event_id in row.counts})
    write_batch_csv(summary_csv, rows, event_ids)
    write_text_atomically(summary_html, batch_summary_html(rows, failures, datetime.now().isoformat(timespec="seconds")))
