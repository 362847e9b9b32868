"""The main screen pinned in its states, and at the window sizes agents use: 60×20 (a side
window), 80×24 and 140×45. The app is fed the session's messages directly, so the pictures do
not depend on timing. Besides the pictures, each size is read back as text: every element must
be on screen and no line of text may be cut."""

from __future__ import annotations

from dataclasses import replace

import pytest

from callassist.detectors.base import Countdown
from callassist.events import Event
from callassist.inputs import Utterance, UtteranceHeard
from callassist.live.messages import CallEnded, CallStarted, Checklist, DeviceProblem, Heard, Raised, Tick
from callassist.settings import CallSettings, UiSettings
from callassist.ui.app import CallAssistApp

SIZE = (80, 24)
SIZES = [(60, 20), (80, 24), (140, 45)]
GREETING = "您好，欢迎致电平安客户服务热线，客服代表三零二很高兴为您服务，请问有什么可以帮助您！"


@pytest.fixture
def set_up(settings):
    """Settings after `callassist setup`: the company and agent the pack fixture fills in."""
    return replace(settings, call=CallSettings(company="平安", agent="三零二"))


def heard(speaker: str, start: float, end: float, text: str) -> Heard:
    return Heard(UtteranceHeard(t=end, utterance=Utterance(speaker, start, end, text), final=True, key=f"{speaker}:{start}"))


def greeting(pack) -> list:
    return [
        CallStarted(caller_audio=True),
        heard("agent", 0.5, 7.8, GREETING),
        Checklist(greeting=True, closing={"closing_offer": False, "closing_thanks": False}),
    ]


def forbidden(pack) -> Event:
    return Event(
        "forbidden_phrase", "violation", 13.3, 12.4, 13.3, "agent", say=pack.say("greeting", 1),
        phrase_id="wei_shuohua_ya", heard="为，说话", score=100.0, detail="喂，说话呀！",
    )


def everything(pack) -> list:
    """Every element at once: a forbidden-phrase banner, a say-now card with its countdown, the
    transcript with event markers, the checklist, the alert list and a device problem."""
    step2 = Event("silent_caller", "situation", 12.8, 7.8, 12.8, "caller", step=2, say=pack.say("silent_caller", 2))
    return greeting(pack) + [
        heard("agent", 12.4, 13.3, "为，说话呀"),
        Raised(step2),
        Raised(forbidden(pack)),
        DeviceProblem("no audio from USB Headset", overflows=3),
        Tick("in_call", 19.1, -58.0, -66.0, (Countdown("silent_caller", 3, 3.2, 5.0),)),
    ]


def app_with(pack, settings, updates, replay: bool = False) -> CallAssistApp:
    app = CallAssistApp(pack, settings, replay=replay)

    async def feed(pilot) -> None:
        for update in updates:
            app.apply(update)
        await pilot.pause()

    app.feed = feed
    return app


def screen_text(app: CallAssistApp, selector: str | None = None) -> str:
    """What the terminal shows, or the part of it where one widget is."""
    strips = app.screen._compositor.render_strips()
    if selector is None:
        return "\n".join(strip.text for strip in strips)
    region = app.query_one(selector).region
    return "\n".join(strips[y].crop(region.x, region.right).text for y in range(region.y, region.bottom))


def unwrapped(text: str) -> str:
    """Text with line ends, borders and indents removed, so wrapped text reads whole."""
    return "".join(line.strip(" │┃█╭╮╰╯─━┏┓┗┛▂▃▄▅▆▇") for line in text.splitlines())


@pytest.fixture
def snap(snap_compare):
    def take(app: CallAssistApp, size=SIZE) -> bool:
        return snap_compare(app, terminal_size=size, run_before=app.feed)

    return take


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_element_at_each_size(snap, pack, set_up, size):
    assert snap(app_with(pack, set_up, everything(pack)), size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_nothing_is_cut_at_each_size(pack, set_up, size):
    async def scenario():
        app = app_with(pack, set_up, everything(pack))
        async with app.run_test(size=size) as pilot:
            await app.feed(pilot)
            await pilot.pause(0.2)
            shown = {name: unwrapped(screen_text(app, name)) for name in (
                "#status", "#alert", "#say", "#transcript", "#checklist", "#alerts", "#device", "#keys",
            )}
            screen = screen_text(app)
        banner = shown["#alert"]
        assert "⚠ 禁用语 「为，说话」" in banner and "改说：" + GREETING in banner  # whole
        say = shown["#say"]
        assert "现在说 · 来电无声 · 第2步/共3步" + pack.say("silent_caller", 2) in say  # whole
        assert say.endswith("来电无声 3.2/5 s → 第3步 " + "▓" * say.count("▓") + "░" * say.count("░"))
        transcript = shown["#transcript"]
        assert transcript.startswith("00:00 坐席 " + GREETING + "00:12 坐席 为，说话呀")  # whole, in time order
        assert transcript.endswith("00:12 ▶ 来电无声 第2步00:13 ▶ 禁用语")
        assert shown["#checklist"].startswith("检查项") and "✓ 开头问候" in shown["#checklist"]
        assert shown["#checklist"].endswith("· 等待礼仪")
        assert shown["#alerts"].startswith("本通禁用语: 1") and shown["#alerts"].endswith("00:13 「为，说话」")
        assert "no audio from USB Headset" in shown["#device"] and shown["#device"].endswith("输入溢出: 3")
        status = shown["#status"]
        assert status.startswith("通话中  00:19") and "坐席 ░" in status and status.endswith("-66" + " dB" * (size[0] >= 100))
        assert shown["#keys"].startswith("?  帮助  q  退出")  # help is always on the key bar
        assert "开头语含占位符" not in screen  # set up: no warning

    import asyncio

    asyncio.run(scenario())


def test_placeholder_warning_at_60x20(snap, pack, settings):
    assert snap(app_with(pack, settings, greeting(pack) + [Tick("in_call", 9.0, -30.0, -64.0)]), (60, 20))


def test_english_labels(snap, pack, set_up):
    english = replace(set_up, ui=UiSettings(language="en"))
    assert snap(app_with(pack, english, everything(pack)))


def test_waiting(snap, pack, set_up):
    assert snap(app_with(pack, set_up, [Tick("waiting", 0.0, -62.0, -70.0)]))


def test_silent_caller_step_2_with_countdown(snap, pack, set_up):
    step2 = Event(
        "silent_caller", "situation", 12.8, 7.8, 12.8, "caller", step=2, say=pack.say("silent_caller", 2),
    )
    updates = greeting(pack) + [
        heard("agent", 12.9, 15.9, "您好！请问有什么可以帮助您？"),
        Raised(step2),
        Tick("in_call", 19.1, -58.0, -66.0, (Countdown("silent_caller", 3, 3.2, 5.0),)),
    ]
    assert snap(app_with(pack, set_up, updates))


def test_forbidden_phrase_alert(snap, pack, set_up):
    updates = greeting(pack) + [
        heard("caller", 10.5, 11.3, "喂，喂？"),
        Raised(forbidden(pack)),
        heard("agent", 12.4, 13.3, "为，说话呀"),
        Tick("in_call", 14.0, -30.0, -64.0),
    ]
    assert snap(app_with(pack, set_up, updates))


def test_on_hold(snap, pack, set_up):
    updates = greeting(pack) + [
        heard("caller", 8.6, 10.4, "我想查一下上个月的账单。"),
        heard("agent", 11.0, 14.1, "好的，请您稍等，我帮您查询一下。"),
        Checklist(greeting=True, closing={"closing_offer": False, "closing_thanks": False}, holds=1, hold_ok=True),
        Tick("on_hold", 26.0, -70.0, -68.0, (Countdown("hold_too_long", None, 11.9, 30.0),)),
    ]
    assert snap(app_with(pack, set_up, updates))


def test_replay_shows_one_clock_and_only_keys_that_work(snap, pack, set_up):
    updates = greeting(pack) + [Tick("in_call", 9.5, -30.0, -64.0, position=10.0)]
    assert snap(app_with(pack, set_up, updates, replay=True))


def test_call_ended_leaves_nothing_active(snap, pack, set_up):
    """After the call: the header says saved, the clock stops at the call's length, the card has
    no prompt and no countdown, the checklist is marked as the ended call's."""
    step2 = Event("silent_caller", "situation", 12.8, 7.8, 12.8, "caller", step=2, say=pack.say("silent_caller", 2))
    updates = greeting(pack) + [
        Raised(step2),
        Tick("in_call", 19.1, -58.0, -66.0, (Countdown("silent_caller", 3, 3.2, 5.0),)),
        CallEnded("calls/call-20261201-101010.json", 95),
        Tick("saved", 21.0, -58.0, -66.0),
    ]
    assert snap(app_with(pack, set_up, updates))


def test_report_not_saved_is_shown_with_its_retry_key(snap, pack, set_up):
    error = "report not saved (calls/call-1.json: Permission denied); kept in memory: press the retry key to save it"
    updates = greeting(pack) + [
        Tick("in_call", 19.1, -58.0, -66.0, (Countdown("silent_caller", 3, 3.2, 5.0),)),
        CallEnded(None, 95, error=error, unsaved=1),
        Tick("save_failed", 21.0, -58.0, -66.0),
    ]
    assert snap(app_with(pack, set_up, updates))


def test_ended_call_as_text(pack, set_up):
    """The ended call's screen read back: nothing active, the header and the checklist say so."""
    async def scenario():
        app = app_with(pack, set_up, greeting(pack) + [
            Tick("in_call", 19.1, -58.0, -66.0, (Countdown("silent_caller", 3, 3.2, 5.0),)),
            CallEnded("calls/call-1.json", 95),
            Tick("saved", 21.0, -58.0, -66.0),
        ])
        async with app.run_test(size=(140, 45)) as pilot:
            await app.feed(pilot)
            await pilot.pause(0.2)
            status, say, checklist = (unwrapped(screen_text(app, n)) for n in ("#status", "#say", "#checklist"))
        assert status.startswith("已保存  00:21")
        assert say == "现在说— 通话已结束 —" and "▓" not in say
        assert checklist.startswith("检查项 · 上一通（已结束）")

    import asyncio

    asyncio.run(scenario())
