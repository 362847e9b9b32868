"""The rendered fixture calls (tests/fixtures/calls) replayed from audio: exactly the expected
events, from audio alone and from audio plus transcript; chunk-size independence; channels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from callassist.audio.features import analyze_recording
from callassist.audio.recording import channel_map, open_recording
from callassist.engine import Engine
from callassist.errors import InputFileError
from callassist.events import Event
from callassist.replay import ReplayRequest, replay
from callassist.reporting.report import CallReport
from expectations import match_events

CALLS = Path(__file__).parent / "fixtures" / "calls"
NAMES = sorted(p.name.removesuffix(".expected.json") for p in CALLS.glob("*.expected.json"))


def expected(name: str, with_text: bool) -> list[dict]:
    events = json.loads((CALLS / f"{name}.expected.json").read_text(encoding="utf-8"))["events"]
    return [e for e in events if with_text or e.get("needs") != "text"]


def situations(report: CallReport) -> list[Event]:
    """Hints (a caller's 「谢谢」 → the approved reply) are prompts, not findings: compared elsewhere."""
    return [e for e in report.events if e.kind != "hint"]


@pytest.mark.parametrize("name", NAMES)
def test_audio_alone_gives_exactly_expected_events(name, settings, pack):
    report = replay(ReplayRequest(audio=CALLS / f"{name}.wav"), settings, pack)
    assert report.source.activity_from == "audio" and report.source.text_from == "none"
    assert match_events(situations(report), expected(name, with_text=False)) == []


@pytest.mark.parametrize("name", NAMES)
def test_audio_and_transcript_give_exactly_expected_events(name, settings, pack):
    request = ReplayRequest(audio=CALLS / f"{name}.wav", transcript=CALLS / f"{name}.jsonl")
    report = replay(request, settings, pack)
    assert report.source.activity_from == "audio" and report.source.text_from == "transcript"
    assert match_events(situations(report), expected(name, with_text=True)) == []


def events_with_blocks(name: str, block_seconds: float, settings, pack) -> list:
    recording = open_recording(CALLS / f"{name}.wav")
    inputs = analyze_recording(recording, channel_map(recording), block_seconds=block_seconds)
    engine = Engine(pack, settings, has_text=False)
    engine.feed_all(inputs)
    engine.finish(recording.duration)
    return engine.events


@pytest.mark.parametrize("name", ["quiet", "noisy", "angry", "crosstalk"])
def test_chunk_size_does_not_change_events(name, settings, pack):
    reference = events_with_blocks(name, 2.0, settings, pack)
    assert reference
    for block_seconds in (0.02, 0.137, 1.0):
        assert events_with_blocks(name, block_seconds, settings, pack) == reference


def test_report_has_levels_per_utterance_and_call(settings, pack):
    request = ReplayRequest(audio=CALLS / "quiet.wav", transcript=CALLS / "quiet.jsonl")
    report = replay(request, settings, pack)
    caller = [u for u in report.utterances if u.utterance.speaker == "caller"]
    agent = [u for u in report.utterances if u.utterance.speaker == "agent"]
    assert all(-50 < u.level_dbfs < -38 for u in caller)  # rendered at -45 dBFS
    assert all(-26 < u.level_dbfs < -15 for u in agent)  # rendered at -20 dBFS
    talk = report.talk
    assert talk.speakers["caller"].level_dbfs < talk.speakers["agent"].level_dbfs - 15
    assert talk.speakers["agent"].snr_db > 30
    assert 0 < talk.non_talk_time < report.source.duration
    assert abs(sum(s.talk_share for s in talk.speakers.values()) - 1) < 0.01


def test_crosstalk_counts_as_interruption_and_overlap(settings, pack):
    report = replay(ReplayRequest(audio=CALLS / "crosstalk.wav"), settings, pack)
    assert report.talk.interruptions == 1
    assert report.talk.overlap_time > 1.5


def test_swapped_channels(settings, pack, tmp_path):
    data, rate = soundfile.read(CALLS / "dead_air.wav")
    swapped = tmp_path / "swapped.wav"
    soundfile.write(swapped, data[:, ::-1], rate)
    report = replay(ReplayRequest(audio=swapped, agent_channel=1, caller_channel=0), settings, pack)
    assert report.source.channel_map == {"agent": 1, "caller": 0}
    assert match_events(situations(report), expected("dead_air", with_text=False)) == []


def test_mono_recording_with_transcript_says_where_speakers_come_from(settings, pack, tmp_path):
    data, rate = soundfile.read(CALLS / "dead_air.wav")
    mono = tmp_path / "mono.wav"
    soundfile.write(mono, data.mean(axis=1), rate)
    report = replay(ReplayRequest(audio=mono, transcript=CALLS / "dead_air.jsonl"), settings, pack)
    assert report.source.activity_from == "transcript"
    assert any("mono recording" in note for note in report.source.notes)
    assert match_events(situations(report), expected("dead_air", with_text=True)) == []


def test_mono_recording_alone_turns_caller_checks_off(settings, pack, tmp_path):
    data, rate = soundfile.read(CALLS / "silent.wav")
    mono = tmp_path / "mono.wav"
    soundfile.write(mono, data.mean(axis=1), rate)
    report = replay(ReplayRequest(audio=mono), settings, pack)
    assert any("caller-side situations are off" in note for note in report.source.notes)
    assert situations(report) == []


def test_channel_that_does_not_exist(settings, pack):
    with pytest.raises(InputFileError, match=r"normal.wav: has 2 channels; --caller-channel 2 does not exist"):
        replay(ReplayRequest(audio=CALLS / "normal.wav", caller_channel=2), settings, pack)


def test_noise_is_not_speech_for_the_silence_detectors(settings, pack, tmp_path):
    """A caller line carrying only steady noise is a silent caller, not a talking one."""
    rate = 16000
    rng = np.random.default_rng(3)
    data, _ = soundfile.read(CALLS / "silent.wav")
    data[:, 1] += rng.normal(0, 10 ** (-30 / 20), len(data))
    noisy_silent = tmp_path / "noisy_silent.wav"
    soundfile.write(noisy_silent, data, rate)
    report = replay(ReplayRequest(audio=noisy_silent), settings, pack)
    ids = [e.id for e in situations(report)]
    assert "silent_caller" in ids or "noisy_line" in ids
    assert "agent_dead_air" not in ids and "crosstalk" not in ids
