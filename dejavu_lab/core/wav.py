"""Plain 16-bit PCM WAV files, the commonest query file, read with :mod:`wave`.

:func:`~dejavu_lab.core.audio.load_audio` read a WAV through libsndfile,
which opens it twice (``info``, then ``read``) and goes through its generic
conversion: about 0.6 ms of the 2 ms decode of a 5 s query. The standard
library's :mod:`wave` reads the header and the int16 frames with less work.
libsndfile's float conversion of 16-bit PCM is ``(float) sample * (1.0f /
0x8000)``, an exact product by a power of two, which is what
:func:`load_pcm16` does, opening the file once: the samples are identical,
bit for bit (``tests/test_wav.py``).

Anything :mod:`wave` does not read as 16-bit PCM (another sample width, a
float or compressed format, a WAVE_FORMAT_EXTENSIBLE header before Python
3.12, a data chunk that runs past the end of the file) is left to libsndfile:
:func:`load_pcm16` returns None.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Scale of libsndfile's int16 -> float conversion (``1.0 / 0x8000``, exact).
_INT16_TO_FLOAT = np.float32(1.0 / 0x8000)
#: What :mod:`wave` raises on a file it does not read.
_DECLINED = (wave.Error, EOFError, OSError, ValueError)


@dataclass(frozen=True)
class PcmLayout:
    """A 16-bit PCM WAV file's frames, as its header describes them.

    Attributes
    ----------
    n_frames : int
        Frames (samples per channel).
    channels : int
    sample_rate : int
        Hz.
    """

    n_frames: int
    channels: int
    sample_rate: int

    @property
    def duration_s(self) -> float:
        """Length in seconds (``frames / sample_rate``, as ``soundfile.info``)."""
        return self.n_frames / self.sample_rate


def load_pcm16(
    path: str | os.PathLike[str], before_reading: Callable[[PcmLayout], None] | None = None
) -> tuple[np.ndarray, PcmLayout] | None:
    """A 16-bit PCM WAV file's frames and layout, as libsndfile gives them, in one open.

    ``before_reading(layout)`` is called once the header is read, before the
    frames are (it may raise: a file too long to read).

    Returns
    -------
    (samples, layout) or None
        ``samples``: shape (n_frames, channels), float32, ``int16 / 32768`` as
        ``soundfile.read(dtype="float32", always_2d=True)``. None for any other
        file, or one whose frames are not all there.
    """
    try:
        with wave.open(os.fspath(path), "rb") as reader:
            layout = PcmLayout(reader.getnframes(), reader.getnchannels(), reader.getframerate())
            if (
                reader.getsampwidth() != 2
                or layout.n_frames == 0
                or layout.channels < 1
                or layout.sample_rate < 1
            ):
                return None
            if before_reading is not None:
                before_reading(layout)  # an AudioError is none of _DECLINED: it passes
            raw = reader.readframes(layout.n_frames)
    except _DECLINED:
        return None
    if len(raw) != 2 * layout.channels * layout.n_frames:
        return None
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32)
    samples *= _INT16_TO_FLOAT
    return samples.reshape(layout.n_frames, layout.channels), layout
