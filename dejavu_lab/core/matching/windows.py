"""Each song's tallest window of votes, and where in the song it puts the query.

:class:`SongWindows` holds, for every song with a vote, its votes, the votes in
its tallest window and the query's offset in the song: the vote-weighted mean
offset over that window, finer than one frame. :meth:`SongWindows.of_votes`
takes them from a full histogram
(:func:`~dejavu_lab.core.matching.votes.count_votes`); :func:`song_windows`
gives the same faster, counting exactly only the bins that could hold a song's
tallest window, on a dense song x offset table (:data:`DENSE_CELLS`) filled by a
compiled kernel (``dejavu_lab.core._kernels.votes``; ``_dense_windows`` is its
numpy reference).

The count looks :data:`DENSE_CELLS` and :data:`DENSE_CELLS_PER_ROW` up here when
it runs: to change them, set them on this module; the package
:mod:`dejavu_lab.core.matching` holds copies, for reading.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._arrays import sorted_unique
from .lookup import Lookup, Votes
from .prefiltering import _prefiltered
from .votes import (
    _DIFF_BIAS,
    _ID_BITS,
    _at_neighbour,
    _count_all,
    _distinct_windows,
    _hash_ids,
    _run_starts,
)


def _refine_offsets(votes: Votes, best: np.ndarray, time_tolerance: int) -> np.ndarray:
    """Vote-weighted mean offset over the window around each best bin."""
    centre = votes.diff[best].astype(np.float64)
    if time_tolerance == 0:
        return centre
    keys = (votes.song_id << np.int64(32)) | (votes.diff + _DIFF_BIAS)
    return centre + _mean_shift(keys, votes.count, best, time_tolerance)


def _mean_shift(
    keys: np.ndarray, count: np.ndarray, at: np.ndarray, time_tolerance: int
) -> np.ndarray:
    """Vote-weighted mean shift (frames) of the bins within ``time_tolerance`` of ``keys[at]``.

    ``keys`` are sorted, distinct bin keys in which a song's next offset is
    the key plus one; ``count`` holds each bin's votes.
    """
    total = count[at].astype(np.float64)
    moment = np.zeros(len(at))
    for delta in range(-time_tolerance, time_tolerance + 1):
        if delta == 0:
            continue
        neighbour = keys[at] + delta
        position = np.searchsorted(keys, neighbour)
        position[position == len(keys)] = 0
        weight = np.where(keys[position] == neighbour, count[position], 0)
        total += weight
        moment += weight * delta
    return moment / total


def _tallest_windows(windowed: np.ndarray, count: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Each song's tallest window: the bin with most votes in its window, then in
    itself, then the smallest offset difference.

    Parameters
    ----------
    windowed, count : np.ndarray, int64
        Votes in each bin's window and in the bin, bins sorted by song, then
        offset difference (as :func:`~.votes.count_votes` gives them).
    first : np.ndarray, int
        Where each song's bins start.

    Returns
    -------
    np.ndarray, int
        Index of each song's tallest window.
    """
    # Both counts in one number: windowed first, the bin's own count on ties.
    score = windowed * (int(count.max()) + 1) + count
    tallest = np.maximum.reduceat(score, first)
    lengths = np.diff(np.append(first, len(score)))
    at_max = np.flatnonzero(score == np.repeat(tallest, lengths))
    # The first bin reaching its song's maximum: bins are in offset order.
    song_of = np.repeat(np.arange(len(first)), lengths)[at_max]
    return at_max[_run_starts(song_of)]


@dataclass(frozen=True)
class SongWindows:
    """Each song's tallest window, what :func:`~.ranking.score_windows` ranks.

    Attributes
    ----------
    song_id : np.ndarray, int64
        Every song with a vote, ascending.
    song_votes : np.ndarray, int64
        Its votes at any offset.
    aligned : np.ndarray, int64
        Votes in its tallest window.
    offset_frames : np.ndarray, float64
        The vote-weighted mean offset around that window (frames).
    """

    song_id: np.ndarray
    song_votes: np.ndarray
    aligned: np.ndarray
    offset_frames: np.ndarray

    @classmethod
    def of_votes(cls, votes: Votes, time_tolerance: int) -> SongWindows:
        """The tallest windows of a vote histogram (as :func:`~.votes.count_votes` sorts it)."""
        if len(votes.song_id) == 0:
            empty = np.zeros(0, np.int64)
            return cls(empty, empty, empty, np.zeros(0))
        first = _run_starts(votes.song_id)
        best = _tallest_windows(votes.windowed, votes.count, first)
        return cls(
            song_id=votes.song_id[first],
            song_votes=np.add.reduceat(votes.count, first),
            aligned=votes.windowed[best],
            offset_frames=_refine_offsets(votes, best, time_tolerance),
        )


#: :func:`song_windows` counts on a dense song x offset table while it has at
#: most this many cells, or :data:`DENSE_CELLS_PER_ROW` a row if more.
DENSE_CELLS = 1 << 21
#: Cells a looked-up row the dense table may have when it has more than :data:`DENSE_CELLS`.
DENSE_CELLS_PER_ROW = 8


def song_windows(
    query_offsets: np.ndarray,
    lookup: Lookup,
    *,
    time_tolerance: int,
    query_hashes: np.ndarray | None = None,
    max_songs: int | None = None,
) -> SongWindows:
    """Each song's tallest window: ``SongWindows.of_votes(count_votes(...))``, faster.

    With ``query_hashes`` (distinct hashes), and while a table of every song
    with rows x every offset difference stays small (:data:`DENSE_CELLS`),
    only the bins that could hold a song's tallest window are counted exactly.
    The rows of each (song, offset) cell are counted on the table (one
    ``bincount``); a repeated hash can only be in a cell of two rows or more,
    so only those rows are sorted to count distinct hashes. A window holds at
    most the sum of its bins' distinct hashes, and a song's tallest window at
    least its fullest bin's: bins whose window sum is below their song's
    fullest bin cannot be its tallest. The windows of the others are counted
    from the rows around them (``votes._distinct_windows``). Every song's total,
    tallest window and offset are those of the full histogram.

    Parameters as :func:`~.votes.count_votes`.
    """
    lookup = _prefiltered(query_offsets, lookup, time_tolerance, max_songs)
    windows = None
    if query_hashes is not None and 0 < len(query_hashes) < 1 << _ID_BITS and len(lookup):
        windows = _compiled_windows(query_offsets, lookup, query_hashes, time_tolerance)
    if windows is None:
        votes = _count_all(query_offsets, lookup, time_tolerance, query_hashes)
        windows = SongWindows.of_votes(votes, time_tolerance)
    return windows


def _compiled_windows(
    query_offsets: np.ndarray, lookup: Lookup, query_hashes: np.ndarray, time_tolerance: int
) -> SongWindows | None:
    """:func:`_dense_windows` by the compiled kernel; None when the table would be too large."""
    from .._kernels.votes import dense_song_windows, hash_labels

    songs, song_votes, aligned, offsets, ok = dense_song_windows(
        np.asarray(query_offsets, dtype=np.int64),
        np.asarray(lookup.query_index, dtype=np.int64),
        np.asarray(lookup.song_id, dtype=np.int32),
        np.asarray(lookup.offset, dtype=np.int32),
        # Only equality of the ids matters to the kernel: no sort of the hashes.
        hash_labels(np.asarray(query_hashes)),
        time_tolerance,
        max(DENSE_CELLS, DENSE_CELLS_PER_ROW * len(lookup)),
    )
    if not ok:
        return None
    return SongWindows(song_id=songs, song_votes=song_votes, aligned=aligned, offset_frames=offsets)


def _dense_windows(
    query_offsets: np.ndarray, lookup: Lookup, query_hashes: np.ndarray, time_tolerance: int
) -> SongWindows | None:
    """:func:`song_windows` on a dense table; None when the table would be too large."""
    tolerance = time_tolerance
    present = np.bincount(lookup.song_id)
    songs = np.flatnonzero(present)
    rank = np.cumsum(present > 0) - 1
    diff = np.asarray(query_offsets, dtype=np.int64)[lookup.query_index]
    np.subtract(lookup.offset, diff, out=diff)
    low = int(diff.min())
    diff -= low
    song = rank[lookup.song_id]
    # Each song's cells run to its own largest offset difference, then
    # ``tolerance`` empty cells: no window reaches the next song.
    widths = np.zeros(len(songs), np.int64)
    np.maximum.at(widths, song, diff)
    widths += 1 + tolerance
    block = np.cumsum(widths) - widths
    n_cells = int(widths.sum())
    if n_cells > max(DENSE_CELLS, DENSE_CELLS_PER_ROW * len(lookup)) or n_cells >= 1 << 40:
        return None
    cell = block[song]
    cell += diff
    del diff, song
    rows_in = np.bincount(cell, minlength=n_cells)
    # The occupied cells, in (song, offset) order, and their distinct hashes.
    occupied = np.flatnonzero(rows_in.astype(bool))  # faster than on int64
    count = rows_in[occupied]
    hash_of_row = _hash_ids(query_hashes)[lookup.query_index]
    # A repeated (cell, hash) is in a cell of two rows or more, and falls
    # twice in one bucket of a small hash table: only such rows are sorted.
    shared = np.flatnonzero(rows_in[cell] > 1)
    if len(shared):
        buckets = 1 << max(12, (2 * len(shared)).bit_length())
        bucket = cell[shared] * np.int64(0x9E3779B1)
        bucket += hash_of_row[shared]
        bucket &= np.int64(buckets - 1)
        shared = shared[np.bincount(bucket, minlength=buckets)[bucket] > 1]
    if len(shared):
        pairs = np.sort((cell[shared] << np.int64(_ID_BITS)) | hash_of_row[shared])
        repeats = pairs[1:][pairs[1:] == pairs[:-1]] >> np.int64(_ID_BITS)
        if len(repeats):
            starts = _run_starts(repeats)
            lengths = np.diff(np.append(starts, len(repeats)))
            count[np.searchsorted(occupied, repeats[starts])] -= lengths
    first = _run_starts(np.searchsorted(block, occupied, side="right"))
    song_votes = np.add.reduceat(count, first)
    # Bounds of a window's distinct hashes: the sum over its bins, and (for a
    # song's tallest) its song's fullest bin.
    ceiling = count.copy()
    for delta in range(-tolerance, tolerance + 1):
        if delta:
            ceiling += _at_neighbour(occupied, count, delta)
    fullest = np.maximum.reduceat(count, first)
    lengths = np.diff(np.append(first, len(occupied)))
    candidates = occupied[ceiling >= np.repeat(fullest, lengths)]
    # Exact windows of the candidates, from every row within the tolerance of one.
    near = np.zeros(n_cells, dtype=bool)
    for delta in range(-tolerance, tolerance + 1):
        near[np.clip(candidates + delta, 0, n_cells - 1)] = True
    rows = np.flatnonzero(near[cell])
    pairs = sorted_unique((cell[rows] << np.int64(_ID_BITS)) | hash_of_row[rows])
    keys, _, windowed = _distinct_windows(pairs, tolerance)
    windowed = windowed[np.searchsorted(keys, candidates)]
    candidate_count = count[np.searchsorted(occupied, candidates)]
    song_of = np.searchsorted(block, candidates, side="right") - 1
    tallest = _tallest_windows(windowed, candidate_count, _run_starts(song_of))
    best, aligned = candidates[tallest], windowed[tallest]
    # The vote-weighted mean offset around the best bin, as _refine_offsets.
    offsets = (best - block[song_of[tallest]] + low).astype(np.float64)
    if tolerance:
        offsets = offsets + _mean_shift(occupied, count, np.searchsorted(occupied, best), tolerance)
    return SongWindows(
        song_id=songs.astype(np.int64),
        song_votes=song_votes.astype(np.int64),
        aligned=aligned.astype(np.int64),
        offset_frames=offsets,
    )
