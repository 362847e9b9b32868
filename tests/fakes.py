"""Test doubles kept out of the package: sources (and, later, recognisers) that behave like the real ones."""

from __future__ import annotations

import time

import numpy as np

from callassist.live.sources import AudioBlock, Clock, Sleep, SourceStatus, _Liveness


class FakeSource:
    """Given samples handed out in blocks as fast as they are read, for tests of what consumes audio.

    `stop_after` (seconds) cuts the audio there, like a device unplugged mid-call: from then on, as
    after the last sample, `read()` returns None (after sleeping its timeout) and, `stall_after`
    seconds later by `clock`, `status().stalled` turns True. `reopen()` always fails: the fake
    device stays unplugged.
    """

    def __init__(
        self,
        samples: np.ndarray,
        sample_rate: int,
        block_seconds: float = 0.05,
        stop_after: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        stall_after: float = 1.0,
        name: str = "fake",
    ) -> None:
        audio = np.asarray(samples, dtype=np.float32)
        audio = audio.reshape(len(audio), -1)  # mono given as 1-D becomes (n, 1)
        if stop_after is not None:
            audio = audio[: round(stop_after * sample_rate)]
        self.name = name
        self.sample_rate = sample_rate
        self.channels = audio.shape[1]
        self._audio = audio
        self._block_frames = max(1, round(block_seconds * sample_rate))
        self._sleep = sleep
        self._liveness = _Liveness(clock, stall_after)
        self._next_frame = 0
        self._playing = False
        self._reopen_attempts = 0
        self._error: str | None = None

    def start(self) -> None:
        self._playing = True
        self._liveness.heard()

    def stop(self) -> None:
        self._playing = False
        self._liveness.forget()

    def read(self, timeout: float) -> AudioBlock | None:
        if not self._playing or self._next_frame >= len(self._audio):
            self._sleep(timeout)
            return None
        samples = self._audio[self._next_frame : self._next_frame + self._block_frames]
        block = AudioBlock(samples=samples, start=self._next_frame / self.sample_rate)
        self._next_frame += len(samples)
        self._liveness.heard()
        return block

    def reopen(self) -> bool:
        self._reopen_attempts += 1
        self._error = f"{self.name} is unplugged"
        return False

    def status(self) -> SourceStatus:
        return SourceStatus(
            stalled=self._liveness.stalled(), reopen_attempts=self._reopen_attempts, error=self._error
        )
