"""The main screen pinned in its states: waiting, silent caller step 2 with its countdown, a
forbidden-phrase alert, on hold. The app is fed the session's messages directly, so the
pictures do not depend on timing."""

from __future__ import annotations

import pytest

from callassist.detectors.base import Countdown
from callassist.events import Event
from callassist.live.messages import CallStarted, Checklist, Heard, Raised, Tick
from callassist.inputs import Utterance, UtteranceHeard
from callassist.ui.app import CallAssistApp

SIZE = (110, 32)


def heard(speaker: str, start: float, end: float, text: str) -> Heard:
    return Heard(UtteranceHeard(t=end, utterance=Utterance(speaker, start, end, text), final=True, key=f"{speaker}:{start}"))


def greeting(pack) -> list:
    return [
        CallStarted(caller_audio=True),
        heard("agent", 0.5, 7.8, "您好，欢迎致电平安客户服务热线，客服代表三零二很高兴为您服务，请问有什么可以帮助您！"),
        Checklist(greeting=True, closing={"closing_offer": False, "closing_thanks": False}),
    ]


def app_with(pack, settings, updates) -> CallAssistApp:
    app = CallAssistApp(pack, settings)

    async def feed(pilot) -> None:
        for update in updates:
            app.apply(update)
        await pilot.pause()

    app.feed = feed
    return app


@pytest.fixture
def snap(snap_compare):
    def take(app: CallAssistApp) -> bool:
        return snap_compare(app, terminal_size=SIZE, run_before=app.feed)

    return take


def test_waiting(snap, pack, settings):
    assert snap(app_with(pack, settings, [Tick("waiting", 0.0, -62.0, -70.0)]))


def test_silent_caller_step_2_with_countdown(snap, pack, settings):
    step2 = Event(
        "silent_caller", "situation", 12.8, 7.8, 12.8, "caller", step=2, say=pack.say("silent_caller", 2),
    )
    updates = greeting(pack) + [
        heard("agent", 12.9, 15.9, "您好！请问有什么可以帮助您？"),
        Raised(step2),
        Tick("in_call", 19.1, -58.0, -66.0, (Countdown("silent_caller", 3, 3.2, 5.0),)),
    ]
    assert snap(app_with(pack, settings, updates))


def test_forbidden_phrase_alert(snap, pack, settings):
    flag = Event(
        "forbidden_phrase", "violation", 13.3, 12.4, 13.3, "agent", say=pack.say("greeting", 1),
        phrase_id="wei_shuohua_ya", heard="为，说话", score=100.0, detail="喂，说话呀！",
    )
    updates = greeting(pack) + [
        heard("caller", 10.5, 11.3, "喂，喂？"),
        Raised(flag),
        heard("agent", 12.4, 13.3, "为，说话呀"),
        Tick("in_call", 14.0, -30.0, -64.0),
    ]
    assert snap(app_with(pack, settings, updates))


def test_on_hold(snap, pack, settings):
    updates = greeting(pack) + [
        heard("caller", 8.6, 10.4, "我想查一下上个月的账单。"),
        heard("agent", 11.0, 14.1, "好的，请您稍等，我帮您查询一下。"),
        Checklist(greeting=True, closing={"closing_offer": False, "closing_thanks": False}, holds=1, hold_ok=True),
        Tick("on_hold", 26.0, -70.0, -68.0, (Countdown("hold_too_long", None, 11.9, 30.0),)),
    ]
    assert snap(app_with(pack, settings, updates))
