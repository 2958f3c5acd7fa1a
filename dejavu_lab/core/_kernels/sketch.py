"""Compiled kernels of the sketch (:mod:`dejavu_lab.core.sketch`).

:func:`differing_bits` counts, at each offset of the sketch check, the bits of a
query's sketch that differ from a song's: the integers numpy's ``bitwise_count``
of their XOR sums, in one pass and no ``frames x offsets`` temporary (a query's
ten candidates, 350 offsets each, a query).

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


@njit(cache=True, nogil=True)
def differing_bits(query: np.ndarray, song: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Bits of the query's frames ``1 ..`` that differ from the song's, at each start.

    Parameters
    ----------
    query, song : np.ndarray, uint32
        Sketches, one word a frame.
    starts : np.ndarray, int64
        Song frame the query's frame 0 is laid on.

    Returns
    -------
    np.ndarray, int64
        The count of differing bits at each start; -1 where the query runs off the song.
    """
    n = len(query)
    out = np.full(len(starts), -1, np.int64)
    m1 = np.uint64(0x5555555555555555)
    m2 = np.uint64(0x3333333333333333)
    m4 = np.uint64(0x0F0F0F0F0F0F0F0F)
    h01 = np.uint64(0x0101010101010101)
    for i in range(len(starts)):
        start = starts[i]
        if start < 0 or start + n > len(song):
            continue
        total = np.int64(0)
        for t in range(1, n):
            x = np.uint64(query[t] ^ song[start + t])
            x = x - ((x >> np.uint64(1)) & m1)
            x = (x & m2) + ((x >> np.uint64(2)) & m2)
            x = (x + (x >> np.uint64(4))) & m4
            total += np.int64((x * h01) >> np.uint64(56))
        out[i] = total
    return out
