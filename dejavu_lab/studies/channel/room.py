"""Rooms: synthetic and measured impulse responses, and the ``Reverb`` stage."""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr
from scipy import signal

from ...core.params import Constraint, validate_params
from ...exceptions import AudioError, ParameterError
from ._samples import Float32Array, FloatArray, _as_mono, _to_float32

# Silence between the direct sound and the first reflection of the synthetic
# room: about one metre of extra path.
_REFLECTION_DELAY_S = 0.003
# The synthetic tail lasts 1.5 * RT60, i.e. down to -90 dB.
_TAIL_LENGTH_RT60 = 1.5


def synthetic_room_ir(
    sample_rate: int,
    *,
    rt60_s: float,
    direct_to_reverb_db: float,
    rng: np.random.Generator,
) -> FloatArray:
    """Synthetic room impulse response: a direct path plus decaying noise.

    The reverberant tail is Gaussian noise whose energy falls by 60 dB in
    ``rt60_s`` (equally at all frequencies), starting 3 ms after the direct
    path and lasting ``1.5 * rt60_s``. The tail is scaled so that direct
    energy / tail energy equals ``direct_to_reverb_db``, and the whole
    response has unit energy, so a broadband signal keeps its level.

    Parameters
    ----------
    sample_rate : int
        Sampling rate in Hz.
    rt60_s : float
        Reverberation time in seconds (60 dB energy decay).
    direct_to_reverb_db : float
        Direct-to-reverberant energy ratio in dB.
    rng : numpy.random.Generator
        Source of the tail noise.

    Returns
    -------
    numpy.ndarray, shape (n_taps,), float64
        Impulse response with the direct path at index 0 and unit energy.
    """
    n_taps = max(2, math.ceil(_TAIL_LENGTH_RT60 * rt60_s * sample_rate))
    time_s = np.arange(n_taps) / sample_rate
    # Energy decays 60 dB in rt60_s, so amplitude decays 10 ** (-3 t / rt60).
    tail = rng.standard_normal(n_taps) * 10.0 ** (-3.0 * time_s / rt60_s)
    onset = min(n_taps - 1, max(1, round(_REFLECTION_DELAY_S * sample_rate)))
    tail[:onset] = 0.0
    tail_energy = float(np.sum(tail**2))
    if tail_energy > 0:
        tail *= math.sqrt(10.0 ** (-direct_to_reverb_db / 10.0) / tail_energy)
    ir = tail
    ir[0] = 1.0
    return ir / math.sqrt(float(np.sum(ir**2)))


@functools.lru_cache(maxsize=16)
def _cached_room_ir(path: str, sample_rate: int) -> FloatArray:
    try:
        data, file_rate = sf.read(path, dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioError(path, f"cannot read the impulse response: {error}") from error
    ir = data.mean(axis=1)
    if file_rate != sample_rate:
        ir = np.asarray(soxr.resample(ir, file_rate, sample_rate, quality="HQ"), dtype=np.float64)
    peak = float(np.max(np.abs(ir))) if len(ir) else 0.0
    if peak == 0.0:
        raise AudioError(path, "the impulse response is empty or silent")
    # Drop the propagation delay before the direct sound, so the reverberant
    # query stays time-aligned with the clean excerpt.
    onset = int(np.argmax(np.abs(ir) >= 0.5 * peak))
    ir = ir[onset:]
    ir = ir / math.sqrt(float(np.sum(ir**2)))
    ir.flags.writeable = False
    return ir


def load_room_ir(path: str | os.PathLike[str], sample_rate: int) -> FloatArray:
    """Read a measured room impulse response, ready for :func:`convolve_ir`.

    Channels are averaged to mono, the response is resampled to
    ``sample_rate`` with soxr, everything before the direct sound (the first
    sample reaching half the peak) is dropped, and the result is scaled to
    unit energy. Results are cached per (path, sample rate) in this process.

    Parameters
    ----------
    path : str or path-like
        Any file soundfile can read.
    sample_rate : int
        Target sampling rate in Hz.

    Returns
    -------
    numpy.ndarray, shape (n_taps,), float64
        Read-only impulse response.

    Raises
    ------
    AudioError
        If the file cannot be read or is silent.
    """
    return _cached_room_ir(os.fspath(path), int(sample_rate))


def convolve_ir(samples: npt.ArrayLike, ir: npt.ArrayLike) -> FloatArray:
    """Convolve with an impulse response and keep the first ``len(samples)``.

    The reverberant tail past the end of the excerpt is cut, as a microphone
    recording would stop with the excerpt.

    Parameters
    ----------
    samples : array_like, shape (n_samples,)
        Dry signal.
    ir : array_like, shape (n_taps,)
        Impulse response, direct path first.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
        Reverberant signal.
    """
    x = np.asarray(samples, dtype=np.float64)
    if len(x) == 0:
        return x.copy()
    wet = signal.fftconvolve(x, np.asarray(ir, dtype=np.float64), mode="full")
    return np.asarray(wet[: len(x)], dtype=np.float64)


@dataclass(frozen=True, kw_only=True)
class Reverb:
    """A room: synthetic (``rt60_s``) or measured (``ir_path``) impulse response.

    Give exactly one of ``rt60_s`` and ``ir_path``. The synthetic response is
    drawn afresh from ``rng`` at each call (see :func:`synthetic_room_ir`);
    the measured one is read once per process (see :func:`load_room_ir`).
    The output is the convolution cropped to the input length.

    Parameters
    ----------
    rt60_s : float or None
        Reverberation time of the synthetic room in seconds.
    ir_path : str or None
        File holding a measured impulse response.
    direct_to_reverb_db : float
        Direct-to-reverberant energy ratio of the synthetic room in dB
        (0 dB: a loudspeaker about a metre or two away in a living room).
    """

    rt60_s: float | None = None
    ir_path: str | None = None
    direct_to_reverb_db: float = 0.0

    _constraints: ClassVar[dict[str, Constraint]] = {
        "rt60_s": Constraint(float, low=0.05, high=10.0, allow_none=True),
        "ir_path": Constraint(str, allow_none=True),
        "direct_to_reverb_db": Constraint(float, low=-30.0, high=30.0),
    }

    def __post_init__(self) -> None:
        validate_params(self)
        if (self.rt60_s is None) == (self.ir_path is None):
            raise ParameterError(
                f"Reverb(rt60_s={self.rt60_s!r}, ir_path={self.ir_path!r}) is not allowed: "
                "expected exactly one of rt60_s and ir_path"
            )
        if self.ir_path is not None and not os.path.isfile(self.ir_path):
            raise AudioError(self.ir_path, "impulse response file not found")

    def impulse_response(self, sample_rate: int, rng: np.random.Generator) -> FloatArray:
        """The impulse response :meth:`apply` convolves with, shape (n_taps,)."""
        if self.ir_path is not None:
            return load_room_ir(self.ir_path, sample_rate)
        assert self.rt60_s is not None  # guaranteed by __post_init__
        return synthetic_room_ir(
            sample_rate,
            rt60_s=self.rt60_s,
            direct_to_reverb_db=self.direct_to_reverb_db,
            rng=rng,
        )

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Convolve ``samples`` with the room response."""
        x = _as_mono(samples, sample_rate)
        return _to_float32(convolve_ir(x, self.impulse_response(sample_rate, rng)))
