"""Where live audio comes from: a sound device, a recording played as if it were live, or given
any other object with the same methods (tests keep theirs in tests/fakes.py). Every source hands out blocks stamped with stream time.

Stream time is counted from the samples a source has delivered, never read off the wall clock, so
the analysis gives the same times however late the consumer gets to a block.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from callassist.audio.recording import open_recording
from callassist.errors import InputFileError
from callassist.live.devices import RUN_DEVICES_HINT, AudioDeviceError, resolve_input_device, sounddevice_module

Clock = Callable[[], float]  # monotonic seconds
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class AudioBlock:
    """Consecutive samples from a source."""

    samples: np.ndarray  # float32, shape (n, channels)
    start: float  # stream time of the first sample, in seconds since the source started
    # FileSource: bumped by every seek. When it changes, stream time has jumped and the consumer must
    # restart its analysis (voice activity, recognition, rules) as if a new call began there.
    seek_generation: int = 0
    gap: bool = False  # silence standing in for time a device delivered nothing (see DeviceSource)


@dataclass(frozen=True)
class SourceStatus:
    """How a source is doing, for the screen."""

    overflows: int = 0  # input overflows PortAudio reported: the device had samples nobody took in time
    dropped_blocks: int = 0  # blocks thrown away because the consumer fell behind and the queue was full
    stalled: bool = False  # no audio delivered for more than `stall_after` seconds
    reopen_attempts: int = 0
    error: str | None = None  # the last device or file error, one line


class AudioSource(Protocol):
    """What the call session reads audio from. DeviceSource (and the test fakes) also have `reopen()`;
    FileSource also has `pause()`, `resume()`, `seek()`, `position`, `duration` and `finished`."""

    name: str
    sample_rate: int
    channels: int

    def start(self) -> None: ...

    def read(self, timeout: float) -> AudioBlock | None:
        """The next block, or None when none arrived within `timeout` seconds."""
        ...

    def stop(self) -> None: ...

    def status(self) -> SourceStatus: ...


class _Liveness:
    """When a source last delivered audio, on an injectable monotonic clock."""

    def __init__(self, clock: Clock, stall_after: float) -> None:
        self._clock = clock
        self._stall_after = stall_after
        self._last_audio_at: float | None = None  # None: not started, so not stalled either

    def heard(self) -> None:
        self._last_audio_at = self._clock()

    def forget(self) -> None:
        self._last_audio_at = None

    def silent_for(self) -> float:
        return 0.0 if self._last_audio_at is None else self._clock() - self._last_audio_at

    def stalled(self) -> bool:
        return self.silent_for() > self._stall_after


class DeviceSource:
    """Live capture from a sound device through PortAudio.

    PortAudio calls `_on_audio` on its own thread; it only copies the samples into a bounded queue
    and counts overflows and drops. Everything else happens in the consumer's `read()`.

    Stream time counts the samples read out of the queue. A block dropped because the queue was full
    is not counted, so later blocks move earlier by its length; `dropped_blocks` tells that it
    happened (with the default 10 s of queue, only a consumer that has stopped keeping up drops).

    When the device stops delivering, `status().stalled` turns True and the caller decides when to
    call `reopen()`. Once the device opens again, the time it was away, measured with `clock` from
    the last block read (or the last successful reopen) to the moment the new stream starts, is
    handed out as silent blocks marked `gap=True`, ahead of the new audio. The call went on during
    that time, and the other speaker's source kept counting, so filling it keeps both timelines on
    the call's clock; detectors can tell the filler from real silence by `gap`.

    `read()` and `reopen()` are meant to be called from the same (consumer) thread.
    """

    def __init__(
        self,
        device: int | str | None,
        channels: int,
        sample_rate: int | None = None,
        block_seconds: float = 0.05,
        queue_blocks: int = 200,
        clock: Clock = time.monotonic,
        stall_after: float = 1.0,
    ) -> None:
        self.device = resolve_input_device(device)
        if not 1 <= channels <= self.device.channels:
            raise AudioDeviceError(
                f"input device {self.device.index} ({self.device.name}) has {self.device.channels} input "
                f"channel(s), so {channels} cannot be recorded; {RUN_DEVICES_HINT}"
            )
        self.name = self.device.name
        self.channels = channels
        self.sample_rate = sample_rate or round(self.device.default_rate)
        self._block_frames = max(1, round(block_seconds * self.sample_rate))
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=queue_blocks)
        # Audio a closed stream left in the queue, and silence owed for time the device was away
        # (as a frame count), in the order they happened; handed out before the queue.
        self._pending: deque[np.ndarray | int] = deque()
        self._silence = np.zeros((self._block_frames, channels), dtype=np.float32)
        self._silence.flags.writeable = False
        self._frames_read = 0
        self._liveness = _Liveness(clock, stall_after)
        self._stream: Any = None  # sounddevice.InputStream while open
        self._overflows = 0
        self._dropped_blocks = 0
        self._reopen_attempts = 0
        self._error: str | None = None

    def start(self) -> None:
        """Open the device and start capturing; a device that cannot be opened raises AudioDeviceError."""
        if self._stream is None:
            self._stream = self._open_stream()
            self._liveness.heard()

    def read(self, timeout: float) -> AudioBlock | None:
        if self._pending:
            item = self._pending.popleft()
            if isinstance(item, np.ndarray):
                return self._stamp(item)
            if item > self._block_frames:
                self._pending.appendleft(item - self._block_frames)
            return self._stamp(self._silence[: min(item, self._block_frames)], gap=True)
        try:
            samples = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        self._liveness.heard()
        return self._stamp(samples)

    def stop(self) -> None:
        self._close_stream()
        self._liveness.forget()

    def reopen(self) -> bool:
        """Close the stream and open the same device again (same PortAudio device number).

        Returns False, with the reason in `status().error`, when the device cannot be opened (it
        was unplugged, or another program holds it); call again later to keep trying.
        """
        self._reopen_attempts += 1
        self._close_stream()
        while True:  # the closed stream's callback is gone: keep what it queued, in order
            try:
                self._pending.append(self._queue.get_nowait())
            except queue.Empty:
                break
        try:
            self._stream = self._open_stream()
        except AudioDeviceError as error:
            self._error = error.message
            return False
        away_frames = round(self._liveness.silent_for() * self.sample_rate)
        if away_frames > 0:
            self._pending.append(away_frames)
        self._liveness.heard()
        self._error = None
        return True

    def status(self) -> SourceStatus:
        return SourceStatus(
            overflows=self._overflows,
            dropped_blocks=self._dropped_blocks,
            stalled=self._liveness.stalled(),
            reopen_attempts=self._reopen_attempts,
            error=self._error,
        )

    def _on_audio(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's callback thread: copy and queue, never block, never raise."""
        if status.input_overflow:
            self._overflows += 1
        try:
            self._queue.put_nowait(indata.copy())
        except queue.Full:
            self._dropped_blocks += 1

    def _stamp(self, samples: np.ndarray, gap: bool = False) -> AudioBlock:
        block = AudioBlock(samples=samples, start=self._frames_read / self.sample_rate, gap=gap)
        self._frames_read += len(samples)
        return block

    def _open_stream(self) -> Any:
        sd = sounddevice_module()
        stream = None
        try:
            stream = sd.InputStream(
                device=self.device.index,
                channels=self.channels,
                samplerate=self.sample_rate,
                blocksize=self._block_frames,
                dtype="float32",
                callback=self._on_audio,
            )
            stream.start()
        except (sd.PortAudioError, ValueError) as error:
            if stream is not None:
                stream.close(ignore_errors=True)
            reason = " ".join(str(error).split())
            raise AudioDeviceError(
                f"cannot record from input device {self.device.index} ({self.device.name}) at "
                f"{self.sample_rate} Hz, {self.channels} channel(s): {reason}; {RUN_DEVICES_HINT}"
            ) from None
        return stream

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort(ignore_errors=True)  # not stop(): a failed device has nothing left to drain
            stream.close(ignore_errors=True)


class FileSource:
    """A recording played as if it were live, for replaying calls on screen and for the demo.

    A block is due when a live device would deliver it, once its last sample has played, at
    `speed` × real time (None: as fast as blocks are read). Due times are computed from the point
    playing last (re)started and the samples delivered since, never by sleeping a fixed amount,
    so imprecise sleeps and a late consumer cannot add up to drift.

    Stream time is the position in the file. `seek()` makes it jump: blocks after a seek carry a new
    `seek_generation`, and the consumer must restart its analysis from there, as for a new call.
    `pause()`, `resume()` and `seek()` may be called from another thread than `read()`.
    """

    def __init__(
        self,
        path: Path,
        speed: float | None = 1.0,
        block_seconds: float = 0.05,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be more than 0, not {speed}")
        self._recording = open_recording(Path(path))
        self.path = self._recording.path
        self.name = self._recording.path.name
        self.sample_rate = self._recording.sample_rate
        self.channels = self._recording.channels
        self._speed = speed
        self._block_seconds = block_seconds
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._blocks = self._blocks_from(0)
        self._next_frame = 0  # file position of the next block
        self._pending: np.ndarray | None = None  # read from the file, not yet due
        self._anchor_clock = 0.0  # clock reading when playing last (re)started ...
        self._anchor_frame = 0  # ... and the file position then
        self._playing = False
        self._paused = False
        self._finished = False
        self._seek_generation = 0
        self._changes = 0  # bumped by pause/resume/seek/stop, so a read() sleeping through one lets its block go
        self._error: str | None = None

    @property
    def position(self) -> float:
        """Seconds into the recording of the next block."""
        return self._next_frame / self.sample_rate

    @property
    def duration(self) -> float:
        return self._recording.duration

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def finished(self) -> bool:
        """The whole recording has been delivered (or it could not be read further: see `status().error`)."""
        return self._finished

    def start(self) -> None:
        with self._lock:
            self._playing = True
            self._restart_pacing()

    def stop(self) -> None:
        with self._lock:
            self._playing = False
            self._changes += 1
            self._blocks.close()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            self._changes += 1

    def resume(self) -> None:
        with self._lock:
            if self._paused:
                self._paused = False
                self._changes += 1
                self._restart_pacing()

    def seek(self, seconds: float) -> None:
        """Continue from `seconds` into the recording (clamped to it); see the class notes."""
        with self._lock:
            frame = min(max(round(seconds * self.sample_rate), 0), self._recording.frames)
            self._blocks.close()
            self._blocks = self._blocks_from(frame)
            self._next_frame = frame
            self._pending = None
            self._finished = False
            self._seek_generation += 1
            self._changes += 1
            self._restart_pacing()

    def read(self, timeout: float) -> AudioBlock | None:
        with self._lock:
            changes = self._changes
            samples = self._next_samples() if self._playing and not self._paused else None
            wait = timeout if samples is None else self._due(samples) - self._clock()
        if samples is None or wait > timeout:
            self._sleep(timeout)
            return None
        if wait > 0:
            self._sleep(wait)
        with self._lock:
            if self._changes != changes:  # paused, seeked or stopped meanwhile
                return None
            block = AudioBlock(
                samples=samples, start=self._next_frame / self.sample_rate, seek_generation=self._seek_generation
            )
            self._next_frame += len(samples)
            self._pending = None
            return block

    def status(self) -> SourceStatus:
        return SourceStatus(error=self._error)

    def _next_samples(self) -> np.ndarray | None:
        if self._pending is None and not self._finished:
            try:
                self._pending = next(self._blocks, None)
            except InputFileError as error:
                self._error = error.message
            self._finished = self._pending is None
        return self._pending

    def _due(self, samples: np.ndarray) -> float:
        if self._speed is None:
            return float("-inf")
        frames_since_anchor = self._next_frame + len(samples) - self._anchor_frame
        return self._anchor_clock + frames_since_anchor / (self.sample_rate * self._speed)

    def _restart_pacing(self) -> None:
        self._anchor_clock = self._clock()
        self._anchor_frame = self._next_frame

    def _blocks_from(self, first_frame: int) -> Iterator[np.ndarray]:
        """The recording's blocks from `first_frame` on (the file is decoded from its start)."""
        frame = 0
        for block in self._recording.blocks(self._block_seconds):
            end = frame + len(block)
            if end > first_frame:
                yield block[max(0, first_frame - frame) :]
            frame = end
