"""Opening call recordings: validation with one-line errors, and streamed reading in blocks.

Plain 16-bit PCM WAV files, what most call recorders write, are checked and read here from the
header and the bytes; everything else (companded or float WAV, RF64, FLAC, OGG) goes through
libsndfile. Loading libsndfile (through cffi) took 11-17 ms of a 1-minute replay's 0.35 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from callassist.audio.wav_header import WavHeader, read_wav_header
from callassist.errors import InputFileError

if TYPE_CHECKING:
    import soundfile

MIN_SAMPLE_RATE = 8000
SUPPORTED_FORMATS = {"WAV", "WAVEX", "RF64", "FLAC", "OGG"}
_SUPPORTED_NAMES = "WAV, FLAC or OGG"
# A WAV data chunk of this size (or 0) was written by a recorder that never went back to
# fill in the length; such files are read to their end and cannot be checked for truncation.
_UNKNOWN_DATA_SIZES = {0, 0xFFFFFFFF}


@dataclass(frozen=True)
class Recording:
    """An audio file that opened and passed the checks; the samples are read later in blocks."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str  # container, as soundfile names it: "WAV", "FLAC", "OGG", ...
    subtype: str  # sample encoding: "PCM_16", "ULAW", "ALAW", "VORBIS", ...
    pcm16_offset: int | None = None
    """Where the samples start in a plain 16-bit PCM WAV file, read without libsndfile; None for
    the files libsndfile reads."""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate

    @property
    def is_mono(self) -> bool:
        """One channel: agent and caller are mixed together and cannot be told apart by channel."""
        return self.channels == 1

    def blocks(self, seconds: float) -> Iterator[np.ndarray]:
        """Yield the samples in order as float32 arrays of shape (n, channels), n ≈ seconds × rate.

        The file is streamed, never loaded whole. A file that cannot be decoded to its end, or
        holds fewer frames than its header promised, raises InputFileError. Samples that are not
        finite (NaN or infinity in a float WAV) are read as silence and full scale, so that one bad
        sample cannot poison every level and average computed after it.
        """
        blocksize = max(1, round(seconds * self.sample_rate))
        if self.pcm16_offset is not None:
            yield from self._pcm16_blocks(blocksize)
            return
        import soundfile

        frames_read = 0
        try:
            with soundfile.SoundFile(self.path) as audio:
                for block in audio.blocks(blocksize=blocksize, dtype="float32", always_2d=True):
                    frames_read += len(block)
                    yield block if np.isfinite(block).all() else np.nan_to_num(block, nan=0.0, posinf=1.0, neginf=-1.0)
        except soundfile.LibsndfileError as error:
            at = frames_read / self.sample_rate
            raise InputFileError.at(
                self.path,
                f"cannot be decoded after {at:.1f} s ({_reason(error)}); "
                f"the file is damaged or cut short: re-copy or re-export it",
            ) from None
        if frames_read < self.frames:
            raise _truncated(self.path, self.frames, frames_read, self.sample_rate)

    def _pcm16_blocks(self, blocksize: int) -> Iterator[np.ndarray]:
        """`blocks` of a plain 16-bit PCM WAV file: the samples scaled by 1/32768, as libsndfile
        gives them, in blocks of the same lengths."""
        assert self.pcm16_offset is not None
        frame_bytes = 2 * self.channels
        scale = np.float32(1 / 32768)
        frames_read = 0
        try:
            with self.path.open("rb") as audio:
                audio.seek(self.pcm16_offset)
                while frames_read < self.frames:
                    wanted = min(blocksize, self.frames - frames_read)
                    data = audio.read(wanted * frame_bytes)
                    count = len(data) // frame_bytes
                    if count:
                        samples = np.frombuffer(data, dtype="<i2", count=count * self.channels)
                        yield samples.reshape(count, self.channels) * scale
                    frames_read += count
                    if count < wanted:
                        break
        except OSError as error:
            raise InputFileError.at(
                self.path,
                f"cannot be read after {frames_read / self.sample_rate:.1f} s ({error.strerror or error}); "
                f"check that the file is still there and readable",
            ) from None
        if frames_read < self.frames:
            raise _truncated(self.path, self.frames, frames_read, self.sample_rate)


@dataclass(frozen=True)
class ChannelMap:
    """Which channel of the recording each speaker is on; None when that speaker is absent."""

    agent: int | None
    caller: int | None


def open_recording(path: Path) -> Recording:
    """Open and check an audio file (WAV incl. mu-law/A-law, FLAC, OGG; mono or multi-channel)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError.at(path, "no such file; check the path")
    if path.is_dir():
        raise InputFileError.at(path, "is a folder, not an audio file; give a WAV, FLAC or OGG file")
    if path.stat().st_size == 0:
        raise InputFileError.at(path, "is empty (0 bytes); the recording was not saved: re-export or re-copy it")
    try:
        header = read_wav_header(path)
    except OSError:
        header = None  # libsndfile tries, and says why it cannot
    if header is not None and header.is_plain_pcm16:
        return _plain_pcm16(path, header)
    import soundfile

    try:
        info = soundfile.info(str(path))
    except soundfile.LibsndfileError as error:
        raise InputFileError.at(
            path,
            f"is not a readable audio file ({_reason(error)}); "
            f"give a {_SUPPORTED_NAMES} recording, or re-export this one",
        ) from None
    if info.format not in SUPPORTED_FORMATS:
        raise InputFileError.at(
            path, f"is in the {info.format_info} format, which is not supported; convert it to {_SUPPORTED_NAMES}"
        )
    _check_rate(path, info.samplerate)
    if info.frames == 0:
        raise InputFileError.at(path, "holds no audio (0 samples); re-export or re-copy the recording")
    if info.format in {"WAV", "WAVEX"}:
        _check_wav_length(path, header, info.samplerate)
    return Recording(
        path=path,
        sample_rate=info.samplerate,
        channels=info.channels,
        frames=info.frames,
        format=info.format,
        subtype=info.subtype,
    )


def _plain_pcm16(path: Path, header: WavHeader) -> Recording:
    """The checks libsndfile's path makes, on a plain 16-bit PCM WAV file's header."""
    assert header.sample_rate is not None and header.channels and header.data_size and header.bytes_per_frame
    _check_rate(path, header.sample_rate)
    frames = header.data_size // header.bytes_per_frame
    if frames == 0:
        raise InputFileError.at(path, "holds no audio (0 samples); re-export or re-copy the recording")
    _check_wav_length(path, header, header.sample_rate)
    return Recording(
        path=path,
        sample_rate=header.sample_rate,
        channels=header.channels,
        frames=frames,
        format="WAV",
        subtype="PCM_16",
        pcm16_offset=header.data_offset,
    )


def _check_rate(path: Path, sample_rate: int) -> None:
    if sample_rate < MIN_SAMPLE_RATE:
        raise InputFileError.at(
            path,
            f"has a sample rate of {sample_rate} Hz; at least {MIN_SAMPLE_RATE} Hz is needed "
            f"(telephone quality): re-record or re-export it at {MIN_SAMPLE_RATE} Hz or more",
        )


def channel_map(recording: Recording, agent_channel: int | None = 0, caller_channel: int | None = 1) -> ChannelMap:
    """Check that the requested channels exist (numbered from 0); None leaves that speaker out."""
    requested = {"--agent-channel": agent_channel, "--caller-channel": caller_channel}
    count = recording.channels
    for option, channel in requested.items():
        if channel is not None and not 0 <= channel < count:
            raise InputFileError.at(
                recording.path,
                f"has {count} channel{'s' if count != 1 else ''}; {option} {channel} does not exist "
                f"(channels are numbered from 0)",
            )
    if agent_channel is not None and agent_channel == caller_channel:
        raise InputFileError.at(
            recording.path,
            f"--agent-channel and --caller-channel are both {agent_channel}; "
            f"give each speaker its own channel, or leave one out",
        )
    return ChannelMap(agent=agent_channel, caller=caller_channel)


def _check_wav_length(path: Path, header: WavHeader | None, sample_rate: int) -> None:
    """Compare the length the WAV header gives its data with the bytes present.

    libsndfile quietly reads a cut-short WAV as a shorter recording, so a copy that stopped
    half-way would otherwise pass for a complete, shorter call. RF64, RIFX and the like have
    libsndfile's own checks only.
    """
    if header is None or header.data_size is None or header.data_size in _UNKNOWN_DATA_SIZES or not header.bytes_per_frame:
        return
    present = path.stat().st_size - header.data_offset
    if present < header.data_size:
        raise _truncated(path, header.data_size // header.bytes_per_frame, present // header.bytes_per_frame, sample_rate)


def _truncated(path: Path, promised_frames: int, present_frames: int, sample_rate: int) -> InputFileError:
    return InputFileError.at(
        path,
        f"is cut short: its header promises {promised_frames / sample_rate:.1f} s of audio but only "
        f"{present_frames / sample_rate:.1f} s is there; re-copy or re-export the recording",
    )


def _reason(error: soundfile.LibsndfileError) -> str:
    """libsndfile's message without its decorations ("Error : ...", trailing full stop)."""
    return error.error_string.removeprefix("Error : ").strip().rstrip(".")
