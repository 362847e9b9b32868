"""A call session: what a live call (or a replay on screen) adds to the call pipeline.

The pipeline (`callassist.pipeline`) judges a call; the session adds only what is live: audio
sources read in a worker thread, the agent's keys (start, end, hold, situations), device
watching, level meters and ticks for the screen, the call's lifecycle and saving its report.
Replays pace their file source and can seek. No Textual here.

`run()` is the body of one worker thread. The audio callback only queues blocks (see
`sources`); the pipeline's recognisers run in their own threads. The screen talks to the session
through thread-safe commands and hears back through `deliver`, so no widget is ever touched from a
worker thread.

Lifecycle: waiting -> in_call (<-> on_hold) -> ending -> saved | save_failed -> waiting. A report
that cannot be written is kept in memory (`unsaved`) and written again by `retry_save()`; the
call still ends and the next one starts clean.
"""

from __future__ import annotations

import itertools
import logging
import math
import queue
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from callassist.atomic import write_json_atomically
from callassist.audio.recording import open_recording
from callassist.inputs import EngineInput, Speaker, Utterance
from callassist.live.messages import (
    CallEnded,
    CallPhase,
    CallStarted,
    DeviceProblem,
    Heard,
    Jumped,
    ReplayFinished,
    SaveRetried,
    SessionMessage,
    Tick,
    WorkerFailed,
)
from callassist.live.sources import AudioBlock, AudioSource
from callassist.live.taped import TapedAnalysis, TapedRecognition
from callassist.pipeline import CallPipeline, Recognition
from callassist.reporting.report import CallSource
from callassist.scriptpack import ScriptPack
from callassist.settings import Settings

log = logging.getLogger(__name__)

REOPEN_EVERY = 1.0  # s of wall-clock time between attempts to reopen a stalled device
READ_RETRY_AFTER = 0.5  # s of wall-clock time a source whose read raised is left alone
SAME_FAILURE_EVERY = 1.0  # s: the same failure is shown at most this often (the rest are counted)
COUNTS_SHOWN_EVERY = 0.5  # s: new overflow and drop counts reach the screen at most this often
SAVED_SHOWN_FOR = 3.0  # s of stream time the screen says "saved" before it waits for the next call
FAST_FORWARD_BLOCK_SECONDS = 1.0  # replay seeks judge the skipped audio in blocks this long


@dataclass(frozen=True)
class ChannelSource:
    source: int  # index into the session's sources
    channel: int


@dataclass(frozen=True)
class Wiring:
    """Where each speaker's audio comes from; no caller: caller-side situations are off."""

    agent: ChannelSource
    caller: ChannelSource | None = None

    def speakers(self) -> dict[Speaker, ChannelSource]:
        wired: dict[Speaker, ChannelSource] = {"agent": self.agent}
        if self.caller is not None:
            wired["caller"] = self.caller
        return wired


@dataclass(frozen=True)
class SessionOptions:
    replay: bool = False  # a recording: the call starts at once and ends with the file
    meter_hz: float = 20.0
    calls_dir: Path | None = None  # where reports (and recordings) of ended calls go
    record: bool = False
    source_name: str = "live"
    mask: bool = False  # reports saved have their numbers masked (--mask, privacy.mask)


@dataclass(frozen=True)
class UnsavedReport:
    """A report that could not be written, kept until a retry writes it."""

    path: Path
    report: dict[str, Any]


def level_dbfs(samples: np.ndarray) -> float:
    energy = float(np.mean(np.square(samples, dtype=np.float64))) if len(samples) else 0.0
    return 10 * math.log10(energy) if energy > 1e-10 else -100.0


class StereoRecorder:
    """Writes the call's two speakers as the two channels of one file, aligned by stream time:
    sample n of each channel is the n-th sample that speaker's source delivered since the call
    started, however the two sources cut their blocks. At the end the shorter channel is padded
    with silence, so both channels are the call's full length. Without a caller, that channel
    is silence."""

    def __init__(self, path: Path, sample_rate: int, caller: bool) -> None:
        import soundfile

        self.path = path
        self.caller = caller
        self.file = soundfile.SoundFile(path, "x", samplerate=sample_rate, channels=2, subtype="PCM_16")
        self.waiting: list[list[np.ndarray]] = [[], []]  # per channel, samples not yet written
        self.frames = [0, 0]  # per channel, samples added
        self._written = 0

    def add(self, column: int, samples: np.ndarray) -> None:
        samples = np.asarray(samples, dtype=np.float32)
        if not self.caller:
            self.file.write(np.column_stack([samples, np.zeros_like(samples)]))
            self._written += len(samples)
            self.frames = [self._written, self._written]
            return
        self.waiting[column].append(samples)
        self.frames[column] += len(samples)
        ready = min(self.frames[0] - self._written, self.frames[1] - self._written)
        if ready > 0:
            self._write(ready)

    def close(self) -> None:
        longest = max(self.frames) - self._written
        if longest > 0:
            for column in (0, 1):
                short = longest - (self.frames[column] - self._written)
                if short:
                    self.waiting[column].append(np.zeros(short, np.float32))
                    self.frames[column] += short
            self._write(longest)
        self.file.close()

    def _write(self, frames: int) -> None:
        columns = []
        for column in (0, 1):
            joined = np.concatenate(self.waiting[column])
            columns.append(joined[:frames])
            rest = joined[frames:]
            self.waiting[column] = [rest] if len(rest) else []
        self.file.write(np.column_stack(columns))
        self._written += frames


class CallInProgress:
    """Everything that lives for one call."""

    def __init__(self, session: "CallSession", name: str | None) -> None:
        self.pipeline = CallPipeline(
            session.pack, session.settings,
            {speaker: session.sources[w.source].sample_rate for speaker, w in session.wiring.speakers().items()},
            recognition=session.call_recognition,
            transcript=session.transcript,
            caller_audio=session.wiring.caller is not None,
            listener=session.tell,
            live=True,
            analysis=session.taped_analysis.open_channel if session.taped_analysis is not None else None,
        )
        self.name = name  # file name (no suffix) of its report and recording
        self.recorder: StereoRecorder | None = None
        self.keys: list[EngineInput] = []  # replay: keys pressed, applied again when a seek re-judges


class CallSession:
    def __init__(
        self,
        sources: list[AudioSource],
        wiring: Wiring,
        pack: ScriptPack,
        settings: Settings,
        deliver: Callable[[SessionMessage], None] = lambda update: None,
        *,
        recognition: Recognition | None = None,
        transcript: list[Utterance] | None = None,
        options: SessionOptions = SessionOptions(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sources = sources
        self.wiring = wiring
        self.pack = pack
        self.settings = settings
        self.deliver = deliver
        self.recognition = recognition
        # A replay is one call, judged again from its start whenever it seeks back: its
        # recognition is kept, so that judging the same audio again does not decode it again.
        self.taped = TapedRecognition(recognition) if options.replay and recognition is not None else None
        self.taped_analysis = TapedAnalysis(live=True) if options.replay else None  # likewise its audio analysis
        self.call_recognition: Recognition | None = self.taped or recognition
        self.transcript = transcript
        self.options = options
        self.clock = clock
        self.sleep = sleep
        self.commands: queue.Queue[tuple[str, object]] = queue.Queue()
        self.call: CallInProgress | None = None
        self.phase: CallPhase = "waiting"
        self.phase_since = 0.0  # stream time the phase began (saved -> waiting)
        self.last_call_time = 0.0
        self.unsaved: list[UnsavedReport] = []
        self.names_taken: set[str] = set()
        self.stream_time: dict[Speaker, float] = {}
        self.levels: dict[Speaker, float] = {}
        self.next_tick = 0.0
        self.last_reopen = 0.0
        self.device_problem: str | None = None
        self.losses_shown = ((0, 0), 0.0)  # (overflows, dropped blocks) on screen, and when they were sent
        self.read_errors: dict[int, tuple[str, float]] = {}  # source index -> its read's error, when
        self.failures_shown: dict[str, tuple[float, int]] = {}  # failure text -> last shown, repeats since
        self.paused = False
        self.running = True
        self.quiet: list[SessionMessage] | None = None  # while a seek re-judges: what it would have shown

    # ------------------------------------------------------------------ commands (any thread)

    def start_call(self) -> None:
        self.commands.put(("start", None))

    def end_call(self) -> None:
        self.commands.put(("end", None))

    def toggle_hold(self) -> None:
        self.commands.put(("hold", None))

    def mark(self, situation: str) -> None:
        self.commands.put(("mark", situation))

    def pause(self, paused: bool) -> None:
        self.commands.put(("pause", paused))

    def seek(self, seconds: float) -> None:
        self.commands.put(("seek", seconds))

    def retry_save(self) -> None:
        self.commands.put(("retry", None))

    def stop(self) -> None:
        self.commands.put(("stop", None))

    # ------------------------------------------------------------------ the worker thread

    def run(self) -> None:
        for source in self.sources:
            source.start()
        if self.options.replay:
            self._guarded(self._start_call)
        try:
            while self.running:
                self._guarded(self._handle_commands)
                if not self.running:
                    break
                got_audio = self._guarded(self._read_audio)
                self._guarded(self._watch_devices)
                if self.call is not None:
                    self._guarded(self.call.pipeline.pump)
                self._guarded(self._tick)
                if self.options.replay and not got_audio and self._replay_done():
                    if self.call is not None:
                        self._guarded(self._end_call)
                    self._tick(force=True)
                    self.deliver(ReplayFinished())
                    break
        finally:
            if self.call is not None and not self.options.replay:
                self._guarded(self._end_call)
            if self.call is not None:  # a replay quit before its end: stop its recognisers
                self.call.pipeline.listener = None
                self.call.pipeline.finish()
                self.call = None
            for source in self.sources:
                source.stop()

    def tell(self, message: SessionMessage) -> None:
        """What the pipeline tells the screen (held back while a seek re-judges)."""
        if self.quiet is None:
            self.deliver(message)
        elif not isinstance(message, Heard) or message.heard.final:
            self.quiet.append(message)

    def _guarded(self, step: Callable[[], object]) -> object:
        """A failing step is shown and logged; the session (and the screen) go on."""
        try:
            return step()
        except Exception as error:  # never let one bad block take the call down
            self._failed(f"{type(error).__name__}: {error}")
            return None

    def _failed(self, text: str) -> None:
        """Show a failure, each distinct one at most once per SAME_FAILURE_EVERY with the number
        of repeats: a step that fails every time round must not flood the screen or the log."""
        now = self.clock()
        last, repeats = self.failures_shown.get(text, (-math.inf, 0))
        if now - last < SAME_FAILURE_EVERY:
            self.failures_shown[text] = (last, repeats + 1)
            return
        self.failures_shown[text] = (now, 0)
        log.error("session step failed: %s", text)
        self.deliver(WorkerFailed(text + (f" (and {repeats} more times)" if repeats else "")))

    def _replay_done(self) -> bool:
        return all(getattr(source, "finished", False) for source in self.sources)

    def _handle_commands(self) -> None:
        while True:
            try:
                command, argument = self.commands.get_nowait()
            except queue.Empty:
                return
            call = self.call
            if command == "stop":
                self.running = False
                return
            if command == "start" and call is None and not self.options.replay:
                self._start_call()
            elif command == "end" and call is not None and not self.options.replay:
                self._end_call()
            elif command == "hold" and call is not None:
                call.keys.append(call.pipeline.hold())
            elif command == "mark" and call is not None:
                call.keys.append(call.pipeline.mark(str(argument)))
            elif command == "pause":
                self.paused = bool(argument)
                for source in self.sources:
                    if hasattr(source, "pause"):
                        source.pause() if self.paused else source.resume()
            elif command == "seek" and call is not None and self.options.replay:
                self._seek(float(argument))
            elif command == "retry":
                self._retry_save()

    # ------------------------------------------------------------------ replay seeking

    def _seek(self, delta: float) -> None:
        """Replay: move the playhead, not the judgement. The call stays judged from its start:
        forward, the audio skipped is judged silently; back, the call is judged again from 0
        up to the new position, with the text recognised and the audio analysed so far played
        back, not decoded or analysed again (`live.taped`). The screen is then shown what was
        known there."""
        source: Any = self.sources[0]
        call = self.call
        assert call is not None
        target = min(max(0.0, source.position + delta), source.duration)
        restart = target < call.pipeline.fed
        if restart:
            keys = [k for k in call.keys if k.t <= target]
            if self.taped is not None:
                self.taped.rewind()  # its recognisers' streams go on in the next judgement: not ended
            if self.taped_analysis is not None:
                self.taped_analysis.rewind()  # and its analysers' (not flushed)
            call.pipeline.listener = None
            call.pipeline.finish()  # stops its recogniser threads; its judgement is dropped
            self._start_call(announce=False)
            call = self.call
            assert call is not None
            call.keys = keys
            call.pipeline.schedule(keys)
        self.quiet = []
        try:
            self._fast_forward(call.pipeline, source.path, target)
            known = tuple(self.quiet)
        finally:
            self.quiet = None
        source.seek(target)
        self.next_tick = 0.0
        self.deliver(Jumped(target, restart, known))
        if restart:
            self.deliver(call.pipeline.checklist())

    def _fast_forward(self, pipeline: CallPipeline, path: Path, target: float) -> None:
        recording = open_recording(path)
        first = round(pipeline.fed * recording.sample_rate)
        last = round(target * recording.sample_rate)
        frame = 0
        for block in recording.blocks(FAST_FORWARD_BLOCK_SECONDS):
            start, end = max(first - frame, 0), min(last - frame, len(block))
            if start < end:
                for speaker, wired in self.wiring.speakers().items():
                    pipeline.feed(speaker, np.ascontiguousarray(block[start:end, wired.channel]))
                pipeline.pump()
            frame += len(block)
            if frame >= last:
                break

    # ------------------------------------------------------------------ calls

    def _start_call(self, announce: bool = True) -> None:
        name = None if self.options.calls_dir is None else self._unique_name(datetime.now())
        call = CallInProgress(self, name)
        if self.options.record and name is not None:
            call.recorder = self._open_recorder(name)
        self.call = call
        self._set_phase("in_call")
        if announce:
            self.deliver(CallStarted(self.wiring.caller is not None))

    def _end_call(self) -> None:
        """ending -> saved | save_failed (replay: ended). The call ends whatever happens to its report."""
        call = self.call
        assert call is not None
        self._set_phase("ending")
        self._tick(force=True)
        self.call = None
        try:
            call.pipeline.finish()
        finally:
            recording_path = self._close_recorder(call)
        for error in call.pipeline.recognition_errors:
            self.deliver(WorkerFailed(error))
        self.last_call_time = call.pipeline.now
        report = call.pipeline.report(self._call_source(call.pipeline)).to_json()
        if self.options.mask:
            from callassist.reporting.masking import mask_report

            report = mask_report(report)
        total = report["score"]["value"]
        if call.name is None:
            self._set_phase("ended")
            self.deliver(CallEnded(None, total, recording_path))
            return
        assert self.options.calls_dir is not None
        path = self.options.calls_dir / f"{call.name}.json"
        try:
            write_json_atomically(path, report)
        except OSError as error:
            self.unsaved.append(UnsavedReport(path, report))
            reason = f"report not saved ({path}: {error.strerror or error}); kept in memory: press the retry key to save it"
            self._set_phase("save_failed")
            self.deliver(CallEnded(None, total, recording_path, error=reason, unsaved=len(self.unsaved)))
            return
        self._set_phase("saved")
        self.deliver(CallEnded(str(path), total, recording_path, unsaved=len(self.unsaved)))

    def _retry_save(self) -> None:
        saved: list[str] = []
        error = None
        for unsaved in list(self.unsaved):
            try:
                write_json_atomically(unsaved.path, unsaved.report)
            except OSError as failure:
                error = f"still not saved ({unsaved.path}: {failure.strerror or failure})"
                continue
            self.unsaved.remove(unsaved)
            saved.append(str(unsaved.path))
        if not self.unsaved and self.phase == "save_failed":
            self._set_phase("saved")
        self.deliver(SaveRetried(tuple(saved), error, len(self.unsaved)))

    def rescue_unsaved(self) -> list[Path]:
        """At exit: write the reports still unsaved to a new folder under the system's temporary
        folder (on this machine), so none is lost; returns where they went. Call after `run()`."""
        if not self.unsaved:
            return []
        folder = Path(tempfile.mkdtemp(prefix="callassist-unsaved-"))
        written = []
        for unsaved in self.unsaved:
            path = folder / unsaved.path.name
            write_json_atomically(path, unsaved.report)
            written.append(path)
        self.unsaved.clear()
        return written

    def _set_phase(self, phase: CallPhase) -> None:
        self.phase = phase
        self.phase_since = max(self.stream_time.values(), default=0.0)

    def _unique_name(self, started: datetime) -> str:
        """call-<date>-<time>, with -2, -3 ... when another call (this session's, or a file already
        in the folder) has it: two calls in one second never share a report or a recording."""
        stamp = f"call-{started:%Y%m%d-%H%M%S}"
        folder = self.options.calls_dir
        assert folder is not None
        for number in itertools.count(1):
            name = stamp if number == 1 else f"{stamp}-{number}"
            taken = name in self.names_taken or any((folder / f"{name}{s}").exists() for s in (".json", ".wav"))
            if not taken:
                self.names_taken.add(name)
                return name
        raise AssertionError("unreachable")

    def _call_source(self, pipeline: CallPipeline) -> CallSource:
        return CallSource(
            audio=self.options.source_name,
            transcript=None,
            duration=pipeline.now,
            channel_map={s: f"source {w.source} channel {w.channel}" for s, w in self.wiring.speakers().items()},
            text_from=(
                self.recognition.name if self.recognition else "transcript" if self.transcript else "none"
            ),
            activity_from="audio",
            notes=() if self.wiring.caller else ("no caller channel: caller-side situations were off",),
        )

    def _open_recorder(self, name: str) -> StereoRecorder | None:
        assert self.options.calls_dir is not None
        try:
            self.options.calls_dir.mkdir(parents=True, exist_ok=True)
            rate = self.sources[self.wiring.agent.source].sample_rate
            return StereoRecorder(self.options.calls_dir / f"{name}.wav", rate, caller=self.wiring.caller is not None)
        except Exception as error:  # no recording is no reason to miss the call
            self.deliver(WorkerFailed(f"cannot record this call: {error}"))
            return None

    def _close_recorder(self, call: CallInProgress) -> str | None:
        if call.recorder is None:
            return None
        try:
            call.recorder.close()
        except Exception as error:
            self.deliver(WorkerFailed(f"the call's recording is incomplete: {error}"))
        return str(call.recorder.path)

    # ------------------------------------------------------------------ audio

    def _read_audio(self) -> bool:
        got = False
        blocks: dict[int, AudioBlock] = {}
        timeout = 0.02 if len(self.sources) > 1 else 0.05
        for index, source in enumerate(self.sources):
            block = self._read_one(index, source, timeout)
            if block is not None:
                blocks[index] = block
                got = True
        call = self.call
        for column, (speaker, wired) in enumerate(self.wiring.speakers().items()):
            block = blocks.get(wired.source)
            if block is None:
                continue
            samples = np.ascontiguousarray(block.samples[:, wired.channel], dtype=np.float32)
            rate = self.sources[wired.source].sample_rate
            self.stream_time[speaker] = block.start + len(samples) / rate
            self.levels[speaker] = level_dbfs(samples)
            if call is not None and not self.paused:
                call.pipeline.feed(speaker, samples, block.gap)
                if call.recorder is not None:
                    call.recorder.add(column, samples)
        return got

    def _read_one(self, index: int, source: AudioSource, timeout: float) -> AudioBlock | None:
        """One source's next block. A source whose read raises is isolated: the other sources'
        blocks go on, its error is shown (once), and it is tried again after READ_RETRY_AFTER."""
        failed = self.read_errors.get(index)
        if failed is not None and self.clock() - failed[1] < READ_RETRY_AFTER:
            self.sleep(timeout)  # as a read that found nothing would have waited
            return None
        try:
            block = source.read(timeout=timeout)
        except Exception as error:
            text = " ".join(f"{type(error).__name__}: {error}".split())
            self.read_errors[index] = (text, self.clock())
            self._failed(f"{source.name}: {text}")
            return None
        self.read_errors.pop(index, None)
        return block

    def _watch_devices(self) -> None:
        now = self.clock()
        problems = []
        for index, source in enumerate(self.sources):
            status = source.status()
            if index in self.read_errors:
                problems.append(f"{source.name}: {self.read_errors[index][0]}")
            elif status.stalled:
                problems.append(f"no audio from {source.name}" + (f" ({status.error})" if status.error else ""))
                if now - self.last_reopen >= REOPEN_EVERY and hasattr(source, "reopen"):
                    self.last_reopen = now
                    source.reopen()
            elif status.error:
                problems.append(f"{source.name}: {status.error}")
        statuses = [source.status() for source in self.sources]
        losses = (sum(status.overflows for status in statuses), sum(status.dropped_blocks for status in statuses))
        text = "; ".join(problems) or None
        shown, shown_at = self.losses_shown
        counts_due = losses != shown and now - shown_at >= COUNTS_SHOWN_EVERY
        if text != self.device_problem or counts_due:  # overflows are counted on screen as they happen
            self.device_problem = text
            self.losses_shown = (losses, now)
            self.deliver(DeviceProblem(text, *losses))

    # ------------------------------------------------------------------ the screen's clock

    def _tick(self, force: bool = False) -> None:
        now = max(self.stream_time.values(), default=0.0)
        if now < self.next_tick and not self.paused and not force:
            return
        self.next_tick = now + 1.0 / self.options.meter_hz
        if self.phase == "saved" and now - self.phase_since >= SAVED_SHOWN_FOR:
            self._set_phase("waiting")
        call = self.call
        if call is not None and self.phase in ("in_call", "on_hold"):
            self.phase = "on_hold" if call.pipeline.engine.state.on_hold else "in_call"
        position = self.sources[0].position if self.options.replay and hasattr(self.sources[0], "position") else None
        self.deliver(
            Tick(
                phase=self.phase,
                call_time=call.pipeline.now if call is not None else (0.0 if self.phase == "waiting" else self.last_call_time),
                agent_dbfs=self.levels.get("agent"),
                caller_dbfs=self.levels.get("caller") if self.wiring.caller else None,
                countdowns=tuple(call.pipeline.engine.countdowns()) if call is not None else (),
                position=position,
                paused=self.paused,
            )
        )
