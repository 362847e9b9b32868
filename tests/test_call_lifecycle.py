"""A live call's lifecycle: waiting -> in call -> ending -> saved | save failed -> waiting; reports
that cannot be saved are kept and retried; unique names; aligned two-device recordings; the live
report counts withdrawn flags."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from callassist.inputs import Utterance
from callassist.live.messages import CallEnded, CallStarted, SaveRetried, Tick
from callassist.live.session import CallSession, ChannelSource, SessionOptions, Wiring
from callassist.replay import ReplayRequest, replay
from callassist.transcript import write_transcript
from fakes import FakeSource, ScriptedRecognition

CALLS = Path(__file__).parent / "fixtures" / "calls"
STEREO = Wiring(ChannelSource(0, 0), ChannelSource(0, 1))
RATE = 16000


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Running:
    """A live session in its worker thread, with the messages it delivered."""

    def __init__(self, sources, wiring, pack, settings, **kwargs) -> None:
        self.messages: list = []
        self.session = CallSession(sources, wiring, pack, settings, self.messages.append, **kwargs)
        self.thread = threading.Thread(target=self.session.run)

    def __enter__(self) -> "Running":
        self.session.start_call()  # the agent starts the first call before any audio arrives
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.session.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()

    def of(self, kind) -> list:
        return [m for m in list(self.messages) if isinstance(m, kind)]

    def end_and_wait(self) -> CallEnded:
        count = len(self.of(CallEnded))
        self.session.end_call()
        wait_for(lambda: len(self.of(CallEnded)) > count)
        return self.of(CallEnded)[-1]


def endless_silence(seconds: float = 600.0) -> FakeSource:
    noise = np.random.default_rng(3).normal(0, 10 ** (-65 / 20), (round(RATE * seconds), 2)).astype(np.float32)
    return FakeSource(noise, RATE, block_seconds=0.05, sleep=lambda s: time.sleep(min(s, 0.005)))


def test_a_report_that_cannot_be_saved_is_kept_the_call_ends_and_a_retry_saves_it(settings, pack, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the calls folder should be")
    calls_dir = blocker / "calls"
    source = endless_silence()
    with Running([source], STEREO, pack, settings, options=SessionOptions(calls_dir=calls_dir)) as run:
        wait_for(lambda: run.of(CallStarted))
        first = run.end_and_wait()
        assert first.report_path is None and first.error and "not-a-folder" in first.error
        assert first.unsaved == 1
        wait_for(lambda: run.of(Tick) and run.of(Tick)[-1].phase == "save_failed")
        # the next call starts clean and is judged on its own
        run.session.start_call()
        wait_for(lambda: len(run.of(CallStarted)) == 2)
        wait_for(lambda: run.of(Tick)[-1].phase == "in_call")
        second = run.end_and_wait()
        assert second.unsaved == 2
        blocker.unlink()  # the folder can be written again
        run.session.retry_save()
        wait_for(lambda: run.of(SaveRetried))
        (retried,) = run.of(SaveRetried)
        assert retried.unsaved == 0 and retried.error is None and len(retried.saved) == 2
        wait_for(lambda: run.of(Tick)[-1].phase in ("saved", "waiting"))
    saved = sorted(calls_dir.glob("*.json"))
    assert [p.name for p in saved] == sorted(Path(p).name for p in retried.saved)
    assert len({p.name for p in saved}) == 2, "two calls in one second get two names"
    for path in saved:
        assert json.loads(path.read_text(encoding="utf-8"))["schema"].startswith("callassist.report/")
    phases = [t.phase for t in run.of(Tick)]
    first_failed = phases.index("save_failed")
    assert "ending" in phases[:first_failed], "ending is shown before the outcome"


def test_nothing_of_an_ended_call_stays_active(settings, pack, tmp_path):
    """The silent fixture: end the call while the silent-caller countdown runs. After the end,
    no tick carries a countdown or an in-call phase, and the timer stops."""
    samples, rate = soundfile.read(CALLS / "silent.wav", dtype="float32")
    source = FakeSource(samples, rate, sleep=lambda s: time.sleep(min(s, 0.005)))
    with Running([source], STEREO, pack, settings, options=SessionOptions(calls_dir=tmp_path)) as run:
        wait_for(lambda: any(t.countdowns for t in run.of(Tick)))
        ended = run.end_and_wait()
        assert ended.report_path and ended.error is None
        wait_for(lambda: source.exhausted)
        time.sleep(0.2)
    duration = json.loads(Path(ended.report_path).read_text(encoding="utf-8"))["call"]["duration"]
    after = [m for m in run.messages[run.messages.index(ended):] if isinstance(m, Tick)]
    assert after, "the screen keeps ticking after the call"
    assert all(t.countdowns == () for t in after)
    assert [t.phase for t in after][-1] == "waiting", "saved, then waiting for the next call"
    assert all(t.phase in ("saved", "waiting") for t in after)
    assert all(abs(t.call_time - duration) < 0.01 for t in after if t.phase == "saved"), "the timer stops"
    assert all(t.call_time == 0.0 for t in after if t.phase == "waiting")


def test_two_calls_ending_in_the_same_second_get_their_own_report_and_recording(settings, pack, tmp_path):
    source = endless_silence()
    with Running([source], STEREO, pack, settings, options=SessionOptions(calls_dir=tmp_path, record=True)) as run:
        ended = [run.end_and_wait()]
        for _ in range(2):
            run.session.start_call()
            ended.append(run.end_and_wait())
    reports = [e.report_path for e in ended]
    recordings = [e.recording_path for e in ended]
    assert len(set(reports)) == 3 and len(set(recordings)) == 3
    assert all(Path(p).is_file() for p in reports + recordings)
    assert [Path(r).stem for r in reports] == [Path(r).stem for r in recordings], "a report and its recording share a name"


def test_a_recording_of_two_devices_is_aligned_and_both_channels_are_the_whole_call(settings, pack, tmp_path):
    """Agent and caller on two devices with different block sizes: the file is as long as the
    call (not the sum of both), and each channel holds exactly its device's audio."""
    seconds = 10.0
    t = np.arange(round(RATE * seconds)) / RATE
    agent = (0.3 * np.sin(2 * np.pi * 220 * t) * ((t % 2) < 1)).astype(np.float32)  # on in odd seconds
    caller = (0.3 * np.sin(2 * np.pi * 330 * t) * ((t % 2) >= 1)).astype(np.float32)  # on in even seconds
    agent_device = FakeSource(agent, RATE, block_seconds=0.05, name="mic")
    caller_device = FakeSource(caller, RATE, block_seconds=0.032, name="monitor")
    wiring = Wiring(ChannelSource(0, 0), ChannelSource(1, 0))
    with Running([agent_device, caller_device], wiring, pack, settings,
                 options=SessionOptions(calls_dir=tmp_path, record=True)) as run:
        wait_for(lambda: agent_device.exhausted and caller_device.exhausted)
        ended = run.end_and_wait()
    recorded, rate = soundfile.read(ended.recording_path, dtype="float32")
    assert rate == RATE and recorded.shape == (len(t), 2)
    quantum = 1 / 32767
    assert np.max(np.abs(recorded[:, 0] - agent)) <= quantum
    assert np.max(np.abs(recorded[:, 1] - caller)) <= quantum


def test_a_live_report_counts_withdrawn_flags(settings, pack, tmp_path):
    """A partial result flags 「我不知道」; the final text is 「我帮您查询一下」: the flag is
    withdrawn, and the saved report counts it, as the headless replay of the same audio does."""
    audio = tmp_path / "call.wav"
    soundfile.write(audio, np.zeros((RATE * 8, 2), np.float32), RATE)
    said = [Utterance("agent", 2.0, 4.0, "我帮您查询一下。")]
    recognition = ScriptedRecognition(said, misheard={"我帮您查询一下。": "我不知道"})
    samples, _ = soundfile.read(audio, dtype="float32")
    source = FakeSource(samples, RATE)
    calls_dir = tmp_path / "calls"
    with Running([source], STEREO, pack, settings, recognition=recognition,
                 options=SessionOptions(calls_dir=calls_dir)) as run:
        wait_for(lambda: source.exhausted)
        ended = run.end_and_wait()
    live = json.loads(Path(ended.report_path).read_text(encoding="utf-8"))
    headless = replay(ReplayRequest(audio=audio), settings, pack, recognition).to_json()
    assert live["call"]["withdrawn_flags"] == headless["call"]["withdrawn_flags"] == 1
    assert [e["id"] for e in live["events"] if e["id"] == "forbidden_phrase"] == []


def test_transcript_only_and_audio_replays_of_the_silent_call_agree(settings, pack):
    """The silent call's transcript ends with the agent's step-2 line; the recording goes on until
    step 3 (hang up) is due. Both replays reach the hang-up and give the same verdict."""
    transcript = CALLS / "silent.jsonl"
    alone = replay(ReplayRequest(transcript=transcript), settings, pack).to_json()
    with_audio = replay(ReplayRequest(audio=CALLS / "silent.wav", transcript=transcript), settings, pack).to_json()
    assert alone["score"] == with_audio["score"]
    assert alone["checklist"]["closing"] == with_audio["checklist"]["closing"]
    assert [(e["id"], e.get("step")) for e in alone["events"]] == [("silent_caller", 1), ("silent_caller", 2), ("silent_caller", 3)]
    assert [(e["id"], e.get("step")) for e in alone["events"]] == [(e["id"], e.get("step")) for e in with_audio["events"]]
    # step 3 is due 5 s after the step-2 line ends at 26.78 s: the transcript-only call ends there
    assert alone["events"][-1]["t"] == 31.78 and alone["call"]["duration"] == 31.78


def test_a_transcript_that_ends_in_talk_ends_with_the_talk(settings, pack, tmp_path):
    path = tmp_path / "t.jsonl"
    write_transcript(path, [Utterance("agent", 0.5, 3.0, "您好，请问有什么可以帮助您？"), Utterance("caller", 3.5, 5.0, "没事了。")])
    report = replay(ReplayRequest(transcript=path), settings, pack).to_json()
    assert report["call"]["duration"] == 5.0


def test_a_transcript_write_that_fails_leaves_the_old_transcript_whole(tmp_path, monkeypatch):
    """`transcribe --force` over an earlier transcript: a write that fails part-way (disk full,
    killed) must not leave half a file where a QA replay would read it."""
    import os

    path = tmp_path / "t.jsonl"
    old = [Utterance("agent", 0.5, 3.0, "您好，请问有什么可以帮助您？")]
    write_transcript(path, old)
    before = path.read_bytes()

    def full_disk(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        write_transcript(path, old + [Utterance("caller", 3.5, 5.0, "没事了。")])
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.jsonl"]  # no temporary file left behind


def test_a_duration_shorter_than_the_transcript_is_refused(capsys):
    from callassist.cli import main

    status = main(["replay", "--headless", "--transcript", str(CALLS / "silent.jsonl"), "--duration", "20"])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1
    assert "--duration 20" in err and "silent.jsonl" in err and "26.78" in err


def test_reports_still_unsaved_at_exit_are_rescued(settings, pack, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with Running([endless_silence()], STEREO, pack, settings,
                 options=SessionOptions(calls_dir=blocker / "calls")) as run:
        ended = run.end_and_wait()
    assert ended.error
    (rescued,) = run.session.rescue_unsaved()
    assert json.loads(rescued.read_text(encoding="utf-8"))["score"]["value"] == ended.score
    assert run.session.unsaved == []
