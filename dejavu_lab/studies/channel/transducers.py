"""Loudspeakers and microphones: band limits (causal Butterworth), gain and clipping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from scipy import signal

from ...core.params import Constraint, validate_params
from ...exceptions import ParameterError
from ._samples import Float32Array, FloatArray, _as_mono, _to_float32


def band_limit(
    samples: npt.ArrayLike,
    sample_rate: int,
    *,
    low_hz: float | None,
    high_hz: float | None,
    order: int,
) -> FloatArray:
    """Band-limit like a loudspeaker or microphone: causal Butterworth filters.

    The filter is causal (``scipy.signal.sosfilt``), like a real transducer:
    it keeps the physical phase response and delays the signal by its group
    delay (about a millisecond in the pass band for the edges used in
    :data:`.CONDITIONS`), which is far below a fingerprint's time resolution.

    Parameters
    ----------
    samples : array_like, shape (n_samples,)
        Mono signal.
    sample_rate : int
        Sampling rate in Hz.
    low_hz : float or None
        High-pass edge (-3 dB) in Hz; ``None`` for no high-pass.
    high_hz : float or None
        Low-pass edge (-3 dB) in Hz; ``None``, or at or above the Nyquist
        frequency, for no low-pass.
    order : int
        Butterworth order of each edge (slope of ``6 * order`` dB/octave).

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
        The filtered signal.

    Raises
    ------
    ParameterError
        If ``low_hz`` is at or above the Nyquist frequency.
    """
    x = np.asarray(samples, dtype=np.float64)
    nyquist = sample_rate / 2
    sections = []
    if low_hz is not None:
        if low_hz >= nyquist:
            raise ParameterError(
                f"low_hz={low_hz!r} is not allowed at sample_rate={sample_rate}: "
                f"expected below the Nyquist frequency {nyquist:g} Hz"
            )
        sections.append(
            signal.butter(order, low_hz, btype="highpass", fs=sample_rate, output="sos")
        )
    if high_hz is not None and high_hz < nyquist:
        sections.append(
            signal.butter(order, high_hz, btype="lowpass", fs=sample_rate, output="sos")
        )
    if not sections or len(x) == 0:
        return x.copy()
    return np.asarray(signal.sosfilt(np.concatenate(sections), x), dtype=np.float64)


@dataclass(frozen=True, kw_only=True)
class BandLimit:
    """Loudspeaker or microphone frequency range (causal Butterworth).

    Parameters
    ----------
    low_hz : float or None
        High-pass edge in Hz; ``None`` for none.
    high_hz : float or None
        Low-pass edge in Hz; ``None`` for none. An edge at or above the
        Nyquist frequency of the signal is skipped.
    order : int
        Butterworth order of each edge.

    See Also
    --------
    band_limit : the filter itself.
    """

    low_hz: float | None = None
    high_hz: float | None = None
    order: int = 4

    _constraints: ClassVar[dict[str, Constraint]] = {
        "low_hz": Constraint(float, low=1.0, high=96000.0, allow_none=True),
        "high_hz": Constraint(float, low=1.0, high=96000.0, allow_none=True),
        "order": Constraint(int, low=1, high=12),
    }

    def __post_init__(self) -> None:
        validate_params(self)
        if self.low_hz is not None and self.high_hz is not None and self.low_hz >= self.high_hz:
            raise ParameterError(
                f"BandLimit.low_hz={self.low_hz!r} is not allowed: "
                f"expected below high_hz={self.high_hz!r}"
            )

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Filter ``samples``; ``rng`` is unused."""
        x = _as_mono(samples, sample_rate)
        return _to_float32(
            band_limit(
                x,
                sample_rate,
                low_hz=self.low_hz,
                high_hz=self.high_hz,
                order=self.order,
            )
        )


@dataclass(frozen=True, kw_only=True)
class Gain:
    """A level change of ``db`` decibels (no clipping; see :class:`Clip`)."""

    db: float

    _constraints: ClassVar[dict[str, Constraint]] = {"db": Constraint(float, low=-60.0, high=40.0)}

    def __post_init__(self) -> None:
        validate_params(self)

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Scale ``samples``; ``rng`` is unused."""
        return _to_float32(_as_mono(samples, sample_rate) * 10.0 ** (self.db / 20.0))


@dataclass(frozen=True, kw_only=True)
class Clip:
    """Hard clipping to [-limit, limit], like a saturating converter."""

    limit: float = 1.0

    _constraints: ClassVar[dict[str, Constraint]] = {"limit": Constraint(float, low=1e-3, high=1.0)}

    def __post_init__(self) -> None:
        validate_params(self)

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Clip ``samples``; ``rng`` is unused."""
        return _to_float32(np.clip(_as_mono(samples, sample_rate), -self.limit, self.limit))
