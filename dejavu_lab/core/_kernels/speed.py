"""Compiled kernels of the speed search's ranking (:mod:`dejavu_lab.core.speed`).

**Hashes of many scaled peak sets.** Ranking a factor hashes the query's peaks
mapped to the stored song's frames and bins at that factor. In numpy, the
40-odd peak sets of a search are laid end to end and paired in one pass per
fan step, then sorted to drop repeated pairs; here each set is paired in one
walk over its peaks (:func:`scaled_set_hashes`). The hashes are those of
:func:`~dejavu_lab.core.speed.hash_sets` (``tests/test_speed.py``): the same
pairs, in another order.

**One lookup of each distinct hash.** Neighbouring factors often map a pair
to the same hash (a low bin moves by less than half a bin), and a varispeed
and a pitch hypothesis of one factor share its bins: about half the hashes
of a search repeat. :func:`distinct_keys` finds the distinct ones in one pass
(a hash table, no sort), and only those are looked up.

**The tallest window of each set.** :func:`set_window_heights` counts each
set's votes (every row of each of its hashes) on one table of buckets, as
:func:`~dejavu_lab.core.speed.tallest_windows` does with a ``bincount`` over
all sets, and takes the windows' maximum in one running sum over the table,
without an array of cells as long as the rows. The results are exactly those
of the numpy reference.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Bit positions of the landmark hash fields (:mod:`dejavu_lab.core.hashing`).
_F1_SHIFT = 20
_F2_SHIFT = 8


@njit(cache=True, nogil=True)
def scaled_set_hashes(
    frames: np.ndarray,
    bins: np.ndarray,
    keep: np.ndarray,
    fan_value: int,
    min_dt: int,
    max_dt: int,
    max_df: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Landmark hashes of several peak sets, each paired on its own.

    Parameters
    ----------
    frames, bins : np.ndarray, shape (n_sets, n_peaks), int64
        Each set's peaks (frames non-decreasing along a row).
    keep : np.ndarray, shape (n_sets, n_peaks), bool
        Peaks of the set (the others are left out, as if absent).
    fan_value, min_dt, max_dt : int
        The hasher's fan and target zone in time (frames).
    max_df : int
        Largest bin distance of a pair; negative: any.

    Returns
    -------
    hashes : np.ndarray, uint32
    offsets : np.ndarray, int32
        The anchor's frame.
    owner : np.ndarray, int64
        The set of each hash; hashes come grouped by set, in set order.
    """
    n_sets, n_peaks = frames.shape
    total = n_sets * n_peaks * fan_value
    hashes = np.empty(total, np.uint32)
    offsets = np.empty(total, np.int32)
    owner = np.empty(total, np.int64)
    frame = np.empty(n_peaks, np.int64)
    bin_ = np.empty(n_peaks, np.int64)
    out = 0
    for s in range(n_sets):
        m = 0
        for i in range(n_peaks):
            if keep[s, i]:
                frame[m] = frames[s, i]
                bin_[m] = bins[s, i]
                m += 1
        zone = 0
        for i in range(m):
            # The zone starts at the first peak min_dt frames later, and after i.
            while zone < m and frame[zone] < frame[i] + min_dt:
                zone += 1
            first = max(zone, i + 1)
            for target in range(first, min(first + fan_value, m)):
                dt = frame[target] - frame[i]
                if dt > max_dt:
                    break  # frames only grow along the set
                if max_df >= 0 and abs(bin_[target] - bin_[i]) > max_df:
                    continue
                hashes[out] = np.uint32((bin_[i] << _F1_SHIFT) | (bin_[target] << _F2_SHIFT) | dt)
                offsets[out] = frame[i]
                owner[out] = s
                out += 1
    return hashes[:out], offsets[:out], owner[:out]


@njit(cache=True, nogil=True)
def distinct_keys(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``hashes`` (first occurrence first) and where each hash's is.

    An open-addressing table of at least twice as many slots as hashes: one
    pass, no sort.

    Parameters
    ----------
    hashes : np.ndarray, uint32

    Returns
    -------
    keys : np.ndarray, uint32
    key_of : np.ndarray, int64
        ``keys[key_of] == hashes``.
    """
    n = len(hashes)
    size = 1
    while size < 2 * n:
        size *= 2
    slot_mask = size - 1
    slot_key = np.zeros(size, np.int64)  # key index + 1; 0: empty
    keys = np.empty(n, np.uint32)
    key_of = np.empty(n, np.int64)
    n_keys = 0
    for i in range(n):
        value = hashes[i]
        # Fibonacci hashing spreads neighbouring hashes over the slots.
        slot = (np.uint64(value) * np.uint64(11400714819323198485)) >> np.uint64(40)
        at = np.int64(slot) & slot_mask
        while True:
            k = slot_key[at]
            if k == 0:
                keys[n_keys] = value
                n_keys += 1
                slot_key[at] = n_keys
                key_of[i] = n_keys - 1
                break
            if keys[k - 1] == value:
                key_of[i] = k - 1
                break
            at = (at + 1) & slot_mask
    return keys[:n_keys], key_of


@njit(cache=True, nogil=True)
def set_window_heights(
    set_start: np.ndarray,
    query_offsets: np.ndarray,
    key_of: np.ndarray,
    row_start: np.ndarray,
    song_id: np.ndarray,
    offset: np.ndarray,
    time_tolerance: int,
    buckets: int,
    stride: int,
) -> np.ndarray:
    """For each set, the tallest window of buckets (see ``tallest_windows``).

    Parameters
    ----------
    set_start : np.ndarray, int64, shape (n_sets + 1,)
        Query hashes ``set_start[s]`` to ``set_start[s + 1]`` are set ``s``'s.
    query_offsets : np.ndarray, int, one per query hash
        Frame of each query hash.
    key_of : np.ndarray, int64, one per query hash
        Its distinct hash value.
    row_start : np.ndarray, int64, shape (n_keys + 1,)
        Rows ``row_start[k]`` to ``row_start[k + 1]`` are those of value ``k``.
    song_id, offset : np.ndarray, int
        The rows found.
    time_tolerance : int
    buckets : int
        Buckets a set (a power of 2).
    stride : int
        Multiplier of the song id in a bucket's key.

    Returns
    -------
    np.ndarray, shape (n_sets,), int64
    """
    n_sets = len(set_start) - 1
    mask = buckets - 1
    table = np.zeros(buckets, np.int32)
    heights = np.zeros(n_sets, np.int64)
    for s in range(n_sets):
        if s:
            table[:] = 0
        for q in range(set_start[s], set_start[s + 1]):
            k = key_of[q]
            start = np.int64(query_offsets[q])
            for r in range(row_start[k], row_start[k + 1]):
                table[(np.int64(song_id[r]) * stride + np.int64(offset[r]) - start) & mask] += 1
        # A running sum over the buckets, wrapping around at the ends.
        height = np.int64(0)
        for d in range(-time_tolerance, time_tolerance + 1):
            height += table[d & mask]
        tallest = height
        for centre in range(1, buckets):
            height += table[(centre + time_tolerance) & mask]
            height -= table[(centre - time_tolerance - 1) & mask]
            if height > tallest:
                tallest = height
        heights[s] = tallest
    return heights
