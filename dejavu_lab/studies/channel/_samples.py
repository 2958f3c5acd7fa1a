"""Sample arrays as every stage takes and returns them: types, input checks, length, power."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from ...exceptions import ParameterError

FloatArray: TypeAlias = npt.NDArray[np.float64]
Float32Array: TypeAlias = npt.NDArray[np.float32]


def _as_mono(samples: npt.ArrayLike, sample_rate: int) -> FloatArray:
    """Check one stage input and return it as float64."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise ParameterError(f"sample_rate={sample_rate!r} is not allowed: expected an int in Hz")
    if sample_rate <= 0:
        raise ParameterError(f"sample_rate={sample_rate!r} is not allowed: expected > 0 Hz")
    array = np.asarray(samples, dtype=np.float64)
    if array.ndim != 1:
        raise ParameterError(
            f"samples of shape {array.shape} are not allowed: expected a 1-D mono array"
        )
    if not np.all(np.isfinite(array)):
        raise ParameterError("samples contain NaN or infinite values")
    return array


def _fit_length(samples: FloatArray, n_samples: int) -> FloatArray:
    """Crop or zero-pad at the end to exactly ``n_samples``."""
    if len(samples) >= n_samples:
        return samples[:n_samples]
    return np.concatenate([samples, np.zeros(n_samples - len(samples))])


def _power(samples: FloatArray) -> float:
    """Mean square of ``samples`` (0 for an empty array)."""
    return float(np.mean(samples**2)) if len(samples) else 0.0


def _to_float32(samples: FloatArray) -> Float32Array:
    return np.ascontiguousarray(samples, dtype=np.float32)
