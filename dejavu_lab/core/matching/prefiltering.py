"""The vote's prefilter: count only the songs that could hold the tallest windows.

Among thousands of songs, most rows a query finds are chance coincidences
spread over every song. :func:`prefilter` bounds each song's tallest window
from above with a coarse histogram of its rows (:func:`song_bounds`), keeps the
songs with the highest bounds (:func:`keep_songs`) and passes on every row of
those, and only those: a kept song's votes are exactly those of a full count.
The compiled kernels are in ``dejavu_lab.core._kernels.prefilter``.

The count looks the ``PREFILTER_*`` settings up here when it runs: to change
one, set it on this module
(``dejavu_lab.core.matching.prefiltering.PREFILTER_SONGS = 1000``); the
package :mod:`dejavu_lab.core.matching` holds copies, for reading.
"""

from __future__ import annotations

import numpy as np

from .lookup import Lookup

#: Songs whose rows :func:`~.votes.count_votes` counts exactly when it prefilters (see
#: ``max_songs``); None counts every song. Read when ``max_songs`` is not given,
#: so a benchmark can switch the prefilter on without a matcher parameter.
PREFILTER_SONGS: int | None = None
#: Largest coarse table (song x offset bins, int64) of the prefilter: 32 MB.
#: Below that it has up to :data:`PREFILTER_BINS_PER_ROW` bins a row, so that
#: building and scanning it costs little more than counting the rows.
PREFILTER_BINS = 1 << 22
#: Bins a row of the prefilter's table (measured: ``docs/stores.md``).
PREFILTER_BINS_PER_ROW = 4
#: The prefilter's first pass keeps this many times ``max_songs`` songs; the
#: second bounds them again with finer bins (the table holds fewer songs).
PREFILTER_FIRST_PASS = 16
#: The first pass's table may be coarser than :func:`song_bounds` would make
#: it, down to half a bin a row, but not below this many cells (8 MB; measured:
#: ``docs/stores.md``).
PREFILTER_FIRST_PASS_MIN_BINS = 1 << 20


def _prefiltered(
    query_offsets: np.ndarray, lookup: Lookup, time_tolerance: int, max_songs: int | None
) -> Lookup:
    """``lookup`` through :func:`prefilter` (``max_songs`` None: :data:`PREFILTER_SONGS`)."""
    if len(lookup) and max_songs is None:
        max_songs = PREFILTER_SONGS
    if len(lookup) and max_songs is not None:
        lookup = prefilter(query_offsets, lookup, time_tolerance, max_songs)
    return lookup


def prefilter(
    query_offsets: np.ndarray, lookup: Lookup, time_tolerance: int, max_songs: int
) -> Lookup:
    """The rows of the songs most likely to hold the tallest windows.

    Two passes of :func:`song_bounds`: over every row, keeping the
    ``PREFILTER_FIRST_PASS * max_songs`` songs with the highest bounds, then
    over their rows alone, with song ids renumbered so that the table's bins
    are finer, keeping ``max_songs`` (ties included, see :func:`keep_songs`).
    Every row of a kept song is kept, so its votes are counted exactly.

    Parameters
    ----------
    query_offsets : np.ndarray, shape (q,), int
    lookup : Lookup
    time_tolerance : int
    max_songs : int

    Returns
    -------
    Lookup
        ``lookup`` itself when no more than ``max_songs`` songs have rows.
    """
    # A small collection: nothing to bound.
    if len(lookup) == 0 or int(lookup.song_id.max()) <= max_songs:
        return lookup
    from .._kernels.prefilter import more_songs_than

    # Rows of no more than ``max_songs`` songs: both passes would keep them all.
    if not more_songs_than(lookup.song_id, max_songs):
        return lookup
    bounds = song_bounds(
        query_offsets, lookup, time_tolerance, max_bins=_first_pass_bins(len(lookup))
    )
    first = keep_songs(bounds, PREFILTER_FIRST_PASS * max_songs)
    if first is not None:
        lookup = _rows_of_songs(first, lookup)
    # Dense ids for the second pass: the table has a row per song with votes.
    rank = (np.cumsum(first if first is not None else bounds > 0) - 1).astype(np.int32)
    dense = Lookup(lookup.query_index, rank[lookup.song_id], lookup.offset)
    second = keep_songs(song_bounds(query_offsets, dense, time_tolerance), max_songs)
    if second is None:
        return lookup
    # By original id (songs without rows, whose rank may be -1, have no rows to keep).
    return _rows_of_songs(second[rank], lookup)


def _rows_of_songs(keep: np.ndarray, lookup: Lookup) -> Lookup:
    """The rows of ``lookup`` whose song is kept (``keep[song_id]``), in order."""
    from .._kernels.prefilter import rows_of_songs

    return Lookup(*rows_of_songs(keep, lookup.query_index, lookup.song_id, lookup.offset))


def _first_pass_bins(n_rows: int) -> int:
    """Cells of the prefilter's first table for ``n_rows`` rows.

    As :func:`song_bounds` chooses (up to :data:`PREFILTER_BINS_PER_ROW` bins a
    row, at most :data:`PREFILTER_BINS`), but at most one bin for two rows
    above :data:`PREFILTER_FIRST_PASS_MIN_BINS`: the first pass only has to
    keep the right song among ``PREFILTER_FIRST_PASS * max_songs``, and
    building and scanning a 2**22 table for 1.5 M rows was most of its time.
    """
    usual = min(PREFILTER_BINS, max(1 << 16, PREFILTER_BINS_PER_ROW * n_rows))
    return min(usual, max(PREFILTER_FIRST_PASS_MIN_BINS, n_rows // 2))


def song_bounds(
    query_offsets: np.ndarray,
    lookup: Lookup,
    time_tolerance: int,
    *,
    max_bins: int | None = None,
) -> np.ndarray:
    """An upper bound of each song's tallest window, from one coarse histogram.

    Rows are counted in bins of ``w = 2 ** k >= 2 * time_tolerance`` frames of
    offset difference (``k`` grows until the song x bin table has at most
    ``max_bins`` entries, default :data:`PREFILTER_BINS_PER_ROW` a row, at
    least 2**16 and at most :data:`PREFILTER_BINS`). A window of
    ``2 * time_tolerance + 1`` frames lies inside two neighbouring bins, and
    holds at most as many votes (distinct hashes or not) as they hold rows: so
    each song's largest sum of two neighbouring bins bounds its tallest window.

    Parameters
    ----------
    query_offsets : np.ndarray, shape (q,), int
        Frame of each query hash.
    lookup : Lookup
    time_tolerance : int
        Window half-width (frames).
    max_bins : int, optional
        Largest number of cells of the song x bin table (see above).

    Returns
    -------
    np.ndarray, shape (max(song_id) + 1,), int64
        The bound, indexed by song id (0 for songs without rows).
    """
    if len(lookup) == 0:
        return np.zeros(0, np.int64)
    song_id, offset = lookup.song_id, lookup.offset
    n_songs = int(song_id.max()) + 1
    starts = np.asarray(query_offsets, dtype=np.int64)
    # Every offset difference lies in [low, low + span): bounds from the extremes.
    low = int(offset.min()) - int(starts.max())
    span = int(offset.max()) - int(starts.min()) - low + 1
    shift = max(1, (2 * time_tolerance - 1).bit_length())
    limit = max_bins
    if limit is None:
        limit = min(PREFILTER_BINS, max(1 << 16, PREFILTER_BINS_PER_ROW * len(lookup)))
    # One bin more than needed per song, always empty: sums never join two songs.
    while n_songs * (((span - 1) >> shift) + 2) > limit and (1 << shift) < span:
        shift += 1
    n_bins = ((span - 1) >> shift) + 2
    return _compiled_bounds(starts + low, lookup, n_songs, n_bins, shift)


def _compiled_bounds(
    query_starts: np.ndarray, lookup: Lookup, n_songs: int, n_bins: int, shift: int
) -> np.ndarray:
    """:func:`_bound_table` by the compiled kernel (the same bounds)."""
    from .._kernels.prefilter import song_bound_table

    return song_bound_table(
        np.asarray(query_starts, dtype=np.int64),
        np.asarray(lookup.query_index, dtype=np.int64),
        np.asarray(lookup.song_id, dtype=np.int32),
        np.asarray(lookup.offset, dtype=np.int32),
        n_songs,
        n_bins,
        shift,
    )


def _bound_table(
    query_starts: np.ndarray, lookup: Lookup, n_songs: int, n_bins: int, shift: int
) -> np.ndarray:
    """Each song's largest sum of two neighbouring bins (the numpy reference).

    A row's bin is ``(offset - query_starts[query_index]) >> shift``.
    """
    song_id, offset, starts = lookup.song_id, lookup.offset, query_starts
    # (song * n_bins * 2**shift + diff - low) >> shift == song * n_bins + (diff - low) >> shift,
    # in 32 bits when it fits (half the memory traffic of the pass over every row).
    reach = n_songs * (n_bins << shift) + int(np.abs(offset).max()) + int(np.abs(starts).max())
    dtype = np.int32 if reach < 1 << 31 else np.int64
    cell = np.multiply(song_id, n_bins << shift, dtype=dtype)
    cell += offset
    cell -= starts.astype(dtype)[lookup.query_index]
    cell >>= shift
    table = np.bincount(cell, minlength=n_songs * n_bins).reshape(n_songs, n_bins)
    del cell
    pairs = table[:, :-1] + table[:, 1:]
    return np.asarray(pairs.max(axis=1), dtype=np.int64)


def keep_songs(bounds: np.ndarray, max_songs: int) -> np.ndarray | None:
    """Which songs to count: the ``max_songs`` highest bounds, ties included.

    Returns
    -------
    np.ndarray of bool, indexed by song id, or None when no more than
    ``max_songs`` songs have any row (all are kept).
    """
    if max_songs < 1:
        raise ValueError(f"keep_songs: max_songs must be at least 1, not {max_songs}")
    voted = int(np.count_nonzero(bounds))
    if voted <= max_songs:
        return None
    threshold = np.partition(bounds, len(bounds) - max_songs)[len(bounds) - max_songs]
    return np.asarray(bounds >= max(int(threshold), 1))
