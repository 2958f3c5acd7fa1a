"""Ranking the factors: for each, about the tallest window of votes of any song.

One lookup and one vote count serve every factor tried (:func:`factor_heights`): the
votes of each factor's hashes go into buckets of their own (:func:`tallest_windows`;
:func:`window_heights` counts them from the rows of the distinct hashes, compiled).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..hashing import Hasher
from ..matching import Lookup
from ..peaks import Peaks
from .factors import Factor
from .scaling import dt_variants, scaled_hashes
from .search import SpeedSearch

#: Buckets a peak set of :func:`tallest_windows` (a power of 2).
SET_BUCKETS = 1 << 15
#: Odd multiplier spreading songs over the buckets.
_SONG_STRIDE = 40503


def tallest_windows(
    owner: np.ndarray, song_id: np.ndarray, diff: np.ndarray, *, n_sets: int, time_tolerance: int
) -> np.ndarray:
    """For each peak set, about the tallest window of votes of any song.

    Votes (every row, repeated hashes included) are counted in
    :data:`SET_BUCKETS` buckets a set, ``(song * stride + diff) mod buckets``:
    neighbouring offsets of a song stay neighbours, and other songs' votes
    fall into a bucket by chance (rows / buckets on average, a fraction of a
    vote for a query of a few seconds).

    Parameters
    ----------
    owner : np.ndarray, int
        Peak set of each row (0 .. n_sets - 1).
    song_id : np.ndarray, int
    diff : np.ndarray, int
        Stored offset minus query offset (frames).
    n_sets : int
    time_tolerance : int
        Window half-width (frames).

    Returns
    -------
    np.ndarray, shape (n_sets,), int64
    """
    cell = song_id.astype(np.int64) * _SONG_STRIDE + diff
    cell &= SET_BUCKETS - 1
    cell += owner.astype(np.int64) * SET_BUCKETS
    table = np.bincount(cell, minlength=n_sets * SET_BUCKETS).reshape(n_sets, SET_BUCKETS)
    # Wrap each set's buckets around so that windows at the ends are whole.
    wide = np.concatenate(
        [table[:, SET_BUCKETS - time_tolerance :], table, table[:, :time_tolerance]], axis=1
    )
    windowed = table.copy()
    for delta in range(-time_tolerance, time_tolerance + 1):
        if delta:
            windowed += wide[:, time_tolerance + delta : time_tolerance + delta + SET_BUCKETS]
    return np.asarray(windowed.max(axis=1), dtype=np.int64)


def distinct_keys(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct hashes (in order of first occurrence), and which one each hash is.

    Returns
    -------
    keys : np.ndarray, uint32
    key_of : np.ndarray, int64
        ``keys[key_of]`` equals ``hashes``.
    """
    from .._kernels.speed import distinct_keys as compiled

    hashes = np.asarray(hashes, dtype=np.uint32)
    if not len(hashes):
        return hashes, np.zeros(0, np.int64)
    keys, key_of = compiled(hashes)
    return np.asarray(keys, dtype=np.uint32), np.asarray(key_of, dtype=np.int64)


def window_heights(
    owner: np.ndarray,
    query_offsets: np.ndarray,
    key_of: np.ndarray,
    found: Lookup,
    *,
    n_sets: int,
    time_tolerance: int,
) -> np.ndarray:
    """:func:`tallest_windows` of several sets' hashes, from the rows of their distinct values.

    Parameters
    ----------
    owner : np.ndarray, int, one per query hash
        The peak set of each query hash (0 .. n_sets - 1).
    query_offsets : np.ndarray, int, one per query hash
        Frame of each query hash.
    key_of : np.ndarray, int, one per query hash
        Which distinct value it has (see
        :func:`~dejavu_lab.core._kernels.speed.distinct_keys`).
    found : Lookup
        The rows of the distinct values (``query_index`` refers to them).
    n_sets, time_tolerance : int
        As :func:`tallest_windows`.

    Returns
    -------
    np.ndarray, shape (n_sets,), int64
        Equal to ``tallest_windows(owner[q], song_id, offset - query_offsets[q], ...)``
        over every (query hash ``q``, row of its value) pair.
    """
    from .._kernels.speed import set_window_heights

    owner = np.asarray(owner, dtype=np.int64)
    query_offsets = np.asarray(query_offsets)
    key_of = np.asarray(key_of, dtype=np.int64)
    if len(owner) > 1 and np.any(owner[1:] < owner[:-1]):
        order = np.argsort(owner, kind="stable")
        owner, query_offsets, key_of = owner[order], query_offsets[order], key_of[order]
    set_start = np.searchsorted(owner, np.arange(n_sets + 1, dtype=np.int64))
    index, song_id, offset = found.query_index, found.song_id, found.offset
    if len(index) > 1 and np.any(index[1:] < index[:-1]):
        order = np.argsort(index, kind="stable")
        index, song_id, offset = index[order], song_id[order], offset[order]
    n_keys = int(key_of.max()) + 1 if len(key_of) else 0
    row_start = np.zeros(n_keys + 1, dtype=np.int64)
    np.cumsum(np.bincount(index, minlength=n_keys)[:n_keys], out=row_start[1:])
    return np.asarray(
        set_window_heights(
            set_start,
            query_offsets,
            key_of,
            row_start,
            song_id,
            offset,
            time_tolerance,
            SET_BUCKETS,
            _SONG_STRIDE,
        ),
        dtype=np.int64,
    )


def factor_heights(
    peaks: Peaks,
    factors: list[Factor],
    *,
    search: SpeedSearch,
    hasher: Hasher,
    time_tolerance: int,
    lookup: Callable[[np.ndarray], Lookup],
) -> np.ndarray:
    """For each factor, about the tallest window of any song (one lookup for all).

    The query's peaks mapped back under every factor are hashed with the
    speed search's sparser fan (:func:`~dejavu_lab.core.speed.scaling.scaled_hashes`)
    (``speed__fan_value``, sparser still past ``speed__fan_seconds``)
    and its ``dt`` variants (``speed__dt_tolerance``), looked up at once (no
    shortlist: every row of every song), and their votes counted together
    (:func:`window_heights`).

    Parameters
    ----------
    peaks : Peaks
        The query's peaks.
    factors : list of Factor
    search : SpeedSearch
        The ranking's fan (:meth:`~dejavu_lab.core.speed.search.SpeedSearch.rank_fan`)
        and ``dt_tolerance``.
    hasher : Hasher
        The pipeline's hasher (its query fan and ``dt`` tolerance are replaced).
    time_tolerance : int
        Window half-width (frames): the matcher's.
    lookup : callable
        ``lookup(hashes)``: every stored row of these hashes (a store's ``lookup``).

    Returns
    -------
    np.ndarray, shape (len(factors),), int64
    """
    hasher = replace(
        hasher,
        query_fan_value=search.rank_fan(peaks.n_frames * peaks.frame_seconds),
        query_dt_tolerance=0,
    )
    hashed, owner = scaled_hashes(peaks, factors, hasher)
    hashes, offsets = hashed.hashes, hashed.offsets
    if search.dt_tolerance:
        # Each variant votes as a query hash of its own (every row counts).
        hashes, origin = dt_variants(hashes, dt_tolerance=search.dt_tolerance)
        owner, offsets = owner[origin], offsets[origin]
    keys, key_of = distinct_keys(hashes)
    return window_heights(
        owner,
        offsets,
        key_of,
        lookup(keys),
        n_sets=len(factors),
        time_tolerance=time_tolerance,
    )
