"""Seeking a replay moves the playhead, not the judgement: the call stays judged from its start."""

from __future__ import annotations

from pathlib import Path

from callassist.live.messages import CallEnded, Checklist, Heard, Jumped, Raised, Tick, Withdrawn
from callassist.live.session import CallSession, ChannelSource, SessionOptions, Wiring
from callassist.live.sources import FileSource
from callassist.replay import ReplayRequest, replay
from callassist.transcript import read_transcript

SAMPLE = Path(__file__).parents[1] / "callassist" / "samples"
AUDIO, TRANSCRIPT = SAMPLE / "sample_call.wav", SAMPLE / "sample_call.jsonl"
STEREO = Wiring(ChannelSource(0, 0), ChannelSource(0, 1))


def screen_events(messages: list) -> list:
    """The events on screen at the end, as the screen keeps them through jumps."""
    events: list = []
    for message in messages:
        if isinstance(message, Jumped):
            known = [m.event for m in message.known if isinstance(m, Raised)]
            events = known if message.restart else events + known
        elif isinstance(message, Raised):
            events.append(message.event)
        elif isinstance(message, Withdrawn):
            events.remove(message.event)
    return [(e.id, e.step, round(e.t, 2), e.speaker) for e in events]


def demo_with_seeks(settings, pack, at: float, seeks: tuple[float, ...]) -> list:
    """The demo call on the replay screen's session; at `at` s into the recording the keys
    for `seeks` are pressed in a row."""
    messages: list = []
    pressed: list[bool] = []
    session: CallSession

    def deliver(message) -> None:
        messages.append(message)
        if isinstance(message, Tick) and message.position is not None and message.position >= at and not pressed:
            pressed.append(True)
            for delta in seeks:
                session.seek(delta)

    session = CallSession(
        [FileSource(AUDIO, speed=None)], STEREO, pack, settings, deliver,
        transcript=read_transcript(TRANSCRIPT), options=SessionOptions(replay=True),
    )
    session.run()
    return messages


def test_demo_seek_forward_three_times_then_back_twice_keeps_the_verdict(settings, pack):
    """The issue's demo case: → three times, then ← twice."""
    headless = replay(ReplayRequest(audio=AUDIO, transcript=TRANSCRIPT), settings, pack).to_json()
    expected = [(e["id"], e.get("step"), e["t"], e.get("speaker")) for e in headless["events"]]
    assert "missing_greeting" not in [e[0] for e in expected]
    assert len(headless["checklist"]["hold"]["holds"]) == 1  # the recorded hold: 请您稍等 ... 让您久等了

    messages = demo_with_seeks(settings, pack, at=2.0, seeks=(5, 5, 5, -5, -5))
    jumps = [m for m in messages if isinstance(m, Jumped)]
    assert [(round(j.position, 1), j.restart) for j in jumps] == [
        (7.0, False), (12.0, False), (17.0, False), (12.0, True), (7.0, True)
    ]
    assert screen_events(messages) == expected, "the screen ends with the unseeked verdict, no duplicates"
    (ended,) = [m for m in messages if isinstance(m, CallEnded)]
    assert ended.score == headless["score"]["value"]
    last_checklist = [m for m in messages if isinstance(m, Checklist)][-1]
    assert (last_checklist.holds, last_checklist.hold_ok) == (1, True), "the hold is kept"


def test_seeking_back_shows_what_was_known_then(settings, pack):
    messages = demo_with_seeks(settings, pack, at=50.0, seeks=(-30,))
    (jump,) = [m for m in messages if isinstance(m, Jumped)]
    assert jump.restart and 19.0 <= jump.position <= 21.0
    raised = [m.event for m in jump.known if isinstance(m, Raised)]
    heard = [m.heard for m in jump.known if isinstance(m, Heard)]
    assert all(e.t <= jump.position for e in raised)
    assert [h.utterance.end for h in heard] == [7.76, 12.19, 17.94], "the transcript up to the playhead"
    # the forbidden phrase at 43 s was heard before the jump but is not known at 20 s
    assert "forbidden_phrase" not in [e.id for e in raised]
    assert "forbidden_phrase" in [m.event.id for m in messages[: messages.index(jump)] if isinstance(m, Raised)]
