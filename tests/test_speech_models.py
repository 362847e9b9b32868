"""When the speech-confirmation model is loaded, and how many: a replay borrows one per stretch
heard (so a call whose speakers take turns loads one), a live call holds one per channel from its
start, and a model loaded ahead (the CLI's start-up) is the one the analysis then takes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile

from callassist.audio import speech_model
from callassist.audio.speech_confirm import SpeechConfirmer
from callassist.audio.speech_model import load_ahead
from callassist.pipeline import CallPipeline
from callassist.replay import ReplayRequest, replay
from callassist.scriptpack import load_pack
from callassist.settings import load_settings

CALLS = Path(__file__).parent / "fixtures" / "calls"
SAMPLE = Path(__file__).resolve().parents[1] / "callassist" / "samples" / "sample_call.wav"


class FakeModel:
    """Stands in for a loaded Silero model: the tests count loads, not speech."""

    def __init__(self, rate: int) -> None:
        self.rate = rate

    def reset(self) -> None:
        pass


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A fresh, empty pool whose loads are recorded (rates), with fake models."""
    loaded: list[int] = []

    def fake_load(rate: int) -> FakeModel:
        loaded.append(rate)
        return FakeModel(rate)

    monkeypatch.setattr(speech_model, "_POOL", speech_model._ModelPool())
    monkeypatch.setattr(speech_model, "_load", fake_load)
    return loaded


@pytest.fixture
def real_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A fresh, empty pool of real models whose loads are recorded."""
    loaded: list[int] = []
    real_load = speech_model._load

    def counting_load(rate: int):
        loaded.append(rate)
        return real_load(rate)

    monkeypatch.setattr(speech_model, "_POOL", speech_model._ModelPool())
    monkeypatch.setattr(speech_model, "_load", counting_load)
    return loaded


def test_a_confirmer_borrows_a_model_only_while_a_stretch_runs(loads: list[int]) -> None:
    first, second = SpeechConfirmer(8000, 0.5), SpeechConfirmer(8000, 0.5)
    assert loads == []  # nothing loaded before a stretch needs it
    first.start(0)
    assert loads == [8000]
    first.stop()
    second.start(0)  # takes the model the first gave back
    assert loads == [8000]
    first.start(0)  # both stretches open at once: a second model
    assert loads == [8000, 8000]
    first.close()
    second.close()
    with pytest.raises(RuntimeError):
        first.start(0)


def test_a_reserved_model_is_held_from_reserve_to_close(loads: list[int]) -> None:
    live, other = SpeechConfirmer(16000, 0.5), SpeechConfirmer(16000, 0.5)
    live.reserve()
    assert loads == [16000]
    live.start(0)
    live.stop()
    other.start(0)  # the reserved model stays with `live`
    assert loads == [16000, 16000]
    other.stop()
    live.close()
    other.start(0)
    assert loads == [16000, 16000]


def test_a_model_loaded_ahead_is_the_one_taken(loads: list[int]) -> None:
    load_ahead(44100)  # analysed resampled to 16 kHz
    load_ahead(44100)  # already loading: not twice
    confirmer = SpeechConfirmer(16000, 0.5)
    confirmer.start(0)
    assert loads == [16000]
    assert not [t for t in threading.enumerate() if t.name.startswith("speech-model")]


def test_a_failed_load_ahead_is_reported_by_the_analysis(monkeypatch: pytest.MonkeyPatch, loads: list[int]) -> None:
    def broken(rate: int) -> FakeModel:
        raise RuntimeError("no model")

    monkeypatch.setattr(speech_model, "_load", broken)
    load_ahead(8000)
    with pytest.raises(RuntimeError, match="no model"):
        SpeechConfirmer(8000, 0.5).start(0)


def test_a_live_call_holds_a_model_per_channel_from_its_start(loads: list[int]) -> None:
    pipeline = CallPipeline(load_pack([], {}), load_settings(None), {"agent": 16000, "caller": 8000}, live=True)
    assert sorted(loads) == [8000, 16000]  # before any audio
    pipeline.finish()


def test_a_replay_whose_speakers_take_turns_loads_one_model(real_loads: list[int]) -> None:
    utterances = [json.loads(line) for line in (CALLS / "normal.jsonl").read_text(encoding="utf-8").splitlines()]
    turns = sorted((u["start"], u["end"]) for u in utterances)
    # The scene: every turn starts at least 0.7 s after the one before has ended, while the model
    # hears a turn's tail for at most the hangover (0.4 s) after its last word and an onset from
    # 0.064 s before it: no two stretches are ever open at once.
    assert all(start - previous_end >= 0.7 - 1e-9 for (_, previous_end), (start, _) in zip(turns, turns[1:]))
    report = replay(ReplayRequest(audio=CALLS / "normal.wav"), load_settings(None), load_pack([], {}))
    assert report.source.duration > 0
    assert real_loads == [16000]


def test_a_long_replay_whose_channels_both_hear_stretches_loads_one_model(real_loads: list[int], tmp_path: Path) -> None:
    """Ten minutes of the sample call: fed a whole block per channel in turn, some stretch of one
    channel is still being heard when the other channel's next one starts (two models, 10 MiB
    more); fed in turns that leave a channel only when its model rests, one model serves."""
    piece, rate = soundfile.read(SAMPLE, dtype="int16", always_2d=True)
    long_call = tmp_path / "ten_minutes.wav"
    soundfile.write(long_call, np.tile(piece, (-(-600 * rate // len(piece)), 1))[: 600 * rate], rate, subtype="PCM_16")
    replay(ReplayRequest(audio=long_call), load_settings(None), load_pack([], {}))
    assert real_loads == [8000]


LOAD_AHEAD_CHECK = """
import json, sys
from callassist.audio import speech_model
asked = []
speech_model.load_ahead = lambda rate: asked.append([rate, "numpy" in sys.modules])
from callassist.cli import main
main(sys.argv[1:])
print("\\n" + json.dumps(asked))
"""


def load_ahead_asked(audio: Path) -> list[list]:
    """[rate, numpy already imported] for each model `callassist replay AUDIO --asr none` loads ahead."""
    result = subprocess.run([sys.executable, "-c", LOAD_AHEAD_CHECK, "replay", str(audio), "--asr", "none", "--headless"],
                            capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("call", "rate"), [("normal.wav", 16000), ("mulaw8k.wav", 8000)])
def test_a_wav_replay_starts_loading_the_model_before_numpy_is_imported(call: str, rate: int) -> None:
    """The rate comes from the WAV header, so the load (in a thread, mostly outside Python's
    lock) overlaps all of the start-up's imports."""
    assert load_ahead_asked(CALLS / call) == [[rate, False]]


def test_another_format_is_opened_first_for_its_rate(tmp_path: Path) -> None:
    samples, rate = soundfile.read(CALLS / "mulaw8k.wav", dtype="int16", always_2d=True)
    flac = tmp_path / "call.flac"
    soundfile.write(flac, samples[: rate * 2], rate)
    assert [rate for rate, _ in load_ahead_asked(flac)] == [8000]
