"""`ChannelAnalyzer.settled_until`, the bound the call pipeline judges up to: every output the
analyser emits later has t at or after it, it never goes back, and it is tight: something is
emitted at the latest at the first report's end at or after it (the LevelFrame due there,
whatever the audio does next), so it is never a report interval or more before what comes next.
A lazy bound (the audio fed less a fixed latency, or the last output's t) fails the last.

Checked on independent audio cut into blocks of 50 ms and of odd sizes: both channels of every
fixture call, one of them at a rate the analyser resamples, and scenes composed from the real
recorded voices and noises of ../shared/realaudio at 16 kHz and as a telephone line carries them;
each as a replay analyses it and as a live call does (`live=True`: weak frames heard as they
come), which must decide exactly the same. The pipeline's use of the bound (a flag shown a block
after its text during speech) is tested in test_pipeline.py.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

from callassist.audio.features import AnalyzerSettings, ChannelAnalyzer

sys.path.insert(0, str(Path(__file__).parent / "realaudio"))
import make_calls  # noqa: E402

CALLS = Path(__file__).parent / "fixtures" / "calls"
FIXTURE_CALLS = sorted(p.stem for p in CALLS.glob("*.wav"))
ODD_BLOCKS = (7, 333, 1601, 50, 4099, 1, 160)  # samples, in turn
"""Block sizes that cut frames anywhere (one sample, under a frame, several frames and a part)."""


def blocks(signal: np.ndarray, rate: int, odd: bool) -> list[np.ndarray]:
    sizes = ODD_BLOCKS if odd else (round(0.05 * rate),)
    cut, start, index = [], 0, 0
    while start < len(signal):
        size = sizes[index % len(sizes)]
        cut.append(signal[start : start + size])
        start, index = start + size, index + 1
    return cut


def check_bound(
    signal: np.ndarray, rate: int, odd: bool, settings: AnalyzerSettings = AnalyzerSettings(), live: bool = False
) -> list:
    """Feeds the signal block by block (then flushes), asserting the bound's invariants; returns
    the outputs."""
    analyzer = ChannelAnalyzer("caller", rate, settings, live=live)
    feeds = [*blocks(signal.astype(np.float32), rate, odd), None]
    bounds, outputs = [], []
    previous = -math.inf
    for block in feeds:
        bound = analyzer.settled_until
        assert bound >= previous, f"the bound went back from {previous} to {bound}"
        previous = bound
        out = analyzer.feed(block) if block is not None else analyzer.flush()
        late = [item for item in out if item.t < bound]
        assert not late, f"emitted before the bound {bound}: {late[:3]}"
        bounds.append(bound)
        outputs.append(out)
    assert analyzer.settled_until == math.inf  # after flush nothing more comes
    # Tight: the earliest output still to come (from this feed on) comes no later than the
    # first report's end at or after the bound, the LevelFrame due there.
    interval = settings.report_interval
    earliest = math.inf
    for bound, out in zip(reversed(bounds), reversed(outputs)):
        earliest = min([earliest, *(item.t for item in out)])
        report_due = max(math.ceil(round(bound / interval, 6)) * interval, interval)
        if earliest != math.inf:
            assert earliest <= report_due + 1e-9, f"bound {bound}, but nothing comes before {earliest}"
    return [item for out in outputs for item in out]


def check_both(signal: np.ndarray, rate: int, odd: bool) -> None:
    """The bound's invariants as a replay analyses the signal and as a live call does (cut the
    other way), which decides the same, only sooner."""
    replayed = check_bound(signal, rate, odd)
    assert replayed
    assert check_bound(signal, rate, not odd, live=True) == replayed


def fixture_channel(name: str, channel: int) -> tuple[np.ndarray, int]:
    audio, rate = soundfile.read(CALLS / f"{name}.wav", dtype="float32")
    return audio[:, channel], rate


@pytest.mark.parametrize("name", FIXTURE_CALLS)
def test_the_bound_holds_on_every_fixture_call(name):
    for channel in (0, 1):
        signal, rate = fixture_channel(name, channel)
        check_both(signal, rate, odd=channel == 1)


def test_the_bound_holds_at_a_resampled_rate_and_without_the_learned_confirmation():
    signal, rate = fixture_channel("noisy", 1)
    check_both(soxr.resample(signal, rate, 44100), 44100, odd=True)
    check_bound(signal, rate, odd=True, settings=AnalyzerSettings(confirm_speech=False))
    check_bound(signal, rate, odd=False, settings=AnalyzerSettings(report_interval=0.2))


@pytest.mark.skipif(not make_calls.available(), reason=f"{make_calls.REALAUDIO} is absent")
@pytest.mark.parametrize("scene", ["cafe_15db", "noisy_street_0db", "quiet_line", "silent_room", "backchannel"])
def test_the_bound_holds_on_real_recorded_scenes(scene):
    (chosen,) = [s for s in make_calls.scenes() if s.name == scene]
    call = make_calls.render(chosen).call
    line = make_calls.telephony(call)
    for channel in (0, 1):
        check_both(call[:, channel], make_calls.RATE, odd=channel == 0)
        check_both(line[:, channel], 8000, odd=channel == 1)


@pytest.mark.skipif(not make_calls.available(), reason=f"{make_calls.REALAUDIO} is absent")
@pytest.mark.parametrize(("clip", "drop_db"), [("FunASR__4", 18.0), ("FunASR__long", 0.0), ("FunASR__mid", 0.0)])
def test_live_the_bound_keeps_up_with_real_speech(clip, drop_db):
    """Real speech (from half-way `drop_db` quieter, so that the model must hear it) fed live in
    50 ms blocks: while the talker talks, the bound is within a frame of the audio for most
    blocks (the weak frames between loud ones are heard as they come), where a replay's waits for
    the hangover (median 0.10-0.21 s behind on these clips). The same decisions either way."""
    from test_turn_end import AT, compose

    signal, end = compose(clip, drop_db=drop_db)
    step = round(0.05 * make_calls.RATE)
    behind = {}
    for live in (False, True):
        analyzer, lags = ChannelAnalyzer("agent", make_calls.RATE, live=live), []
        for start in range(0, len(signal), step):
            analyzer.feed(signal[start : start + step].astype(np.float32))
            fed = min(start + step, len(signal)) / make_calls.RATE
            if AT + 0.5 <= fed <= end - 0.1:  # the talker is talking
                lags.append(fed - analyzer.settled_until)
        behind[live] = np.array(lags)
    assert np.median(behind[False]) >= 0.09  # what the live analyser saves
    assert np.median(behind[True]) <= 0.02 and np.percentile(behind[True], 90) <= 0.1, behind[True]
