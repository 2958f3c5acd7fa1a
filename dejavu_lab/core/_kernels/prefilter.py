"""Compiled kernels of the vote's prefilter (:mod:`dejavu_lab.core.matching.prefiltering`).

**The prefilter's bounds.** :func:`song_bound_table` fills the coarse song x
bin table of :func:`dejavu_lab.core.matching.prefiltering.song_bounds` and takes each
song's largest sum of two neighbouring bins in one pass over the rows and
one over the table.

**The songs kept.** :func:`more_songs_than` tells whether the rows hold more
songs than the prefilter keeps (it stops once they do; if not, there is
nothing to filter), and :func:`rows_of_songs` takes the rows of the songs
kept, in their order.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def song_bound_table(
    query_starts: np.ndarray,
    query_index: np.ndarray,
    song_id: np.ndarray,
    offset: np.ndarray,
    n_songs: int,
    n_bins: int,
    shift: int,
) -> np.ndarray:
    """Each song's largest sum of two neighbouring bins of offset difference.

    Parameters
    ----------
    query_starts : np.ndarray, int64, one per query hash
        The query hash's frame plus the smallest difference: a row's bin is
        ``(offset - query_starts[query_index]) >> shift``, in ``[0, n_bins - 1)``.
    query_index, song_id, offset : np.ndarray
        The lookup's rows.
    n_songs, n_bins, shift : int
        Table shape (song ids below ``n_songs``) and bin width ``2 ** shift``.

    Returns
    -------
    np.ndarray, int64, shape (n_songs,)
    """
    # int32 cells (a cell holds fewer than 2**31 rows): half the bytes to
    # clear and scan of the int64 table, which is memory-bound at 2**22 cells.
    table = np.zeros(n_songs * n_bins, np.int32)
    for r in range(len(song_id)):
        cell = np.int64(song_id[r]) * n_bins + (
            (np.int64(offset[r]) - query_starts[query_index[r]]) >> shift
        )
        table[cell] += 1
    bounds = np.zeros(n_songs, np.int64)
    for s in range(n_songs):
        row = s * n_bins
        best = np.int64(0)
        for b in range(n_bins - 1):
            pair = np.int64(table[row + b]) + np.int64(table[row + b + 1])
            if pair > best:
                best = pair
        bounds[s] = best
    return bounds


@njit(cache=True, nogil=True)
def rows_of_songs(
    keep: np.ndarray, query_index: np.ndarray, song_id: np.ndarray, offset: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows whose song is kept (``keep[song_id]``), in their order."""
    n = 0
    for r in range(len(song_id)):
        if keep[song_id[r]]:
            n += 1
    out_query = np.empty(n, query_index.dtype)
    out_song = np.empty(n, song_id.dtype)
    out_offset = np.empty(n, offset.dtype)
    at = 0
    for r in range(len(song_id)):
        if keep[song_id[r]]:
            out_query[at] = query_index[r]
            out_song[at] = song_id[r]
            out_offset[at] = offset[r]
            at += 1
    return out_query, out_song, out_offset


@njit(cache=True, nogil=True)
def more_songs_than(song_id: np.ndarray, limit: int) -> bool:
    """Whether the rows hold more than ``limit`` distinct songs (stops once they do)."""
    n_ids = 0
    for r in range(len(song_id)):
        n_ids = max(n_ids, song_id[r] + 1)
    seen = np.zeros(n_ids, np.bool_)
    found = 0
    for r in range(len(song_id)):
        if not seen[song_id[r]]:
            seen[song_id[r]] = True
            found += 1
            if found > limit:
                return True
    return False
