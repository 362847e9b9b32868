"""The engine owns the call phase: one detector asks (a hold phrase, a script winding the call
down, a hang-up) and the others see the engine's phase, never each other's state."""

from __future__ import annotations

from callassist.detectors import DETECTORS
from callassist.detectors.quiet_caller import QuietCallerDetector
from callassist.engine import Engine
from callassist.inputs import LevelFrame, SpeechEnded, SpeechStarted, Utterance, UtteranceHeard


def said(speaker, start, end, text, key):
    return [
        SpeechStarted(start, speaker), SpeechEnded(end, speaker),
        UtteranceHeard(end, Utterance(speaker, start, end, text), True, key),
    ]


def test_a_hold_phrase_pauses_the_silent_caller_count(pack, settings):
    engine = Engine(pack, settings)
    engine.feed_all(said("agent", 0.5, 3.0, "请您稍等，我帮您查询一下。", "a1"))
    assert engine.state.on_hold and engine.state.phase.hold_since == 3.0
    raised = engine.advance(30.0)
    assert [e.id for e in raised] == []  # 27 s of silence on hold: no silent caller, no dead air
    engine.feed_all(said("agent", 30.0, 32.0, "对不起，让您久等了。", "a2"))
    assert not engine.state.on_hold and engine.state.phase.holds[-1].end == 30.0
    assert [(e.id, e.step, e.t) for e in engine.advance(38.0)] == [("silent_caller", 1, 37.0)]


def quiet_then_silent(pack, settings, detectors) -> list:
    """The caller is too quiet twice (steps 1 and 2 of quiet_caller), then says nothing more
    and the agent does not answer: is it dead air?"""
    engine = Engine(pack, settings, detectors=detectors)
    items = []
    for i in range(1, 101):  # 0.1 s frames over 10 s
        t = round(i * 0.1, 2)
        voiced = 3.0 < t <= 5.0 or 8.0 < t <= 10.0
        items.append(LevelFrame(t, "caller", voiced, -45.0 if voiced else -70.0, -70.0))
    items += [SpeechStarted(3.0, "caller"), SpeechEnded(5.0, "caller")]
    items += [SpeechStarted(5.5, "agent"), SpeechEnded(7.5, "agent")]
    items += [SpeechStarted(8.0, "caller"), SpeechEnded(10.0, "caller")]
    items.sort(key=lambda item: (item.t, 0 if isinstance(item, SpeechEnded) else 1))
    engine.feed_all(items)
    engine.finish(20.0)
    return engine.events


def test_a_script_winding_the_call_down_stops_the_dead_air_check(pack, settings):
    winding = quiet_then_silent(pack, settings, DETECTORS)
    assert [(e.id, e.step, round(e.t, 2)) for e in winding if e.id == "quiet_caller"] == [("quiet_caller", 1, 4.5), ("quiet_caller", 2, 9.5)]
    assert not [e for e in winding if e.id == "agent_dead_air"]
    without_quiet = quiet_then_silent(pack, settings, [d for d in DETECTORS if d is not QuietCallerDetector])
    assert [(e.id, round(e.t, 2)) for e in without_quiet if e.id == "agent_dead_air"] == [("agent_dead_air", 14.0)]


def test_a_script_that_hangs_up_ends_the_call_and_waives_the_closing(pack, settings):
    engine = Engine(pack, settings)
    engine.feed_all(said("agent", 0.5, 6.0, "您好，欢迎致电平安客户服务热线，客服代表三零二很高兴为您服务，请问有什么可以帮助您！", "a1"))
    engine.advance(30.0)
    assert engine.state.ended_by == "silent_caller"
    assert not [e for e in engine.finish(30.0) if e.id == "missing_closing"]
