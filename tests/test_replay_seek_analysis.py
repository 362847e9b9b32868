"""Seeking back in a replay does not analyse again what was analysed: the analyser's outputs are
kept (`callassist.live.taped.TapedAnalysis`) and played back. The reference is an analyser that
never seeked, fed the whole channel: a judgement from the start must give its outputs, in its
order, and never claim to have settled more than an analyser fed as far would have."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from callassist.audio.features import ChannelAnalyzer
from callassist.live.taped import TapedAnalysis

CALLS = Path(__file__).parent / "fixtures" / "calls"


def channel(name: str, column: int) -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(CALLS / f"{name}.wav", dtype="float32")
    return np.ascontiguousarray(samples[:, column]), rate


def in_blocks(samples: np.ndarray, start: int, end: int, size: int):
    for at in range(start, end, size):
        yield samples[at : min(at + size, end)]


def unbroken(samples: np.ndarray, rate: int, speaker) -> list:
    analyzer = ChannelAnalyzer(speaker, rate, live=True)
    return [item for block in in_blocks(samples, 0, len(samples), round(0.05 * rate)) for item in analyzer.feed(block)] + analyzer.flush()


class CountingAnalyzer(ChannelAnalyzer):
    """Counts the samples it is asked to analyse (in all, over every judgement)."""

    analysed = 0

    def feed(self, samples: np.ndarray) -> list:
        CountingAnalyzer.analysed += len(samples)
        return super().feed(samples)


@pytest.fixture
def counting(monkeypatch):
    monkeypatch.setattr("callassist.live.taped.ChannelAnalyzer", CountingAnalyzer)
    CountingAnalyzer.analysed = 0
    return CountingAnalyzer


@pytest.mark.parametrize(("name", "column", "speaker"), [
    ("crosstalk", 0, "agent"), ("noisy", 1, "caller"), ("mulaw8k", 1, "caller"), ("angry", 1, "caller"),
])
def test_a_judgement_from_the_start_gives_the_unbroken_analysis_without_analysing_again(name, column, speaker, counting):
    samples, rate = channel(name, column)
    reference = unbroken(samples, rate, speaker)
    assert any(type(item).__name__ == "SpeechStarted" for item in reference)
    taped = TapedAnalysis(live=True)

    first = taped.open_channel(speaker, rate)  # played to 60%, in the screen's 0.05 s blocks
    first_given = [item for block in in_blocks(samples, 0, len(samples) * 6 // 10, round(0.05 * rate)) for item in first.feed(block)]
    assert first_given == reference[: len(first_given)]
    taped.rewind()
    assert first.flush() == [] and first.feed(samples[:800]) == [], "a dropped judgement is given nothing"

    # Judged again from 0: fast-forwarded in 1 s blocks to 30%, played in 0.05 s blocks to 80%
    # (past the tape's end), then in odd blocks to the end. Beside it, an analyser fed the same
    # blocks: what the player says is settled never goes past what that analyser says.
    second = taped.open_channel(speaker, rate)
    exact = ChannelAnalyzer(speaker, rate, live=True)
    given: list = []
    pieces = [(0, len(samples) * 3 // 10, rate), (len(samples) * 3 // 10, len(samples) * 8 // 10, round(0.05 * rate)),
              (len(samples) * 8 // 10, len(samples), 7919)]
    for start, end, size in pieces:
        for block in in_blocks(samples, start, end, size):
            before = second.settled_until
            new = second.feed(block)
            exact.feed(block)
            assert all(item.t >= before for item in new), "an output before the bound given earlier"
            assert second.settled_until <= exact.settled_until
            given += new
    given += second.flush()
    assert given == reference
    assert second.flush() == [], "flushed once"
    assert counting.analysed == len(samples), "every sample analysed once, none twice"


def test_a_judgement_that_ends_inside_the_tape_gets_no_end_and_leaves_the_tape_going_on(counting):
    """A replay quit after seeking back: the analyser is not at that point to decide what is
    open there; the next judgement still goes on from where the analyser is, and ends it."""
    samples, rate = channel("crosstalk", 1)
    reference = unbroken(samples, rate, "caller")
    taped = TapedAnalysis(live=True)
    block = round(0.05 * rate)
    first = taped.open_channel("caller", rate)
    for piece in in_blocks(samples, 0, len(samples) // 2, block):
        first.feed(piece)
    taped.rewind()
    short = taped.open_channel("caller", rate)
    shown = [item for piece in in_blocks(samples, 0, len(samples) // 4, block) for item in short.feed(piece)]
    assert short.flush() == []
    assert shown == reference[: len(shown)]
    taped.rewind()
    last = taped.open_channel("caller", rate)
    whole = [item for piece in in_blocks(samples, 0, len(samples), block) for item in last.feed(piece)] + last.flush()
    assert whole == reference
    assert counting.analysed == len(samples)
    with pytest.raises(ValueError, match="analysed at 16000 Hz, not 8000 Hz"):
        taped.open_channel("caller", 8000)
