"""The caller's audio from a loopback capture (what the softphone plays), with fakes only: a
loopback records nothing while nothing plays, and that must read as a silent caller; a loopback
whose device is removed must still be noticed. (No test here touches WASAPI: see the README.)"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile

from callassist.live.loopback import LoopbackSource, is_loopback, loopback_name
from callassist.live.messages import DeviceProblem, Raised, Tick
from callassist.live.session import CallSession, ChannelSource, Wiring
from fakes import FakeClock, FakeLoopbackCapture, PacedFakeSource

CALLS = Path(__file__).parent / "fixtures" / "calls"
RATE = 16000
GREETING_END = 7.76  # silent.wav: the agent's greeting, 0.5-7.76 s (tests/fixtures/calls/silent.jsonl)
CALL_LENGTH = 26.0
WIRING = Wiring(ChannelSource(0, 0), ChannelSource(1, 0))


def agent_greets_then_waits() -> np.ndarray:
    """The greeting from silent.wav, then the agent says nothing (faint hiss) to the end."""
    samples, rate = soundfile.read(CALLS / "silent.wav", dtype="float32")
    assert rate == RATE
    agent = np.random.default_rng(0).normal(0, 10 ** (-60 / 20), round(CALL_LENGTH * RATE)).astype(np.float32)
    agent[: 8 * RATE] = samples[: 8 * RATE, 0]
    return agent


def caller_speaks_at(start: float) -> np.ndarray:
    """Nothing, then the caller's first line of normal.wav (8.56-10.37 s there) from `start` on."""
    samples, _ = soundfile.read(CALLS / "normal.wav", dtype="float32")
    line = samples[round(8.4 * RATE) : round(10.6 * RATE), 1]
    caller = np.zeros(round(CALL_LENGTH * RATE), np.float32)
    caller[round(start * RATE) : round(start * RATE) + len(line)] = line
    return caller


def run_call(settings, pack, capture: FakeLoopbackCapture, clock: FakeClock, until) -> tuple[list, LoopbackSource]:
    """A live call on a fake clock, the agent on a paced fake device and the caller on a loopback,
    until `until(message)` says so."""
    agent = PacedFakeSource(agent_greets_then_waits(), RATE, clock=clock, sleep=clock.sleep, name="headset")
    caller = LoopbackSource(capture, clock=clock, sleep=clock.sleep)
    messages: list = []
    done = threading.Event()

    def deliver(message) -> None:
        if done.is_set():
            return  # what the session says while it stops (ending the call) is not the live screen's
        messages.append(message)
        if until(message):
            done.set()

    session = CallSession([agent, caller], WIRING, pack, settings, deliver, clock=clock)
    session.start_call()
    worker = threading.Thread(target=session.run)
    worker.start()
    try:
        assert done.wait(timeout=60), "the call did not get there"
    finally:
        session.stop()
        worker.join(timeout=30)
    return messages, caller


def test_loopback_source_pads_what_nothing_played_with_real_silence():
    clock = FakeClock()
    capture = FakeLoopbackCapture(np.full(RATE * 4, 0.1, np.float32), RATE, clock, quiet=[(1.0, 3.0)])
    source = LoopbackSource(capture, block_seconds=0.05, clock=clock, sleep=clock.sleep, pad_after=0.15)
    source.start()
    blocks = []
    while clock.now - 1000.0 < 4.0:
        block = source.read(timeout=0.02)
        if block is not None:
            blocks.append(block)
    silent = [b for b in blocks if not b.samples.any()]
    assert silent and not any(b.gap for b in silent), "silence that played is silence, not a missing device"
    assert 1.0 - 0.01 <= silent[0].start <= 1.0 + 0.2 + 0.01  # padding starts within pad_after + a block
    end = blocks[-1].start + len(blocks[-1].samples) / RATE
    assert 4.0 - 0.25 <= end <= 4.0 + 0.01, "stream time keeps up with the clock"
    assert not source.status().stalled


def test_a_loopback_quiet_for_12_s_after_the_greeting_gets_silent_caller_steps_at_5_and_10_s(settings, pack):
    clock = FakeClock()
    capture = FakeLoopbackCapture(caller_speaks_at(GREETING_END + 12.0), RATE, clock, quiet=[(0.0, GREETING_END + 12.0)])
    messages, _ = run_call(settings, pack, capture, clock, lambda m: isinstance(m, Tick) and m.call_time >= 23.0)
    steps = [(m.event.step, m.event.t) for m in messages if isinstance(m, Raised) and m.event.id == "silent_caller"]
    assert [step for step, _ in steps] == [1, 2], steps  # the caller spoke at 19.8 s: no step 3
    (_, step1), (_, step2) = steps
    assert abs(step1 - (GREETING_END + 5.0)) <= 0.3 and abs(step2 - (GREETING_END + 10.0)) <= 0.3, steps
    assert not [m for m in messages if isinstance(m, DeviceProblem) and m.text], "a quiet loopback is not a fault"


def test_a_loopback_whose_device_vanishes_still_gets_the_device_banner(settings, pack):
    clock = FakeClock()
    capture = FakeLoopbackCapture(np.zeros(round(CALL_LENGTH * RATE), np.float32), RATE, clock, quiet=[(0.0, 30.0)],
                                  vanish_at=6.0)
    problems: list[str] = []

    def until(message) -> bool:
        if isinstance(message, DeviceProblem) and message.text:
            problems.append(message.text)
        return bool(problems) and isinstance(message, Tick) and clock.now - 1000.0 >= 16.0  # past step 1's 12.76 s

    messages, source = run_call(settings, pack, capture, clock, until)
    assert problems and "no audio from fake loopback" in problems[0] and "device removed" in problems[0]
    assert source.status().stalled and source.status().reopen_attempts >= 1
    silent = [m.event for m in messages if isinstance(m, Raised) and m.event.id == "silent_caller"]
    assert not silent, "once the device is gone nothing is known about the caller: no silent-caller prompt"
    ticks = [m.call_time for m in messages if isinstance(m, Tick)]
    assert max(ticks) < 6.0 + 0.5, "the judging waits for the caller's audio instead of padding it"


def test_loopback_devices_are_named_with_a_prefix():
    assert is_loopback("loopback:Speakers") and is_loopback(" Loopback: ") and not is_loopback("Stereo Mix")
    assert loopback_name("loopback: Speakers (Realtek)") == "Speakers (Realtek)" and loopback_name("loopback:") == ""


class FakeSoundcard:
    """Stands in for the `soundcard` package (WASAPI on Windows): two speakers; the recorder of a
    loopback returns what `chunks` give, then raises as a removed device does."""

    class Speaker:
        def __init__(self, name: str) -> None:
            self.name = name

    def __init__(self, chunks: list[np.ndarray]) -> None:
        self.speakers = [self.Speaker("Speakers (Realtek(R) Audio)"), self.Speaker("Headset Earphone (Jabra EVOLVE 20)")]
        self.chunks = list(chunks)
        self.asked: list[tuple] = []

    def all_speakers(self):
        return self.speakers

    def default_speaker(self):
        return self.speakers[0]

    def get_microphone(self, id, include_loopback=False):
        self.asked.append((id, include_loopback))
        fake = self

        class Recorder:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def record(self, numframes=None):
                if not fake.chunks:
                    raise RuntimeError("AUDCLNT_E_DEVICE_INVALIDATED")
                return fake.chunks.pop(0).reshape(-1, 1)

        class Microphone:
            def recorder(self, samplerate, channels):
                return Recorder()

        return Microphone()


def test_soundcard_capture_records_the_chosen_speakers_loopback_and_reports_its_removal(monkeypatch):
    import sys
    import time as real_time

    from callassist.live.devices import AudioDeviceError, format_loopback_section
    from callassist.live.loopback import SoundcardCapture, loopback_speakers

    fake = FakeSoundcard([np.full(160, 0.5, np.float32), np.zeros(0, np.float32), np.full(160, 0.25, np.float32)])
    monkeypatch.setitem(sys.modules, "soundcard", fake)
    assert loopback_speakers() == ["Speakers (Realtek(R) Audio)", "Headset Earphone (Jabra EVOLVE 20)"]
    listing = format_loopback_section(loopback_speakers())
    assert "  loopback:Headset Earphone (Jabra EVOLVE 20)" in listing.splitlines()
    capture = SoundcardCapture("jabra", 16000)
    capture.open()
    assert fake.asked == [("Headset Earphone (Jabra EVOLVE 20)", True)] and "Jabra" in capture.name
    got: list[np.ndarray] = []
    deadline = real_time.monotonic() + 5
    while True:
        try:
            got += capture.take()
        except AudioDeviceError as error:
            assert "AUDCLNT_E_DEVICE_INVALIDATED" in error.message
            break
        assert real_time.monotonic() < deadline, "the removal was never reported"
        real_time.sleep(0.01)
    capture.close()
    assert [float(b[0]) for b in got] == [0.5, 0.25], "every recorded block is taken before the error"
    with pytest.raises(AudioDeviceError, match="matches no speaker"):
        SoundcardCapture("Stereo Mix", 16000).open()


def test_without_the_optional_package_devices_says_how_to_get_loopback(monkeypatch):
    import sys

    from callassist.live.devices import format_loopback_section
    from callassist.live.loopback import loopback_speakers

    monkeypatch.setitem(sys.modules, "soundcard", None)  # import fails as when not installed
    assert loopback_speakers() is None
    assert 'pip install "callassist[loopback]"' in format_loopback_section(None)
