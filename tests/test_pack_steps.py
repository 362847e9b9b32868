"""The effective script pack drives the engine: the steps, waits and hang-up of a situation are
the pack's, as `callassist scripts show` prints them."""

from __future__ import annotations

from pathlib import Path

import pytest

from callassist.cli import pack_to_text
from callassist.engine import Engine
from callassist.errors import ConfigError
from callassist.inputs import LevelFrame, SpeechEnded, SpeechStarted
from callassist.scriptpack import load_pack
from callassist.settings import load_settings

SLOW = Path(__file__).parent / "data" / "packs" / "slow_silence"


@pytest.fixture(scope="module")
def slow_pack():
    return load_pack([SLOW], {"company": "平安", "agent": "三零二"})


def steps(events, situation):
    return [(e.step, round(e.t, 2), e.say) for e in events if e.id == situation]


def test_scripts_show_prints_the_deployed_steps(slow_pack):
    text = pack_to_text(slow_pack)
    assert "silent_caller [situation] 来电无声（四步） (step 1 after 6 s)" in text
    block = text[text.index("silent_caller [situation]"):].split("\n")[1:5]
    assert [line.count("(then wait 8 s)") for line in block] == [1, 1, 1, 0]
    assert block[3].endswith("[hang up]")


def test_a_four_step_silent_caller_starts_after_6_s_fires_8_s_apart_and_hangs_up_at_step_4(slow_pack, settings):
    engine = Engine(slow_pack, settings)
    engine.feed(SpeechStarted(0.5, "agent"))
    engine.feed(SpeechEnded(3.0, "agent"))
    raised = engine.advance(60.0)
    says = [step.say for step in slow_pack.situations["silent_caller"].steps]
    # step 1 after the pack's 6 s of silence (`after`), then its 8 s waits
    assert steps(raised, "silent_caller") == [
        (1, 9.0, says[0]), (2, 17.0, says[1]), (3, 25.0, says[2]), (4, 33.0, says[3])
    ]
    assert engine.state.ended_by == "silent_caller"
    assert engine.countdowns() == []


def test_the_standard_pack_hangs_up_a_silent_caller_at_step_3(pack, settings):
    engine = Engine(pack, settings)
    engine.feed(SpeechStarted(0.5, "agent"))
    engine.feed(SpeechEnded(3.0, "agent"))
    assert [(s, t) for s, t, _ in steps(engine.advance(60.0), "silent_caller")] == [(1, 8.0), (2, 13.0), (3, 18.0)]
    assert engine.state.ended_by == "silent_caller"


def noisy_call(engine: Engine) -> list:
    """The caller's line hisses at -25 dBFS (a loud background: over [acoustic] noisy_floor_dbfs,
    -30) on the caller's turn; the agent says the noisy-line line from 6 s to 9 s."""
    raised = engine.feed_all([SpeechStarted(0.2, "agent"), SpeechEnded(2.0, "agent")])
    t = 2.0
    while t < 6.0:
        t = round(t + 0.1, 2)
        raised += engine.feed(LevelFrame(t, "caller", False, -25.0, -25.0))
    raised += engine.feed_all([SpeechStarted(6.0, "agent"), SpeechEnded(9.0, "agent")])
    return raised + engine.advance(30.0)


def test_the_pack_wait_before_hanging_up_on_a_noisy_line(slow_pack, pack, settings):
    standard = steps(noisy_call(Engine(pack, settings)), "noisy_line")
    deployed = steps(noisy_call(Engine(slow_pack, settings)), "noisy_line")
    assert [(s, t) for s, t, _ in standard][1:] == [(2, 14.0)]  # 5 s after the agent's line
    assert [(s, t) for s, t, _ in deployed][1:] == [(2, 12.0)]  # the deployment's 3 s


def test_a_disabled_situation_is_not_raised(tmp_path, settings):
    off = tmp_path / "off.toml"
    off.write_text(
        '[[situation]]\nid = "silent_caller"\ndisabled = true\n'
        '[[forbidden]]\nid = "zai_bu_shuohua_jiu_gua"\ndisabled = true\n',
        encoding="utf-8",
    )
    engine = Engine(load_pack([off]), settings)
    engine.feed(SpeechStarted(0.5, "agent"))
    engine.feed(SpeechEnded(3.0, "agent"))
    assert steps(engine.advance(60.0), "silent_caller") == []


def test_the_standard_pack_shows_silent_caller_step_1_after_5_s(pack):
    assert "silent_caller [situation] 来电无声 (step 1 after 5 s)" in pack_to_text(pack)


def test_the_old_silent_step_setting_says_where_it_went(tmp_path):
    config = tmp_path / "callassist.toml"
    config.write_text("[timings]\nsilent_step = 8.0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r":2: timings.silent_step: no longer a setting; .*`after`"):
        load_settings(config)
