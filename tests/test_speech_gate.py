"""What the speech gate (`callassist.recognition.SpeechGate`, `ChannelRecognizer`) feeds Vosk,
on real recorded voices placed at known times over a real faint room floor: the truth is the
composition (tests/realaudio/make_calls.py), never the gate's own output. Skipped where
../shared/realaudio is absent.

Vosk is replaced by a decoder that never finds text, so that only the gate decides what is fed
(a real decoder's unfinished utterance drains on past the hangover; test_vosk_engine.py covers
that)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from callassist.audio.features import AnalyzerSettings
from callassist.recognition import ChannelRecognizer, RecognizerSettings

sys.path.insert(0, str(Path(__file__).parent / "realaudio"))
import make_calls  # noqa: E402

pytestmark = pytest.mark.skipif(not make_calls.available(), reason=f"{make_calls.REALAUDIO} is absent")

BLOCK = 0.05  # the call pipeline's recognition blocks
CLIPS = ("FunASR__asr_example", "FunASR__4", "VoiceprintRecognition-Pytorch__a_1", "MiMo-Audio__prompt_speech_zh_m")
PRE_ROLL = (0.3, 0.45)
"""Seconds before an utterance's speech from which Vosk hears it: the pre-roll (0.3 s) plus up to
a skip quantum (0.15 s) kept with it. At least 0.2 s of the silence before each word is heard."""
HANGOVER = (0.6, 0.7)
"""Seconds after an utterance's speech at which the gate shuts: the hangover (0.6 s) after its
last voiced frame, plus the rest of that block and the voice's soft tail."""


class NoText:
    """A decoder that hears nothing: the gate alone decides what is fed."""

    def AcceptWaveform(self, pcm: bytes) -> bool:  # noqa: N802 (Vosk's names)
        return False

    def PartialResult(self) -> str:  # noqa: N802
        return '{"partial": ""}'

    def FinalResult(self) -> str:  # noqa: N802
        return '{"text": ""}'

    def Result(self) -> str:  # noqa: N802
        return '{"text": ""}'


class GateOnly(ChannelRecognizer):
    def _new_vosk_recognizer(self) -> NoText:
        return NoText()


def scene(voice_db: float = make_calls.NORMAL_DB, floor_db: float = -65.0) -> make_calls.Scene:
    """Four real utterances, 4 s apart, on the caller's channel over a faint real room floor."""
    composed = make_calls.Scene("gate", "gate", caller_noise=(make_calls.Noise("speechbrain__noise_diffuse", floor_db),))
    for clip in CLIPS:
        composed.say("caller", gap=4.0, clip=clip, level_db=voice_db)
    return composed.end(4.0)


def fed_stretches(composed: make_calls.Scene, rate: int, levels: AnalyzerSettings = AnalyzerSettings()) -> list[tuple[float, float]]:
    """The stretches of stream time the gate fed to the decoder, the caller's line at `rate` fed
    in the pipeline's blocks."""
    call = make_calls.render(composed).call
    line = (call if rate == make_calls.RATE else make_calls.telephony(call))[:, 1].astype(np.float32)
    recognizer = GateOnly(None, 16000, "caller", rate, RecognizerSettings(levels=levels))
    step = round(BLOCK * rate)
    for start in range(0, len(line), step):
        recognizer.feed(line[start : start + step])
    recognizer.finish()
    results, length = recognizer.results, len(line) / rate
    skipped = [(at + results._skipped_before[i], at + results._skipped_before[i + 1]) for i, at in enumerate(results._skip_at)]
    fed, position = [], 0.0
    for start, end in skipped:
        if start > position + 1e-6:
            fed.append((position, start))
        position = end
    tail = recognizer.stream_fed / 16000 - sum(end - start for start, end in fed)  # audio held at the end is not fed
    if tail > 1e-3:
        fed.append((position, min(length, position + tail)))
    return fed


@pytest.mark.parametrize("rate", [16000, 8000])
def test_each_utterance_is_fed_from_its_pre_roll_to_its_hangover(rate):
    composed = scene()
    fed = fed_stretches(composed, rate)
    assert len(fed) == len(composed.turns), (fed, composed.turns)
    for (start, end), turn in zip(fed, composed.turns):
        assert turn.start - PRE_ROLL[1] - 0.005 <= start <= turn.start - PRE_ROLL[0] + 0.005, (start, turn)
        assert turn.end + HANGOVER[0] <= end <= turn.end + HANGOVER[1], (end, turn)


def test_the_gate_takes_its_level_rules_from_the_analysers_settings():
    """A quiet caller (speech at -52 dBFS over a -70 dBFS room) is fed with the analyser's
    settings. With the analyser's minimum level over the loudest 10 ms frame of the line, or its
    minimum SNR over the loudest frame's height above the quietest, none of it is."""
    composed = scene(voice_db=-52.0, floor_db=-70.0)
    line = make_calls.render(composed).call[:, 1]
    frames = line[: len(line) // 160 * 160].reshape(-1, 160)
    levels = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    assert len(fed_stretches(composed, 16000)) == len(composed.turns)
    assert fed_stretches(composed, 16000, AnalyzerSettings(min_level_dbfs=levels.max() - 6.0)) != []
    assert fed_stretches(composed, 16000, AnalyzerSettings(min_level_dbfs=levels.max() + 0.5)) == []
    assert fed_stretches(composed, 16000, AnalyzerSettings(min_snr_db=levels.max() - levels.min() + 0.5)) == []
