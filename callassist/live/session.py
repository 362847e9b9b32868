"""A call session: audio sources → per-channel features and recognition (or a transcript) →
the engine → messages for the screen. The same engine as replay; no Textual here.

`run()` is the body of one worker thread. The audio callback only queues blocks (see
`sources`); features and the engine run here, each recogniser in its own thread. The screen
talks to the session through thread-safe commands and hears back through `deliver`, so no
widget is ever touched from a worker thread.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from callassist.audio.features import ChannelAnalyzer
from callassist.engine import Engine
from callassist.live.messages import (
    CallEnded,
    CallPhase,
    CallStarted,
    Checklist,
    Cleared,
    DeviceProblem,
    Heard,
    Raised,
    ReplayFinished,
    SessionMessage,
    Tick,
    Withdrawn,
    WorkerFailed,
)
from callassist.live.sources import AudioBlock, AudioSource
from callassist.recognition import ChannelRecognizer, RecognitionWorker, SpeechModel
from callassist.reporting.report import CallReport, CallSource, build_report, checklist, write_json_atomically
from callassist.scriptpack import ScriptPack
from callassist.settings import Settings
from callassist.sources import heard_inputs
from callassist.inputs import (
    AudioMissing,
    EngineInput,
    HoldChanged,
    ManualSituation,
    Speaker,
    Utterance,
    UtteranceHeard,
    input_sort_key,
)

log = logging.getLogger(__name__)

ANALYSIS_LATENCY = 0.5  # s: features are final this long after their audio (VAD hangover + frame)
REOPEN_EVERY = 1.0  # s of wall-clock time between attempts to reopen a stalled device
READ_RETRY_AFTER = 0.5  # s of wall-clock time a source whose read raised is left alone
SAME_FAILURE_EVERY = 1.0  # s: the same failure is shown at most this often (the rest are counted)
COUNTS_SHOWN_EVERY = 0.5  # s: new overflow and drop counts reach the screen at most this often


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


def level_dbfs(samples: np.ndarray) -> float:
    energy = float(np.mean(np.square(samples, dtype=np.float64))) if len(samples) else 0.0
    return 10 * math.log10(energy) if energy > 1e-10 else -100.0


class CallInProgress:
    """Everything that lives for one call: analysers, recognisers, the engine, what is pending."""

    def __init__(self, session: "CallSession", start: float) -> None:
        self.start = start  # stream time (recording position in replay) where call time 0 is
        self.engine = Engine(
            session.pack, session.settings,
            caller_audio=session.wiring.caller is not None,
            has_text=session.speech_model is not None or session.transcript is not None,
        )
        self.pending: list[tuple[tuple[float, int], int, EngineInput]] = []
        self.counter = itertools.count()
        self.fed: dict[Speaker, float] = {}
        # Per channel, the stream time up to which its analyser has decided everything: its inputs
        # come sorted by time, so nothing earlier than the last one will follow.
        self.decided: dict[Speaker, float] = {}
        self.missing: dict[Speaker, bool] = {}
        self.analyzers: dict[Speaker, ChannelAnalyzer] = {}
        self.recognizers: dict[Speaker, RecognitionWorker] = {}
        self.heard_queue: queue.Queue[UtteranceHeard] = queue.Queue()
        self.utterances: list[Utterance] = []
        self.recording = None

    def push(self, item: EngineInput) -> None:
        heapq.heappush(self.pending, (input_sort_key(item), next(self.counter), item))


class CallSession:
    def __init__(
        self,
        sources: list[AudioSource],
        wiring: Wiring,
        pack: ScriptPack,
        settings: Settings,
        deliver: Callable[[SessionMessage], None] = lambda update: None,
        *,
        speech_model: SpeechModel | None = None,
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
        self.speech_model = speech_model
        self.transcript = transcript
        self.options = options
        self.clock = clock
        self.sleep = sleep
        self.commands: queue.Queue[tuple[str, object]] = queue.Queue()
        self.call: CallInProgress | None = None
        self.stream_time: dict[Speaker, float] = {}
        self.levels: dict[Speaker, float] = {}
        self.next_tick = 0.0
        self.last_reopen = 0.0
        self.device_problem: str | None = None
        self.losses_shown = (0, 0.0)  # overflows + dropped blocks on screen, and when they were sent
        self.read_errors: dict[int, tuple[str, float]] = {}  # source index -> its read's error, when
        self.failures_shown: dict[str, tuple[float, int]] = {}  # failure text -> last shown, repeats since
        self.paused = False
        self.running = True

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

    def stop(self) -> None:
        self.commands.put(("stop", None))

    # ------------------------------------------------------------------ the worker thread

    def run(self) -> None:
        for source in self.sources:
            source.start()
        if self.options.replay:
            self._start_call(0.0)
        try:
            while self.running:
                self._guarded(self._handle_commands)
                if not self.running:
                    break
                got_audio = self._guarded(self._read_audio)
                self._guarded(self._watch_devices)
                self._guarded(self._feed_engine)
                self._guarded(self._tick)
                if self.options.replay and not got_audio and self._replay_done():
                    if self.call is not None:
                        self._guarded(self._end_call)
                    self.deliver(ReplayFinished())
                    break
        finally:
            if self.call is not None and not self.options.replay:
                self._guarded(self._end_call)
            self._stop_recognizers()
            for source in self.sources:
                source.stop()

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
            if command == "stop":
                self.running = False
                return
            if command == "start" and self.call is None:
                self._start_call(self.stream_time.get("agent", 0.0))
            elif command == "end" and self.call is not None:
                self._end_call()
            elif command == "hold" and self.call is not None:
                engine = self.call.engine
                self._feed(HoldChanged(engine.state.now, not engine.state.on_hold))
            elif command == "mark" and self.call is not None:
                self._feed(ManualSituation(self.call.engine.state.now, str(argument)))
            elif command == "pause":
                self.paused = bool(argument)
                for source in self.sources:
                    if hasattr(source, "pause"):
                        source.pause() if self.paused else source.resume()
            elif command == "seek":
                self._seek(float(argument))

    def _seek(self, delta: float) -> None:
        """Replay: jump, and judge the call afresh from there (the screen marks the jump)."""
        for source in self.sources:
            if hasattr(source, "seek"):
                target = min(max(0.0, source.position + delta), source.duration)
                source.seek(target)
        position = self.sources[0].position if hasattr(self.sources[0], "position") else 0.0
        self._stop_recognizers()
        self._start_call(position, resumed=True)

    # ------------------------------------------------------------------ calls

    def _start_call(self, start: float, resumed: bool = False) -> None:
        call = CallInProgress(self, start)
        for speaker, wired in self.wiring.speakers().items():
            rate = self.sources[wired.source].sample_rate
            call.analyzers[speaker] = ChannelAnalyzer(speaker, rate)
            call.fed[speaker] = 0.0
            if self.speech_model is not None:
                recognizer = ChannelRecognizer(self.speech_model.model, self.speech_model.sample_rate, speaker, rate)
                worker = RecognitionWorker(recognizer, lambda heard, q=call.heard_queue: [q.put(h) for h in heard])
                worker.start()
                call.recognizers[speaker] = worker
        if self.transcript is not None:
            for item in heard_inputs(u for u in self.transcript if u.start >= start):
                call.push(item)
        if self.options.record and self.options.calls_dir is not None:
            call.recording = self._open_recording_file()
        self.call = call
        self.deliver(CallStarted(self.wiring.caller is not None, resumed_at=start if resumed else None))

    def _end_call(self) -> None:
        call = self.call
        assert call is not None
        self._stop_recognizers()
        self._feed_engine(until=math.inf)
        end = max(call.fed.values(), default=0.0) + (call.start if self.options.replay else 0.0)
        self._deliver_events(call.engine.finish(max(end, call.engine.state.now)))
        analyzer = next((a.settings for a in call.analyzers.values()), None)
        report = build_report(call.engine, self._call_source(call), call.utterances, analyzer)
        report_path, recording_path = self._save(call, report)
        total = report.score.value
        self.call = None
        self.deliver(CallEnded(report_path, total, recording_path))

    def _call_source(self, call: CallInProgress) -> CallSource:
        return CallSource(
            audio=self.options.source_name,
            transcript=None,
            duration=call.engine.state.now,
            channel_map={s: f"source {w.source} channel {w.channel}" for s, w in self.wiring.speakers().items()},
            text_from=(
                f"vosk:{self.speech_model.name}" if self.speech_model else "transcript" if self.transcript else "none"
            ),
            activity_from="audio",
            notes=() if self.wiring.caller else ("no caller channel: caller-side situations were off",),
        )

    def _save(self, call: CallInProgress, report: CallReport) -> tuple[str | None, str | None]:
        recording_path = None
        if call.recording is not None:
            call.recording.close()
            recording_path = call.recording.name
        if self.options.calls_dir is None:
            return None, recording_path
        path = self.options.calls_dir / f"call-{datetime.now():%Y%m%d-%H%M%S}.json"
        write_json_atomically(path, report.to_json())
        return str(path), recording_path

    def _open_recording_file(self):
        import soundfile

        assert self.options.calls_dir is not None
        self.options.calls_dir.mkdir(parents=True, exist_ok=True)
        rate = self.sources[self.wiring.agent.source].sample_rate
        path = self.options.calls_dir / f"call-{datetime.now():%Y%m%d-%H%M%S}.wav"
        return soundfile.SoundFile(path, "w", samplerate=rate, channels=2, subtype="PCM_16")

    def _stop_recognizers(self) -> None:
        if self.call is None:
            return
        for worker in self.call.recognizers.values():
            worker.blocks.put(None)
        for worker in self.call.recognizers.values():
            worker.join()
            if worker.error is not None:
                self.deliver(WorkerFailed(f"recognition stopped: {worker.error}"))
        self.call.recognizers.clear()

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
        for speaker, wired in self.wiring.speakers().items():
            block = blocks.get(wired.source)
            if block is None:
                continue
            samples = np.ascontiguousarray(block.samples[:, wired.channel], dtype=np.float32)
            rate = self.sources[wired.source].sample_rate
            self.stream_time[speaker] = block.start + len(samples) / rate
            self.levels[speaker] = level_dbfs(samples)
            if self.call is not None and not self.paused:
                self._analyse(speaker, samples, rate, block.gap)
        if self.call is not None and self.call.recording is not None and blocks:
            self._record(blocks)
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

    def _analyse(self, speaker: Speaker, samples: np.ndarray, rate: int, gap: bool) -> None:
        call = self.call
        assert call is not None
        offset = call.start if self.options.replay else 0.0
        if gap != call.missing.get(speaker, False):  # silence standing in for a device that was away
            call.missing[speaker] = gap
            call.push(AudioMissing(call.fed[speaker] + offset, gap))
        for item in call.analyzers[speaker].feed(samples):
            call.decided[speaker] = item.t
            call.push(_shift(item, offset))
        call.fed[speaker] += len(samples) / rate
        worker = call.recognizers.get(speaker)
        if worker is not None:
            worker.blocks.put(samples)

    def _record(self, blocks: dict[int, AudioBlock]) -> None:
        call = self.call
        assert call is not None and call.recording is not None
        columns = []
        for wired in (self.wiring.agent, self.wiring.caller):
            block = blocks.get(wired.source) if wired else None
            columns.append(block.samples[:, wired.channel] if block is not None else None)
        length = max(len(c) for c in columns if c is not None)
        frame = np.zeros((length, 2), dtype=np.float32)
        for index, column in enumerate(columns):
            if column is not None:
                frame[: len(column), index] = column[:length]
        call.recording.write(frame)

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
        losses = sum(status.overflows + status.dropped_blocks for status in statuses)
        text = "; ".join(problems) or None
        shown, shown_at = self.losses_shown
        counts_due = losses != shown and now - shown_at >= COUNTS_SHOWN_EVERY
        if text != self.device_problem or counts_due:  # overflows are counted on screen as they happen
            self.device_problem = text
            self.losses_shown = (losses, now)
            self.deliver(DeviceProblem(text, losses))

    # ------------------------------------------------------------------ the engine

    def _feed_engine(self, until: float | None = None) -> None:
        call = self.call
        if call is None:
            return
        offset = call.start if self.options.replay else 0.0
        while True:
            try:
                heard = call.heard_queue.get_nowait()
            except queue.Empty:
                break
            call.push(_shift(heard, offset))
        if until is None:
            until = min((self._known_until(call, speaker) for speaker in call.fed), default=0.0) + offset
        while call.pending and call.pending[0][0][0] <= until:
            _, _, item = heapq.heappop(call.pending)
            self._feed(item)
        if until != math.inf and until > call.engine.state.now:
            self._deliver_events(call.engine.advance(until))

    @staticmethod
    def _known_until(call: CallInProgress, speaker: Speaker) -> float:
        """Every input of this channel before this time is known: what its analyser has decided
        (in silence that is about one report interval behind the audio), and in any case what
        lies ANALYSIS_LATENCY behind the audio. An input at exactly the last decided time may
        still come (ties are ordered by kind), so judging stops just before it."""
        decided = call.decided.get(speaker, -math.inf) - 1e-6
        return max(decided, call.fed[speaker] - ANALYSIS_LATENCY)

    def _feed(self, item: EngineInput) -> None:
        call = self.call
        assert call is not None
        engine = call.engine
        if item.t < engine.state.now:  # text that arrived after its time: known now, not then
            item = replace(item, t=engine.state.now)
        self._deliver_events(engine.feed(item))
        if isinstance(item, UtteranceHeard):
            self.deliver(Heard(item))
            if item.final and item.utterance.text:
                call.utterances.append(item.utterance)
                self._deliver_checklist()
        elif isinstance(item, HoldChanged):
            self._deliver_checklist()

    def _deliver_events(self, events) -> None:
        call = self.call
        assert call is not None
        for event in events:
            self.deliver(Raised(event))
        while call.engine.withdrawn:
            self.deliver(Withdrawn(call.engine.withdrawn.pop(0)))
        for situation in call.engine.take_cleared():
            self.deliver(Cleared(situation))

    def _deliver_checklist(self) -> None:
        call = self.call
        assert call is not None
        check = checklist(call.engine)
        self.deliver(
            Checklist(
                greeting=check.greeting.ok,
                closing={k: v is not None for k, v in check.closing.said.items()},
                holds=len(check.hold.holds),
                hold_ok=check.hold.ok,
            )
        )

    def _tick(self) -> None:
        now = self.stream_time.get("agent", 0.0)
        if now < self.next_tick and not self.paused:
            return
        self.next_tick = now + 1.0 / self.options.meter_hz
        call = self.call
        phase: CallPhase = "waiting"
        call_time = 0.0
        countdowns = ()
        if call is not None:
            phase = "on_hold" if call.engine.state.on_hold else "in_call"
            call_time = call.engine.state.now
            countdowns = tuple(call.engine.countdowns())
        position = self.sources[0].position if self.options.replay and hasattr(self.sources[0], "position") else None
        self.deliver(
            Tick(
                phase=phase,
                call_time=call_time,
                agent_dbfs=self.levels.get("agent"),
                caller_dbfs=self.levels.get("caller") if self.wiring.caller else None,
                countdowns=countdowns,
                position=position,
                paused=self.paused,
            )
        )


def _shift(item, offset: float):
    """Analyser and recogniser times count from where they started; the engine's from call time 0."""
    if not offset:
        return item
    if isinstance(item, UtteranceHeard):
        u = item.utterance
        words = tuple(replace(w, start=w.start + offset, end=w.end + offset) for w in u.words)
        utterance = replace(u, start=u.start + offset, end=u.end + offset, words=words)
        return replace(item, t=item.t + offset, utterance=utterance)
    return replace(item, t=item.t + offset)
