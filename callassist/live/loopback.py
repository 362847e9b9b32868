"""The caller's audio taken from what a speaker plays (the softphone's output): WASAPI loopback on
Windows, through the optional `soundcard` package (`pip install "callassist[loopback]"`).

A loopback capture delivers nothing while nothing plays, which is most of a silent caller's call.
A sound device that delivers nothing has been unplugged (see `DeviceSource`), but a loopback that
delivers nothing is only quiet: so `LoopbackSource` fills the time with real silence, counted by
the clock, and the silence checks run as they should. A loopback whose device is gone is another
matter: its capture raises, and the source then reports itself stalled (the screen shows the
device banner, the silence checks pause) and pads nothing until it is reopened.

Chosen in the config or on the command line as `caller_device = "loopback:NAME"` (part of the
speaker's name; `loopback:` alone is the default speaker).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from typing import Any, Protocol

import numpy as np

from callassist.live.devices import AudioDeviceError
from callassist.live.sources import AudioBlock, Clock, Sleep, SourceStatus

LOOPBACK_PREFIX = "loopback:"
INSTALL_HINT = 'WASAPI loopback needs the optional package: pip install "callassist[loopback]"'


def is_loopback(spec: str | None) -> bool:
    return bool(spec) and spec.strip().casefold().startswith(LOOPBACK_PREFIX)


def loopback_name(spec: str) -> str:
    return spec.strip()[len(LOOPBACK_PREFIX):].strip()


class LoopbackCapture(Protocol):
    """Records a speaker's output on its own thread. `take()` never blocks: it returns what was
    recorded since the last call (nothing while nothing plays) and raises AudioDeviceError once
    the device is gone."""

    name: str
    sample_rate: int

    def open(self) -> None: ...

    def take(self) -> list[np.ndarray]: ...

    def close(self) -> None: ...


class LoopbackSource:
    """An audio source over a loopback capture, mono, padded with silence by the clock.

    Stream time counts the samples handed out. When nothing was recorded and the clock says more
    than `pad_after` seconds of audio are owed beyond a block, a block of silence goes out (real
    silence: `gap` is False). A capture that raises marks the source stalled: nothing is padded
    then, so the time the device was away is not taken for a silent caller; after a successful
    `reopen()` that time is handed out as silence marked `gap=True`, as `DeviceSource` does.
    """

    channels = 1

    def __init__(self, capture: LoopbackCapture, block_seconds: float = 0.05, clock: Clock = time.monotonic,
                 sleep: Sleep = time.sleep, pad_after: float = 0.15) -> None:
        self.capture = capture
        self.name = capture.name
        self.sample_rate = capture.sample_rate
        self._block_frames = max(1, round(block_seconds * self.sample_rate))
        self._pad_after = round(pad_after * self.sample_rate)
        self._clock = clock
        self._sleep = sleep
        self._buffer: deque[np.ndarray] = deque()
        self._gap_frames = 0  # silence owed for time the device was away
        self._started_at: float | None = None
        self._frames_read = 0
        self._error: str | None = None
        self._reopen_attempts = 0

    def start(self) -> None:
        self.capture.open()
        self._started_at = self._clock()

    def stop(self) -> None:
        self.capture.close()
        self._started_at = None

    def read(self, timeout: float) -> AudioBlock | None:
        if self._gap_frames:
            frames = min(self._gap_frames, self._block_frames)
            self._gap_frames -= frames
            return self._stamp(np.zeros((frames, 1), np.float32), gap=True)
        if self._error is None and self._started_at is not None:
            try:
                self._buffer.extend(self.capture.take())
            except AudioDeviceError as error:
                self._error = error.message
        if self._buffer:  # all that was recorded, in one block: the capture's own blocks may be tiny
            samples = np.concatenate(list(self._buffer))
            self._buffer.clear()
            return self._stamp(samples.reshape(-1, 1))
        if self._error is None and self._owed() >= self._block_frames + self._pad_after:
            return self._stamp(np.zeros((self._block_frames, 1), np.float32))
        self._sleep(timeout)
        return None

    def reopen(self) -> bool:
        self._reopen_attempts += 1
        self.capture.close()
        try:
            self.capture.open()
        except AudioDeviceError as error:
            self._error = error.message
            return False
        self._buffer.clear()
        self._gap_frames = max(0, self._owed())
        self._error = None
        return True

    def status(self) -> SourceStatus:
        return SourceStatus(stalled=self._error is not None, reopen_attempts=self._reopen_attempts, error=self._error)

    def _owed(self) -> int:
        """Samples the clock says have played since the start, less those handed out."""
        assert self._started_at is not None
        return round((self._clock() - self._started_at) * self.sample_rate) - self._frames_read

    def _stamp(self, samples: np.ndarray, gap: bool = False) -> AudioBlock:
        block = AudioBlock(samples=samples, start=self._frames_read / self.sample_rate, gap=gap)
        self._frames_read += len(samples)
        return block


# ---------------------------------------------------------------- the soundcard backend


def soundcard_module() -> Any:
    try:
        import soundcard
    except ImportError:
        raise AudioDeviceError(INSTALL_HINT) from None
    except Exception as error:  # soundcard loads the platform's sound library on import
        raise AudioDeviceError(f"cannot use loopback capture: {error}") from None
    return soundcard


def loopback_speakers() -> list[str] | None:
    """Names of the speakers whose output can be recorded; None without the optional package."""
    try:
        sc = soundcard_module()
        return [speaker.name for speaker in sc.all_speakers()]
    except AudioDeviceError:
        return None
    except Exception:  # the sound server is not running: nothing to record from
        return []


class SoundcardCapture:
    """WASAPI loopback (or a PulseAudio monitor) through `soundcard`, on a thread of its own.

    soundcard's recorder already returns zeros while a loopback gets no packets; the clock padding
    of `LoopbackSource` is there for whatever it misses. A recorder call that raises, or that has
    not returned for `stall_after` seconds, means the device is gone.
    """

    def __init__(self, name: str, sample_rate: int, stall_after: float = 1.0, clock: Clock = time.monotonic) -> None:
        self.wanted = name
        self.sample_rate = sample_rate
        self.name = f"loopback {name or 'default speaker'}"
        self._stall_after = stall_after
        self._clock = clock
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=400)
        self._thread: threading.Thread | None = None
        self._running = False
        self._error: str | None = None
        self._alive_at = 0.0

    def open(self) -> None:
        sc = soundcard_module()
        speaker = self._speaker(sc)
        try:
            microphone = sc.get_microphone(id=str(speaker.name), include_loopback=True)
        except Exception as error:
            raise AudioDeviceError(f"cannot record the output of {speaker.name}: {error}") from None
        self.name = f"loopback {speaker.name}"
        self._error = None
        self._running = True
        self._alive_at = self._clock()
        self._thread = threading.Thread(target=self._record, args=(microphone,), daemon=True, name="loopback")
        self._thread.start()

    def take(self) -> list[np.ndarray]:
        blocks = []
        while True:
            try:
                blocks.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if blocks:
            return blocks
        if self._error is not None:
            raise AudioDeviceError(f"{self.name}: {self._error}")
        if self._clock() - self._alive_at > self._stall_after:
            raise AudioDeviceError(f"{self.name}: the recorder stopped answering")
        return blocks

    def close(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def _speaker(self, sc: Any) -> Any:
        if not self.wanted:
            return sc.default_speaker()
        wanted = self.wanted.casefold()
        matches = [s for s in sc.all_speakers() if wanted in s.name.casefold()]
        if len(matches) != 1:
            names = "; ".join(s.name for s in sc.all_speakers()) or "none"
            problem = "matches several speakers" if matches else "matches no speaker"
            raise AudioDeviceError(f"loopback '{self.wanted}' {problem} (speakers: {names}); run `callassist devices`")
        return matches[0]

    def _record(self, microphone: Any) -> None:
        try:
            with microphone.recorder(samplerate=self.sample_rate, channels=1) as recorder:
                while self._running:
                    samples = recorder.record(numframes=None)
                    self._alive_at = self._clock()
                    if len(samples):
                        try:
                            self._queue.put_nowait(np.asarray(samples, dtype=np.float32).reshape(-1))
                        except queue.Full:
                            pass  # the consumer has stopped reading; the session reports its own stall
        except Exception as error:  # the device went away (or never worked): told through take()
            self._error = " ".join(str(error).split()) or type(error).__name__
