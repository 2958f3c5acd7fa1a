"""How unlikely a tall bin is by chance: the Poisson tail, in log10.

:func:`poisson_log10_sf` gives ``log10 P(X >= k)`` for Poisson counts, also
deep in the tail where the probability itself underflows. The no-match rule
(:mod:`dejavu_lab.core.matching.ranking`) and the scale matcher
(:mod:`dejavu_lab.core.scale_matching`) score their tallest windows with it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammainc, gammaln


def poisson_log10_sf(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``log10 P(X >= observed)`` for ``X ~ Poisson(expected)``, vectorised.

    Uses the regularised lower incomplete gamma function:
    ``P(X >= k) = P(k, lambda)`` (scipy's ``gammainc``); deep tails through
    the leading term of the series to avoid underflow.
    """
    k = np.asarray(observed, dtype=np.float64)
    lam = np.maximum(np.asarray(expected, dtype=np.float64), 1e-300)
    with np.errstate(divide="ignore"):
        tail = np.log10(np.where(k <= 0, 1.0, gammainc(np.maximum(k, 1e-12), lam)))
    # Deep tail: P(X >= k) ~ e^-lam lam^k / k! (1 + lam/(k+1) + ...).
    deep = ~np.isfinite(tail) | (tail < -250)
    if np.any(deep):
        kd, ld = k[deep], lam[deep]
        ratio = np.minimum(ld / (kd + 1.0), 0.99)
        approx = -ld + kd * np.log(ld) - gammaln(kd + 1.0) - np.log1p(-ratio)
        tail[deep] = approx / math.log(10.0)
    return tail
