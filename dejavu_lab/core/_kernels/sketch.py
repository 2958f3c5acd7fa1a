"""Compiled kernel of the sketch's band energies (:mod:`dejavu_lab.core.sketch`).

:func:`band_energies` sums each frame's power in the sketch's bands (a sparse
filter bank over the floored power) in a single pass over a query's or a whole
song's spectrogram, reading its frames contiguously: the float32 operations of
the scipy sparse product it replaces, in its order, so the same bits
(``tests/test_kernels.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def band_energies(
    power: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    floor: np.float32,
) -> np.ndarray:
    """Each frame's band energies ``sum_j w[m, j] * max(power[f, j], floor)``, in one pass.

    The float32 operations of scipy's sparse product ``filters @ np.maximum(power.T,
    floor)`` in its order (each band's bins in the filter's order), so the same bits
    (``tests/test_kernels.py``); here the frames' rows are read contiguously, where the
    sparse product walks a transposed spectrogram's strided rows (about 9x slower on a song).

    Parameters
    ----------
    power : np.ndarray, shape (n_frames, n_bins), float32 (C-contiguous)
    indptr, indices : np.ndarray, int32
        A CSR matrix's structure, shape (n_bands, n_bins).
    weights : np.ndarray, float32
        Its values.
    floor : np.float32
        Power below this counts as this.

    Returns
    -------
    np.ndarray, shape (n_bands, n_frames), float32
    """
    n_frames = power.shape[0]
    n_bands = len(indptr) - 1
    out = np.zeros((n_bands, n_frames), dtype=np.float32)
    for f in range(n_frames):
        row = power[f]
        for m in range(n_bands):
            total = np.float32(0.0)
            for k in range(indptr[m], indptr[m + 1]):
                value = row[indices[k]]
                if value < floor:
                    value = floor
                total += weights[k] * value
            out[m, f] = total
    return out
