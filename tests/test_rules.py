"""QA rules as data: checking packs, judging in stream time, the example pack's six rules on
committed calls (transcript, recording and live session), `rules test`, fatal scoring."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from callassist.engine import Engine
from callassist.inputs import SpeechEnded, SpeechStarted, Utterance, UtteranceHeard
from callassist.live.messages import Raised, ReplayFinished
from callassist.live.session import CallSession, ChannelSource, SessionOptions, Wiring
from callassist.live.sources import FileSource
from callassist.replay import ReplayRequest, replay
from callassist.reporting.text import summary_text
from callassist.scriptpack import check_packs, load_pack
from callassist.sources import transcript_inputs
from callassist.transcript import read_transcript

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "qa_rules" / "rules.toml"
CASES = ROOT / "examples" / "qa_rules" / "cases.toml"
CALLS = Path(__file__).parent / "fixtures" / "rule_calls"
PLACEHOLDERS = {"company": "平安", "agent": "三零二"}


@pytest.fixture(scope="module")
def example_pack():
    return load_pack([EXAMPLE], PLACEHOLDERS)


# The standard's own rules (greeting, closing, hold return, forbidden phrases) run in every pack;
# these tests look at the QA rules they add.
STANDARD_RULES = frozenset(r.id for r in load_pack([]).rules)


def qa_rule(event) -> bool:
    """An event of one of the pack's own QA rules (not the standard's)."""
    rule = event.get("rule") if isinstance(event, dict) else event.rule
    return rule is not None and rule not in STANDARD_RULES


def pack_from(tmp_path: Path, text: str):
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return load_pack([path], PLACEHOLDERS)


def run_dialogue(pack, settings, lines: list[tuple[str, float, float, str]], end: float | None = None) -> list:
    utterances = [Utterance(speaker, start, stop, text) for speaker, start, stop, text in lines]
    engine = Engine(pack, settings)
    engine.feed_all(transcript_inputs(utterances))
    engine.finish(end if end is not None else utterances[-1].end + 1.0)
    return [e for e in engine.events if qa_rule(e)]


def hits(events) -> list[tuple[str, float]]:
    return [(e.id, round(e.t, 2)) for e in events]


# -- the six example rules on committed calls -------------------------------------------


def rule_events_match_labels(events: list[dict], name: str) -> None:
    """Every labelled hit is raised once inside its stretch, and no other rule event is."""
    labels = json.loads((CALLS / f"{name}.labels.json").read_text(encoding="utf-8"))["expect"]
    remaining = [e for e in events if qa_rule(e)]
    for label in labels:
        found = [e for e in remaining if e["id"] == label["id"] and label["lo"] <= e["t"] <= label["hi"]]
        assert len(found) == 1, f"{name}: {label} matched {found}; rule events {remaining}"
        remaining.remove(found[0])
    assert remaining == [], f"{name}: unexpected rule events {remaining}"


@pytest.mark.parametrize("name", ["angry_promise", "fatal_callback"])
def test_example_rules_fire_where_the_scene_says_from_the_transcript(name, settings, example_pack):
    report = replay(ReplayRequest(transcript=CALLS / f"{name}.jsonl"), settings, example_pack).to_json()
    rule_events_match_labels(report["events"], name)


@pytest.mark.parametrize("name", ["angry_promise", "fatal_callback"])
def test_example_rules_fire_where_the_scene_says_from_the_recording(name, settings, example_pack):
    request = ReplayRequest(audio=CALLS / f"{name}.wav", transcript=CALLS / f"{name}.jsonl")
    report = replay(request, settings, example_pack).to_json()
    assert report["call"]["activity_from"] == "audio"
    rule_events_match_labels(report["events"], name)


@pytest.mark.parametrize("name", ["angry_promise", "fatal_callback"])
def test_example_rules_fire_live_as_in_replay(name, settings, example_pack):
    """The live session, streaming the recording block by block, raises the same rule events
    at the same times as the replay, while the call runs."""
    messages: list = []
    session = CallSession(
        [FileSource(CALLS / f"{name}.wav", speed=None)], Wiring(ChannelSource(0, 0), ChannelSource(0, 1)),
        example_pack, settings, messages.append, transcript=read_transcript(CALLS / f"{name}.jsonl"),
        options=SessionOptions(replay=True),
    )
    session.run()
    assert isinstance(messages[-1], ReplayFinished)
    live = [m.event.to_json() for m in messages if isinstance(m, Raised)]
    rule_events_match_labels(live, name)
    request = ReplayRequest(audio=CALLS / f"{name}.wav", transcript=CALLS / f"{name}.jsonl")
    replayed = [e for e in replay(request, settings, example_pack).to_json()["events"] if qa_rule(e)]
    assert sorted((e["id"], e["t"]) for e in live if qa_rule(e)) == sorted((e["id"], e["t"]) for e in replayed)


def test_fatal_item_fails_the_call_whatever_its_score(settings, example_pack):
    typed = replay(ReplayRequest(transcript=CALLS / "fatal_callback.jsonl"), settings, example_pack)
    report = typed.to_json()
    score = report["score"]
    assert score["failed"] is True
    assert [f["id"] for f in score["fatal"]] == ["not_my_job"]
    assert score["value"] > 50  # a decent score, and the call still fails
    assert "不合格（致命项：推诿：不归我管）" in summary_text(typed)
    deducted = {d["id"]: d["points"] for d in score["deductions"]}
    assert deducted["long_silence"] == 3  # the rule's own deduction
    callback = next(e for e in report["events"] if e["id"] == "callback_promised")
    assert callback["follow_up_hours"] == 72 and callback["title"] == "承诺回电：72 小时内需回访"


def test_rule_deductions_count_in_the_score(settings, example_pack):
    report = replay(ReplayRequest(transcript=CALLS / "angry_promise.jsonl"), settings, example_pack).to_json()
    deducted = sorted((d["id"], d["points"]) for d in report["score"]["deductions"])
    assert deducted == [("details_before_identity", 10), ("greeting_work_number", 5), ("promise_to_angry_caller", 5)]
    assert report["score"]["value"] == 80 and report["score"]["failed"] is False


# -- rules test -----------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "callassist", *args], capture_output=True, text=True, timeout=120)


def test_rules_test_passes_the_example_cases():
    result = cli("rules", "test", str(EXAMPLE), str(CASES))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "12 case(s): 12 passed, 0 failed"
    assert all(line.startswith("PASS  ") for line in lines[:-1])


def test_rules_test_fails_a_case_and_says_why(tmp_path):
    cases = tmp_path / "cases.toml"
    cases.write_text(
        '[[case]]\nname = "ok"\ndialogue = ["agent: 这个不归我管。"]\nmust = ["not_my_job"]\n\n'
        '[[case]]\nname = "wrong"\ndialogue = ["agent: 您的余额是八十元。"]\n'
        'must = ["callback_promised"]\nmust_not = ["details_before_identity"]\n',
        encoding="utf-8",
    )
    result = cli("rules", "test", str(EXAMPLE), str(cases))
    assert result.returncode == 1
    out = result.stdout.splitlines()
    assert out[0].startswith("PASS  ok")
    assert out[1].startswith("FAIL  wrong  (line 6; did not fire: callback_promised; fired but must not: details_before_identity @")
    assert out[2] == "2 case(s): 1 passed, 1 failed"


def test_rules_test_refuses_a_bad_cases_file_with_its_line(tmp_path):
    cases = tmp_path / "cases.toml"
    cases.write_text('[[case]]\nname = "x"\ndialogue = ["boss: hi"]\nmust = ["a"]\n', encoding="utf-8")
    result = cli("rules", "test", str(EXAMPLE), str(cases))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"callassist: error: {cases}:1: [[case]] #1: dialogue line 1: needs speaker agent or caller and some text"
    )


# -- checking rule packs ----------------------------------------------------------------------

BAD_RULES = """\
[[phrase_set]]
id = "promise"
phrases = ["保证"]

[[rule]]
id = "r_unknown_set"
title = "x"
kind = "violation"
when = { said = "@promis" }

[[rule]]
id = "r_backreference"
title = "x"
kind = "violation"
when = { regex = "(a)\\\\1" }

[[rule]]
id = "r_situation"
title = "x"
kind = "violation"
while = "angry_calller"
when = { said = ["保证"] }

[[rule]]
id = "r_hint_points"
title = "x"
kind = "hint"
deduction = 3
when = { said = ["保证"] }

[[rule]]
id = "r_both"
title = "x"
kind = "violation"
silence = 8
when = { said = ["保证"] }

[[rule]]
id = "r_unless_key"
title = "x"
kind = "violation"
when = { said = ["保证"] }
unless = { said = ["请稍等"], turn = 1 }

[[rule]]
id = "r_required_unless"
title = "x"
kind = "required"
when = { said = ["保证"] }
unless = { said = ["请稍等"] }
"""


def test_scripts_check_reports_rule_problems_at_their_lines(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(BAD_RULES, encoding="utf-8")
    problems = [str(p).replace(str(path), "rules.toml") for p in check_packs([path])]
    assert problems == [
        "rules.toml:9: phrase_set: no phrase_set 'promis' is defined (did you mean 'promise'?)",
        "rules.toml:15: when: when.regex: not a valid linear-time (RE2) regular expression: invalid escape sequence: \\1",
        "rules.toml:21: situation: no situation 'angry_calller' is defined (did you mean 'angry_caller'?)",
        "rules.toml:28: deduction: a hint costs no points; make it a violation",
        "rules.toml:36: when: a rule takes exactly one of when (what is said), silence (seconds) or each (lines)",
        "rules.toml:43: unless: unless[0].turn: unknown key; allowed: said, regex, any, all, none, speaker, threshold, spoken_before, side, within, turns",
        "rules.toml:50: unless: a required rule's window is first, last or after; while and unless apply to violations and hints",
    ]
    result = cli("scripts", "check", str(path))
    assert result.returncode == 1 and len(result.stdout.splitlines()) == 7


def test_the_example_pack_checks_clean():
    assert check_packs([EXAMPLE]) == []


# -- the language, judged in stream time --------------------------------------------------------


def test_order_within_seconds_and_turns(tmp_path, settings):
    pack = pack_from(tmp_path, """
[[rule]]
id = "seconds"
title = "s"
kind = "violation"
speaker = "agent"
when = { said = ["余额"] }
unless = { said = ["核实身份"], within = 10 }

[[rule]]
id = "turns"
title = "t"
kind = "violation"
speaker = "agent"
when = { said = ["余额"] }
unless = { said = ["核实身份"], turns = 1 }
""")
    lines = [
        ("agent", 1.0, 3.0, "我先核实身份。"),
        ("caller", 4.0, 5.0, "好的。"),
        ("agent", 6.0, 8.0, "您的余额是十元。"),  # 5 s after, but one turn in between
        ("agent", 20.0, 22.0, "余额已经更新了。"),  # 19 s after and three turns: both fire
    ]
    events = run_dialogue(pack, settings, lines)
    assert [e.id for e in events] == ["turns", "seconds", "turns"]
    assert all(e.start >= 6.0 for e in events[:1]) and all(e.start >= 20.0 for e in events[1:])


def test_exception_said_after_holds_the_flag_until_its_window_closes(tmp_path, settings):
    pack = pack_from(tmp_path, """
[[rule]]
id = "unanswered"
title = "客户问题未答复"
kind = "violation"
speaker = "caller"
when = { said = ["怎么办"] }
unless = { said = ["您可以"], speaker = "agent", side = "after", within = 5 }
""")
    answered = run_dialogue(pack, settings, [("caller", 1.0, 2.0, "那怎么办？"), ("agent", 4.0, 6.0, "您可以重启一下。")])
    assert answered == []
    late = run_dialogue(pack, settings, [("caller", 1.0, 2.0, "那怎么办？"), ("agent", 9.0, 11.0, "您可以重启一下。")])
    assert len(late) == 1 and late[0].emitted == pytest.approx(late[0].end + 5.0)


def test_required_after_an_anchor_within_turns(tmp_path, settings):
    pack = pack_from(tmp_path, """
[[rule]]
id = "apology_owed"
title = "投诉后两句内须致歉"
kind = "required"
deduction = 2
speaker = "agent"
when = { said = ["非常抱歉", "对不起"] }
after = { said = ["投诉"], speaker = "caller", turns = 2 }
""")
    ok = run_dialogue(pack, settings, [
        ("caller", 1.0, 2.0, "我要投诉。"), ("agent", 3.0, 4.0, "您说。"), ("agent", 5.0, 6.0, "非常抱歉。"),
    ])
    assert ok == []
    missed = run_dialogue(pack, settings, [
        ("caller", 1.0, 2.0, "我要投诉。"), ("agent", 3.0, 4.0, "您说。"), ("caller", 5.0, 6.0, "网断了。"),
        ("agent", 7.0, 8.0, "非常抱歉。"),
    ])
    assert hits(missed) == [("apology_owed", 6.0)]


def test_any_all_none_and_last_seconds(tmp_path, settings):
    pack = pack_from(tmp_path, """
[[rule]]
id = "combo"
title = "c"
kind = "hint"
when = { all = [{ said = ["退款"] }, { any = [{ said = ["会议"] }, { regex = "例会" }] }], none = [{ said = ["不能"] }] }

[[rule]]
id = "thanks_at_end"
title = "结尾须致谢"
kind = "required"
speaker = "agent"
last = 5
when = { said = ["感谢您的来电"] }
""")
    events = run_dialogue(pack, settings, [
        ("caller", 1.0, 3.0, "例会上说可以退款。"),
        ("caller", 4.0, 6.0, "会议上说不能退款。"),
        ("caller", 7.0, 9.0, "我想退款。"),
        ("agent", 10.0, 12.0, "感谢您的来电。"),
    ], end=20.0)
    assert hits(events) == [("combo", pytest.approx(3.0, abs=0.5)), ("thanks_at_end", 20.0)]


def test_while_on_hold_and_while_a_situation(tmp_path, settings):
    pack = pack_from(tmp_path, """
[[rule]]
id = "talk_on_hold"
title = "保持中说话"
kind = "violation"
speaker = "agent"
while = "on_hold"
when = { said = ["烦死了"] }
""")
    events = run_dialogue(pack, settings, [
        ("agent", 1.0, 2.0, "烦死了。"),  # not on hold
        ("agent", 3.0, 5.0, "请您稍等，我帮您查询一下。"),
    ])
    assert events == []
    engine = Engine(pack, settings)
    engine.feed_all(transcript_inputs([Utterance("agent", 3.0, 5.0, "请您稍等，我帮您查询一下。")]))
    # on hold from 5.0; the agent mutters into the microphone with no speech start recorded
    engine.feed(UtteranceHeard(9.0, Utterance("agent", 8.0, 9.0, "烦死了。")))
    assert [e.id for e in engine.events if qa_rule(e)] == ["talk_on_hold"]


def test_flag_from_partial_text_and_withdrawn_by_the_final(tmp_path, settings):
    pack = pack_from(tmp_path, """
[[rule]]
id = "no_guarantee"
title = "不得保证"
kind = "violation"
speaker = "agent"
when = { said = ["百分之百"] }
""")
    engine = Engine(pack, settings)
    engine.feed(SpeechStarted(1.0, "agent"))
    raised = engine.feed(UtteranceHeard(2.0, Utterance("agent", 1.0, 2.0, "我百分之百"), final=False, key="u1"))
    assert [e.id for e in raised] == ["no_guarantee"] and raised[0].emitted == 2.0
    engine.feed(SpeechEnded(3.0, "agent"))
    engine.feed(UtteranceHeard(3.0, Utterance("agent", 1.0, 3.0, "我不敢说百分之"), final=True, key="u1"))
    assert [e.id for e in engine.events if qa_rule(e)] == []
    assert [e.id for e in engine.withdrawn] == ["no_guarantee"]


def test_required_line_under_way_when_its_window_closes_is_judged_on_its_text(tmp_path, settings):
    pack = pack_from(tmp_path, """
[[rule]]
id = "work_number"
title = "报工号"
kind = "required"
speaker = "agent"
first = 10
when = { regex = "工号[0-9零一二三四五六七八九]+" }
""")
    said_in_time = run_dialogue(pack, settings, [("agent", 8.0, 12.0, "您好，工号三零二为您服务。")])
    assert said_in_time == []
    too_late = run_dialogue(pack, settings, [("agent", 8.0, 12.0, "您好，很高兴为您服务，我的工号三零二。")])
    assert hits(too_late) == [("work_number", 10.0)]


def test_a_rule_scoped_to_a_situation_does_not_depend_on_the_detector_order(settings, example_pack):
    """The angry caller's cue and the rules are judged on the same inputs; with the rules
    detector first or last, the promise is judged inside the episode."""
    from callassist.detectors import DETECTORS

    utterances = read_transcript(CALLS / "angry_promise.jsonl")
    raised = []
    for order in (DETECTORS, tuple(reversed(DETECTORS))):
        engine = Engine(example_pack, settings, detectors=order)
        engine.feed_all(transcript_inputs(utterances))
        engine.finish(utterances[-1].end + 1.0)
        raised.append([(e.id, round(e.t, 2)) for e in engine.events if e.rule])
    assert raised[0] == raised[1]
    assert "promise_to_angry_caller" in [event_id for event_id, _ in raised[0]]
