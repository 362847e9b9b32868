"""Streaming channel features: voice activity, levels, noise floor and pitch on known signals.

The known signals are vowel-like harmonic tones: they test the cheap proposer's timing, levels
and pitch (`PROPOSER`: no learned confirmation, which need not take a tone for speech). The
learned confirmation is tested on recorded speech (the espeak fixture calls) and noise bumps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

from callassist.audio.features import MAX_DECISION_DELAY, AnalyzerSettings, ChannelAnalyzer, analyze_recording
from callassist.audio.recording import channel_map, open_recording
from callassist.inputs import LevelFrame, SpeechEnded, SpeechStarted, input_sort_key

CALLS = Path(__file__).parent / "fixtures" / "calls"
TOLERANCE = 0.1  # seconds, for onset and offset times
PROPOSER = AnalyzerSettings(confirm_speech=False)


@dataclass(frozen=True)
class Burst:
    start: float
    end: float
    f0: float
    level_dbfs: float


def speech_like(burst: Burst, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A vowel-like harmonic tone: harmonics of f0 shaped by three formants, modulated at a
    syllable rate of 4 Hz, scaled to an RMS of `level_dbfs`."""
    t = np.arange(round((burst.end - burst.start) * rate)) / rate
    formants = ((500, 120, 1.0), (1500, 150, 0.5), (2500, 200, 0.25))
    signal = np.zeros_like(t)
    for k in range(1, int(min(3500, rate / 2 - 1) / burst.f0) + 1):
        amplitude = sum(a / (1 + ((k * burst.f0 - fc) / bw) ** 2) for fc, bw, a in formants)
        signal += amplitude * np.sin(2 * np.pi * k * burst.f0 * t + rng.uniform(0, 2 * np.pi))
    signal *= 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t - np.pi / 2)
    signal *= np.minimum(1, np.minimum(t, t[-1] - t) / 0.01)  # 10 ms fades
    return signal * 10 ** (burst.level_dbfs / 20) / np.sqrt(np.mean(signal**2))


def white_noise(seconds: float, rate: int, level_dbfs: float, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(round(seconds * rate)) * 10 ** (level_dbfs / 20)


def pink_noise(seconds: float, rate: int, level_dbfs: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f spectrum above 50 Hz: its level wanders more than white noise does."""
    count = round(seconds * rate)
    spectrum = np.fft.rfft(rng.standard_normal(count)) / np.sqrt(np.maximum(np.fft.rfftfreq(count, 1 / rate), 50))
    noise = np.fft.irfft(spectrum, count)
    return noise * 10 ** (level_dbfs / 20) / np.sqrt(np.mean(noise**2))


def with_bursts(background: np.ndarray, rate: int, bursts: list[Burst], rng: np.random.Generator) -> np.ndarray:
    signal = background.copy()
    for burst in bursts:
        start = round(burst.start * rate)
        voice = speech_like(burst, rate, rng)
        signal[start : start + len(voice)] += voice
    return signal.astype(np.float32)


def analyse(signal: np.ndarray, rate: int, chunk: int = 16000, settings: AnalyzerSettings = PROPOSER):
    analyzer = ChannelAnalyzer("caller", rate, settings)
    inputs = []
    for start in range(0, len(signal), chunk):
        inputs.extend(analyzer.feed(signal[start : start + chunk]))
    return inputs + analyzer.flush()


def segments(inputs) -> list[tuple[float, float]]:
    found, start = [], None
    for item in inputs:
        if isinstance(item, SpeechStarted):
            start = item.t
        elif isinstance(item, SpeechEnded):
            found.append((start, item.t))
    return found


def level_frames(inputs, start: float = 0.0, end: float = float("inf")) -> list[LevelFrame]:
    return [item for item in inputs if isinstance(item, LevelFrame) and start < item.t <= end]


def assert_segments_match(found, truth) -> None:
    assert len(found) == len(truth), f"found {found}, expected {truth}"
    for (start, end), (true_start, true_end) in zip(found, truth):
        assert abs(start - true_start) <= TOLERANCE and abs(end - true_end) <= TOLERANCE, (found, truth)


BURSTS = [
    Burst(1.0, 2.5, 150, -20),
    Burst(3.0, 3.8, 220, -20),
    Burst(5.0, 7.0, 120, -45),  # quiet, but above the -55 dBFS floor
    Burst(8.0, 9.0, 250, -30),
]


@pytest.fixture(scope="module")
def bursts_16k() -> np.ndarray:
    rng = np.random.default_rng(1)
    return with_bursts(white_noise(10, 16000, -70, rng), 16000, BURSTS, rng)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100])
def test_bursts_start_and_end_on_time(rate):
    rng = np.random.default_rng(2)
    signal = with_bursts(white_noise(10, rate, -70, rng), rate, BURSTS, rng)
    assert_segments_match(segments(analyse(signal, rate)), [(b.start, b.end) for b in BURSTS])


def test_pause_inside_speech_is_not_silence():
    rng = np.random.default_rng(3)
    bursts = [Burst(1.0, 2.0, 150, -20), Burst(2.25, 3.0, 150, -20), Burst(4.0, 5.0, 150, -20)]
    signal = with_bursts(white_noise(6, 16000, -70, rng), 16000, bursts, rng)
    assert_segments_match(segments(analyse(signal, 16000)), [(1.0, 3.0), (4.0, 5.0)])


def test_continuous_noise_is_not_speech():
    rng = np.random.default_rng(4)
    inputs = analyse(white_noise(30, 16000, -28, rng).astype(np.float32), 16000)
    assert segments(inputs) == []
    assert not any(frame.voiced for frame in level_frames(inputs))
    for frame in level_frames(inputs, start=1.0):
        assert frame.noise_floor_dbfs == pytest.approx(-28, abs=1.0)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_continuous_pink_noise_is_not_speech(rate):
    """webrtcvad calls most of this speech, and it is not steady enough to be waved through as
    background: the margin over the noise floor is what keeps it out."""
    rng = np.random.default_rng(14)
    inputs = analyse(pink_noise(60, rate, -28, rng).astype(np.float32), rate)
    assert segments(inputs) == []


@pytest.mark.parametrize("noise", [white_noise, pink_noise])
def test_speech_over_continuous_noise_is_found_and_the_noise_is_not(noise):
    rng = np.random.default_rng(5)
    bursts = [Burst(4.0, 5.5, 150, -20), Burst(8.0, 10.0, 200, -20)]
    signal = with_bursts(noise(14, 16000, -28, rng), 16000, bursts, rng)
    inputs = analyse(signal, 16000)
    assert_segments_match(segments(inputs), [(b.start, b.end) for b in bursts])
    for frame in level_frames(inputs, start=1.0):
        assert -30.0 <= frame.noise_floor_dbfs <= -24.0  # stays near the noise, well below the speech


def test_noise_that_starts_mid_call_is_at_most_a_blip():
    """webrtcvad takes a sudden steady noise for speech; the steadiness check cuts that short."""
    rng = np.random.default_rng(6)
    signal = white_noise(20, 16000, -70, rng)
    signal[2 * 16000 :] += white_noise(18, 16000, -28, rng)
    found = segments(analyse(signal.astype(np.float32), 16000))
    assert sum(end - start for start, end in found) <= 0.5
    assert all(start < 2.5 for start, _ in found)


def test_speech_below_the_absolute_floor_is_ignored():
    rng = np.random.default_rng(7)
    below = AnalyzerSettings().min_level_dbfs - 6  # its 4 Hz swell peaks 3 dB over its RMS
    signal = with_bursts(white_noise(5, 16000, -90, rng), 16000, [Burst(1.0, 3.0, 150, below)], rng)
    assert segments(analyse(signal, 16000)) == []


@pytest.mark.parametrize("rate", [16000, 44100])
def test_chunk_size_does_not_change_the_output(rate):
    rng = np.random.default_rng(8)
    bursts = [Burst(0.5, 1.7, 150, -20), Burst(2.2, 2.9, 220, -45), Burst(3.3, 4.0, 120, -20)]
    signal = with_bursts(white_noise(5, rate, -60, rng), rate, bursts, rng)
    reference = analyse(signal, rate, chunk=len(signal))
    assert len(segments(reference)) == 3
    for seconds in (0.02, 0.037, 1.0, 2.0):
        assert analyse(signal, rate, chunk=round(seconds * rate)) == reference, seconds
    analyzer = ChannelAnalyzer("caller", rate, PROPOSER)
    uneven, start = [], 0
    for size in np.random.default_rng(9).integers(1, 3000, 10_000):  # many chunks shorter than a frame
        uneven.extend(analyzer.feed(signal[start : start + size]))
        start += size
        if start >= len(signal):
            break
    assert uneven + analyzer.flush() == reference


def test_output_is_in_stream_order_and_voiced_agrees_with_the_events(bursts_16k):
    inputs = analyse(bursts_16k, 16000, chunk=320)
    assert inputs == sorted(inputs, key=input_sort_key)
    in_speech = False
    for item in inputs:
        if isinstance(item, (SpeechStarted, SpeechEnded)):
            assert in_speech == isinstance(item, SpeechEnded)  # starts and ends alternate
            in_speech = isinstance(item, SpeechStarted)
        elif isinstance(item, LevelFrame):
            assert item.voiced == in_speech, item
    assert not in_speech


def test_level_frames_come_every_report_interval(bursts_16k):
    frames = level_frames(analyse(bursts_16k, 16000))
    assert [round(frame.t, 6) for frame in frames] == [round(0.1 * k, 6) for k in range(1, 101)]
    settings = AnalyzerSettings(report_interval=0.2, confirm_speech=False)
    assert len(level_frames(analyse(bursts_16k, 16000, settings=settings))) == 50


def test_emitted_late_by_at_most_the_decision_delays(bursts_16k):
    """Each input is emitted once its t is decided: onsets within 100 ms, ends after the hangover."""
    analyzer = ChannelAnalyzer("caller", 16000, PROPOSER)
    settings = analyzer.settings
    for start in range(0, len(bursts_16k), 320):
        now = (start + 320) / 16000
        for item in analyzer.feed(bursts_16k[start : start + 320]):
            delay = now - item.t
            if isinstance(item, SpeechStarted):
                assert 0 <= delay <= settings.onset_window_frames * 0.02 + 1e-9
            elif isinstance(item, SpeechEnded):
                assert delay == pytest.approx(settings.hangover)
            else:
                assert 0 <= delay <= settings.hangover + 0.02 + 1e-9


def test_levels_are_the_rms_of_the_interval():
    rate = 16000
    t = np.arange(3 * rate) / rate
    tone = (10 ** (-20 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 440 * t)).astype(np.float32)  # -20 dBFS RMS
    tone[2 * rate :] = 0
    frames = level_frames(analyse(tone, rate))
    assert all(frame.level_dbfs == pytest.approx(-20, abs=1.0) for frame in frames if frame.t <= 2.0)
    assert all(frame.level_dbfs == -100.0 for frame in frames if frame.t > 2.0)


@pytest.mark.parametrize("level", [-20, -45])
def test_speech_levels_match_the_known_rms(level):
    rng = np.random.default_rng(10)
    burst = Burst(1.0, 3.0, 150, level)
    inputs = analyse(with_bursts(white_noise(4, 16000, -75, rng), 16000, [burst], rng), 16000)
    frames = level_frames(inputs, burst.start, burst.end)
    mean_power = np.mean([10 ** (frame.level_dbfs / 10) for frame in frames])
    assert 10 * np.log10(mean_power) == pytest.approx(level, abs=1.0)
    assert level_frames(inputs)[-1].noise_floor_dbfs == pytest.approx(-75, abs=1.5)


@pytest.mark.parametrize(("rate", "f0"), [(16000, 85), (16000, 120), (16000, 220), (16000, 250), (8000, 180)])
def test_pitch_is_near_the_known_f0(rate, f0):
    rng = np.random.default_rng(11)
    burst = Burst(0.5, 2.5, f0, -20)
    inputs = analyse(with_bursts(white_noise(3, rate, -70, rng), rate, [burst], rng), rate)
    frames = level_frames(inputs, burst.start + 0.1, burst.end)
    pitches = [frame.pitch_hz for frame in frames if frame.pitch_hz is not None]
    assert len(pitches) >= 0.9 * len(frames)
    assert np.median(pitches) == pytest.approx(f0, rel=0.02)
    assert all(abs(p / f0 - 1) < 0.05 for p in pitches)
    assert all(frame.pitch_hz is None for frame in level_frames(inputs, 0, 0.4))


def test_feed_after_flush_is_an_error():
    analyzer = ChannelAnalyzer("agent", 8000)
    analyzer.flush()
    with pytest.raises(RuntimeError):
        analyzer.feed(np.zeros(160, dtype=np.float32))


def test_settings_are_checked():
    with pytest.raises(ValueError):
        AnalyzerSettings(report_interval=0.05)
    with pytest.raises(ValueError):
        AnalyzerSettings(onset_voiced_frames=6)
    with pytest.raises(ValueError):
        AnalyzerSettings(confirm_window=0.5)  # decisions would come more than MAX_DECISION_DELAY late


def _fixture_calls() -> list[Path]:
    return sorted(CALLS.glob("*.wav")) if CALLS.is_dir() else []


@pytest.mark.skipif(not _fixture_calls(), reason="no rendered call fixtures")
@pytest.mark.parametrize("wav", _fixture_calls(), ids=lambda path: path.stem)
def test_fixture_calls_speech_matches_the_transcript(wav):
    truth = [json.loads(line) for line in wav.with_suffix(".jsonl").read_text(encoding="utf-8").splitlines() if line]
    recording = open_recording(wav)
    inputs = analyze_recording(recording, channel_map(recording))
    assert inputs == sorted(inputs, key=input_sort_key)
    for speaker in ("agent", "caller"):
        found = segments(item for item in inputs if item.speaker == speaker)
        assert_segments_match(found, [(u["start"], u["end"]) for u in truth if u["speaker"] == speaker])


def test_resampled_input_keeps_its_timing():
    """Rates webrtcvad does not take are converted to 16 kHz without shifting the times."""
    rng = np.random.default_rng(13)
    signal = with_bursts(white_noise(4, 16000, -70, rng), 16000, [Burst(1.0, 2.0, 150, -20)], rng)
    at_16k = segments(analyse(signal, 16000))
    at_48k = segments(analyse(soxr.resample(signal, 16000, 48000).astype(np.float32), 48000))
    assert len(at_48k) == len(at_16k) == 1
    assert at_48k[0] == pytest.approx(at_16k[0], abs=0.021)


def noise_bumps(seconds: float, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, list[float]]:
    """A room's floor: pink noise at -58 dBFS with a bump of 60-240 ms, 12-20 dB louder, every
    1.5 s (where webrtcvad alone starts speech); returns the signal and the bump times."""
    signal = pink_noise(seconds, rate, -58, rng)
    times = list(np.arange(1.0, seconds - 1.0, 1.5))
    for start in times:
        length = round(rng.uniform(0.06, 0.24) * rate)
        at = round(start * rate)
        envelope = np.hanning(length) * 10 ** (rng.uniform(12, 20) / 20)
        signal[at : at + length] += pink_noise(length / rate, rate, -58, rng) * envelope
    return signal.astype(np.float32), times


@pytest.mark.parametrize("rate", [8000, 16000])
def test_noise_bumps_start_no_speech_once_confirmed(rate):
    rng = np.random.default_rng(20)
    signal, _ = noise_bumps(60, rate, rng)
    assert len(segments(analyse(signal, rate, settings=PROPOSER))) >= 5  # what the issue saw
    assert segments(analyse(signal, rate, settings=AnalyzerSettings())) == []


def espeak_speech(rate: int) -> np.ndarray:
    """The caller's channel of the `normal` fixture call (espeak speech over a -65 dBFS floor)."""
    audio, file_rate = soundfile.read(CALLS / "normal.wav", dtype="float32")
    caller = audio[:, 1]
    return caller if file_rate == rate else soxr.resample(caller, file_rate, rate).astype(np.float32)


def espeak_turns() -> list[tuple[float, float]]:
    lines = (CALLS / "normal.jsonl").read_text(encoding="utf-8").splitlines()
    return [(u["start"], u["end"]) for u in map(json.loads, lines) if u["speaker"] == "caller"]


@pytest.mark.parametrize("rate", [8000, 16000])
def test_confirmed_speech_amid_noise_bumps_keeps_its_onsets_whatever_the_chunks(rate):
    rng = np.random.default_rng(21)
    speech = espeak_speech(rate)
    bumps, _ = noise_bumps(len(speech) / rate, rate, rng)
    signal = speech + bumps[: len(speech)]
    truth = espeak_turns()
    reference = analyse(signal, rate, chunk=len(signal), settings=AnalyzerSettings())
    assert_segments_match(segments(reference), truth)
    for seconds in (0.02, 0.037, 2.0):
        assert analyse(signal, rate, chunk=round(seconds * rate), settings=AnalyzerSettings()) == reference, seconds


def test_confirmed_onsets_are_emitted_within_the_decision_delay():
    rng = np.random.default_rng(22)
    speech = espeak_speech(16000)
    signal = speech + noise_bumps(len(speech) / 16000, 16000, rng)[0][: len(speech)]
    analyzer = ChannelAnalyzer("caller", 16000)
    starts = 0
    for start in range(0, len(signal), 320):
        now = (start + 320) / 16000
        for item in analyzer.feed(signal[start : start + 320]):
            assert 0 <= now - item.t <= MAX_DECISION_DELAY + 1e-9, item
            starts += isinstance(item, SpeechStarted)
    assert starts == len(espeak_turns())
