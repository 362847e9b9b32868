"""The standard's lexical checks are rules of the standard pack (scripts_zh/rules.toml): on every
fixture call, and on the 54 variations of tests/fixtures/variations.py, they give what the
greeting, closing and forbidden-phrase detectors and the hold detector's return check gave. The
truth is tests/data/standard_events/, recorded with the code before the change (see its README):
every event's id, kind, step, speaker, phrase id and approved line, its t, start and end within
0.05 s, the score, and the checklist (times within 0.05 s)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from callassist.cli import main
from callassist.detectors import DETECTORS
from callassist.engine import Engine
from callassist.errors import ConfigError
from callassist.inputs import Utterance
from callassist.scriptpack import check_packs, load_pack
from callassist.settings import load_settings
from callassist.sources import transcript_inputs
from standard_events import DEPLOY, PLACEHOLDERS, RECORDED, fixture_calls, outcome, variation_calls

TOLERANCE = 0.05
FIXTURES = json.loads((RECORDED / "fixtures.json").read_text(encoding="utf-8"))
VARIATIONS = json.loads((RECORDED / "variations.json").read_text(encoding="utf-8"))


def differences(got: Any, want: Any, where: str = "") -> list[str]:
    """Where `got` differs from `want`: numbers by more than TOLERANCE, anything else at all."""
    if isinstance(want, dict) and isinstance(got, dict):
        keys = sorted(set(got) | set(want))
        return [d for key in keys for d in differences(got.get(key), want.get(key), f"{where}.{key}")]
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{where}: {len(got)} items, want {len(want)}: {got} vs {want}"]
        return [d for index, (g, w) in enumerate(zip(got, want)) for d in differences(g, w, f"{where}[{index}]")]
    numbers = (int, float)
    if isinstance(want, numbers) and isinstance(got, numbers) and not isinstance(want, bool) and not isinstance(got, bool):
        return [] if abs(got - want) <= TOLERANCE else [f"{where}: {got}, want {want}"]
    return [] if got == want else [f"{where}: {got!r}, want {want!r}"]


@pytest.mark.parametrize("call", fixture_calls(), ids=lambda call: call.name)
def test_fixture_call_gives_the_events_of_before(call):
    assert set(FIXTURES) == {c.name for c in fixture_calls()}
    assert differences(outcome(call), FIXTURES[call.name]) == []


def test_variations_give_the_events_of_before(tmp_path):
    calls = variation_calls(tmp_path)
    assert {c.name for c in calls} == set(VARIATIONS) and len(calls) == 54
    found = {call.name: differences(outcome(call), VARIATIONS[call.name]) for call in calls}
    assert {name: d for name, d in found.items() if d} == {}


def test_the_comparison_catches_a_moved_event():
    want = FIXTURES["data/forbidden_agent"]
    moved = json.loads(json.dumps(want))
    moved["events"][0]["t"] += 0.06
    assert differences(moved, want) and not differences(want, want)


def test_the_standard_checks_are_rules_not_detectors():
    rules = {r.id for r in load_pack([]).rules}
    assert {"missing_greeting", "missing_closing", "missing_hold_return", "forbidden_phrase"} <= rules
    names = {cls.__name__ for cls in DETECTORS}
    assert not names & {"GreetingDetector", "ClosingDetector", "ForbiddenPhraseDetector"}


# -- deployment packs still change what the standard's rules look for ----------------------


GREETING = "您好，欢迎致电平安客户服务热线，客服代表三零二很高兴为您服务，请问有什么可以帮助您！"


def events_of(pack, settings, lines, end):
    """(id, phrase id, t) of every event of the standard's rules on a dialogue."""
    engine = Engine(pack, settings)
    engine.feed_all(transcript_inputs([Utterance(*line) for line in lines]))
    engine.finish(end)
    standard = {r.id for r in pack.rules}
    return [(e.id, e.phrase_id, round(e.t, 2)) for e in engine.events if e.id in standard]


def test_a_deployment_adds_and_retires_forbidden_phrases(settings):
    # 「这个你找别人去。」 over 4-6 s: 8 characters, the phrase ends with the 7th: 4 + 2 × 7/8;
    # 「不清楚。」 over 7-8 s: the phrase ends with the 3rd of 4: 7 + 3/4
    lines = [
        ("agent", 0.5, 3.5, "您好，平安，工号三零二为您服务。"),
        ("agent", 4.0, 6.0, "这个你找别人去。"),
        ("agent", 7.0, 8.0, "不清楚。"),
    ]
    standard = events_of(load_pack([], PLACEHOLDERS), settings, lines, 10.0)
    deployed = events_of(load_pack([DEPLOY], PLACEHOLDERS), settings, lines, 10.0)
    assert ("forbidden_phrase", "bu_qingchu", 7.75) in standard
    assert not [e for e in standard if e[1] == "zhao_bieren_qu"]
    forbidden = [e for e in deployed if e[0] == "forbidden_phrase"]
    assert forbidden == [("forbidden_phrase", "zhao_bieren_qu", 5.75)]
    # the deployment's own greeting is the one owed: the standard's is not it
    assert ("missing_greeting", None, 3.5) not in deployed and ("missing_greeting", None, 3.5) in standard


def test_a_deployment_closing_line_is_owed_too(tmp_path, settings, capsys):
    pack_file = tmp_path / "closing.toml"
    pack_file.write_text('[[required]]\nid = "closing_survey"\nwhere = "closing"\nphrases = ["请您对我的服务进行评价"]\n', encoding="utf-8")
    pack = load_pack([pack_file], PLACEHOLDERS)
    lines = [
        ("agent", 0.5, 6.0, GREETING),
        ("agent", 8.0, 10.0, "请问还有什么可以帮助您？"),
        ("agent", 11.0, 13.0, "感谢您的来电，再见！"),
    ]
    assert events_of(pack, settings, lines, 15.0) == [("missing_closing", None, 15.0)]
    lines.insert(2, ("agent", 10.2, 10.9, "请您对我的服务进行评价。"))
    assert events_of(pack, settings, lines, 15.0) == []
    assert events_of(load_pack([], PLACEHOLDERS), settings, lines[:2] + lines[3:], 15.0) == []
    assert main(["scripts", "show", "--scripts", str(pack_file)]) == 0  # what runs is what it shows
    shown = capsys.readouterr().out
    assert "  each of: [required] closing_offer / [required] closing_thanks / [required] closing_survey\n" in shown


def test_a_deployment_overrides_the_greeting_window(tmp_path, settings):
    """The greeting window was a setting; it is the rule's `first` now, and a deployment that
    replaces the rule moves it (a greeting begun at 12 s: late by the standard, in time by 15 s)."""
    standard = load_pack([], PLACEHOLDERS)
    rule = next(r for r in standard.rules if r.id == "missing_greeting")
    assert rule.first == 10.0
    pack_file = tmp_path / "greeting.toml"
    text = (Path(__file__).parent.parent / "scripts_zh" / "rules.toml").read_text(encoding="utf-8")
    greeting_rule = text[text.index("[[rule]]\nid = \"missing_greeting\""):text.index("# Every call ends")]
    pack_file.write_text(greeting_rule.replace("first = 10", "first = 15"), encoding="utf-8")
    assert check_packs([pack_file]) == []
    lines = [("agent", 12.0, 18.0, GREETING)]
    assert events_of(standard, settings, lines, 20.0) == [("missing_greeting", None, 10.0), ("missing_closing", None, 20.0)]
    assert events_of(load_pack([pack_file], PLACEHOLDERS), settings, lines, 20.0) == [("missing_closing", None, 20.0)]


REPLY = """[[situation]]
id = "greeted_by_caller"
title = "来电人先问候"
kind = "hint"
[[situation.step]]
say = "您好，这里是平安热线，请讲。"
"""


def test_a_deployment_reply_to_a_caller_who_greets_first_is_the_one_owed(tmp_path, settings, capsys):
    """The short greeting (after the caller spoke first) is the greeted_by_caller situation's line,
    which the rule names (`@greeted_by_caller.say`): a deployment that overrides the situation's
    line changes what the rule accepts, without touching the rule. The agent's first utterance
    over 2-4 s is judged when it ends: missing at 4.0 unless it says the line owed."""
    pack_file = tmp_path / "reply.toml"
    pack_file.write_text(REPLY, encoding="utf-8")
    standard, deployed = load_pack([], PLACEHOLDERS), load_pack([pack_file], PLACEHOLDERS)
    assert deployed.say("greeted_by_caller", 1) == "您好，这里是平安热线，请讲。"
    caller_first = ("caller", 0.5, 1.5, "你好。")

    def greeting(pack, reply, caller=caller_first):
        lines = [caller, ("agent", 2.0, 4.0, reply)] if caller else [("agent", 2.0, 4.0, reply)]
        return [e for e in events_of(pack, settings, lines, 20.0) if e[0] == "missing_greeting"]

    assert greeting(standard, "您好，请问有什么可以帮助您？") == []
    assert greeting(standard, "您好，这里是平安热线，请讲。") == [("missing_greeting", None, 4.0)]
    assert greeting(deployed, "您好，这里是平安热线，请讲。") == []
    assert greeting(deployed, "您好，请问有什么可以帮助您？") == [("missing_greeting", None, 4.0)]
    # still only once the caller has spoken; the full greeting still counts
    assert greeting(deployed, "您好，这里是平安热线，请讲。", caller=None) == [("missing_greeting", None, 4.0)]
    assert greeting(deployed, GREETING) == []
    assert main(["scripts", "show", "--scripts", str(pack_file)]) == 0  # what runs is what it shows
    shown = capsys.readouterr().out
    assert "said [situation] greeted_by_caller「您好，这里是平安热线，请讲。」, once the caller has spoken" in shown


def test_a_rule_names_a_situation_line_that_exists_and_is_said(tmp_path):
    """`@NAME.say`: the situation must exist and have a line to say; its stage directions
    (silent_caller's last step, （挂机）) are not lines."""
    pack_file = tmp_path / "rules.toml"
    pack_file.write_text(
        '[[rule]]\nid = "r_typo"\ntitle = "x"\nkind = "violation"\nwhen = { said = "@greeted_by_calller.say" }\n\n'
        '[[situation]]\nid = "pace"\ntitle = "x"\nkind = "situation"\nadvice = "慢一点"\n\n'
        '[[rule]]\nid = "r_silent"\ntitle = "x"\nkind = "violation"\nwhen = { said = "@pace.say" }\n',
        encoding="utf-8",
    )
    problems = [str(p).replace(str(pack_file), "rules.toml") for p in check_packs([pack_file])]
    assert problems == [
        "rules.toml:5: situation: no situation 'greeted_by_calller' is defined (did you mean 'greeted_by_caller.say'?)",
        "rules.toml:17: situation: situation 'pace' has no line to say (its steps are stage directions or it has only advice)",
    ]
    hang_up = pack_file.with_name("hang_up.toml")
    hang_up.write_text('[[rule]]\nid = "r_lines"\ntitle = "x"\nkind = "hint"\nwhen = { said = "@silent_caller.say" }\n', encoding="utf-8")
    rule = next(r for r in load_pack([hang_up]).rules if r.id == "r_lines")
    assert rule.when is not None
    assert [p.text for p in rule.when.said] == [
        "您好！请问有什么可以帮助您？", "对不起，您的电话没有声音，请您换一部电话再次打来，好吗？再见！",
    ]


def test_the_old_greeting_setting_says_where_it_went(tmp_path):
    config = tmp_path / "callassist.toml"
    config.write_text("[timings]\ngreeting_within = 15.0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r":2: timings.greeting_within: no longer a setting; .*missing_greeting rule"):
        load_settings(config)


def test_a_phrase_set_cannot_take_a_name_of_the_standard_lines(tmp_path):
    pack_file = tmp_path / "sets.toml"
    pack_file.write_text('[[phrase_set]]\nid = "closing"\nphrases = ["再见"]\n', encoding="utf-8")
    problems = [str(p).replace(str(pack_file), "sets.toml") for p in check_packs([pack_file])]
    assert problems == ["sets.toml:2: id: 'closing' names the standard's lines in rules (@closing); choose another id"]
