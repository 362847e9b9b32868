"""Test doubles kept out of the package: sources and recognisers that behave like the real ones."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from callassist.inputs import Speaker, Utterance, UtteranceHeard
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

    @property
    def exhausted(self) -> bool:
        """Every sample has been read (or cut off by `stop_after`)."""
        return self._next_frame >= len(self._audio)


class FakeClock:
    """Time that passes only when something sleeps: a test's sources and session share it, so a
    call of many seconds runs in a moment and every time is exact."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


class PacedFakeSource(FakeSource):
    """A FakeSource that hands out each block only once `clock` has reached the block's end, as a
    sound device does: the source for end-to-end timing on a clock (fake, or the real one)."""

    def __init__(self, samples: np.ndarray, sample_rate: int, clock: Clock = time.monotonic,
                 sleep: Sleep = time.sleep, **kwargs) -> None:
        super().__init__(samples, sample_rate, clock=clock, sleep=sleep, **kwargs)
        self._clock = clock
        self._started_at = 0.0

    def start(self) -> None:
        super().start()
        self._started_at = self._clock()

    def read(self, timeout: float) -> AudioBlock | None:
        end = min(self._next_frame + self._block_frames, len(self._audio))
        due = self._started_at + end / self.sample_rate
        wait = due - self._clock()
        if wait > timeout or self._next_frame >= len(self._audio):
            self._sleep(timeout)
            return None
        if wait > 0:
            self._sleep(wait)
        return super().read(timeout)


class FakeLoopbackCapture:
    """A loopback capture (see callassist.live.loopback) over given mono samples on `clock`.

    Like WASAPI loopback, it records nothing while nothing plays: within the `quiet` spans
    (seconds from open) no samples come at all. From `vanish_at` on, the device is gone: `take()`
    raises, and so does every later `open()`."""

    def __init__(self, samples: np.ndarray, sample_rate: int, clock: Clock, quiet: list[tuple[float, float]] = (),
                 vanish_at: float | None = None, name: str = "fake loopback", block_seconds: float = 0.01) -> None:
        self.name = name
        self.sample_rate = sample_rate
        self._audio = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._clock = clock
        self._quiet = list(quiet)
        self._vanish_at = vanish_at
        self._block = max(1, round(block_seconds * sample_rate))
        self._opened_at: float | None = None
        self._next = 0
        self.opens = 0

    def open(self) -> None:
        from callassist.live.devices import AudioDeviceError

        if self._opened_at is not None and self._gone():
            raise AudioDeviceError(f"{self.name} is gone")
        self.opens += 1
        if self._opened_at is None:
            self._opened_at = self._clock()

    def take(self) -> list[np.ndarray]:
        from callassist.live.devices import AudioDeviceError

        if self._gone():
            raise AudioDeviceError(f"{self.name}: device removed")
        played = min(round((self._clock() - self._opened_at) * self.sample_rate), len(self._audio))
        blocks = []
        while self._next + self._block <= played:
            start = self._next
            self._next += self._block
            if not any(lo * self.sample_rate <= start < hi * self.sample_rate for lo, hi in self._quiet):
                blocks.append(self._audio[start : self._next].copy())
        return blocks

    def close(self) -> None:
        pass

    def _gone(self) -> bool:
        return self._vanish_at is not None and self._opened_at is not None and (
            self._clock() - self._opened_at >= self._vanish_at
        )


class RaisingSource:
    """A device whose read always raises (a broken driver), counting how often it was asked."""

    def __init__(self, name: str = "broken", sample_rate: int = 16000, channels: int = 1) -> None:
        self.name = name
        self.sample_rate = sample_rate
        self.channels = channels
        self.reads = 0

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def read(self, timeout: float) -> AudioBlock | None:
        self.reads += 1
        raise OSError("device driver error -9999")

    def status(self) -> SourceStatus:
        return SourceStatus()


class OverflowingSource(FakeSource):
    """A FakeSource whose device reports one input overflow for every `every` blocks read, and
    (with `drop_every`) one block dropped for every `drop_every` blocks read."""

    def __init__(self, *args, every: int = 10, drop_every: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._every = every
        self._drop_every = drop_every
        self._blocks_read = 0

    def read(self, timeout: float) -> AudioBlock | None:
        block = super().read(timeout)
        if block is not None:
            self._blocks_read += 1
        return block

    def status(self) -> SourceStatus:
        dropped = self._blocks_read // self._drop_every if self._drop_every else 0
        return SourceStatus(
            overflows=self._blocks_read // self._every, dropped_blocks=dropped, stalled=super().status().stalled
        )
class ScriptedRecognition:
    """A recogniser that "hears" a given transcript, for tests of what consumes recognition.

    Each utterance of a channel comes out as a real recogniser's would, timed by the samples it
    is given: a partial result with the first half of its text once the audio passes the
    utterance's middle, the final result once the audio passes its end. `misheard` gives another
    partial text for a final text (a partial the final result then corrects). `delay` (seconds of
    wall time per block) makes it slow, so results arrive late as from a busy recogniser.
    """

    name = "scripted"

    def __init__(self, utterances: list[Utterance], delay: float = 0.0, partials: bool = True,
                 misheard: dict[str, str] | None = None) -> None:
        self.utterances = utterances
        self.delay = delay
        self.partials = partials
        self.misheard = misheard or {}

    def open_channel(self, speaker: Speaker, input_rate: int) -> "ScriptedChannel":
        mine = [u for u in self.utterances if u.speaker == speaker]
        return ScriptedChannel(mine, input_rate, self.delay, self.partials, self.misheard)


class ScriptedChannel:
    def __init__(self, utterances: list[Utterance], rate: int, delay: float, partials: bool,
                 misheard: dict[str, str]) -> None:
        self.waiting = sorted(utterances, key=lambda u: u.end)
        self.rate = rate
        self.delay = delay
        self.partials = partials
        self.misheard = misheard
        self.frames = 0
        self.partial_sent: set[int] = set()
        self.index = 0

    def feed(self, samples: np.ndarray) -> list[UtteranceHeard]:
        if self.delay:
            time.sleep(self.delay)
        self.frames += len(samples)
        return self._heard(self.frames / self.rate)

    def finish(self) -> list[UtteranceHeard]:
        return self._heard(float("inf"), at=self.frames / self.rate)

    def _heard(self, until: float, at: float | None = None) -> list[UtteranceHeard]:
        t = until if at is None else at
        heard = []
        while self.waiting and self.waiting[0].end <= until:
            u = self.waiting.pop(0)
            heard.append(UtteranceHeard(t=t, utterance=u, final=True, key=f"{u.speaker}:{self.index}"))
            self.index += 1
        if self.waiting and self.partials:
            u = self.waiting[0]
            if (u.start + u.end) / 2 <= until and self.index not in self.partial_sent:
                self.partial_sent.add(self.index)
                text = self.misheard.get(u.text, u.text[: max(1, len(u.text) // 2)])
                half = replace(u, text=text, end=t, words=())
                heard.append(UtteranceHeard(t=t, utterance=half, final=False, key=f"{u.speaker}:{self.index}"))
        return heard


def one_live_call(session, source: FakeSource, messages: list) -> Path:
    """Run a live session's call over `source` on a worker thread, as an agent does: the call
    started before the first sample and ended after the last. The saved report's path."""
    from callassist.live.messages import CallEnded

    session.start_call()
    worker = threading.Thread(target=session.run)
    worker.start()
    deadline = time.monotonic() + 60
    while not source.exhausted and time.monotonic() < deadline:
        time.sleep(0.01)
    session.end_call()
    session.stop()
    worker.join(timeout=60)
    assert not worker.is_alive()
    (ended,) = [m for m in messages if isinstance(m, CallEnded)]
    assert ended.report_path is not None
    return Path(ended.report_path)
