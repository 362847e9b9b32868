"""The dialect detector's confidence cue at its default threshold. The default comes from the
measurement in benchmarks/measure_dialect_confidence.py (README, "Dialect from audio"): with
the Korean stand-in model no in-language utterance had a mean word confidence below 0.57, so the
default sits under that, where a false dialect prompt is unlikely."""

from __future__ import annotations

import pytest

from callassist.engine import Engine
from callassist.inputs import Utterance, Word
from callassist.sources import transcript_inputs


def caller_utterance(confidences: list[float]) -> Utterance:
    words = tuple(Word(word=ch, start=1.0 + 0.3 * i, end=1.3 + 0.3 * i, conf=c) for i, (ch, c) in enumerate(zip("我想问一下话费", confidences)))
    return Utterance("caller", words[0].start, words[-1].end, "".join(w.word for w in words), words)


@pytest.mark.parametrize("confidences, dialect", [
    ([0.45, 0.5, 0.55, 0.46], True),  # mean 0.49
    ([0.5, 0.5, 0.55, 0.53], False),  # mean 0.52: below the old 0.55, above the measured floor's margin
    ([0.2, 0.3, 0.4], False),  # three words are too few to judge
])
def test_low_mean_confidence_raises_dialect(settings, pack, confidences, dialect):
    assert settings.dialect.low_confidence == 0.5
    engine = Engine(pack, settings)
    engine.feed_all(transcript_inputs([caller_utterance(confidences)]))
    engine.finish(5.0)
    assert [e.id for e in engine.events if e.id == "dialect_caller"] == (["dialect_caller"] if dialect else [])
