"""Reading a RIFF WAV file's header (its `fmt ` chunk and where its data lies) with the standard
library alone: the CLI learns a recording's rate before numpy and libsndfile are loaded (to start
loading the speech model for it), `recording` checks that the data is all there, and reads plain
16-bit PCM (most call recordings) without libsndfile.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import NamedTuple


class WavHeader(NamedTuple):
    """What a RIFF WAV header says: the format (when a `fmt ` chunk comes before the data) and
    the data chunk (`data_size` None when the file ends before one). A named tuple: a frozen
    dataclass costs several times as much to create, at every replay's start."""

    sample_rate: int | None
    channels: int | None
    bytes_per_frame: int | None  # nBlockAlign
    data_offset: int | None  # where the samples start
    data_size: int | None  # as the header gives it
    format_tag: int | None = None  # wFormatTag: 1 integer PCM, 3 float, 7 mu-law, 0xFFFE extensible, ...
    bits_per_sample: int | None = None

    @property
    def is_plain_pcm16(self) -> bool:
        """Little-endian 16-bit integer samples in a data chunk of known size: what `recording`
        reads itself, without libsndfile."""
        return (
            self.format_tag == 1
            and self.bits_per_sample == 16
            and bool(self.channels)
            and self.bytes_per_frame == 2 * self.channels
            and self.data_offset is not None
            and self.data_size not in (None, 0, 0xFFFFFFFF)
        )


def read_wav_header(path: Path) -> WavHeader | None:
    """The header of a RIFF WAVE file, None for anything else (RF64, RIFX, FLAC, ...). Reads the
    chunk headers up to the data chunk, not the data."""
    sample_rate = channels = bytes_per_frame = format_tag = bits_per_sample = None
    with Path(path).open("rb") as wav:
        riff = wav.read(12)
        if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            return None
        while len(chunk := wav.read(8)) == 8:
            chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"fmt ":
                fmt = wav.read(size + (size & 1))
                if len(fmt) >= 14:
                    format_tag, channels, sample_rate = struct.unpack("<HHI", fmt[:8])
                    bytes_per_frame = struct.unpack("<H", fmt[12:14])[0]
                if len(fmt) >= 16:
                    bits_per_sample = struct.unpack("<H", fmt[14:16])[0]
            elif chunk_id == b"data":
                return WavHeader(sample_rate, channels, bytes_per_frame, wav.tell(), size, format_tag, bits_per_sample)
            else:
                wav.seek(size + (size & 1), 1)
    return WavHeader(sample_rate, channels, bytes_per_frame, None, None, format_tag, bits_per_sample)
