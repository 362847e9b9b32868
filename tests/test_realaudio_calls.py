"""Calls composed from real recorded voices and noises (tests/realaudio/make_calls.py), rendered
into a temporary folder at 16 kHz and as 8 kHz mu-law telephony: exactly the events the
composition calls for, from audio alone. Skipped where ../shared/realaudio is absent."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from callassist.audio.features import analyze_recording
from callassist.audio.recording import channel_map, open_recording
from callassist.engine import Engine
from callassist.evaluation import read_labels, score_call
from callassist.events import Event
from callassist.replay import ReplayRequest, replay
from callassist.reporting.report import CallReport

sys.path.insert(0, str(Path(__file__).parent / "realaudio"))
import make_calls  # noqa: E402

pytestmark = pytest.mark.skipif(not make_calls.available(), reason=f"{make_calls.REALAUDIO} is absent")
SCENES = [scene.name for scene in make_calls.scenes()] if make_calls.available() else []
HELDOUT = [scene.name for scene in make_calls.heldout_scenes()] if make_calls.available() else []
RATES = ("16k", "8k")


@pytest.fixture(scope="module")
def calls(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("realaudio_calls")
    make_calls.write_calls(folder)
    return folder


def situations(report: CallReport) -> list[Event]:
    return [e for e in report.events if e.kind != "hint"]


@pytest.mark.parametrize(
    ("name", "rate"),
    [pytest.param(name, rate, id=f"{name}-{rate}") for name in SCENES for rate in RATES]
    + [pytest.param(name, rate, id=f"heldout-{name}-{rate}") for name in HELDOUT for rate in RATES],
)
def test_real_voices_and_noise_give_exactly_the_composed_events(calls, name, rate, settings, pack):
    """The tuned scenes and the held-out ones (never tuned on) alike."""
    wav = calls / f"{name}_{rate}.wav"
    labels = read_labels(wav.with_name(f"{wav.stem}.labels.json"))
    report = replay(ReplayRequest(audio=wav), settings, pack)
    scores = score_call(situations(report), labels)
    problems = {event_id: score for event_id, score in scores.items() if score.missed or score.false_alarms}
    found = [(e.id, e.step, round(e.t, 2)) for e in situations(report)]
    assert not problems, f"expected {[(x.id, x.step, x.t) for x in labels.expect]}, got {found}"


def expected_ids(calls: Path, name: str, rate: str) -> set[str]:
    return {label.id for label in read_labels(calls / f"{name}_{rate}.labels.json").expect}


def test_the_composition_has_the_situations_the_issue_names(calls):
    """Silent caller over room noise, good lines at 15-30 dB SNR, a quiet caller on a quiet
    line, a noisy line near 0 dB, dead air over noise on the agent's line, a backchannel."""
    expected = {name: expected_ids(calls, name, "16k") for name in SCENES}
    assert not set(expected) & set(HELDOUT), "a held-out scene shares a name with a tuned one"
    good = [n for n, ids in expected.items() if not ids]
    assert len(good) >= 7 and {"silent_caller"} in expected.values()
    assert {"quiet_caller"} in expected.values() and {"noisy_line"} in expected.values()
    assert {"agent_dead_air"} in expected.values() and "backchannel" in expected


def test_the_callers_line_is_judged_in_the_band_the_rendering_carries(calls):
    """A noise almost all outside 300-3400 Hz (speechbrain__noise4) drowns the caller at 16 kHz
    (2 dB) but hardly reaches the 8 kHz telephone line: a clear line there, where the caller's
    ordinary turn is followed by silence after the agent's line. Noise inside the band (cafe,
    street, machine) drowns the caller at both rates."""
    scene = next(s for s in make_calls.heldout_scenes() if s.name == "h_noisy_noise4_2db")
    rendered = make_calls.render(scene)
    assert make_calls.caller_line_snr(rendered, 16000) == pytest.approx(2.0, abs=0.5)
    assert make_calls.caller_line_snr(rendered, 8000) >= make_calls.CLEAR_MIN_SNR
    assert expected_ids(calls, scene.name, "16k") == {"noisy_line"}
    assert expected_ids(calls, scene.name, "8k") == {"silent_caller"}
    for name in ("noisy_street_0db", "noisy_machine_0db", "h_noisy_cafe_0db"):
        assert expected_ids(calls, name, "16k") == expected_ids(calls, name, "8k") == {"noisy_line"}, name
    with pytest.raises(ValueError, match="neither a noisy line"):
        make_calls.caller_line(scene, (make_calls.NOISY_MAX_SNR + make_calls.CLEAR_MIN_SNR) / 2)


@pytest.mark.parametrize("name", ["silent_room", "cafe_15db", "quiet_line", "backchannel", "h_noise2_15db"])
def test_chunk_size_does_not_change_events_on_real_audio(calls, name, settings, pack):
    wav = calls / f"{name}_16k.wav"

    def events(block_seconds: float) -> list:
        recording = open_recording(wav)
        engine = Engine(pack, settings, has_text=False)
        engine.feed_all(analyze_recording(recording, channel_map(recording), block_seconds=block_seconds))
        engine.finish(recording.duration)
        return engine.events

    reference = events(2.0)
    assert events(0.02) == reference


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("name", ["cafe_15db", "backchannel"])
def test_a_replay_judged_again_from_the_tape_gets_the_unbroken_analysis_on_real_audio(calls, name, rate):
    """Seeking back replays the analyser's kept outputs (`live.taped.TapedAnalysis`): on real
    voices and noise, at 16 kHz and as 8 kHz mu-law, a judgement from the start that passes the
    tape's end in other blocks gives what one analyser fed the whole call gives."""
    import numpy as np
    import soundfile

    from callassist.audio.features import ChannelAnalyzer
    from callassist.live.taped import TapedAnalysis

    audio, sample_rate = soundfile.read(calls / f"{name}_{rate}.wav", dtype="float32")
    screen_block = round(0.05 * sample_rate)
    for column, speaker in enumerate(("agent", "caller")):
        samples = np.ascontiguousarray(audio[:, column])
        whole = ChannelAnalyzer(speaker, sample_rate, live=True)
        reference = [o for at in range(0, len(samples), screen_block) for o in whole.feed(samples[at : at + screen_block])]
        reference += whole.flush()
        taped = TapedAnalysis(live=True)
        first = taped.open_channel(speaker, sample_rate)
        for at in range(0, len(samples) // 2, screen_block):
            first.feed(samples[at : min(at + screen_block, len(samples) // 2)])
        taped.rewind()
        again = taped.open_channel(speaker, sample_rate)
        given = [o for at in range(0, len(samples), sample_rate) for o in again.feed(samples[at : at + sample_rate])]
        assert given + again.flush() == reference, speaker
