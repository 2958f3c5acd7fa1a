"""Playback changes: varispeed, pitch shift and time stretch, fixed or drawn for each clip."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import librosa
import numpy as np
import numpy.typing as npt
import soxr

from ...core.params import Constraint, validate_params
from ...exceptions import ParameterError
from ._samples import Float32Array, FloatArray, _as_mono, _fit_length, _to_float32


def change_speed(samples: npt.ArrayLike, sample_rate: int, *, factor: float) -> FloatArray:
    """Play faster or slower like a turntable: tempo and pitch change together.

    The signal is resampled (soxr, high quality) from ``sample_rate`` to
    ``sample_rate / factor`` and played back at ``sample_rate``, then cropped,
    or zero-padded at the end, to the input length.

    Parameters
    ----------
    samples : array_like, shape (n_samples,)
        Mono signal.
    sample_rate : int
        Sampling rate in Hz.
    factor : float
        Speed ratio: 1.02 plays 2 % faster and 34 cents higher.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
    """
    x = np.asarray(samples, dtype=np.float64)
    if len(x) == 0 or factor == 1.0:
        return x.copy()
    played = np.asarray(soxr.resample(x, sample_rate, sample_rate / factor, "HQ"), np.float64)
    return _fit_length(played, len(x))


def _phase_vocoder_fft(n_samples: int) -> int:
    """librosa's 2048-sample STFT, shortened to a power of two for a short clip."""
    return int(min(2048, 2 ** math.floor(math.log2(max(n_samples, 1)))))


def pitch_shift(samples: npt.ArrayLike, sample_rate: int, *, semitones: float) -> FloatArray:
    """Shift the pitch by ``semitones`` and keep the tempo (``librosa.effects.pitch_shift``).

    A phase-vocoder time stretch followed by a resampling (soxr, high quality):
    every frequency is multiplied by ``2 ** (semitones / 12)``, durations stay.

    Parameters
    ----------
    samples : array_like, shape (n_samples,)
        Mono signal.
    sample_rate : int
        Sampling rate in Hz.
    semitones : float
        Shift in equal-tempered semitones; positive is higher. 1 semitone is a
        frequency ratio of 1.0595.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
        Same length as the input; a clip under 16 samples is returned unchanged.
    """
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < 16 or semitones == 0.0:
        return x.copy()
    shifted = librosa.effects.pitch_shift(
        x,
        sr=sample_rate,
        n_steps=float(semitones),
        n_fft=_phase_vocoder_fft(len(x)),
        res_type="soxr_hq",
    )
    return _fit_length(np.asarray(shifted, dtype=np.float64), len(x))


def time_stretch(samples: npt.ArrayLike, sample_rate: int, *, rate: float) -> FloatArray:
    """Play faster or slower at the same pitch (``librosa.effects.time_stretch``).

    A phase vocoder: the output lasts ``len(samples) / rate`` samples; it is
    then cropped, or zero-padded at the end, to the input length.

    Parameters
    ----------
    samples : array_like, shape (n_samples,)
        Mono signal.
    sample_rate : int
        Sampling rate in Hz (checked only; the vocoder works in samples).
    rate : float
        Tempo ratio: 1.05 plays 5 % faster, every frequency unchanged.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
        Same length as the input; a clip under 16 samples is returned unchanged.
    """
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < 16 or rate == 1.0:
        return x.copy()
    stretched = librosa.effects.time_stretch(x, rate=float(rate), n_fft=_phase_vocoder_fft(len(x)))
    return _fit_length(np.asarray(stretched, dtype=np.float64), len(x))


def draw_change(rng: np.random.Generator, *, low: float, high: float) -> float:
    """A change of random sign and size: uniform on [-high, -low] ∪ [low, high].

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the draw (one sign, one size).
    low, high : float
        Smallest and largest size, 0 <= low <= high.

    Returns
    -------
    float
    """
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return sign * float(rng.uniform(low, high))


@dataclass(frozen=True, kw_only=True)
class Speed:
    """Turntable speed change by ``factor`` (see :func:`change_speed`)."""

    factor: float

    _constraints: ClassVar[dict[str, Constraint]] = {"factor": Constraint(float, low=0.5, high=2.0)}

    def __post_init__(self) -> None:
        validate_params(self)

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Change the speed of ``samples``; ``rng`` is unused."""
        x = _as_mono(samples, sample_rate)
        return _to_float32(change_speed(x, sample_rate, factor=self.factor))


@dataclass(frozen=True, kw_only=True)
class PitchShift:
    """Pitch shift by ``semitones`` at unchanged tempo (see :func:`pitch_shift`)."""

    semitones: float

    _constraints: ClassVar[dict[str, Constraint]] = {
        "semitones": Constraint(float, low=-12.0, high=12.0)
    }

    def __post_init__(self) -> None:
        validate_params(self)

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Shift the pitch of ``samples``; ``rng`` is unused."""
        x = _as_mono(samples, sample_rate)
        return _to_float32(pitch_shift(x, sample_rate, semitones=self.semitones))


@dataclass(frozen=True, kw_only=True)
class TimeStretch:
    """Tempo change by ``rate`` at unchanged pitch (see :func:`time_stretch`)."""

    rate: float

    _constraints: ClassVar[dict[str, Constraint]] = {"rate": Constraint(float, low=0.5, high=2.0)}

    def __post_init__(self) -> None:
        validate_params(self)

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Stretch ``samples`` in time; ``rng`` is unused."""
        x = _as_mono(samples, sample_rate)
        return _to_float32(time_stretch(x, sample_rate, rate=self.rate))


#: The range of a drawn factor's distance from 1 (speed, stretch): 0 to 50 %.
_FACTOR_CHANGE_CONSTRAINTS: dict[str, Constraint] = {
    "min_change": Constraint(float, low=0.0, high=0.5),
    "max_change": Constraint(float, low=0.0, high=0.5),
}


class _RandomChange:
    """A degradation whose amount is drawn for each clip with :func:`draw_change`.

    A subclass (a frozen dataclass) names the bounds of the draw in
    :meth:`_change_range` and applies a drawn change in :meth:`_apply_change`;
    checking the bounds and drawing from the channel's ``rng`` live here once.
    """

    def _change_range(self) -> tuple[float, float]:
        raise NotImplementedError

    def _apply_change(self, x: FloatArray, sample_rate: int, change: float) -> FloatArray:
        raise NotImplementedError

    def __post_init__(self) -> None:
        validate_params(self)
        low, high = self._change_range()
        if low > high:
            raise ParameterError(
                f"{type(self).__name__}: a smallest change {low!r} above the largest {high!r} "
                "is not allowed"
            )

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Draw a change from ``rng`` and degrade ``samples`` by it."""
        low, high = self._change_range()
        change = draw_change(rng, low=low, high=high)
        return _to_float32(self._apply_change(_as_mono(samples, sample_rate), sample_rate, change))


@dataclass(frozen=True, kw_only=True)
class RandomSpeed(_RandomChange):
    """Varispeed by a factor drawn for each clip: ``1 + c``, ``c`` from :func:`draw_change`.

    The defaults draw uniformly from 0.95-0.99 and 1.01-1.05 (a DJ's or a
    radio's pitch control, a video sped up).

    Parameters
    ----------
    min_change, max_change : float
        Smallest and largest size of ``|factor - 1|``, 0 to 0.5.
    """

    min_change: float = 0.01
    max_change: float = 0.05

    _constraints: ClassVar[dict[str, Constraint]] = _FACTOR_CHANGE_CONSTRAINTS

    def _change_range(self) -> tuple[float, float]:
        return self.min_change, self.max_change

    def _apply_change(self, x: FloatArray, sample_rate: int, change: float) -> FloatArray:
        return change_speed(x, sample_rate, factor=1.0 + change)


@dataclass(frozen=True, kw_only=True)
class RandomPitchShift(_RandomChange):
    """Pitch shift by a number of semitones drawn for each clip (:func:`draw_change`).

    Parameters
    ----------
    min_semitones, max_semitones : float
        Smallest and largest size of the shift, 0 to 12 semitones, either way.
    """

    min_semitones: float = 0.5
    max_semitones: float = 1.0

    _constraints: ClassVar[dict[str, Constraint]] = {
        "min_semitones": Constraint(float, low=0.0, high=12.0),
        "max_semitones": Constraint(float, low=0.0, high=12.0),
    }

    def _change_range(self) -> tuple[float, float]:
        return self.min_semitones, self.max_semitones

    def _apply_change(self, x: FloatArray, sample_rate: int, change: float) -> FloatArray:
        return pitch_shift(x, sample_rate, semitones=change)


@dataclass(frozen=True, kw_only=True)
class RandomTimeStretch(_RandomChange):
    """Time stretch by a rate drawn for each clip: ``1 + c``, ``c`` from :func:`draw_change`.

    Parameters
    ----------
    min_change, max_change : float
        Smallest and largest size of ``|rate - 1|``, 0 to 0.5; the defaults
        draw uniformly from 0.95-1.05.
    """

    min_change: float = 0.0
    max_change: float = 0.05

    _constraints: ClassVar[dict[str, Constraint]] = _FACTOR_CHANGE_CONSTRAINTS

    def _change_range(self) -> tuple[float, float]:
        return self.min_change, self.max_change

    def _apply_change(self, x: FloatArray, sample_rate: int, change: float) -> FloatArray:
        return time_stretch(x, sample_rate, rate=1.0 + change)
