"""Engine behaviour the live screen relies on: stream-time deadlines, countdowns, cleared
situations, hold and situation keys."""

from __future__ import annotations

import pytest

from callassist.engine import Engine
from callassist.inputs import AudioMissing, HoldChanged, ManualSituation, SpeechEnded, SpeechStarted


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


def test_caller_speech_clears_the_silent_caller_prompt(engine):
    engine.feed(SpeechStarted(0.5, "agent"))
    engine.feed(SpeechEnded(3.0, "agent"))
    engine.advance(9.0)
    assert engine.take_cleared() == []
    engine.feed(SpeechStarted(9.5, "caller"))
    assert engine.take_cleared() == ["silent_caller"]
    assert not [c for c in engine.countdowns() if c.situation == "silent_caller"]


def test_hold_key_pauses_silence_and_counts_down_to_check_back(engine):
    engine.feed(SpeechStarted(0.5, "agent"))
    engine.feed(SpeechEnded(3.0, "agent"))
    engine.feed(HoldChanged(3.5, True))
    assert engine.advance(20.0) == []
    (countdown,) = engine.countdowns()
    assert countdown.situation == "hold_too_long" and countdown.elapsed == pytest.approx(16.5)
    raised = engine.advance(34.0)
    assert [(e.id, e.t) for e in raised] == [("hold_too_long", 33.5)]


def test_situation_keys_step_through_the_approved_lines(engine, pack):
    first = engine.feed(ManualSituation(4.0, "quiet_caller"))
    second = engine.feed(ManualSituation(9.0, "quiet_caller"))
    assert [(e.id, e.step, e.say) for e in first + second] == [
        ("quiet_caller", 1, pack.say("quiet_caller", 1)),
        ("quiet_caller", 2, pack.say("quiet_caller", 2)),
    ]
    assert first[0].detail == "marked by the agent"


def test_inputs_out_of_stream_order_are_refused(engine):
    engine.feed(SpeechStarted(5.0, "agent"))
    with pytest.raises(ValueError, match="arrived after stream time"):
        engine.feed(SpeechEnded(4.0, "agent"))


def test_missing_audio_pauses_the_silence_checks(engine):
    """A device that was unplugged leaves silence that proves nothing about the caller."""
    engine.feed(SpeechStarted(0.5, "agent"))
    engine.feed(SpeechEnded(3.0, "agent"))
    engine.feed(AudioMissing(4.0, True))
    assert engine.advance(20.0) == []
    engine.feed(AudioMissing(20.0, False))
    raised = engine.advance(25.5)
    assert [(e.id, e.step, e.t) for e in raised] == [("silent_caller", 1, 25.0)]
