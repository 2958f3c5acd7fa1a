"""A direct reader of plain 16-bit PCM WAV files, the commonest query file.

:func:`~dejavu_lab.core.audio.load_audio` read a WAV through libsndfile,
which opens it twice (``info``, then ``read``) and goes through its generic
conversion: about 0.6 ms of the 2 ms decode of a 5 s query. A plain PCM WAV
is a header and little-endian int16 frames, read here straight into an
array. libsndfile's float conversion of 16-bit PCM is ``(float)
sample * (1.0f / 0x8000)``, an exact product by a power of two, which is what
:func:`read_pcm16` does: the samples are identical, bit for bit
(``tests/test_wav.py``).

Anything else (another sample format, a WAVE_FORMAT_EXTENSIBLE header of a
non-PCM subtype, an empty data chunk or one that runs past the end of the
file, RF64) is left to libsndfile: :func:`pcm16_layout` returns None.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

#: ``wFormatTag`` of integer PCM, and of WAVE_FORMAT_EXTENSIBLE.
_PCM = 0x0001
_EXTENSIBLE = 0xFFFE
#: The PCM subtype GUID's bytes after its first two (which repeat the format tag).
_PCM_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
#: Scale of libsndfile's int16 -> float conversion (``1.0 / 0x8000``, exact).
_INT16_TO_FLOAT = np.float32(1.0 / 0x8000)
#: Chunks read at most before ``data`` (a corrupt header must not loop long).
_MAX_CHUNKS = 64


@dataclass(frozen=True)
class PcmLayout:
    """Where a 16-bit PCM WAV file's frames are.

    Attributes
    ----------
    data_start : int
        Byte offset of the first frame.
    n_frames : int
        Frames (samples per channel).
    channels : int
    sample_rate : int
        Hz.
    """

    data_start: int
    n_frames: int
    channels: int
    sample_rate: int

    @property
    def duration_s(self) -> float:
        """Length in seconds (``frames / sample_rate``, as ``soundfile.info``)."""
        return self.n_frames / self.sample_rate


def pcm16_layout(path: str | os.PathLike[str]) -> PcmLayout | None:
    """The layout of a plain 16-bit PCM WAV file, or None for any other file."""
    try:
        with open(path, "rb") as handle:
            return _layout(handle, os.fstat(handle.fileno()).st_size)
    except OSError:
        return None


def read_pcm16(path: str | os.PathLike[str], layout: PcmLayout) -> np.ndarray | None:
    """The frames of a file :func:`pcm16_layout` described, as libsndfile gives them.

    Returns
    -------
    np.ndarray, shape (n_frames, channels), float32, or None
        ``int16 / 32768``, as ``soundfile.read(dtype="float32",
        always_2d=True)``; None if the file no longer holds them.
    """
    raw = np.empty(layout.n_frames * layout.channels, dtype="<i2")
    try:
        with open(path, "rb") as handle:
            handle.seek(layout.data_start)
            if handle.readinto(raw.data.cast("B")) != raw.nbytes:
                return None
    except OSError:
        return None
    samples = raw.astype(np.float32)
    samples *= _INT16_TO_FLOAT
    return samples.reshape(layout.n_frames, layout.channels)


def _layout(handle: BinaryIO, size: int) -> PcmLayout | None:
    riff = handle.read(12)
    if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        return None
    position = 12
    fmt: tuple[int, int] | None = None
    for _ in range(_MAX_CHUNKS):
        header = handle.read(8)
        if len(header) < 8:
            return None
        name, length = header[:4], struct.unpack("<I", header[4:])[0]
        position += 8
        padded = length + (length & 1)
        if name == b"fmt ":
            if not 16 <= length <= 256 or fmt is not None:
                return None
            fmt = _pcm16_format(handle.read(padded)[:length])
            if fmt is None:
                return None
        elif name == b"data":
            channels, rate = fmt or (0, 0)
            n_frames = length // (2 * channels) if channels else 0
            if n_frames == 0 or position + length > size:
                return None
            return PcmLayout(position, n_frames, channels, rate)
        else:
            handle.seek(padded, os.SEEK_CUR)
        position += padded
    return None


def _pcm16_format(body: bytes) -> tuple[int, int] | None:
    """Channels and rate of a ``fmt `` chunk of 16-bit integer PCM, else None."""
    if len(body) < 16:
        return None
    tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _EXTENSIBLE:
        # cbSize, wValidBitsPerSample, dwChannelMask, then the subtype GUID.
        if len(body) < 40 or body[26:40] != _PCM_GUID_TAIL:
            return None
        (valid_bits,) = struct.unpack("<H", body[18:20])
        (tag,) = struct.unpack("<H", body[24:26])
        if valid_bits != 16:
            return None
    if tag != _PCM or bits != 16 or channels < 1 or rate < 1 or block_align != 2 * channels:
        return None
    return channels, rate
