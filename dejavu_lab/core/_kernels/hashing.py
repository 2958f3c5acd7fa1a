"""Compiled kernels of the landmark hashes (:mod:`dejavu_lab.core.hashing`).

**A song's hashes.** :func:`landmark_hashes` pairs each peak with the next ones
of its target zone and packs the pairs in one pass: the pairs of
:func:`~dejavu_lab.core.hashing.peak_pairs`, packed as
:func:`~dejavu_lab.core.hashing.pack_hashes` does; from peaks sorted by frame
then bin, already sorted by offset then hash (it says whether they are).

**A query's variants.** :func:`hash_variants` lists every hash within the
given steps of each query hash (the bin and ``dt`` variants of
:func:`~dejavu_lab.core.hashing.tolerance_variants`), in the order of its numpy
version, in one pass a step.

Each has a test against the numpy it replaces (``tests/test_kernels.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def hash_variants(
    hashes: np.ndarray,
    freq_steps: np.ndarray,
    dt_steps: np.ndarray,
    f1_shift: int,
    f2_shift: int,
    max_bin: int,
    max_dt: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Every hash within the given steps of each query hash, in one pass a step.

    The order of :func:`dejavu_lab.core.hashing.tolerance_variants`' numpy
    version: for each ``(d1, d2, ddt)`` of the steps (``d1`` slowest), the
    hashes whose shifted fields stay in range, in query order.

    Parameters
    ----------
    hashes : np.ndarray, uint32
    freq_steps, dt_steps : np.ndarray, int64
        Shifts of ``f1`` and ``f2``, and of ``dt``.
    f1_shift, f2_shift, max_bin, max_dt : int
        The hash layout.

    Returns
    -------
    variants : np.ndarray, uint32
    origin : np.ndarray, int64
        Index into ``hashes`` of each variant's original.
    """
    n = len(hashes)
    most = n * len(freq_steps) * len(freq_steps) * len(dt_steps)
    variants = np.empty(most, np.uint32)
    origin = np.empty(most, np.int64)
    at = 0
    for d1 in freq_steps:
        for d2 in freq_steps:
            for ddt in dt_steps:
                for i in range(n):
                    h = np.int64(hashes[i])
                    g1 = ((h >> f1_shift) & max_bin) + d1
                    g2 = ((h >> f2_shift) & max_bin) + d2
                    gdt = (h & max_dt) + ddt
                    if 0 <= g1 <= max_bin and 0 <= g2 <= max_bin and 0 <= gdt <= max_dt:
                        variants[at] = np.uint32((g1 << f1_shift) | (g2 << f2_shift) | gdt)
                        origin[at] = i
                        at += 1
    return variants[:at].copy(), origin[:at].copy()


@njit(cache=True, nogil=True)
def landmark_hashes(
    frame: np.ndarray,
    bin_: np.ndarray,
    fan_value: int,
    min_dt: int,
    max_dt: int,
    max_df: int,
    f1_shift: int,
    f2_shift: int,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Pair each peak with the next ``fan_value`` of its target zone and pack the pairs.

    The pairs of :func:`dejavu_lab.core.hashing.peak_pairs`, packed as
    :func:`~dejavu_lab.core.hashing.pack_hashes` does, in one pass: the zone
    of an anchor starts at the first peak ``min_dt`` frames later (and after
    the anchor); a target more than ``max_dt`` frames on ends it, as every
    later one is farther still. Each anchor's hashes are sorted (a fan holds
    a few tens), so peaks sorted by frame then bin give hashes sorted by
    offset then hash.

    Parameters
    ----------
    frame, bin_ : np.ndarray, int
        The peaks, sorted by frame; bins in [0, 4095].
    fan_value, min_dt, max_dt : int
        As :class:`~dejavu_lab.core.hashing.Hasher` (``max_dt`` at most 255).
    max_df : int
        Largest bin distance; negative: any.
    f1_shift, f2_shift : int
        Where the anchor's and the target's bins go in a hash (``dt`` in the low bits).

    Returns
    -------
    hashes : np.ndarray, uint32
    offsets : np.ndarray, int32
        The anchor's frame of each hash.
    ordered : bool
        Whether ``(offset, hash)`` strictly increase: then they are already
        what :meth:`~dejavu_lab.core.hashing.Fingerprints.unique` returns.
    """
    n = len(frame)
    hashes = np.empty(n * max(fan_value, 0), np.uint32)
    offsets = np.empty(n * max(fan_value, 0), np.int32)
    found = 0
    zone = 0
    ordered = True
    for i in range(n):
        # First peak at least min_dt frames on (np.searchsorted, side="left").
        while zone < n and frame[zone] < frame[i] + min_dt:
            zone += 1
        start = max(i + 1, zone)
        begin = found
        for j in range(start, min(n, start + fan_value)):
            dt = np.int64(frame[j]) - np.int64(frame[i])
            if dt > max_dt:
                break
            if max_df >= 0 and abs(np.int64(bin_[j]) - np.int64(bin_[i])) > max_df:
                continue
            value = np.uint32(
                (np.int64(bin_[i]) << f1_shift) | (np.int64(bin_[j]) << f2_shift) | dt
            )
            k = found
            while k > begin and hashes[k - 1] > value:
                hashes[k] = hashes[k - 1]
                k -= 1
            hashes[k] = value
            if k > begin and hashes[k - 1] == value:
                ordered = False  # a repeated peak: Fingerprints.unique drops the repeat
            offsets[found] = frame[i]
            found += 1
        # This anchor's first hash must follow the last one before it.
        if found > begin and begin > 0:
            earlier = offsets[begin] < offsets[begin - 1]
            same = offsets[begin] == offsets[begin - 1] and hashes[begin] <= hashes[begin - 1]
            ordered = ordered and not (earlier or same)
    return hashes[:found].copy(), offsets[:found].copy(), ordered
