"""Confidence intervals for the proportions the studies report.

An accuracy measured on ``n`` clips is a binomial proportion; the Wilson score
interval keeps its coverage close to the nominal level for small ``n`` and for
proportions near 0 or 1 (where the normal-approximation interval collapses to
a point), which is where fingerprinting accuracies usually sit.

>>> from dejavu_lab.studies.intervals import wilson_interval
>>> low, high = wilson_interval(45, 45)
>>> round(float(low), 3), round(float(high), 3)
(0.921, 1.0)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

from ..exceptions import ParameterError

__all__ = ["wilson_interval"]


def wilson_interval(
    successes: npt.ArrayLike, total: npt.ArrayLike, *, confidence: float = 0.95
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Wilson score interval of a binomial proportion.

    Parameters
    ----------
    successes : array_like of int
        Successes, 0 <= successes <= total.
    total : array_like of int
        Trials (broadcast against ``successes``); where 0 the bounds are NaN.
    confidence : float
        Two-sided coverage, in (0, 1).

    Returns
    -------
    low, high : numpy.ndarray of float64
        Bounds of the proportion, in [0, 1], shaped like the broadcast inputs.

    Raises
    ------
    ParameterError
        If ``confidence`` is outside (0, 1), or ``successes`` is negative or
        above ``total``.
    """
    if not 0.0 < confidence < 1.0:
        raise ParameterError(f"confidence={confidence!r} is not allowed: expected in (0, 1)")
    k, n = np.broadcast_arrays(
        np.asarray(successes, dtype=np.float64), np.asarray(total, dtype=np.float64)
    )
    if np.any(k < 0) or np.any(k > n):
        raise ParameterError("successes must lie between 0 and total")
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denominator = 1.0 + z**2 / n
        centre = (p + z**2 / (2.0 * n)) / denominator
        half = z * np.sqrt(p * (1.0 - p) / n + z**2 / (4.0 * n**2)) / denominator
    low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high
