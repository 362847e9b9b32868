"""The engine owns the call phase, so the order of the detector list changes nothing: every
fixture call gives the same events, checklist and withdrawn flags whatever the order."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from callassist.detectors import DETECTORS
from callassist.engine import Engine
from callassist.replay import ReplayRequest, prepare_call
from callassist.reporting.report import checklist
from callassist.transcript import read_transcript

HERE = Path(__file__).parent
TRANSCRIPT_CALLS = sorted((HERE / "data" / "calls").glob("*.jsonl"))
AUDIO_CALLS = sorted((HERE / "fixtures" / "calls").glob("*.wav"))


def orders() -> list[tuple]:
    shuffled = list(DETECTORS)
    random.Random(10).shuffle(shuffled)
    return [tuple(reversed(DETECTORS)), tuple(shuffled)]


def outcome(call, pack, settings, detectors) -> tuple:
    engine = Engine(
        pack, settings, caller_audio=call.caller_audio,
        has_text=call.source.text_from != "none", detectors=detectors,
    )
    engine.feed_all(call.inputs)
    engine.finish(call.source.duration)
    return [e.to_json() for e in engine.events], checklist(engine), [e.to_json() for e in engine.withdrawn]


@pytest.mark.parametrize(
    "request_", [ReplayRequest(transcript=p) for p in TRANSCRIPT_CALLS]
    + [ReplayRequest(audio=p, transcript=p.with_suffix(".jsonl")) for p in AUDIO_CALLS],
    ids=lambda r: (r.audio or r.transcript).name,
)
def test_reordering_the_detectors_changes_nothing(request_, pack, settings):
    call = prepare_call(request_, read_transcript(request_.transcript))
    as_listed = outcome(call, pack, settings, DETECTORS)
    for detectors in orders():
        assert outcome(call, pack, settings, detectors) == as_listed
