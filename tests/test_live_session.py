"""The call session (headless): the same engine live and in replay, device faults, keys."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import soundfile

from callassist.live.messages import CallEnded, CallStarted, DeviceProblem, Raised, ReplayFinished, Tick
from callassist.live.session import CallSession, ChannelSource, SessionOptions, Wiring
from callassist.live.sources import FileSource
from fakes import FakeSource, PacedFakeSource
from callassist.replay import ReplayRequest, replay
from callassist.transcript import read_transcript

CALLS = Path(__file__).parent / "fixtures" / "calls"
STEREO = Wiring(ChannelSource(0, 0), ChannelSource(0, 1))


def run_replay_session(name: str, settings, pack, transcript: bool) -> list:
    messages: list = []
    session = CallSession(
        [FileSource(CALLS / f"{name}.wav", speed=None)], STEREO, pack, settings, messages.append,
        transcript=read_transcript(CALLS / f"{name}.jsonl") if transcript else None,
        options=SessionOptions(replay=True),
    )
    session.run()
    return messages


def event_keys(events) -> list[tuple]:
    return sorted((e.id, e.step, round(e.t, 2)) for e in events)


def test_screen_replay_raises_what_the_headless_replay_reports(settings, pack):
    """One engine for live and replay: the session streaming a recording block by block raises
    the very events the QA report of the same recording lists."""
    for name, with_text in (("silent", False), ("quiet", False), ("angry", True), ("crosstalk", True)):
        messages = run_replay_session(name, settings, pack, with_text)
        assert isinstance(messages[-1], ReplayFinished)
        live = [m.event for m in messages if isinstance(m, Raised)]
        request = ReplayRequest(audio=CALLS / f"{name}.wav", transcript=CALLS / f"{name}.jsonl" if with_text else None)
        report = replay(request, settings, pack)
        assert event_keys(live) == sorted((e.id, e.step, round(e.t, 2)) for e in report.events), name


def test_ticks_carry_levels_and_the_silent_countdown(settings, pack):
    messages = run_replay_session("silent", settings, pack, transcript=False)
    ticks = [m for m in messages if isinstance(m, Tick)]
    assert len(ticks) > 30
    assert any(t.agent_dbfs is not None and t.agent_dbfs > -30 for t in ticks)
    counting = [c for t in ticks for c in t.countdowns if c.situation == "silent_caller"]
    assert counting and max(c.elapsed for c in counting) <= 5.0


def test_unplugged_device_is_reported_and_the_call_goes_on(settings, pack, tmp_path):
    samples, rate = soundfile.read(CALLS / "normal.wav", dtype="float32")
    source = FakeSource(samples, rate, stop_after=3.0, stall_after=0.3)
    messages: list = []
    problem = threading.Event()

    def deliver(message) -> None:
        messages.append(message)
        if isinstance(message, DeviceProblem) and message.text:
            problem.set()

    session = CallSession([source], STEREO, pack, settings, deliver, options=SessionOptions(calls_dir=tmp_path))
    worker = threading.Thread(target=session.run)
    worker.start()
    session.start_call()
    assert problem.wait(timeout=10), "an unplugged device is noticed within about a second"
    session.end_call()
    session.stop()
    worker.join(timeout=10)
    assert not worker.is_alive()
    (problem_message,) = [m for m in messages if isinstance(m, DeviceProblem) and m.text][:1]
    assert "no audio from fake" in problem_message.text
    ended = [m for m in messages if isinstance(m, CallEnded)]
    assert len(ended) == 1 and ended[0].report_path and Path(ended[0].report_path).is_file()
    assert source.status().reopen_attempts >= 1


def test_hold_and_situation_keys_reach_the_engine(settings, pack, tmp_path):
    rate = 16000
    silence = tmp_path / "silence.wav"
    soundfile.write(silence, np.zeros((rate * 4, 2), dtype=np.float32), rate)
    messages: list = []
    session = CallSession([FileSource(silence, speed=None)], STEREO, pack, settings, messages.append,
                          options=SessionOptions(replay=True))
    session.mark("dialect_caller")
    session.toggle_hold()
    session.run()
    assert any(isinstance(m, CallStarted) for m in messages)
    raised = [m.event for m in messages if isinstance(m, Raised)]
    assert ("dialect_caller", 1) in [(e.id, e.step) for e in raised]
    assert any(isinstance(m, Tick) and m.phase == "on_hold" for m in messages)


def test_caller_checks_off_without_a_caller_channel(settings, pack):
    messages: list = []
    session = CallSession([FileSource(CALLS / "silent.wav", speed=None)], Wiring(ChannelSource(0, 0)), pack,
                          settings, messages.append, options=SessionOptions(replay=True))
    session.run()
    (started,) = [m for m in messages if isinstance(m, CallStarted)]
    assert started.caller_audio is False
    assert not [m for m in messages if isinstance(m, Raised) and m.event.id == "silent_caller"]


class ScriptedSource:
    """Given blocks, then finished: stands in for a device that came back after a gap."""

    name = "scripted"

    def __init__(self, blocks, sample_rate: int) -> None:
        self.blocks = list(blocks)
        self.sample_rate = sample_rate
        self.channels = 2
        self.finished = False

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def read(self, timeout: float):
        if not self.blocks:
            self.finished = True
            return None
        return self.blocks.pop(0)

    def status(self):
        from callassist.live.sources import SourceStatus

        return SourceStatus()


def test_silence_standing_in_for_a_device_that_was_away_raises_nothing(settings, pack):
    from callassist.live.sources import AudioBlock

    samples, rate = soundfile.read(CALLS / "silent.wav", dtype="float32")
    speech = samples[: 9 * rate]  # the greeting ends at 7.76 s
    step = rate // 10

    def blocks(gap: bool):
        out = [AudioBlock(speech[i : i + step], i / rate) for i in range(0, len(speech), step)]
        out += [AudioBlock(np.zeros((step, 2), np.float32), 9 + k / 10, gap=gap) for k in range(100)]
        return out

    def silent_steps(gap: bool) -> list:
        messages: list = []
        CallSession([ScriptedSource(blocks(gap), rate)], STEREO, pack, settings, messages.append,
                    options=SessionOptions(replay=True)).run()
        return [m.event.step for m in messages if isinstance(m, Raised) and m.event.id == "silent_caller"]

    assert silent_steps(gap=False) == [1, 2], "real silence: the caller is silent"
    assert silent_steps(gap=True) == [], "no audio: nothing is known about the caller"


def test_a_silent_caller_step_is_judged_within_a_report_interval_of_its_due_time(settings, pack):
    """Live, the engine judges up to what the analysers have decided, not a blanket 0.5 s behind
    the audio: in silence a step is raised about one report interval (0.1 s) after it is due."""
    samples, rate = soundfile.read(CALLS / "silent.wav", dtype="float32")
    samples[round(8 * rate):] = 0.0  # the agent greets; then nobody speaks
    lags: list[tuple[int, float]] = []
    two_steps = threading.Event()
    session: CallSession

    def deliver(message) -> None:
        if isinstance(message, Raised) and message.event.id == "silent_caller":
            lags.append((message.event.step, min(session.stream_time.values()) - message.event.t))
            if len(lags) == 2:
                two_steps.set()

    session = CallSession([FakeSource(samples, rate)], STEREO, pack, settings, deliver)
    session.start_call()
    worker = threading.Thread(target=session.run)
    worker.start()
    try:
        assert two_steps.wait(timeout=60)
    finally:
        session.stop()
        worker.join(timeout=30)
    assert [step for step, _ in lags[:2]] == [1, 2]
    assert all(0.0 <= lag <= 0.2 for _, lag in lags[:2]), lags  # audio heard beyond the due time when raised


def run_for(session: CallSession, seconds: float) -> None:
    worker = threading.Thread(target=session.run)
    worker.start()
    threading.Event().wait(seconds)
    session.stop()
    worker.join(timeout=30)
    assert not worker.is_alive()


def test_one_device_raising_does_not_take_the_other_devices_audio(settings, pack):
    from callassist.live.messages import WorkerFailed
    from fakes import RaisingSource

    samples, rate = soundfile.read(CALLS / "normal.wav", dtype="float32")
    broken = RaisingSource(name="USB headset")
    messages: list = []
    session = CallSession([broken, PacedFakeSource(samples[:, 1], rate, name="softphone")],
                          Wiring(ChannelSource(0, 0), ChannelSource(1, 0)), pack, settings, messages.append)
    session.start_call()
    run_for(session, 2.0)
    assert session.stream_time["caller"] >= 1.8, "the caller's device went on being read and analysed"
    failures = [m.text for m in messages if isinstance(m, WorkerFailed)]
    assert 1 <= len(failures) <= 3 and "USB headset: OSError: device driver error -9999" in failures[0]
    assert broken.reads <= 6, "a device that raised is left alone for a while, not hammered"
    problems = [m.text for m in messages if isinstance(m, DeviceProblem) and m.text]
    assert problems and "USB headset: OSError: device driver error -9999" in problems[0]


def test_a_source_that_always_raises_does_not_flood(settings, pack):
    from callassist.live.messages import WorkerFailed
    from fakes import RaisingSource

    broken = RaisingSource()
    messages: list = []
    session = CallSession([broken], Wiring(ChannelSource(0, 0)), pack, settings, messages.append)
    started = time.process_time()
    run_for(session, 2.0)
    assert time.process_time() - started < 1.0, "the session does not spin"
    assert broken.reads <= 6
    assert len([m for m in messages if isinstance(m, WorkerFailed)]) <= 3


def test_overflows_are_counted_on_screen_as_they_happen(settings, pack):
    from fakes import OverflowingSource

    samples, rate = soundfile.read(CALLS / "normal.wav", dtype="float32")
    messages: list = []
    source = OverflowingSource(samples[: 4 * rate], rate, every=10, block_seconds=0.05)
    session = CallSession([source], STEREO, pack, settings, messages.append)
    session.start_call()
    run_for(session, 2.0)
    counts = [m.overflows for m in messages if isinstance(m, DeviceProblem)]
    assert len(set(counts)) >= 2 and counts == sorted(counts), counts  # rising counts, without a stall
    assert counts[-1] >= 5
    assert {m.dropped_blocks for m in messages if isinstance(m, DeviceProblem)} == {0}  # no drop: none counted


def test_dropped_blocks_are_counted_apart_from_device_overflows(settings, pack):
    """A block the session dropped (analysis behind) is not an input overflow (the device's
    loss): the screen gets each count on its own, as the source reports them."""
    from fakes import OverflowingSource

    samples, rate = soundfile.read(CALLS / "normal.wav", dtype="float32")
    messages: list = []
    source = OverflowingSource(samples[: 4 * rate], rate, every=10, drop_every=3, block_seconds=0.05)
    session = CallSession([source], STEREO, pack, settings, messages.append)
    session.start_call()
    run_for(session, 2.0)
    shown = [(m.overflows, m.dropped_blocks) for m in messages if isinstance(m, DeviceProblem)]
    status = source.status()
    assert shown[-1][1] >= 10 and shown[-1][0] < shown[-1][1]
    # the last counts shown are the source's, at most half a second (10 blocks) behind
    assert 0 <= status.overflows - shown[-1][0] <= 1 and 0 <= status.dropped_blocks - shown[-1][1] <= 4
    assert all(dropped >= 3 * overflows for overflows, dropped in shown), shown  # 1 in 3 blocks vs 1 in 10


def run_live_call(sources: list, wiring: Wiring, settings, pack, tmp_path: Path) -> list:
    """A live call over `sources` from their first block until the first has been read to its
    end: the messages the session delivered."""
    messages: list = []
    session = CallSession(sources, wiring, pack, settings, messages.append, options=SessionOptions(calls_dir=tmp_path))
    session.start_call()  # handled before the first block is read
    worker = threading.Thread(target=session.run)
    worker.start()
    deadline = time.monotonic() + 60
    while not sources[0].exhausted and time.monotonic() < deadline:
        time.sleep(0.01)
    session.end_call()
    session.stop()
    worker.join(timeout=30)
    assert not worker.is_alive()
    return messages


def test_a_live_call_nobody_speaks_in_is_flagged_no_speech(settings, pack, tmp_path):
    """As in a replay or a batch run: digital silence on both channels is not a perfect call."""
    rate = 16000
    messages = run_live_call([FakeSource(np.zeros((6 * rate, 2), np.float32), rate)], STEREO, settings, pack, tmp_path)
    (ended,) = [m for m in messages if isinstance(m, CallEnded)]
    report = json.loads(Path(ended.report_path).read_text(encoding="utf-8"))
    assert report["call"]["no_speech"] is True
    assert report["score"]["value"] == 100 - settings.score.deductions["no_speech"] == 0
    assert ended.score == 0


def test_a_device_gone_for_the_rest_of_the_call_raises_no_silent_caller_steps(settings, pack, tmp_path):
    """The caller's device (a second one) delivers the first 9 s of silent.wav's caller channel and
    is gone for the rest of the call: nothing is known about the caller after 9 s, so the steps the
    scene has (silent.expected.json: 12.76, 20.91, 31.78 s) are not raised; with the device there
    to the end they are."""
    samples, rate = soundfile.read(CALLS / "silent.wav", dtype="float32")
    two_devices = Wiring(ChannelSource(0, 0), ChannelSource(1, 0))
    expected = json.loads((CALLS / "silent.expected.json").read_text(encoding="utf-8"))["events"]

    def silent_steps(caller_gone_after: float | None) -> list[tuple[int, float]]:
        agent = FakeSource(samples[:, 0], rate, name="agent headset")
        caller = FakeSource(samples[:, 1], rate, stop_after=caller_gone_after, name="caller line")
        messages = run_live_call([agent, caller], two_devices, settings, pack, tmp_path)
        return [(m.event.step, round(m.event.t, 2)) for m in messages if isinstance(m, Raised) and m.event.id == "silent_caller"]

    steps = silent_steps(caller_gone_after=None)
    assert [step for step, _ in steps] == [e["step"] for e in expected]
    assert all(abs(t - e["t"]) <= 0.05 for (_, t), e in zip(steps, expected))
    assert silent_steps(caller_gone_after=9.0) == []
