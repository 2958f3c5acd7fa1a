"""Compiled kernels of the hash index's lookup (:mod:`dejavu_lab.store.indexes.hash_index`).

**Each query hash's run.** The index's keys are sorted in two segments (the
common hashes last), each key with the first row of its run. :func:`key_buckets`
tables where each bucket of the first segment starts (once an index);
:func:`find_runs` then searches each query hash within its bucket, a few keys,
instead of a binary search of millions whose first steps miss the cache. The
runs are those of the binary searches (``tests/test_index.py``).

**The rows of the runs.** :func:`gather_runs` unpacks the rows of each query
hash's run of a packed index (``song_id << offset_bits | offset``), in query
order, in one pass.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def gather_runs(
    packed: np.ndarray, first: np.ndarray, counts: np.ndarray, offset_bits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of each query hash's run of a packed index, in query order.

    Parameters
    ----------
    packed : np.ndarray, uint32
        The index's rows, ``song_id << offset_bits | offset``.
    first, counts : np.ndarray, int64, one per query hash
        Where its run starts, and how many of its rows to take (0: none).
    offset_bits : int

    Returns
    -------
    query_index : np.ndarray, int64
    song_id, offset : np.ndarray, int32
    """
    total = 0
    for q in range(len(counts)):
        total += counts[q]
    query_index = np.empty(total, np.int64)
    song_id = np.empty(total, np.int32)
    offset = np.empty(total, np.int32)
    mask = np.uint32((1 << offset_bits) - 1)
    at = 0
    for q in range(len(counts)):
        start = first[q]
        for j in range(counts[q]):
            value = packed[start + j]
            query_index[at] = q
            song_id[at] = np.int32(value >> offset_bits)
            offset[at] = np.int32(value & mask)
            at += 1
    return query_index, song_id, offset


@njit(cache=True, nogil=True)
def key_buckets(keys: np.ndarray, shift: int) -> np.ndarray:
    """Where each bucket of sorted hash keys starts: ``np.searchsorted(keys, b << shift)``.

    Parameters
    ----------
    keys : np.ndarray, uint32, sorted ascending
    shift : int
        Bucket ``b`` holds the keys ``k`` with ``k >> shift == b`` (1-32).

    Returns
    -------
    np.ndarray, int64, shape (2 ** (32 - shift) + 1,)
        ``starts[b]`` .. ``starts[b + 1]``: the keys of bucket ``b``.
    """
    n_buckets = np.int64(1) << (32 - shift)
    starts = np.empty(n_buckets + 1, np.int64)
    b = np.int64(0)
    for i in range(len(keys)):
        bucket = np.int64(keys[i]) >> shift
        while b <= bucket:
            starts[b] = i
            b += 1
    while b <= n_buckets:
        starts[b] = len(keys)
        b += 1
    return starts


@njit(cache=True, nogil=True)
def find_runs(
    keys: np.ndarray,
    starts: np.ndarray,
    n_plain: int,
    buckets: np.ndarray,
    shift: int,
    query: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last row of each query hash, through a bucket table.

    ``keys[:n_plain]`` and ``keys[n_plain:]`` (the common hashes) are each
    sorted; ``buckets`` (:func:`key_buckets` of the first segment) narrows
    each search of it to one bucket, a few keys, instead of a binary search
    of millions whose first steps miss the cache; the second, short segment is
    searched whole.

    Parameters
    ----------
    keys : np.ndarray, uint32
    starts : np.ndarray, int
        First row of each key's run, and one past the last (``len(keys) + 1``).
    n_plain : int
        Keys in the first segment.
    buckets : np.ndarray, int64
    shift : int
        As given to :func:`key_buckets`.
    query : np.ndarray, uint32

    Returns
    -------
    first, last : np.ndarray, int64
        Both 0 for a hash not stored.
    """
    n = len(query)
    first = np.zeros(n, np.int64)
    last = np.zeros(n, np.int64)
    n_keys = len(keys)
    for i in range(n):
        value = query[i]
        b = np.int64(value) >> shift
        end = buckets[b + 1]
        at = _lower_bound(keys, buckets[b], end, value)
        if at == end or keys[at] != value:
            if n_plain == n_keys:
                continue
            end = n_keys
            at = _lower_bound(keys, n_plain, end, value)
            if at == end or keys[at] != value:
                continue
        first[i] = starts[at]
        last[i] = starts[at + 1]
    return first, last


@njit(cache=True, nogil=True, inline="always")
def _lower_bound(keys: np.ndarray, lo: int, hi: int, value: np.uint32) -> int:
    """The first position in ``keys[lo:hi]`` (sorted) whose key is not below ``value``."""
    while lo < hi:
        middle = (lo + hi) >> 1
        if keys[middle] < value:
            lo = middle + 1
        else:
            hi = middle
    return lo
