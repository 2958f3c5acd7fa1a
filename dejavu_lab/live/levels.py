"""The level of a block of samples, in dBFS, for an input meter."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

SILENCE_FLOOR_DBFS = -120.0
"""Level reported by :func:`rms_dbfs` for digital silence, in dBFS."""


def rms_dbfs(chunk: npt.ArrayLike) -> float:
    """Root-mean-square level of a block of samples, for an input meter.

    Parameters
    ----------
    chunk : array_like, shape (n_samples,)
        Samples in [-1, 1] (full scale is 1.0).

    Returns
    -------
    float
        ``20 * log10(rms)`` in dBFS, where a full-scale square wave is 0 dBFS
        and a sine of amplitude 0.5 about -9.03 dBFS. Silence and empty input
        give :data:`SILENCE_FLOOR_DBFS` (-120 dBFS), never ``-inf``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(44100) / 44100
    >>> round(rms_dbfs(0.5 * np.sin(2 * np.pi * 440 * t)), 2)
    -9.03
    """
    samples = np.asarray(chunk, dtype=np.float64)
    if samples.size == 0:
        return SILENCE_FLOOR_DBFS
    rms = float(np.sqrt(np.mean(np.square(samples))))
    floor = 10.0 ** (SILENCE_FLOOR_DBFS / 20.0)
    return 20.0 * math.log10(max(rms, floor))
