"""Live audio sources and input devices: pacing, stall detection, reopening, and device choice.

Time is faked wherever the code takes a clock or a sleep, so no test sleeps; only the ALSA
capture, a real PortAudio stream in a subprocess, takes real (sub-second) time.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile

from fakes import FakeSource

from callassist.live import (
    AudioBlock,
    AudioDeviceError,
    DeviceSource,
    FileSource,
    InputDevice,
    format_device_table,
    list_input_devices,
    resolve_input_device,
)

try:
    import sounddevice as sd
except OSError:  # PortAudio missing: the device tests patch this module, so they need it
    sd = None
needs_sounddevice = pytest.mark.skipif(sd is None, reason="sounddevice cannot load PortAudio here")

ALSA_DIR = Path(__file__).parent / "alsa"


class FakeTime:
    """A monotonic clock that only sleeping moves; `oversleep` makes every sleep run long."""

    def __init__(self, oversleep: float = 0.0) -> None:
        self.now = 100.0
        self.oversleep = oversleep
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds + self.oversleep


def noise(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Samples exactly representable in 16-bit PCM, so a WAV file gives them back unchanged."""
    levels = np.random.default_rng(seed).integers(-16000, 16000, (round(seconds * rate), channels))
    return (levels / 32768).astype(np.float32)


def wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    soundfile.write(path, samples, rate, subtype="PCM_16")
    return path


def read_all(source, timeout: float = 1.0) -> list[AudioBlock]:
    blocks = []
    while (block := source.read(timeout)) is not None:
        blocks.append(block)
    return blocks


def assert_contiguous(blocks: list[AudioBlock], rate: int, first_start: float = 0.0) -> None:
    expected = first_start
    for block in blocks:
        assert block.start == pytest.approx(expected, abs=1e-9)
        expected += len(block.samples) / rate


# --- FakeSource ---------------------------------------------------------------------------------


def test_fake_source_hands_out_the_samples_in_blocks_with_their_stream_time():
    time = FakeTime()
    samples = noise(1.02, 8000)[:, 0]  # mono given as 1-D
    source = FakeSource(samples, 8000, block_seconds=0.1, clock=time.clock, sleep=time.sleep)
    assert (source.sample_rate, source.channels, source.name) == (8000, 1, "fake")
    assert source.read(0.5) is None  # not started
    source.start()
    blocks = read_all(source, timeout=0.5)
    assert [len(block.samples) for block in blocks] == [800] * 10 + [160]
    assert all(block.samples.shape[1] == 1 and block.samples.dtype == np.float32 for block in blocks)
    np.testing.assert_array_equal(np.concatenate([block.samples for block in blocks])[:, 0], samples)
    assert_contiguous(blocks, 8000)
    assert time.sleeps == [0.5, 0.5]  # waited out the timeout before and after the audio, no busy loop


def test_fake_source_unplugged_mid_call_stalls_by_the_clock_and_stays_gone():
    time = FakeTime()
    source = FakeSource(noise(2.0, 8000, channels=2), 8000, stop_after=0.5, clock=time.clock, sleep=time.sleep)
    assert not source.status().stalled  # not started: nothing is late
    source.start()
    blocks = read_all(source, timeout=0.25)
    assert sum(len(block.samples) for block in blocks) == 4000
    assert blocks[0].samples.shape == (400, 2)
    assert not source.status().stalled  # silent 0.25 s so far
    assert source.read(0.25) is None and source.read(0.25) is None
    assert not source.status().stalled  # 0.75 s: not yet
    time.now += 0.3
    assert source.status().stalled
    assert source.reopen() is False
    status = source.status()
    assert (status.stalled, status.reopen_attempts, status.error) == (True, 1, "fake is unplugged")
    source.stop()
    assert not source.status().stalled


# --- FileSource ---------------------------------------------------------------------------------


@pytest.fixture
def call_recording(tmp_path) -> tuple[Path, np.ndarray]:
    samples = noise(2.0, 8000, channels=2)
    return wav(tmp_path / "call.wav", samples, 8000), samples


def test_file_source_delivers_each_block_when_its_last_sample_has_played(call_recording):
    path, samples = call_recording
    time = FakeTime()
    source = FileSource(path, block_seconds=0.05, clock=time.clock, sleep=time.sleep)
    assert (source.sample_rate, source.channels, source.duration, source.position) == (8000, 2, 2.0, 0.0)
    source.start()
    started = time.now
    delivered_at = []
    blocks = []
    while (block := source.read(1.0)) is not None:
        blocks.append(block)
        delivered_at.append(time.now - started)
    assert len(blocks) == 40
    assert delivered_at == pytest.approx([0.05 * (k + 1) for k in range(40)], abs=1e-9)
    np.testing.assert_array_equal(np.concatenate([block.samples for block in blocks]), samples)
    assert_contiguous(blocks, 8000)
    assert {block.seek_generation for block in blocks} == {0}
    assert source.finished and source.position == 2.0
    assert source.status().error is None


def test_file_source_at_double_speed_and_with_a_short_read_timeout(call_recording):
    path, _ = call_recording
    time = FakeTime()
    source = FileSource(path, speed=2.0, clock=time.clock, sleep=time.sleep)
    source.start()
    started = time.now
    assert source.read(0.01) is None  # the first block is due 0.025 s in: not within 0.01 s
    assert source.read(0.01) is None
    block = source.read(0.01)
    assert block is not None and block.start == 0.0
    assert time.now - started == pytest.approx(0.025)
    assert source.read(1.0).start == 0.05
    assert time.now - started == pytest.approx(0.05)


def test_file_source_pacing_does_not_drift_over_ten_minutes(tmp_path):
    rate = 8000
    path = wav(tmp_path / "long.wav", np.zeros((600 * rate, 1), dtype=np.float32), rate)
    time = FakeTime(oversleep=0.004)  # every sleep runs 4 ms long, as real sleeps do
    source = FileSource(path, block_seconds=0.05, clock=time.clock, sleep=time.sleep)
    source.start()
    started = time.now
    lateness = []
    count = 0
    while source.read(1.0) is not None:
        count += 1
        lateness.append(time.now - started - 0.05 * count)
    assert count == 12000
    assert min(lateness) >= -1e-9
    assert max(lateness) <= 0.004 + 1e-6  # late by one oversleep at most, never by their sum (48 s)


def test_file_source_catches_up_without_sleeping_when_the_consumer_was_late(call_recording):
    path, _ = call_recording
    time = FakeTime()
    source = FileSource(path, clock=time.clock, sleep=time.sleep)
    source.start()
    time.now += 0.5  # the consumer was busy for half a second
    blocks = [source.read(1.0) for _ in range(10)]
    assert time.sleeps == []
    assert_contiguous(blocks, 8000)
    source.read(1.0)
    assert time.sleeps == [pytest.approx(0.05)]


def test_file_source_pause_and_resume(call_recording):
    path, _ = call_recording
    time = FakeTime()
    source = FileSource(path, clock=time.clock, sleep=time.sleep)
    source.start()
    first = [source.read(1.0) for _ in range(4)]
    source.pause()
    assert source.paused
    assert source.read(0.2) is None and time.sleeps[-1] == 0.2
    time.now += 30.0
    assert source.read(0.2) is None
    assert source.position == 0.2
    source.resume()
    resumed_at = time.now
    block = source.read(1.0)
    assert block.start == 0.2  # stream time is the file's: the pause is not in it
    assert time.now - resumed_at == pytest.approx(0.05)
    assert_contiguous(first + [block], 8000)


def test_file_source_read_gives_up_its_block_when_paused_while_waiting(call_recording):
    path, _ = call_recording
    time = FakeTime()
    pause_while_sleeping = True

    def sleep(seconds: float) -> None:
        time.sleep(seconds)
        if pause_while_sleeping:
            source.pause()  # as the screen's thread would, while read() waits for the block to be due

    source = FileSource(path, clock=time.clock, sleep=sleep)
    source.start()
    assert source.read(1.0) is None
    pause_while_sleeping = False
    source.resume()
    assert source.read(1.0).start == 0.0  # the block was kept, not lost


def test_file_source_seek_jumps_stream_time_and_marks_a_new_generation(call_recording):
    path, samples = call_recording
    time = FakeTime()
    source = FileSource(path, clock=time.clock, sleep=time.sleep)
    source.start()
    source.read(1.0), source.read(1.0)
    source.seek(1.234)
    seeked_at = time.now
    block = source.read(1.0)
    assert (block.start, block.seek_generation) == (1.234, 1)
    first_frame = round(1.234 * 8000)
    np.testing.assert_array_equal(block.samples, samples[first_frame : first_frame + len(block.samples)])
    assert time.now - seeked_at == pytest.approx(len(block.samples) / 8000)
    rest = read_all(source)
    assert_contiguous([block, *rest], 8000, first_start=1.234)
    assert source.finished

    source.seek(-3)  # clamped to the start; a finished source plays again
    assert not source.finished
    block = source.read(1.0)
    assert (block.start, block.seek_generation) == (0.0, 2)
    np.testing.assert_array_equal(block.samples, samples[:400])

    source.seek(99)  # past the end: nothing left
    assert source.read(0.1) is None and source.finished and source.position == 2.0


def test_file_source_as_fast_as_possible(call_recording):
    path, samples = call_recording
    time = FakeTime()
    source = FileSource(path, speed=None, clock=time.clock, sleep=time.sleep)
    source.start()
    blocks = read_all(source, timeout=0.3)
    assert time.sleeps == [0.3]  # only the final wait for a block that never came
    np.testing.assert_array_equal(np.concatenate([block.samples for block in blocks]), samples)
    assert source.finished


def test_file_source_stop_and_bad_speed(call_recording):
    path, _ = call_recording
    time = FakeTime()
    source = FileSource(path, clock=time.clock, sleep=time.sleep)
    source.start()
    source.stop()
    assert source.read(0.1) is None
    with pytest.raises(ValueError):
        FileSource(path, speed=0)


# --- Devices (PortAudio patched) -----------------------------------------------------------------

HOST_APIS = [{"name": "ALSA"}, {"name": "PulseAudio"}]
DEVICES = [  # a Linux laptop with a USB headset, as PortAudio lists it
    (0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", 0, 2, 2, 44100.0),
    (1, "HDA Intel PCH: HDMI 0 (hw:0,3)", 0, 0, 8, 44100.0),
    (2, "Jabra EVOLVE 20 MS: USB Audio (hw:1,0)", 0, 1, 2, 16000.0),
    (3, "sysdefault", 0, 128, 128, 48000.0),
    (4, "pulse", 0, 32, 32, 44100.0),
    (5, "default", 0, 32, 32, 44100.0),
    (6, "Monitor of Jabra EVOLVE 20 MS Analog Stereo", 1, 2, 0, 48000.0),
]


def device_info(index, name, host_api, inputs, outputs, rate) -> dict:
    return {
        "name": name, "index": index, "hostapi": host_api,
        "max_input_channels": inputs, "max_output_channels": outputs, "default_samplerate": rate,
        "default_low_input_latency": 0.01, "default_low_output_latency": 0.01,
        "default_high_input_latency": 0.03, "default_high_output_latency": 0.03,
    }


@pytest.fixture
def devices(monkeypatch):
    """Patch PortAudio's device list; returns a setter for the list and the default input."""
    state = {"devices": [device_info(*row) for row in DEVICES], "default": 5}

    def query_devices(device=None, kind=None):
        if device is None and kind is None:
            return list(state["devices"])
        assert (device, kind) == (None, "input")
        if state["default"] is None:
            raise sd.PortAudioError("Error querying device -1")
        return state["devices"][state["default"]]

    monkeypatch.setattr(sd, "query_devices", query_devices)
    monkeypatch.setattr(sd, "query_hostapis", lambda index=None: HOST_APIS)

    def configure(rows=None, default=5):
        if rows is not None:
            state["devices"] = [device_info(*row) for row in rows]
        state["default"] = default

    return configure


def device_error(spec) -> str:
    with pytest.raises(AudioDeviceError) as caught:
        resolve_input_device(spec)
    message = str(caught.value)
    assert "\n" not in message
    return message


@needs_sounddevice
def test_list_input_devices_leaves_out_output_only_devices(devices):
    listed = list_input_devices()
    assert [device.index for device in listed] == [0, 2, 3, 4, 5, 6]
    assert listed[1] == InputDevice(
        index=2, name="Jabra EVOLVE 20 MS: USB Audio (hw:1,0)", channels=1, default_rate=16000.0,
        host_api="ALSA", is_default=False,
    )
    assert [device.index for device in listed if device.is_default] == [5]
    assert listed[-1].host_api == "PulseAudio"


@needs_sounddevice
@pytest.mark.parametrize(
    ("spec", "index"),
    [
        (None, 5),  # the default input device
        (2, 2),
        ("2", 2),  # as the command line gives it
        (" jabra evolve 20 ms: usb ", 2),  # any case, surrounding spaces ignored
        ("monitor of", 6),
        ("default", 5),  # also in "sysdefault", but it is this one's whole name
        ("PULSE", 4),
    ],
)
def test_resolve_input_device(devices, spec, index):
    assert resolve_input_device(spec).index == index


@needs_sounddevice
def test_device_errors_are_one_line_and_point_to_callassist_devices(devices):
    ambiguous = device_error("jabra")
    assert "ambiguous" in ambiguous
    assert "2 (Jabra EVOLVE 20 MS: USB Audio (hw:1,0), ALSA)" in ambiguous
    assert "6 (Monitor of Jabra EVOLVE 20 MS Analog Stereo, PulseAudio)" in ambiguous
    assert "callassist devices" in ambiguous

    assert device_error(9) == "there is no audio device 9; run `callassist devices` to see the input devices"
    assert device_error("1") == (
        "audio device 1 (HDA Intel PCH: HDMI 0 (hw:0,3)) is an output device and cannot record; "
        "run `callassist devices` to see the input devices"
    )
    assert "matches only output devices (1: HDA Intel PCH: HDMI 0 (hw:0,3))" in device_error("hdmi")
    assert device_error("bluetooth") == (
        "no input device matches 'bluetooth'; run `callassist devices` to see the input devices"
    )


@needs_sounddevice
def test_no_input_devices_or_no_default(devices):
    devices(default=None)
    assert "there is no default input device" in device_error(None)
    assert "callassist devices" in device_error(None)
    assert resolve_input_device("pulse").index == 4  # naming one still works
    devices(rows=[DEVICES[1]], default=None)
    assert list_input_devices() == []
    assert device_error(None).startswith("no audio input devices found")
    assert device_error(1).startswith("no audio input devices found")


@needs_sounddevice
def test_device_table_marks_the_default_and_explains_capturing_the_caller(devices):
    table = format_device_table(list_input_devices())
    lines = table.splitlines()
    assert lines[0].split() == ["#", "device", "channels", "rate", "host", "API"]
    rows = {line.split()[1] if line.startswith("*") else line.split()[0]: line for line in lines[1:7]}
    assert rows["5"].startswith("*") and rows["5"].split() == ["*", "5", "default", "32", "44100", "ALSA"]
    assert rows["2"].split()[-3:] == ["1", "16000", "ALSA"] and not rows["2"].startswith("*")
    assert "HDMI" not in table
    assert "Monitor of" in table and "Stereo Mix" in table and "other" in table
    assert format_device_table([]).startswith("No audio input devices found.")


def test_missing_portaudio_is_a_one_line_error_saying_what_to_install(monkeypatch):
    class PortAudioMissing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "sounddevice":
                raise OSError("PortAudio library not found")
            return None

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [PortAudioMissing(), *sys.meta_path])
    with pytest.raises(AudioDeviceError) as caught:
        list_input_devices()
    message = str(caught.value)
    assert "\n" not in message
    assert "PortAudio library not found" in message and "apt-get install libportaudio2" in message


# --- DeviceSource: the callback, and a patched stream ------------------------------------------


def overflow_flags(overflow: bool):
    flags = sd.CallbackFlags()
    flags.input_overflow = overflow
    return flags


@needs_sounddevice
def test_device_source_takes_its_rate_from_the_device_and_checks_channels(devices):
    source = DeviceSource("jabra evolve 20 ms: usb", channels=1)
    assert (source.name, source.sample_rate, source.channels) == ("Jabra EVOLVE 20 MS: USB Audio (hw:1,0)", 16000, 1)
    assert DeviceSource(None, channels=2, sample_rate=8000).sample_rate == 8000
    with pytest.raises(AudioDeviceError) as caught:
        DeviceSource(2, channels=2)
    assert str(caught.value).startswith("input device 2 (Jabra EVOLVE 20 MS: USB Audio (hw:1,0)) has 1 input channel(s)")


@needs_sounddevice
def test_device_callback_copies_into_a_bounded_queue_counting_drops_and_overflows(devices):
    source = DeviceSource(2, channels=1, queue_blocks=3)
    indata = np.zeros((800, 1), dtype=np.float32)
    for k in range(5):
        indata[:] = k  # PortAudio reuses its buffer
        source._on_audio(indata, 800, None, overflow_flags(k == 1))
    status = source.status()
    assert (status.dropped_blocks, status.overflows) == (2, 1)
    blocks = [source.read(0) for _ in range(3)]
    assert [float(block.samples[0, 0]) for block in blocks] == [0.0, 1.0, 2.0]  # copies, the first three
    assert [block.start for block in blocks] == [0.0, 0.05, 0.1]  # counted from samples read, no gap for drops
    assert source.read(0) is None


class FakeInputStream:
    """Stands in for sounddevice.InputStream: a thread feeds the callback the blocks of its script,
    then the 'device' goes quiet. Each open takes the next script; an exception there fails the open."""

    scripts: list = []
    opened: list[FakeInputStream] = []

    def __init__(self, **settings) -> None:
        script = FakeInputStream.scripts.pop(0)
        if isinstance(script, Exception):
            raise script
        FakeInputStream.opened.append(self)
        self.settings = settings
        self._callback = settings["callback"]
        self._blocks = script
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._feed, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait_until_delivered(self) -> None:
        self._thread.join(timeout=5)

    def _feed(self) -> None:
        for block in self._blocks:
            if self._closed.is_set():
                return
            self._callback(block, len(block), None, overflow_flags(False))

    def abort(self, ignore_errors: bool = True) -> None:
        self._closed.set()
        self._thread.join()

    def close(self, ignore_errors: bool = True) -> None:
        self._closed.set()


@pytest.fixture
def fake_stream(monkeypatch, devices):
    FakeInputStream.scripts = []
    FakeInputStream.opened = []
    monkeypatch.setattr(sd, "InputStream", FakeInputStream)
    return FakeInputStream


def in_blocks(samples: np.ndarray, frames: int) -> list[np.ndarray]:
    return [samples[k : k + frames] for k in range(0, len(samples), frames)]


def read_frames(source, frames: int) -> list[AudioBlock]:
    blocks = []
    while sum(len(block.samples) for block in blocks) < frames:
        block = source.read(5.0)
        assert block is not None, "the source went quiet early"
        blocks.append(block)
    return blocks


@needs_sounddevice
def test_device_source_end_to_end_through_an_unplug_and_a_reopen(fake_stream):
    time = FakeTime()
    before, after = noise(1.0, 16000, seed=1), noise(0.5, 16000, seed=2)
    fake_stream.scripts = [in_blocks(before, 800), sd.PortAudioError("Device unavailable [PaErrorCode -9985]"),
                           in_blocks(after, 800)]
    source = DeviceSource(2, channels=1, clock=time.clock)
    source.start()
    assert fake_stream.opened[0].settings | {"callback": None} == {
        "device": 2, "channels": 1, "samplerate": 16000, "blocksize": 800, "dtype": "float32", "callback": None,
    }
    blocks = read_frames(source, len(before))
    np.testing.assert_array_equal(np.concatenate([block.samples for block in blocks]), before)
    assert_contiguous(blocks, 16000)

    assert source.read(0.05) is None  # unplugged: nothing more comes
    time.now += 1.2
    assert source.status().stalled
    assert source.reopen() is False  # still gone
    status = source.status()
    assert (status.stalled, status.reopen_attempts) == (True, 1)
    assert status.error == (
        "cannot record from input device 2 (Jabra EVOLVE 20 MS: USB Audio (hw:1,0)) at 16000 Hz, 1 channel(s): "
        "Device unavailable [PaErrorCode -9985]; run `callassist devices` to see the input devices"
    )

    time.now += 0.8
    assert source.reopen() is True  # plugged back in, 2.0 s after the last block
    status = source.status()
    assert (status.stalled, status.reopen_attempts, status.error) == (False, 2, None)
    gap = read_frames(source, 2 * 16000)
    assert all(block.gap for block in gap) and not any(block.samples.any() for block in gap)
    assert sum(len(block.samples) for block in gap) == 2 * 16000
    resumed = read_frames(source, len(after))
    assert not any(block.gap for block in resumed)
    np.testing.assert_array_equal(np.concatenate([block.samples for block in resumed]), after)
    assert_contiguous(blocks + gap + resumed, 16000)
    assert resumed[0].start == 3.0  # 1.0 s heard, 2.0 s away
    source.stop()
    assert not source.status().stalled


@needs_sounddevice
def test_device_source_keeps_what_the_old_stream_queued_before_the_gap(fake_stream):
    time = FakeTime()
    fake_stream.scripts = [in_blocks(noise(0.2, 16000, seed=3), 800), []]
    source = DeviceSource(2, channels=1, clock=time.clock)
    source.start()
    first = source.read(5.0)
    fake_stream.opened[0].wait_until_delivered()  # the rest arrives while the consumer is elsewhere
    time.now += 0.5
    assert source.reopen() is True
    blocks = [source.read(0) for _ in range(3 + 10)]
    assert [block.gap for block in blocks] == [False] * 3 + [True] * 10
    assert_contiguous([first, *blocks], 16000)
    assert source.read(0) is None


@needs_sounddevice
def test_device_source_start_fails_with_a_one_line_error(fake_stream):
    fake_stream.scripts = [ValueError("Invalid sample rate")]
    source = DeviceSource(2, channels=1, sample_rate=44100)
    with pytest.raises(AudioDeviceError) as caught:
        source.start()
    assert str(caught.value) == (
        "cannot record from input device 2 (Jabra EVOLVE 20 MS: USB Audio (hw:1,0)) at 44100 Hz, 1 channel(s): "
        "Invalid sample rate; run `callassist devices` to see the input devices"
    )


# --- DeviceSource through real PortAudio and ALSA, without a sound card ---------------------------


def test_device_source_captures_from_an_alsa_test_device_that_stops_mid_call(tmp_path):
    """A real PortAudio stream from a file-backed ALSA device (tests/alsa/), in a subprocess."""
    if not sys.platform.startswith("linux"):
        pytest.skip("ALSA exists only on Linux")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(f"<{(ALSA_DIR / 'callassist_capture.asoundrc').resolve()}>\n")
    env = {key: value for key, value in os.environ.items() if key != "CALLASSIST_ALSA_INFILE"}
    env["HOME"] = str(home)
    env.pop("ALSA_CONFIG_PATH", None)
    try:
        run = subprocess.run(
            [sys.executable, str(ALSA_DIR / "capture_scenario.py"), str(tmp_path)],
            env=env, capture_output=True, text=True, timeout=60,
        )
    except subprocess.TimeoutExpired as timeout:
        pytest.fail(f"the ALSA capture scenario hung; its error output:\n{timeout.stderr}")
    assert run.returncode == 0, run.stderr
    observed = json.loads(run.stdout.strip().splitlines()[-1])
    if "skip" in observed:
        pytest.skip(observed["skip"])
    assert "callassist_test_capture" in observed["devices"], (
        f"PortAudio does not list the test device; it lists {observed['devices']}"
    )

    first = observed["first_blocks"]
    assert observed["first_exact"]
    assert [start for start, *_ in first] == pytest.approx([0.05 * k for k in range(16)])
    assert not observed["read_when_quiet"]  # the device stopped delivering
    assert not observed["stalled_before"] and observed["stalled_after"]

    assert observed["dropped_while_stuck"] > 0
    assert observed["reopen_while_gone"] is False
    gone = observed["gone"]
    assert (gone["attempts"], gone["stalled"]) == (1, True)
    assert gone["error"].startswith("cannot record from input device ") and "callassist_test_capture" in gone["error"]
    assert "\n" not in gone["error"]

    assert observed["reopen_when_back"] is True
    assert observed["back"] == {"error": None, "attempts": 2, "stalled": False}
    after = observed["after_blocks"]
    gaps = [gap for _, _, gap, _ in after]
    assert gaps == [False] * 40 + [True] * 70 + [False] * 8  # queued stale audio, 3.5 s away, new audio
    assert not any(has_sound for _, _, gap, has_sound in after if gap)
    expected_starts = [0.8 + 0.05 * k for k in range(len(after))]
    assert [start for start, *_ in after] == pytest.approx(expected_starts)
    assert observed["after_return_exact"]
