"""The script pack: the standard pack's content, the loader and the pack checker.

Bad packs live in tests/data/packs/bad/, one case per file, each checked on top of the
standard pack. The file's leading `# expect: LINE: KEY: MESSAGE` comments list every problem
it must produce, in order; each is matched as a substring. Add a case by adding a file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from callassist.errors import ConfigError
from callassist.scriptpack import (
    PackProblem,
    ScriptPack,
    check_packs,
    load_pack,
    standard_pack_dir,
)

DATA = Path(__file__).parent / "data" / "packs"
BAD = sorted((DATA / "bad").glob("*.toml"))
STANDARD_DOC = Path(__file__).resolve().parents[2] / "shared" / "standard-phrasing.md"


def expected_problems(path: Path) -> list[str]:
    expected = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# expect:"):
            break
        expected.append(line.removeprefix("# expect:").strip())
    return expected


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_pack(path: Path) -> None:
    expected = expected_problems(path)
    assert expected, f"{path.name} has no '# expect:' line"
    problems = check_packs([path])
    assert all(p.path == str(path) for p in problems), problems
    found = [f"{p.line}: {p.key}: {p.message}" for p in problems]
    assert len(found) == len(expected), found
    for want, got in zip(expected, found):
        assert want in got


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_load_pack_raises_the_first_problem(path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_pack([path])
    assert str(error.value) == str(check_packs([path])[0])
    assert str(error.value).startswith(f"{path}:")


def test_problem_prints_as_one_line() -> None:
    problem = PackProblem("site.toml", 4, "wait", "must be a positive number of seconds, got 0")
    assert str(problem) == "site.toml:4: wait: must be a positive number of seconds, got 0"


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert [str(p) for p in check_packs([missing])] == [
        f"{missing}:0: path: no such file or folder"
    ]
    (tmp_path / "empty").mkdir()
    assert "no *.toml files" in str(check_packs([tmp_path / "empty"])[0])


def test_not_utf8(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_bytes('# 部署\n[[forbidden]]\nphrase = "不行"\n'.encode("gb18030"))
    assert [str(p) for p in check_packs([site])] == [f"{site}:1: encoding: not UTF-8 text"]


# ---- The standard pack -------------------------------------------------------------------------

STANDARD_SITUATIONS = {
    "greeting", "greeted_by_caller", "caller_name", "silent_caller", "speakerphone",
    "quiet_caller", "noisy_line", "dialect_caller", "angry_caller", "hold", "cannot_answer",
    "unreasonable_request", "thanked", "suggestion", "confirm_understood", "closing",
    "agent_dead_air", "crosstalk", "fast_speech", "agent_dialect", "hold_too_long",
    "missing_hold_return",
}  # fmt: skip


@pytest.fixture(scope="module")
def standard() -> ScriptPack:
    return load_pack()


def test_standard_pack_has_no_problems() -> None:
    assert check_packs() == []


def test_standard_situations(standard: ScriptPack) -> None:
    assert set(standard.situations) == STANDARD_SITUATIONS
    hints = {s.id for s in standard.situations.values() if s.kind == "hint"}
    assert hints == {"greeted_by_caller", "caller_name", "cannot_answer", "thanked", "suggestion"}
    silent = standard.situations["silent_caller"].steps
    assert [(s.wait, s.action) for s in silent] == [(5.0, None), (5.0, None), (None, "hang_up")]
    quiet = standard.situations["quiet_caller"].steps
    assert [(s.wait, s.action) for s in quiet] == [(None, None), (5.0, None), (None, "hang_up")]
    noisy = standard.situations["noisy_line"].steps
    assert [(s.wait, s.action) for s in noisy] == [(5.0, None), (None, "hang_up")]
    assert len(standard.situations["dialect_caller"].steps) == 2
    assert "72" in (standard.situations["angry_caller"].advice or "")
    for behaviour in ("crosstalk", "fast_speech"):
        assert not standard.situations[behaviour].steps and standard.situations[behaviour].advice
    assert standard.say("agent_dead_air", 1) == "请您稍等，我帮您查询一下。"
    assert standard.say("hold_too_long", 1) == "对不起，让您久等了。"
    assert standard.say("silent_caller", 9) == "（挂机）"  # past the last step: the last step


def test_standard_required(standard: ScriptPack) -> None:
    assert {r.id: r.where for r in standard.required.values()} == {
        "greeting": "opening",
        "closing_offer": "closing",
        "closing_thanks": "closing",
        "hold_start": "hold_start",
        "hold_return": "hold_return",
    }
    assert "请您稍等，我帮您查询一下。" in standard.required["hold_start"].phrases
    hold_return = set(standard.required["hold_return"].phrases)
    assert hold_return == {"对不起，让您久等了。", "感谢您的耐心等待。"}


def test_standard_cues(standard: ScriptPack) -> None:
    assert {c.situation: c.speaker for c in standard.cues} == {
        "angry_caller": "caller",
        "dialect_caller": "caller",
        "agent_dialect": "agent",
        "greeted_by_caller": "caller",
        "caller_name": "caller",
        "thanked": "caller",
        "suggestion": "caller",
        "cannot_answer": "agent",
    }
    (dialect,) = standard.cues_for("dialect_caller")
    assert {"唔", "嘅", "咗", "冇", "佢", "哋", "係", "喺"} <= set(dialect.characters)
    assert " " not in dialect.characters
    (surname,) = standard.cues_for("caller_name")
    assert surname.pattern is not None
    heard = {"我姓王": "王", "免贵姓欧阳，欧阳明": "欧阳", "嗯我姓李啊": "李"}
    for text, name in heard.items():
        match = re.search(surname.pattern, text)
        assert match and match[1] == name


def test_agent_cues_do_not_repeat_forbidden_phrases(standard: ScriptPack) -> None:
    forbidden = [f.phrase.rstrip("！？。") for f in standard.forbidden]
    for cue in standard.cues:
        for phrase in cue.phrases:
            assert not any(f in phrase for f in forbidden), (cue.id, phrase)


def test_every_entry_points_at_its_header(standard: ScriptPack) -> None:
    entries = [
        *((e, "[[situation]]") for e in standard.situations.values()),
        *((e, "[[forbidden]]") for e in standard.forbidden),
        *((e, "[[required]]") for e in standard.required.values()),
        *((e, "[[cue]]") for e in standard.cues),
    ]
    for entry, header in entries:
        assert entry.source is not None
        lines = Path(entry.source.path).read_text(encoding="utf-8").splitlines()
        assert lines[entry.source.line - 1] == header, entry.id
        assert lines[entry.source.line] == f'id = "{entry.id}"', entry.id
    assert set(standard.sources) == {str(p) for p in standard_pack_dir().glob("*.toml")}


def standard_table() -> list[list[str]]:
    """The rows of the standard's table: id, situation, approved steps, forbidden."""
    if not STANDARD_DOC.exists():
        pytest.skip(f"{STANDARD_DOC} is not here")
    rows = []
    for line in STANDARD_DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("id", "---"):
            rows.append(cells)
    assert len(rows) >= 16
    return rows


def test_standard_forbidden_phrases_are_all_in_the_pack(standard: ScriptPack) -> None:
    quoted = {q for row in standard_table() for q in re.findall(r"「(.+?)」", row[3])}
    assert quoted - {f.phrase for f in standard.forbidden} == set()


def test_standard_approved_lines_are_all_in_the_pack(standard: ScriptPack) -> None:
    lines = {step.say for s in standard.situations.values() for step in s.steps}
    lines |= {p for r in standard.required.values() for p in r.phrases}
    for row in standard_table():
        assert row[0] in standard.situations
        for quote in re.findall(r"「(.+?)」", row[2]):
            if row[0] == "caller_name":  # the standard's example surname is the cue's {1}
                quote = quote.replace("王", "{1}")
            assert quote.replace("XX", "{company}").replace("YYY", "{agent}") in lines, quote


# ---- Deployment packs --------------------------------------------------------------------------


def test_deployment_pack_overrides_extends_and_disables(standard: ScriptPack) -> None:
    pack = load_pack([DATA / "deploy"])
    greeting = pack.situations["greeting"]
    assert greeting.steps[0].say == "您好，{company}，工号{agent}为您服务。"
    assert greeting.source is not None and greeting.source.path.endswith("site.toml")
    assert list(pack.situations)[0] == list(standard.situations)[0]  # replaced in place
    assert pack.required["greeting"].phrases == ("您好，{company}，工号{agent}为您服务。",)
    ids = [f.id for f in pack.forbidden]
    assert "bu_qingchu" not in ids and "zhao_bieren_qu" in ids
    assert len(ids) == len(standard.forbidden)
    assert pack.say("billing", 1) == "请问您要查询哪个月的账单？"
    assert [c.id for c in pack.cues_for("billing")] == ["billing_words"]
    deploy = DATA / "deploy"
    assert pack.sources[-2:] == (str(deploy / "billing.toml"), str(deploy / "site.toml"))


def test_later_pack_overrides_earlier_pack() -> None:
    pack = load_pack([DATA / "deploy", DATA / "later.toml"])
    (phrase,) = [f for f in pack.forbidden if f.id == "zhao_bieren_qu"]
    assert phrase.threshold == 90
    assert phrase.source is not None and phrase.source.path == str(DATA / "later.toml")


def test_duplicate_is_within_one_pack_only(tmp_path: Path) -> None:
    entry = '[[forbidden]]\nid = "bu_xing"\nphrase = "不行"\nsituation = "greeting"\n'
    (tmp_path / "a.toml").write_text(entry, encoding="utf-8")
    (tmp_path / "b.toml").write_text(entry, encoding="utf-8")
    assert check_packs([tmp_path / "a.toml", tmp_path / "b.toml"]) == []
    (problem,) = check_packs([tmp_path])
    assert (problem.path, problem.line, problem.key) == (str(tmp_path / "b.toml"), 2, "id")
    assert f"first at {tmp_path / 'a.toml'}:2" in problem.message


def test_disabling_a_situation_still_referenced(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[[situation]]\nid = "thanked"\ndisabled = true\n', encoding="utf-8")
    (problem,) = check_packs([site])
    assert problem.path.endswith("cues.toml") and problem.key == "situation"
    assert "no situation 'thanked'" in problem.message


# ---- Placeholders ------------------------------------------------------------------------------


def test_placeholders_are_filled_in_what_is_shown_and_kept_for_matching() -> None:
    pack = load_pack(placeholders={"company": "星河电信", "agent": "007"})
    greeting = (
        "您好，欢迎致电星河电信客户服务热线，客服代表007很高兴为您服务，请问有什么可以帮助您！"
    )
    assert pack.say("greeting", 1) == greeting
    assert pack.fill(pack.required["greeting"].phrases[0]) == greeting
    assert "{company}" in pack.required["greeting"].phrases[0]  # matches any company name
    assert pack.placeholders == {"company": "星河电信", "agent": "007"}
    assert pack.say("caller_name", 1) == "{1}先生/{1}女士"  # filled at run time from the cue


def test_unfilled_placeholders_stay() -> None:
    pack = load_pack(placeholders={"company": "星河电信", "agent": ""})
    assert pack.say("greeting", 1) == (
        "您好，欢迎致电星河电信客户服务热线，客服代表{agent}很高兴为您服务，请问有什么可以帮助您！"
    )
    assert "{company}" in (load_pack().say("greeting", 1) or "")


def test_unknown_placeholder_value_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"placeholder \{hotline\} cannot be configured"):
        load_pack(placeholders={"hotline": "10086"})
