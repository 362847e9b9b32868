"""Engine behaviour the live screen relies on: stream-time deadlines, countdowns, cleared
situations, hold and situation keys."""

from __future__ import annotations

import pytest

from callassist.engine import Engine
from callassist.inputs import LevelFrame, SpeechEnded, SpeechStarted


@pytest.fixture
def engine(settings, pack):
    return Engine(pack, settings)


def test_deadlines_fire_at_their_own_instant_not_at_the_next_input(engine):
    engine.feed(SpeechStarted(0.5, "agent"))
    engine.feed(SpeechEnded(3.0, "agent"))
    raised = engine.advance(20.0)
    assert [(e.id, e.step, e.t) for e in raised] == [
        ("silent_caller", 1, 8.0), ("silent_caller", 2, 13.0), ("silent_caller", 3, 18.0)
    ]
    assert all(e.emitted == e.t for e in raised)


def test_countdown_shows_the_silence_so_far(engine):
    engine.feed(SpeechStarted(0.5, "agent"))
    engine.feed(SpeechEnded(3.0, "agent"))
    engine.advance(6.2)
    (countdown,) = [c for c in engine.countdowns() if c.situation == "silent_caller"]
    assert countdown.next_step == 1 and countdown.total == 5.0
    assert countdown.elapsed == pytest.approx(3.2)
    engine.advance(9.0)  # step 1 raised at 8.0; step 2 counts from there
    (countdown,) = [c for c in engine.countdowns() if c.situation == "silent_caller"]
    assert (countdown.next_step, round(countdown.elapsed, 2)) == (2, 1.0)


def caller_frame(t: float, voiced: bool = True, level: float = -20.0, floor: float = -60.0) -> LevelFrame:
    return LevelFrame(t, "caller", voiced, level, floor)


def test_caller_speech_clears_the_silent_caller_prompt(engine):
    """Once it has lasted [acoustic] min_turn (0.2 s): a shorter stretch is no turn."""
    engine.feed(SpeechStarted(0.5, "agent"))
    engine.feed(SpeechEnded(3.0, "agent"))
    engine.advance(9.0)
    assert engine.take_cleared() == []
    engine.feed(SpeechStarted(9.5, "caller"))
    engine.feed(caller_frame(9.6))
    assert engine.take_cleared() == []
    engine.feed(caller_frame(9.7))
    assert engine.take_cleared() == ["silent_caller"]
    assert not [c for c in engine.countdowns() if c.situation == "silent_caller"]


def test_a_stretch_shorter_than_a_turn_does_not_reset_the_silence_count(engine):
    """A knock on the caller's line that got past the voice test: steps 2 and 3 still come, and
    step 2, due while it sounded, fires as it ends with that time."""
    engine.feed(SpeechStarted(0.5, "agent"))
    engine.feed(SpeechEnded(3.0, "agent"))
    engine.feed(SpeechStarted(12.9, "caller"))
    engine.feed(caller_frame(13.0))
    engine.feed(SpeechEnded(13.06, "caller"))
    raised = engine.advance(20.0)
    assert [(e.id, e.step, round(e.t, 2)) for e in engine.events] == [
        ("silent_caller", 1, 8.0), ("silent_caller", 2, 13.06), ("silent_caller", 3, 18.06)
    ]
    assert raised[-1].emitted == raised[-1].t


def caller_talks(engine, start: float, end: float, level: float, background: float = -60.0) -> list:
    """The caller speaks from `start` to `end` at `level` over a line at `background`, with
    the line's unvoiced frames every 0.1 s before it (from the last frame fed)."""
    raised = []
    t = round(engine.state.now + 0.1, 1)
    while t <= start:
        raised += engine.feed(caller_frame(t, voiced=False, level=background, floor=background))
        t = round(t + 0.1, 1)
    raised += engine.feed(SpeechStarted(start, "caller"))
    t = round(start + 0.1, 1)
    while t <= end:
        raised += engine.feed(caller_frame(t, level=level, floor=background))
        t = round(t + 0.1, 1)
    return raised + engine.feed(SpeechEnded(end, "caller"))


def agent_says(engine, start: float, end: float) -> list:
    return engine.feed(SpeechStarted(start, "agent")) + engine.feed(SpeechEnded(end, "agent"))


def test_hang_up_step_waits_for_the_caller_to_stop_and_carries_that_time(engine):
    agent_says(engine, 0.5, 3.0)
    raised = caller_talks(engine, 4.0, 6.0, level=-48.0)  # quiet: step 1 after 1.5 s of it
    raised += agent_says(engine, 6.5, 8.0)
    raised += caller_talks(engine, 8.5, 10.5, level=-48.0)  # still quiet after the answer: step 2
    raised += agent_says(engine, 11.0, 14.0)  # the step-2 line: hang up 5 s later, at 19.0 ...
    raised += caller_talks(engine, 18.0, 20.5, level=-48.0)  # ... but the caller talks through it
    raised += engine.advance(25.0)
    quiet = [(e.step, e.t, e.emitted) for e in raised if e.id == "quiet_caller"]
    assert quiet == [(1, 5.5, 5.5), (2, 10.0, 10.0), (3, 20.5, 20.5)]
    assert [e.id for e in raised if e.id != "quiet_caller"] == []


@pytest.mark.parametrize(
    ("level", "background", "expected"),
    [
        (-48.0, -60.0, "quiet_caller"),  # a weak voice on a quiet line: the voice is the problem
        (-20.0, -22.0, "noisy_line"),  # a normal voice drowned in loud noise
        (-46.0, -50.0, "quiet_caller"),  # weak and barely over a faint line: still not a noisy line
        (-20.0, -35.0, None),  # 15 dB over a real background: a good line
    ],
)
def test_quiet_caller_and_noisy_line_never_both(engine, level, background, expected):
    agent_says(engine, 0.5, 3.0)
    raised = caller_talks(engine, 4.0, 9.0, level=level, background=background)
    assert {e.id for e in raised if e.id in ("quiet_caller", "noisy_line")} == ({expected} if expected else set())


def test_noisy_evidence_decays_while_the_caller_is_heard_clearly(engine):
    """2.6 s of drowned speech in all (1.5 s, then 1.1 s once the clear speech has left the
    1 s voice window), but the 1.5 s heard clearly between them wipes the first out."""
    agent_says(engine, 0.5, 3.0)
    raised = caller_talks(engine, 4.0, 5.5, level=-20.0, background=-22.0)
    t = 5.5
    raised += engine.feed(SpeechStarted(t, "caller"))
    for level, seconds in ((-5.0, 1.5), (-20.0, 1.9)):
        for _ in range(round(seconds * 10)):
            t = round(t + 0.1, 1)
            raised += engine.feed(caller_frame(t, level=level, floor=-22.0))
    assert [e.id for e in raised if e.id == "noisy_line"] == []
    for _ in range(10):  # 1 s more of it does add up to 2 s
        t = round(t + 0.1, 1)
        raised += engine.feed(caller_frame(t, level=-20.0, floor=-22.0))
    assert [e.id for e in raised if e.id == "noisy_line"] == ["noisy_line"]
