"""Keys drive the screen (Textual pilot), with a real session on a recording."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile
from textual.widgets import RichLog

from callassist.live.session import CallSession, ChannelSource, SessionOptions, Wiring
from callassist.live.sources import FileSource
from fakes import PacedFakeSource
from callassist.ui.app import CallAssistApp, HelpScreen
from callassist.ui.widgets import SayNowCard

CALLS = Path(__file__).parent / "fixtures" / "calls"


def replay_app(pack, settings, name="normal", speed=4.0, path: Path | None = None) -> CallAssistApp:
    session = CallSession(
        [FileSource(path or CALLS / f"{name}.wav", speed=speed)], Wiring(ChannelSource(0, 0), ChannelSource(0, 1)),
        pack, settings, options=SessionOptions(replay=True),
    )
    return CallAssistApp(pack, settings, session, replay=True)


async def until(pilot, condition, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met")


def test_situation_key_shows_the_approved_line_and_dismiss_clears_it(pack, settings):
    async def scenario():
        app = replay_app(pack, settings)
        async with app.run_test(size=(110, 32)) as pilot:
            await until(pilot, lambda: app.phase == "in_call")
            await pilot.press("2")  # quiet caller
            await until(pilot, lambda: app.prompt is not None)
            assert (app.prompt.id, app.prompt.step) == ("quiet_caller", 1)
            assert pack.say("quiet_caller", 1) in str(app.query_one(SayNowCard).render())
            await pilot.press("2")
            await until(pilot, lambda: app.prompt.step == 2)
            await pilot.press("d")
            assert app.prompt is None
            await pilot.press("q")

    asyncio.run(scenario())


@pytest.fixture
def quiet_line(tmp_path) -> Path:
    """20 s in which nobody speaks, so only the keys change the call's state."""
    path = tmp_path / "quiet_line.wav"
    noise = np.random.default_rng(1).normal(0, 10 ** (-65 / 20), (16000 * 20, 2))
    soundfile.write(path, noise.astype(np.float32), 16000)
    return path


def live_app(pack, settings, path: Path) -> CallAssistApp:
    """A live call on a paced fake device playing `path`, started at once."""
    samples, rate = soundfile.read(path, dtype="float32")
    session = CallSession([PacedFakeSource(samples, rate)], Wiring(ChannelSource(0, 0), ChannelSource(0, 1)),
                          pack, settings)
    session.start_call()
    return CallAssistApp(pack, settings, session)


def test_hold_key_and_help(pack, settings, quiet_line):
    async def scenario():
        app = live_app(pack, settings, quiet_line)
        async with app.run_test(size=(110, 32)) as pilot:
            await until(pilot, lambda: app.phase == "in_call")
            await pilot.press("h")
            await until(pilot, lambda: app.phase == "on_hold")
            await pilot.press("h")
            await until(pilot, lambda: app.phase == "in_call")
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)
            await pilot.press("q")

    asyncio.run(scenario())


def test_pause_and_seek_in_replay(pack, settings):
    async def scenario():
        app = replay_app(pack, settings, speed=2.0)
        async with app.run_test(size=(110, 32)) as pilot:
            await until(pilot, lambda: app.phase == "in_call")
            await pilot.press("space")
            await until(pilot, lambda: app.paused)
            await pilot.press("space")
            await until(pilot, lambda: not app.paused)
            await pilot.press("right")
            await until(pilot, lambda: app.call_time >= 5.0)
            log = app.query_one("#transcript", RichLog)
            assert any("跳到" in line.text for line in log.lines)
            await pilot.press("q")

    asyncio.run(scenario())


def test_keys_are_remappable_in_the_config(pack, settings, quiet_line):
    remapped = replace(settings, keys=replace(settings.keys, hold="f5", quiet="f2"))

    async def scenario():
        app = live_app(pack, remapped, quiet_line)
        async with app.run_test(size=(110, 32)) as pilot:
            await until(pilot, lambda: app.phase == "in_call")
            await pilot.press("f5")
            await until(pilot, lambda: app.phase == "on_hold")
            await pilot.press("f2")
            await until(pilot, lambda: app.prompt is not None and app.prompt.id == "quiet_caller")
            await pilot.press("q")

    asyncio.run(scenario())


def test_replay_plays_to_the_end_and_shows_what_was_said(pack, settings):
    async def scenario():
        app = replay_app(pack, settings, name="dead_air", speed=None)
        async with app.run_test(size=(110, 32)) as pilot:
            await until(pilot, lambda: app.phase == "ended", timeout=30)
            log = app.query_one("#transcript", RichLog)
            assert any("▶ 坐席冷场" in line.text for line in log.lines)  # agent_dead_air, labelled
            await pilot.pause(0.2)
            # nothing of the ended call stays active
            assert (app.prompt, app.countdown, app.alert) == (None, None, None)
            await pilot.press("q")

    asyncio.run(scenario())


def test_a_replay_offers_only_keys_that_work(pack, settings, quiet_line):
    """A recording starts, ends and holds as recorded: s, e and h are neither shown nor bound."""

    async def scenario():
        app = replay_app(pack, settings, path=quiet_line)
        async with app.run_test(size=(110, 32)) as pilot:
            await until(pilot, lambda: app.phase == "in_call")
            shown = str(app.query_one("#keys").render())
            assert " ?  帮助 " in shown and " ␣  暂停/继续 " in shown
            assert not any(f" {key}  " in shown for key in "seh")
            await pilot.press("h")
            await pilot.pause(0.5)
            assert app.phase == "in_call", "h does nothing to a recording"
            await pilot.press("q")

    asyncio.run(scenario())


def jumps(app) -> int:
    jumped = app.labels.word("jumped", t="\0").split("\0")[0]  # the line's words before the time
    return sum(jumped in line.text for line in app.query_one("#transcript", RichLog).lines)


def position(app) -> float | None:
    return app.status.position


def test_demo_seeks_leave_one_verdict_on_screen(pack, settings):
    """The issue's demo case on the screen: → three times, then ← twice. The transcript shows
    each event once (the replay is judged from its start), the meters stay wired through the
    jumps, and the call ends with the headless replay's score."""
    from callassist.replay import ReplayRequest, replay
    from callassist.transcript import read_transcript

    sample = Path(__file__).parents[1] / "callassist" / "samples"
    headless = replay(ReplayRequest(audio=sample / "sample_call.wav", transcript=sample / "sample_call.jsonl"), settings, pack).to_json()

    async def scenario():
        session = CallSession(
            [FileSource(sample / "sample_call.wav", speed=4.0)], Wiring(ChannelSource(0, 0), ChannelSource(0, 1)),
            pack, settings, transcript=read_transcript(sample / "sample_call.jsonl"), options=SessionOptions(replay=True),
        )
        app = CallAssistApp(pack, settings, session, replay=True)
        async with app.run_test(size=(110, 32)) as pilot:
            await until(pilot, lambda: position(app) is not None and position(app) >= 2.0)
            await pilot.press("space")  # paused, so the keys land at known positions however slow the machine
            await until(pilot, lambda: app.paused)
            start = position(app)
            for key in ("right", "right", "right", "left", "left"):
                await pilot.press(key)
            await until(pilot, lambda: position(app) == pytest.approx(start + 5.0, abs=0.06) and jumps(app) == 1)
            assert app.labels.word("not_wired") not in str(app.query_one("#status").render())
            await pilot.press("space")
            await until(pilot, lambda: app.phase == "ended", timeout=40)
            log = [line.text for line in app.query_one("#transcript", RichLog).lines]
            markers = [line.split("▶ ")[1].strip() for line in log if "▶" in line]
            labels = app.labels
            assert markers == [
                labels.event(e["id"]) + (f" {labels.step(e['step'])}" if e.get("step") else "") for e in headless["events"]
            ]
            assert any(f"{labels.word('score')} {headless['score']['value']}" in line for line in log)
            await pilot.press("q")

    asyncio.run(scenario())


def test_the_device_line_names_overflows_and_dropped_blocks_apart():
    from callassist.labels import standard_labels
    from callassist.live.messages import DeviceProblem
    from callassist.ui.app import device_line

    zh, en = standard_labels("zh"), standard_labels("en")
    assert device_line(DeviceProblem(None, overflows=3, dropped_blocks=5), zh) == "音频正常  输入溢出: 3  丢弃音频块（分析跟不上）: 5"
    assert device_line(DeviceProblem(None, overflows=0, dropped_blocks=5), en) == "audio ok  blocks dropped (analysis fell behind): 5"
    assert device_line(DeviceProblem("no audio from USB Headset", overflows=2), en) == (
        "⚠ no audio from USB Headset — reconnecting…  input overflows: 2"
    )
