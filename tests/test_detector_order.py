"""The engine owns the call phase, so the order of the detector list changes nothing: every
fixture call gives the same events, checklist and withdrawn flags whatever the order."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from callassist.detectors import DETECTORS
from callassist.replay import ReplayRequest, run_call
from callassist.reporting.report import checklist

HERE = Path(__file__).parent
TRANSCRIPT_CALLS = sorted((HERE / "data" / "calls").glob("*.jsonl"))
AUDIO_CALLS = sorted((HERE / "fixtures" / "calls").glob("*.wav"))


def orders() -> list[tuple]:
    shuffled = list(DETECTORS)
    random.Random(10).shuffle(shuffled)
    return [tuple(reversed(DETECTORS)), tuple(shuffled)]


def outcome(request, pack, settings, detectors) -> tuple:
    engine = run_call(request, settings, pack, detectors=detectors).pipeline.engine
    return [e.to_json() for e in engine.events], checklist(engine), [e.to_json() for e in engine.withdrawn]


@pytest.mark.parametrize(
    "request_", [ReplayRequest(transcript=p) for p in TRANSCRIPT_CALLS]
    + [ReplayRequest(audio=p, transcript=p.with_suffix(".jsonl")) for p in AUDIO_CALLS],
    ids=lambda r: (r.audio or r.transcript).name,
)
def test_reordering_the_detectors_changes_nothing(request_, pack, settings):
    as_listed = outcome(request_, pack, settings, DETECTORS)
    for detectors in orders():
        assert outcome(request_, pack, settings, detectors) == as_listed
