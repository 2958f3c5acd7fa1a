"""Compiled kernels of the song index's reads (:mod:`dejavu_lab.store.indexes.song_index`).

**A few songs' rows of the query hashes.** Each song's rows are sorted by hash:
:func:`join_sorted` merges a song's run with the sorted query hashes, and
:func:`stable_order` (a counting sort) groups the rows found by query position.

**A song's stretch.** The peak check reads a few seconds of a song from the
song index, whose rows are sorted by hash: :func:`rows_in_range` selects and
sorts them in one pass instead of six.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def rows_in_range(
    hashes: np.ndarray, offsets: np.ndarray, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray]:
    """The rows with ``start <= offset < stop``, sorted by offset then hash.

    Parameters
    ----------
    hashes : np.ndarray, uint32
    offsets : np.ndarray, non-negative integers (frames), as long as ``hashes``
    start, stop : int
        Frames.

    Returns
    -------
    hashes : np.ndarray, uint32
    offsets : np.ndarray, int32
    """
    n = 0
    for i in range(len(offsets)):
        if start <= offsets[i] < stop:
            n += 1
    key = np.empty(n, np.int64)
    if n == 0:
        return key.astype(np.uint32), key.astype(np.int32)
    if start < stop - (1 << 22):
        k = 0
        for i in range(len(offsets)):
            offset = np.int64(offsets[i])
            if start <= offset < stop:
                key[k] = (offset << 32) | np.int64(hashes[i])
                k += 1
        key.sort()
        return (key & 0xFFFFFFFF).astype(np.uint32), (key >> 32).astype(np.int32)
    # A short stretch: a counting sort by offset, then an insertion sort of
    # each frame's few hashes.
    span = stop - start
    frame_end = np.zeros(span + 1, np.int64)
    for i in range(len(offsets)):
        offset = np.int64(offsets[i])
        if start <= offset < stop:
            frame_end[offset - start + 1] += 1
    for f in range(span):
        frame_end[f + 1] += frame_end[f]
    for i in range(len(offsets)):
        offset = np.int64(offsets[i])
        if start <= offset < stop:
            at = frame_end[offset - start]
            key[at] = (offset << 32) | np.int64(hashes[i])
            frame_end[offset - start] = at + 1
    for i in range(1, n):
        value = key[i]
        k = i - 1
        while k >= 0 and key[k] > value:
            key[k + 1] = key[k]
            k -= 1
        key[k + 1] = value
    return (key & 0xFFFFFFFF).astype(np.uint32), (key >> 32).astype(np.int32)


@njit(cache=True, nogil=True)
def join_sorted(
    sorted_query: np.ndarray, order: np.ndarray, hashes: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of one song's run whose hash is a query hash: a merge of two sorted lists.

    Parameters
    ----------
    sorted_query : np.ndarray, uint32, sorted
        The query hashes (repeats allowed).
    order : np.ndarray, int64
        The query position of each element of ``sorted_query``.
    hashes, offsets : np.ndarray
        The song's rows, sorted by hash then offset.

    Returns
    -------
    query_index : np.ndarray, int64
    offset : np.ndarray, int32
        For each query hash in sorted order, every row of its hash, in run order.
    """
    total = 0
    j = 0
    for i in range(len(sorted_query)):
        value = sorted_query[i]
        while j < len(hashes) and hashes[j] < value:
            j += 1
        k = j
        while k < len(hashes) and hashes[k] == value:
            k += 1
        total += k - j
    query_index = np.empty(total, np.int64)
    offset = np.empty(total, np.int32)
    at = 0
    j = 0
    for i in range(len(sorted_query)):
        value = sorted_query[i]
        while j < len(hashes) and hashes[j] < value:
            j += 1
        k = j
        while k < len(hashes) and hashes[k] == value:
            query_index[at] = order[i]
            offset[at] = np.int32(offsets[k])
            at += 1
            k += 1
    return query_index, offset


@njit(cache=True, nogil=True)
def stable_order(keys: np.ndarray, n_keys: int) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` of small non-negative keys, by counting sort.

    Parameters
    ----------
    keys : np.ndarray, int64, each in ``[0, n_keys)``
    n_keys : int

    Returns
    -------
    np.ndarray, int64
        Positions of ``keys`` in ascending key order, ties in their order.
    """
    start = np.zeros(n_keys + 1, np.int64)
    for i in range(len(keys)):
        start[keys[i] + 1] += 1
    for k in range(n_keys):
        start[k + 1] += start[k]
    order = np.empty(len(keys), np.int64)
    for i in range(len(keys)):
        order[start[keys[i]]] = i
        start[keys[i]] += 1
    return order
