"""Opening recordings: supported formats, streamed blocks, and one-line errors for bad files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile

from callassist.audio.recording import ChannelMap, channel_map, open_recording
from callassist.audio.wav_header import WavHeader, read_wav_header
from callassist.errors import InputFileError


def stereo_tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.column_stack((0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)))


def write(path: Path, samples: np.ndarray, rate: int, **options) -> Path:
    soundfile.write(path, samples, rate, **options)
    return path


def error_for(path: Path) -> str:
    with pytest.raises(InputFileError) as caught:
        open_recording(path)
    return assert_one_line_naming(caught.value, path)


def assert_one_line_naming(error: InputFileError, path: Path) -> str:
    message = str(error)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    return message


def test_stereo_wav_opens_with_its_properties(tmp_path):
    path = write(tmp_path / "call.wav", stereo_tone(2.5, 16000), 16000, subtype="PCM_16")
    recording = open_recording(path)
    assert (recording.path, recording.sample_rate, recording.channels, recording.frames) == (path, 16000, 2, 40000)
    assert recording.duration == pytest.approx(2.5)
    assert (recording.format, recording.subtype) == ("WAV", "PCM_16")
    assert not recording.is_mono


def test_blocks_stream_the_whole_file_in_order(tmp_path):
    samples = stereo_tone(2.5, 16000)
    recording = open_recording(write(tmp_path / "call.wav", samples, 16000, subtype="FLOAT"))
    blocks = list(recording.blocks(1.0))
    assert [block.shape for block in blocks] == [(16000, 2), (16000, 2), (8000, 2)]
    assert all(block.dtype == np.float32 for block in blocks)
    np.testing.assert_allclose(np.concatenate(blocks), samples, atol=1e-7)
    assert sum(len(block) for block in recording.blocks(0.37)) == recording.frames  # can be read again


@pytest.mark.parametrize("subtype", ["ULAW", "ALAW"])
def test_8khz_companded_wav_reads_close_to_the_original(tmp_path, subtype):
    samples = stereo_tone(1.0, 8000)
    recording = open_recording(write(tmp_path / f"{subtype}.wav", samples, 8000, subtype=subtype))
    assert (recording.sample_rate, recording.channels, recording.subtype) == (8000, 2, subtype)
    decoded = np.concatenate(list(recording.blocks(0.25)))
    assert np.max(np.abs(decoded - samples)) < 0.01  # 8-bit companding: about 1% of full scale


@pytest.mark.parametrize(("suffix", "file_format", "subtype", "tolerance"), [
    ("flac", "FLAC", "PCM_16", 1e-4),
    ("ogg", "OGG", "VORBIS", 0.05),
])
def test_flac_and_ogg_read(tmp_path, suffix, file_format, subtype, tolerance):
    samples = stereo_tone(1.5, 16000)
    path = write(tmp_path / f"call.{suffix}", samples, 16000, format=file_format, subtype=subtype)
    recording = open_recording(path)
    assert (recording.format, recording.subtype, recording.channels, recording.sample_rate) == (
        file_format, subtype, 2, 16000)
    decoded = np.concatenate(list(recording.blocks(0.5)))
    assert decoded.shape == samples.shape
    assert np.max(np.abs(decoded - samples)) < tolerance


def test_mono_recording_says_so(tmp_path):
    recording = open_recording(write(tmp_path / "mono.wav", stereo_tone(1.0, 8000)[:, 0], 8000))
    assert recording.is_mono
    assert recording.channels == 1
    assert next(recording.blocks(0.5)).shape == (4000, 1)


def test_missing_file(tmp_path):
    assert "no such file" in error_for(tmp_path / "nowhere.wav")


def test_folder_instead_of_file(tmp_path):
    assert "is a folder" in error_for(tmp_path)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert "is empty (0 bytes)" in error_for(path)


def test_wav_with_a_header_and_no_samples(tmp_path):
    path = write(tmp_path / "blank.wav", np.zeros((0, 2)), 16000)
    assert "holds no audio" in error_for(path)


def test_text_file_renamed_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("这不是录音。\n" * 20, encoding="utf-8")
    message = error_for(path)
    assert "is not a readable audio file" in message
    assert "WAV, FLAC or OGG" in message


def test_wav_cut_short(tmp_path):
    whole = write(tmp_path / "whole.wav", stereo_tone(3.0, 16000), 16000, subtype="PCM_16").read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(whole[: len(whole) // 3])
    message = error_for(path)
    assert "is cut short" in message
    assert "promises 3.0 s" in message
    assert "only 1.0 s" in message


def test_flac_that_breaks_off_fails_while_reading(tmp_path):
    noise = np.random.default_rng(7).uniform(-0.5, 0.5, (16000 * 10, 2))
    whole = write(tmp_path / "whole.flac", noise, 16000, subtype="PCM_16").read_bytes()
    path = tmp_path / "cut.flac"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputFileError) as caught:
        for _ in open_recording(path).blocks(1.0):
            pass
    assert "cannot be decoded after" in assert_one_line_naming(caught.value, path)


def test_sample_rate_below_8khz(tmp_path):
    message = error_for(write(tmp_path / "low.wav", stereo_tone(1.0, 4000), 4000))
    assert "4000 Hz" in message
    assert "at least 8000 Hz" in message


def test_unsupported_container(tmp_path):
    message = error_for(write(tmp_path / "call.aiff", stereo_tone(1.0, 8000), 8000, format="AIFF"))
    assert "not supported" in message
    assert "convert it to WAV, FLAC or OGG" in message


def test_channel_map_on_stereo(tmp_path):
    recording = open_recording(write(tmp_path / "call.wav", stereo_tone(1.0, 8000), 8000))
    assert channel_map(recording) == ChannelMap(agent=0, caller=1)
    assert channel_map(recording, agent_channel=1, caller_channel=0) == ChannelMap(agent=1, caller=0)


def test_mono_file_has_no_caller_channel_1(tmp_path):
    path = write(tmp_path / "call.wav", stereo_tone(1.0, 8000)[:, 0], 8000)
    recording = open_recording(path)
    with pytest.raises(InputFileError) as caught:
        channel_map(recording, agent_channel=0, caller_channel=1)
    assert str(caught.value) == (
        f"{path}: has 1 channel; --caller-channel 1 does not exist (channels are numbered from 0)"
    )
    assert channel_map(recording, agent_channel=0, caller_channel=None) == ChannelMap(agent=0, caller=None)


@pytest.mark.parametrize(("agent", "caller", "expected"), [
    (2, 1, "has 2 channels; --agent-channel 2 does not exist"),
    (0, -1, "--caller-channel -1 does not exist"),
    (1, 1, "--agent-channel and --caller-channel are both 1"),
])
def test_channel_map_rejects(tmp_path, agent, caller, expected):
    path = write(tmp_path / "call.wav", stereo_tone(1.0, 8000), 8000)
    with pytest.raises(InputFileError) as caught:
        channel_map(open_recording(path), agent_channel=agent, caller_channel=caller)
    assert expected in assert_one_line_naming(caught.value, path)


def test_wav_header_read_without_libsndfile(tmp_path):
    """Chunks before `fmt ` (an odd-sized one, padded to even) are skipped; the rate, channels
    and frame size are the `fmt ` chunk's, and the data's place and size the `data` chunk's."""
    fmt = struct.pack("<HHIIHH", 7, 3, 8000, 8000 * 3, 3, 8)  # mu-law, 3 channels, 8 kHz
    samples = bytes(range(256)) * 3
    chunks = b"LIST" + struct.pack("<I", 5) + b"INFOx\0" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"data" + struct.pack("<I", len(samples)) + samples
    path = tmp_path / "call.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    header = read_wav_header(path)
    assert header == WavHeader(
        sample_rate=8000, channels=3, bytes_per_frame=3, data_offset=12 + 14 + 8 + len(fmt) + 8, data_size=768,
        format_tag=7, bits_per_sample=8,
    )
    assert not header.is_plain_pcm16
    assert path.read_bytes()[header.data_offset :] == samples
    info = soundfile.info(str(path))  # libsndfile reads the same file the same way
    assert (info.samplerate, info.channels, info.frames) == (8000, 3, 256)


def test_wav_header_of_other_files(tmp_path):
    assert read_wav_header(write(tmp_path / "call.flac", stereo_tone(0.5, 8000), 8000)) is None
    notes = tmp_path / "notes.wav"
    notes.write_text("这不是录音。\n", encoding="utf-8")
    assert read_wav_header(notes) is None
    no_data = tmp_path / "no_data.wav"
    no_data.write_bytes(b"RIFF\x04\x00\x00\x00WAVE")
    assert read_wav_header(no_data) == WavHeader(None, None, None, None, None)


def pcm16_wav(path: Path, samples: np.ndarray, rate: int, before: bytes = b"", after: bytes = b"") -> Path:
    """A 16-bit PCM WAV file written byte by byte, with extra chunks before `fmt ` and after the data."""
    channels = samples.shape[1]
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    data = samples.astype("<i2").tobytes()
    chunks = before + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data + after
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return path


@pytest.mark.parametrize("channels, rate", [(1, 8000), (2, 16000), (3, 44100)])
def test_plain_16_bit_wav_is_read_as_libsndfile_reads_it(tmp_path, channels, rate):
    """Plain 16-bit PCM is read without libsndfile: the same properties, and the same samples in
    the same blocks as libsndfile gives, full scale included; chunks around the data are skipped."""
    rng = np.random.default_rng(channels)
    samples = rng.integers(-32768, 32768, (rate * 3 + 17, channels))
    samples[:2] = [[-32768] * channels, [32767] * channels]
    info_chunk = b"LIST" + struct.pack("<I", 5) + b"INFOx\0"
    path = pcm16_wav(tmp_path / "call.wav", samples, rate, before=info_chunk, after=info_chunk)
    recording = open_recording(path)
    assert recording.pcm16_offset is not None  # read here, not by libsndfile
    info = soundfile.info(str(path))
    assert (recording.sample_rate, recording.channels, recording.frames, recording.format, recording.subtype) == (
        info.samplerate, info.channels, info.frames, info.format, info.subtype)
    for seconds in (0.05, 1.0, 2.7):
        blocksize = round(seconds * rate)
        expected = list(soundfile.blocks(str(path), blocksize=blocksize, dtype="float32", always_2d=True))
        ours = list(recording.blocks(seconds))
        assert [block.shape for block in ours] == [block.shape for block in expected]
        assert all(block.dtype == np.float32 and np.array_equal(block, want) for block, want in zip(ours, expected))
    assert np.array_equal(np.concatenate(list(recording.blocks(1.0)))[:2], [[-1.0] * channels, [32767 / 32768] * channels])


@pytest.mark.parametrize("subtype", ["PCM_24", "FLOAT", "ULAW", "PCM_U8"])
def test_other_wav_encodings_go_through_libsndfile(tmp_path, subtype):
    recording = open_recording(write(tmp_path / "call.wav", stereo_tone(0.5, 8000), 8000, subtype=subtype))
    assert recording.pcm16_offset is None
    assert recording.subtype == subtype


def test_plain_16_bit_wav_cut_short_after_it_was_opened(tmp_path):
    path = pcm16_wav(tmp_path / "call.wav", np.zeros((16000 * 4, 2)), 16000)
    recording = open_recording(path)
    path.write_bytes(path.read_bytes()[: 44 + 16000 * 4 * 5 // 2])  # 2.5 s of the 4 s
    with pytest.raises(InputFileError) as caught:
        for _ in recording.blocks(1.0):
            pass
    message = assert_one_line_naming(caught.value, path)
    assert "promises 4.0 s" in message and "only 2.5 s" in message


def test_plain_16_bit_wav_gone_before_it_is_read(tmp_path):
    path = pcm16_wav(tmp_path / "call.wav", np.zeros((16000, 2)), 16000)
    recording = open_recording(path)
    path.unlink()
    with pytest.raises(InputFileError) as caught:
        list(recording.blocks(1.0))
    message = assert_one_line_naming(caught.value, path)
    assert "cannot be read after 0.0 s" in message and "check that the file is still there" in message
