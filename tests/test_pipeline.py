"""One pipeline: headless replay, the replay screen's session and a live session fed the same
audio raise the same events at the same times, with recognition and without."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import soundfile

from callassist.live.messages import CallEnded, Raised, ReplayFinished, Withdrawn
from callassist.live.session import CallSession, ChannelSource, SessionOptions, Wiring
from callassist.live.sources import FileSource
from callassist.replay import ReplayRequest, replay
from callassist.transcript import read_transcript
from fakes import FakeSource, ScriptedRecognition

CALLS = Path(__file__).parent / "fixtures" / "calls"
SAMPLE = Path(__file__).parents[1] / "callassist" / "samples"
FIXTURE_CALLS = sorted(p.stem for p in CALLS.glob("*.wav"))
STEREO = Wiring(ChannelSource(0, 0), ChannelSource(0, 1))


def keys(events: list[dict]) -> list[tuple]:
    return [(e["id"], e.get("step"), e["t"], e.get("speaker")) for e in events]


def shown(messages: list) -> list[tuple]:
    """The events a screen ends up showing: raised and not withdrawn, in the order raised."""
    withdrawn = [m.event for m in messages if isinstance(m, Withdrawn)]
    events = [m.event for m in messages if isinstance(m, Raised) and m.event not in withdrawn]
    return [(e.id, e.step, round(e.t, 2), e.speaker) for e in events]


def recognition_for(name: str, scripted: bool):
    return ScriptedRecognition(read_transcript(CALLS / f"{name}.jsonl"), delay=0.002) if scripted else None


def screen_replay(name: str, settings, pack, scripted: bool) -> list:
    messages: list = []
    session = CallSession(
        [FileSource(CALLS / f"{name}.wav", speed=None, block_seconds=0.05)], STEREO, pack, settings, messages.append,
        recognition=recognition_for(name, scripted), options=SessionOptions(replay=True),
    )
    session.run()
    assert isinstance(messages[-1], ReplayFinished)
    return messages


def live_call(name: str, settings, pack, scripted: bool, calls_dir: Path) -> tuple[list, dict]:
    """A live session on a device that delivers the recording in 32 ms blocks; the agent starts
    the call before the first sample and ends it after the last."""
    samples, rate = soundfile.read(CALLS / f"{name}.wav", dtype="float32")
    source = FakeSource(samples, rate, block_seconds=0.032)
    messages: list = []
    session = CallSession(
        [source], STEREO, pack, settings, messages.append, recognition=recognition_for(name, scripted),
        options=SessionOptions(calls_dir=calls_dir),
    )
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
    return messages, json.loads(Path(ended.report_path).read_text(encoding="utf-8"))


@pytest.mark.parametrize("scripted", [False, True], ids=["no-recognition", "scripted-recognition"])
@pytest.mark.parametrize("name", FIXTURE_CALLS)
def test_headless_screen_and_live_give_identical_events(name, scripted, settings, pack, tmp_path):
    headless = replay(ReplayRequest(audio=CALLS / f"{name}.wav"), settings, pack, recognition_for(name, scripted)).to_json()
    expected = keys(headless["events"])
    if scripted:  # the recognised text reaches the engine: the call's text is judged
        assert headless["call"]["text_from"] == "scripted"
        assert headless["checklist"]["greeting"]["ok"] is not None
    screen = screen_replay(name, settings, pack, scripted)
    assert shown(screen) == expected, "screen replay"
    live_messages, live_report = live_call(name, settings, pack, scripted, tmp_path)
    assert keys(live_report["events"]) == expected, "live session's report"
    assert shown(live_messages) == expected, "live session's screen"
    assert live_report["score"] == headless["score"]
    assert live_report["talk"] == headless["talk"] if "talk" in headless else True


def test_recognised_text_is_judged_when_heard_not_when_said(settings, pack):
    """Text reaches the engine when the recogniser has it (the end of the utterance), even from a
    slow recogniser: a forbidden phrase is flagged at the end of what the agent said."""
    transcript = read_transcript(SAMPLE / "sample_call.jsonl")
    report = replay(ReplayRequest(audio=SAMPLE / "sample_call.wav"), settings, pack,
                    ScriptedRecognition(transcript, delay=0.005, partials=False)).to_json()
    flagged = [(e["phrase_id"], e["emitted"]) for e in report["events"] if e["id"] == "forbidden_phrase"]
    # 「这个我不知道」 ends at 43.15 s: heard at the end of the 0.05 s recognition block holding it
    # (43.15 s is a block's end), however long the recogniser took
    assert flagged == [("wo_bu_zhidao", 43.15)]
