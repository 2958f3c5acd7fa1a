"""Compiled kernels of the peak finder's candidates (:mod:`dejavu_lab.core.peaks`).

A peak candidate is a point of at least half the largest power of its
neighbourhood. :func:`near_maxima` finds them in a single pass, given the
maximum filter; :func:`rect_near_maxima` in one pass of a rectangular filter
it never stores. Each replaces a few numpy calls and their spectrogram-sized
temporaries with the same float32 comparisons, and has a test against the
numpy or scipy it replaces (``tests/test_kernels.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def near_maxima(values: np.ndarray, largest: np.ndarray) -> np.ndarray:
    """Flat positions where ``values >= largest * 0.5`` (float32 product), ascending.

    ``np.flatnonzero(values >= largest * np.float32(0.5))`` in one pass, without
    the two temporaries of the size of the spectrogram: the same float32
    product and comparison, so the same positions.

    Parameters
    ----------
    values, largest : np.ndarray, float32, C-contiguous, the same shape

    Returns
    -------
    np.ndarray, int64
    """
    flat_values = values.ravel()
    flat_largest = largest.ravel()
    found = np.empty(len(flat_values), np.int64)
    n = 0
    half = np.float32(0.5)
    for i in range(len(flat_values)):
        # Without a branch: few points are near a maximum, at unforeseeable places.
        found[n] = i
        n += flat_values[i] >= flat_largest[i] * half
    return found[:n].copy()


@njit(cache=True, nogil=True)
def rect_near_maxima(
    values: np.ndarray, half_bins: int, half_frames: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Peak candidates of a rectangular maximum filter, the filter never stored.

    For ``largest``, the maximum of each point's ``±half_bins x ±half_frames``
    rectangle (-inf beyond the edges, as ``peaks._rect_maximum_filter``), the
    flat positions where ``values >= largest * 0.5`` (float32 product, as
    :func:`near_maxima`) and ``largest`` there. A frame's maxima along bins are
    kept in a ring of ``2 * half_frames + 1`` rows, so each frame is read once
    and the spectrogram-sized ``largest`` is never written. A maximum of
    values is one of them whatever the order they are compared in, so the
    positions and values are those of the numpy passes (``tests/test_kernels.py``)
    unless a value is NaN, which ``np.maximum`` spreads and a comparison does
    not: then ``finite`` is False and the results are not to be used.

    Parameters
    ----------
    values : np.ndarray, shape (n_frames, n_bins), float32, C-contiguous
    half_bins, half_frames : int

    Returns
    -------
    positions : np.ndarray, int64, ascending
    largest : np.ndarray, float32, the filter's maximum at ``positions``
    finite : bool
        False if ``values`` holds a NaN.
    """
    n_frames, n_bins = values.shape
    window = 2 * half_frames + 1
    ring = np.full((window, n_bins), -np.inf, dtype=np.float32)
    padded = np.full(n_bins + 2 * half_bins, -np.inf, dtype=np.float32)
    acc = np.empty(n_bins, dtype=np.float32)
    positions = np.empty(values.size, np.int64)
    largest = np.empty(values.size, np.float32)
    half = np.float32(0.5)
    n = 0
    nan = False
    for frame in range(n_frames + half_frames):
        row = ring[frame % window]
        if frame < n_frames:
            for j in range(n_bins):
                v = values[frame, j]
                nan |= v != v
                padded[half_bins + j] = v
            for j in range(n_bins):
                row[j] = padded[j]
            for k in range(1, 2 * half_bins + 1):
                for j in range(n_bins):
                    w = padded[j + k]
                    row[j] = w if w > row[j] else row[j]
        else:
            row[:] = -np.inf
        t = frame - half_frames  # the frame whose rectangle is now complete
        if t < 0:
            continue
        first = ring[0]
        for j in range(n_bins):
            acc[j] = first[j]
        for r in range(1, window):
            other = ring[r]
            for j in range(n_bins):
                w = other[j]
                acc[j] = w if w > acc[j] else acc[j]
        base = t * n_bins
        for j in range(n_bins):
            # Without a branch, as near_maxima: few points are candidates.
            positions[n] = base + j
            largest[n] = acc[j]
            n += values[t, j] >= acc[j] * half
    return positions[:n].copy(), largest[:n].copy(), not nan
