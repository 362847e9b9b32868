"""A call captured from the test ALSA device, in a process of its own (run by test_live_sources.py).

The process must see callassist_capture.asoundrc from the start (PortAudio lists ALSA devices once,
when sounddevice is imported), so it runs with a temporary HOME whose ~/.asoundrc includes it.
It prints what it observed as JSON on its last line; the test judges it.

The device is ALSA's file plugin over the null device, reading the "captured" audio from the file
named by CALLASSIST_ALSA_INFILE: raw float32 mono, which PortAudio takes without conversion.
Through a named pipe, the device delivers what the test writes and then stops (the pipe stays
open and empty): a device that goes quiet mid-call. Closing the pipe lets the stuck capture thread
go again (the null device then repeats stale audio as fast as it can), so the stream can be closed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

DEVICE = "callassist_test_capture"
RATE = 16000
QUEUE_BLOCKS = 40


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class PipeDevice:
    """A named pipe holding `samples` for the device to read, then staying open and empty until released.

    The samples are in the pipe before the device opens it, so no read ever finds half of them.
    """

    def __init__(self, path: Path, samples: np.ndarray) -> None:
        data = samples.astype("<f4").tobytes()
        assert len(data) <= 65536, "more than a pipe holds by default"
        os.mkfifo(path)
        self.path = path
        placeholder_reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer open at once
        self._writer: int | None = os.open(path, os.O_WRONLY)
        os.write(self._writer, data)
        os.close(placeholder_reader)  # the data stays: the pipe lives on while its writer is open

    def release(self) -> None:
        if self._writer is not None:
            os.close(self._writer)
            self._writer = None


def read_frames(source, frames: int, deadline_seconds: float = 10.0) -> list:
    blocks = []
    deadline = time.monotonic() + deadline_seconds
    while sum(len(block.samples) for block in blocks) < frames and time.monotonic() < deadline:
        block = source.read(1.0)
        if block is not None:
            blocks.append(block)
    return blocks


def describe(blocks: list) -> list[list]:
    return [[block.start, len(block.samples), block.gap, bool(np.any(block.samples))] for block in blocks]


def main(workdir: Path) -> dict:
    try:
        import sounddevice
    except OSError as error:
        return {"skip": f"PortAudio is not available: {error}"}
    if "ALSA" not in [host_api["name"] for host_api in sounddevice.query_hostapis()]:
        return {"skip": "this PortAudio has no ALSA host API"}

    from callassist.live import DeviceSource, list_input_devices

    observed: dict = {"devices": [device.name for device in list_input_devices()]}
    if DEVICE not in observed["devices"]:
        return observed
    rng = np.random.default_rng(7)
    first_words = rng.uniform(-0.5, 0.5, round(0.8 * RATE)).astype(np.float32)
    after_return = rng.uniform(-0.5, 0.5, round(0.4 * RATE)).astype(np.float32)
    clock = FakeClock()
    pipes: list[PipeDevice] = []
    source = None
    try:
        pipes.append(PipeDevice(workdir / "first.pipe", first_words))
        os.environ["CALLASSIST_ALSA_INFILE"] = str(pipes[0].path)
        source = DeviceSource(DEVICE, channels=1, sample_rate=RATE, queue_blocks=QUEUE_BLOCKS, clock=clock)
        observed["name"] = source.name
        source.start()
        blocks = read_frames(source, len(first_words))
        captured = np.concatenate([block.samples for block in blocks])[:, 0] if blocks else np.zeros(0)
        observed["first_blocks"] = describe(blocks)
        observed["first_exact"] = bool(np.array_equal(captured, first_words))
        observed["read_when_quiet"] = source.read(0.3) is not None
        observed["stalled_before"] = source.status().stalled
        clock.now += 1.5
        observed["stalled_after"] = source.status().stalled

        # Unstick the capture thread (the device repeats stale audio, filling the queue), and make
        # the device vanish: the next open finds no infile.
        os.environ["CALLASSIST_ALSA_INFILE"] = str(workdir / "unplugged.raw")
        pipes[0].release()
        deadline = time.monotonic() + 5
        while source.status().dropped_blocks == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        observed["dropped_while_stuck"] = source.status().dropped_blocks
        observed["reopen_while_gone"] = source.reopen()
        status = source.status()
        observed["gone"] = {"error": status.error, "attempts": status.reopen_attempts, "stalled": status.stalled}

        clock.now += 2.0
        pipes.append(PipeDevice(workdir / "second.pipe", after_return))
        os.environ["CALLASSIST_ALSA_INFILE"] = str(pipes[1].path)
        observed["reopen_when_back"] = source.reopen()
        status = source.status()
        observed["back"] = {"error": status.error, "attempts": status.reopen_attempts, "stalled": status.stalled}
        expected_frames = QUEUE_BLOCKS * len(blocks[0].samples) + round(3.5 * RATE) + len(after_return)
        blocks = read_frames(source, expected_frames)
        observed["after_blocks"] = describe(blocks)
        tail = np.concatenate([block.samples for block in blocks])[-len(after_return) :, 0]
        observed["after_return_exact"] = bool(np.array_equal(tail, after_return))
    finally:
        for pipe in pipes:
            pipe.release()  # before stop(): a capture stuck reading an empty pipe cannot be stopped
        if source is not None:
            source.stop()
    return observed


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
