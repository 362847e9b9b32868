"""The engine's handling of partial and final text, with a scripted recogniser: recorded Vosk
result sequences replayed through the same result parser the real recogniser uses."""

from __future__ import annotations

import json

import pytest

from callassist.engine import Engine
from callassist.recognition import VoskResults, join_chinese
from callassist.inputs import SpeechStarted


def words(*items: tuple[str, float, float]) -> list[dict]:
    return [{"word": w, "start": s, "end": e, "conf": 0.9} for w, s, e in items]


def partial(*items: tuple[str, float, float]) -> str:
    """A partial result as Vosk gives it with partial words off: text only. The word times in
    `items` are what was said when; the recogniser does not report them."""
    return json.dumps({"partial": " ".join(w for w, _, _ in items)}, ensure_ascii=False)


def final(*items: tuple[str, float, float]) -> str:
    return json.dumps({"text": " ".join(w for w, _, _ in items), "result": words(*items)}, ensure_ascii=False)


class ScriptedRecognizer:
    """Plays (stream time, 'partial'|'final', raw JSON) steps as a channel recogniser would."""

    def __init__(self, speaker: str, steps: list[tuple[float, str, str]]) -> None:
        self.results = VoskResults(speaker)
        self.steps = steps

    def inputs(self):
        for t, kind, raw in self.steps:
            yield from (self.results.partial(raw, t) if kind == "partial" else self.results.final(raw, t))


@pytest.fixture
def engine(settings, pack):
    engine = Engine(pack, settings)
    engine.feed(SpeechStarted(0.5, "agent"))
    return engine


def flags(events) -> list:
    return [e for e in events if e.id == "forbidden_phrase"]


def run(engine: Engine, steps) -> list:
    for heard in ScriptedRecognizer("agent", steps).inputs():
        engine.feed(heard)
    return engine.events


def test_flagged_from_partial_before_the_sentence_ends(engine):
    steps = [
        (1.2, "partial", partial(("喂", 0.5, 0.8))),
        (1.6, "partial", partial(("喂", 0.5, 0.8), ("说话", 0.8, 1.3), ("呀", 1.3, 1.5))),
        (2.6, "partial", partial(("喂", 0.5, 0.8), ("说话", 0.8, 1.3), ("呀", 1.3, 1.5), ("您", 1.9, 2.1))),
        (3.4, "final", final(("喂", 0.5, 0.8), ("说话", 0.8, 1.3), ("呀", 1.3, 1.5), ("您", 1.9, 2.1), ("好", 2.1, 2.5))),
    ]
    raised = []
    for heard in ScriptedRecognizer("agent", steps).inputs():
        raised += flags(engine.feed(heard))
    (live,) = raised
    assert live.phrase_id == "wei_shuohua_ya"
    assert live.emitted == 1.6, "raised from the partial, 1.8 s before the final result"
    # The partial 喂说话呀 covers 0.0-1.6 s (from the last final result, none here, to now):
    # the phrase is its first 3 of 4 characters (particle 呀 not counted).
    assert (live.start, live.t) == pytest.approx((0.0, 1.2))
    (event,) = flags(engine.events)
    assert event.phrase_id == "wei_shuohua_ya", "flagged once, not again by the final result"
    assert event.emitted == 1.6, "still raised when the partial was heard"
    assert (event.start, event.end, event.t) == (0.5, 1.3, 1.3), "re-timed by the final result's words"


def test_final_that_still_contains_the_phrase_keeps_the_flag(engine):
    steps = [
        (1.6, "partial", partial(("我", 0.5, 0.7), ("不", 0.7, 0.9), ("知道", 0.9, 1.4))),
        (2.8, "final", final(("我", 0.5, 0.7), ("不", 0.7, 0.9), ("知道", 0.9, 1.4), ("怎么", 1.5, 1.8), ("办", 1.8, 2.1))),
    ]
    assert [e.phrase_id for e in flags(run(engine, steps))] == ["wo_bu_zhidao"]
    assert engine.withdrawn == []


def test_withdrawn_partial(settings, pack):
    engine = Engine(pack, settings)
    steps = [
        (1.6, "partial", partial(("我", 0.5, 0.7), ("不", 0.7, 0.9), ("知道", 0.9, 1.4))),
        (2.8, "final", final(("我", 0.5, 0.7), ("知道", 0.9, 1.4), ("了", 1.4, 1.6))),
    ]
    flagged_live = []
    for heard in ScriptedRecognizer("agent", steps).inputs():
        flagged_live += engine.feed(heard)
    assert [e.phrase_id for e in flags(flagged_live)] == ["wo_bu_zhidao"], "the live screen saw it"
    assert flags(engine.events) == [], "the report does not keep it"
    assert [e.phrase_id for e in engine.withdrawn] == ["wo_bu_zhidao"]


def test_each_utterance_is_judged_on_its_own(settings, pack):
    engine = Engine(pack, settings)
    steps = [
        (1.6, "partial", partial(("不", 0.5, 0.7), ("清楚", 0.7, 1.2))),
        (2.0, "final", final(("不", 0.5, 0.7), ("清楚", 0.7, 1.2))),
        (4.6, "partial", partial(("不", 3.5, 3.7), ("清楚", 3.7, 4.2))),
        (5.0, "final", final(("不", 3.5, 3.7), ("清楚", 3.7, 4.2))),
    ]
    events = flags(run(engine, steps))
    assert [(e.phrase_id, e.start, e.t, e.emitted) for e in events] == [
        ("bu_qingchu", 0.5, 1.2, 1.6), ("bu_qingchu", 3.5, 4.2, 4.6)
    ]


def test_caller_partials_never_flag(settings, pack):
    engine = Engine(pack, settings)
    for heard in ScriptedRecognizer("caller", [(1.0, "partial", partial(("喂", 0.2, 0.4), ("说话", 0.4, 0.8))),
                                                (1.5, "final", final(("喂", 0.2, 0.4), ("说话", 0.4, 0.8)))]).inputs():
        engine.feed(heard)
    assert engine.events == []


def test_partial_runs_from_the_previous_final_to_now_and_words_count_from_the_time_base():
    results = VoskResults("agent", time_base=100.0)
    (first,) = results.final(final(("喂", 100.5, 100.8)), 1.4)
    assert [(w.start, w.end) for w in first.utterance.words] == [(0.5, 0.8)]
    (heard,) = results.partial(partial(("您好", 101.2, 101.6)), 1.9)
    assert (heard.utterance.start, heard.utterance.end, heard.utterance.words) == (0.8, 1.9, ())


def test_repeated_partial_is_not_repeated_and_empty_final_closes_the_utterance():
    results = VoskResults("agent")
    assert len(results.partial(partial(("喂", 0.5, 0.8)), 1.0)) == 1
    assert results.partial(partial(("喂", 0.5, 0.8)), 1.2) == []
    (closing,) = results.final(json.dumps({"text": ""}), 1.5)
    assert closing.final and closing.key == "agent:0" and closing.utterance.text == ""
    assert results.final(json.dumps({"text": ""}), 2.0) == [], "nothing to close"
    assert results.key == "agent:1"


def test_spaces_between_chinese_words_are_removed_other_scripts_keep_them():
    assert join_chinese("喂 说话 呀") == "喂说话呀"
    assert join_chinese("안녕 하세요") == "안녕 하세요"
    assert join_chinese("我 用 WiFi 上网") == "我用 WiFi 上网"
