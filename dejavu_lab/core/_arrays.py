"""Array helpers shared by the hot paths."""

from __future__ import annotations

import numpy as np


def sorted_unique(values: np.ndarray, *, presorted_runs: bool = False) -> np.ndarray:
    """Sorted distinct values, like ``np.unique(values)``.

    A sort and a comparison of neighbours: with NumPy 2.4, plain ``np.unique``
    on 300,000 integers takes about 40 times longer (it no longer just sorts).
    With ``presorted_runs`` (a concatenation of sorted arrays) a stable sort
    (timsort for integers) merges the runs instead of sorting from scratch.
    """
    ordered = np.sort(values, axis=None, kind="stable" if presorted_runs else None)
    if len(ordered) == 0:
        return ordered
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]
