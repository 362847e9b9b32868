"""Tests for callassist.matching; the phrase cases live in tests/data/matching_cases.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from callassist.matching import PhraseMatcher, PreparedText, han_count, normalise, prepare

CASES_PATH = Path(__file__).parent / "data" / "matching_cases.toml"


@dataclass(frozen=True)
class Case:
    phrase: str
    text: str
    hit: bool
    note: str
    heard: str | None = None
    threshold: float | None = None
    template: bool = False


def load_cases() -> list[Case]:
    with CASES_PATH.open("rb") as f:
        return [Case(**raw) for raw in tomllib.load(f)["case"]]


CASES = load_cases()


def test_case_table_is_broad() -> None:
    assert len(CASES) >= 40
    assert sum(c.hit for c in CASES) >= 15
    assert sum(not c.hit for c in CASES) >= 15
    assert any(c.template for c in CASES)
    assert any(c.threshold is not None for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[f"{i:02d}" for i in range(len(CASES))])
def test_case(case: Case) -> None:
    matcher = PhraseMatcher()
    find = matcher.find_template if case.template else matcher.find
    hit = find(case.text, case.phrase, case.threshold)
    assert (hit is not None) == case.hit, f"{case.text!r} vs {case.phrase!r}: {hit} ({case.note})"
    if hit is None:
        return
    assert 0.0 <= hit.score <= 100.0
    assert hit.phrase == case.phrase
    assert hit.heard == case.text[hit.start : hit.end]
    if case.heard is not None:
        assert hit.heard == case.heard, case.note


def test_normalise_folds_width_and_drops_punctuation_and_spaces() -> None:
    assert normalise("喂， 说话 啊！") == "喂说话啊"
    assert normalise("ＡＢＣ　１２３，ok?") == "ABC123ok"
    assert normalise("「您好」…… 请问\t有什么\n可以帮您？") == "您好请问有什么可以帮您"
    assert normalise("") == ""


def test_han_count_counts_only_han_characters() -> None:
    assert han_count("喂，说话 abc 123！") == 3
    assert han_count("请您稍等") == 4
    assert han_count("㐀𠀀") == 2  # extension A and extension B
    assert han_count("〇，。ＡＢ") == 0


def test_offsets_point_back_into_the_original_text() -> None:
    text = "喂， 说话 啊！ＡＢ"
    prepared = prepare(text)
    assert len(prepared.tokens) == 5  # 喂 说 话 A B; 啊 is a particle
    assert [text[o] for o in prepared.offsets[:-1]] == ["喂", "说", "话", "Ａ", "Ｂ"]
    assert prepared.offsets[-1] == len(text)
    assert prepared.span(0, 3) == (0, 5)
    assert text[slice(*prepared.span(1, 5))] == "说话 啊！ＡＢ"


def test_a_character_that_expands_keeps_one_offset() -> None:
    text = "重5㎏吗"
    prepared = prepare(text)
    assert prepared.offsets == (0, 1, 2, 2, 4)
    assert text[slice(*prepared.span(2, 4))] == "㎏"


def test_homophones_and_folded_accents_give_the_same_tokens() -> None:
    assert prepare("为").tokens == prepare("喂").tokens
    assert prepare("在").tokens == prepare("再").tokens
    assert prepare("资").tokens == prepare("知").tokens  # zh/z
    assert prepare("亲").tokens == prepare("清").tokens  # ing/in
    assert prepare("森").tokens == prepare("声").tokens  # sh/s and eng/en
    assert prepare("安").tokens != prepare("昂").tokens  # an/ang is not folded
    assert prepare("你").tokens != prepare("您").tokens
    assert prepare("ＡＰＰ").tokens == prepare("app").tokens


def test_find_accepts_prepared_text_or_str() -> None:
    matcher = PhraseMatcher()
    text = "先生这不可能是我们这边的错您再查查"
    prepared = prepare(text)
    assert isinstance(prepared, PreparedText)
    assert matcher.find(prepared, "这不可能是我们的错") == matcher.find(text, "这不可能是我们的错")


def test_default_threshold_is_configurable() -> None:
    assert PhraseMatcher().find("这是您的自由", "这是你的自由") is not None
    assert PhraseMatcher(default_threshold=90).find("这是您的自由", "这是你的自由") is None


def test_phrase_without_tokens_never_hits() -> None:
    matcher = PhraseMatcher()
    assert matcher.find("啊啊啊", "啊！") is None
    assert matcher.find("", "我不知道", threshold=0) is None
    assert matcher.find("完全无关的话", "我不知道", threshold=0) is None
    assert matcher.find_template("任何话", "{agent}") is None


def test_best_prefers_longer_phrase_on_tie() -> None:
    hit = PhraseMatcher().best("喂说话呀", ["喂，说吧！", "喂，说话呀！"])
    assert hit is not None
    assert hit.phrase == "喂，说话呀！"
    assert hit.heard == "喂说话"


def test_best_prefers_higher_score() -> None:
    hit = PhraseMatcher().best("我已经跟你解释很多次了", ["我已经解释很多次了", "我也没办法"], threshold=0)
    assert hit is not None
    assert hit.phrase == "我已经解释很多次了"


def test_best_of_nothing_is_none() -> None:
    matcher = PhraseMatcher()
    assert matcher.best("喂说话呀", []) is None
    assert matcher.best("好的没问题", ["我不知道", "你别激动"]) is None


def test_phrase_set_finds_the_case_table_hits_as_find_does() -> None:
    """The prefilter only skips phrases that cannot reach their cutoff: over the whole case
    table (hits and near misses, set thresholds and defaults), every text gives the hits the
    hand-written table says, with the scores and spans of `find`."""
    matcher = PhraseMatcher()
    plain = [c for c in CASES if not c.template]
    phrases = matcher.phrase_set([(c.phrase, c.threshold) for c in plain])
    for text in {c.text for c in plain}:
        found = {index: hit for index, hit in matcher.find_all(text, phrases)}
        for index, case in enumerate(plain):
            assert found.get(index) == matcher.find(text, case.phrase, case.threshold)
            if case.text == text:
                assert (index in found) == case.hit, f"{text!r} vs {case.phrase!r} ({case.note})"


def test_phrase_set_aligns_only_phrases_sharing_enough_syllables() -> None:
    matcher = PhraseMatcher()
    phrases = matcher.phrase_set([
        ("这个不归我管", None),  # 6 syllables, default 80: needs 4 of them (200*4/10 = 80; 3 gives 66.7)
        ("我不知道", None),  # 4 syllables: exact only, needs all 4
        ("今天天气很好", 50.0),  # needs 2 (200*2/8 = 50)
        ("飞机场", None),  # nothing in common with the text
    ])
    assert phrases.candidates(prepare("这个事我不知道").tokens) == [0, 1]  # zhe ge wo bu of phrase 0
    assert phrases.candidates(prepare("这个事我不知").tokens) == [0]  # no dao: 我不知道 cannot be exact
    assert phrases.candidates(prepare("这个事我").tokens) == []  # 3 of 6
    assert phrases.candidates(prepare("今天下雨").tokens) == [2]
    assert phrases.candidates(prepare("今").tokens) == []
    assert phrases.candidates("") == []


def test_phrase_set_counts_repeated_syllables_as_often_as_both_sides_hold_them() -> None:
    """m counts a syllable as often as the text and the phrase both hold it: 对对对对对 (5
    syllables, default 80) needs 4 of its 5 (200*4/9 = 88.9; 3 gives 75), and a text saying 对
    six times still counts 5, not 6; nor does it count five times for 对不起先生, which holds it once."""
    matcher = PhraseMatcher()
    phrases = matcher.phrase_set([("对对对对对", None), ("对不起", 0.0), ("对不起先生", None)])
    assert phrases.candidates(prepare("对对对").tokens) == [1]
    assert phrases.candidates(prepare("对对对对").tokens) == [0, 1]
    assert phrases.candidates(prepare("对对对对对对").tokens) == [0, 1]
    assert phrases.candidates(prepare("对不起先").tokens) == [1, 2]
    assert phrases.candidates(prepare("起").tokens) == [1]  # threshold 0: one shared syllable is enough


def test_phrase_set_is_indexed_once_per_phrase_list() -> None:
    """Every engine of a batch worker builds its rules' phrase sets; a list already indexed is
    shared, not rebuilt (1,000 forbidden phrases took 80 ms per call to index)."""
    pairs = [("这个不归我管", None), ("我不知道", 90.0)]
    first = PhraseMatcher().phrase_set(pairs)
    assert PhraseMatcher().phrase_set(list(pairs)) is first
    assert PhraseMatcher(default_threshold=70.0).phrase_set(pairs) is not first  # other cutoffs
    assert PhraseMatcher().phrase_set(pairs[:1]) is not first
