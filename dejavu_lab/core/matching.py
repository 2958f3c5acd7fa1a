"""Voting on offset differences, ranking candidates, and the no-match rule.

Each query hash found in the database votes for ``(song, db_offset -
query_offset)``: a true match piles its votes into one bin (the query's start
in the song), chance coincidences scatter theirs over every offset.

**The no-match rule.** For a candidate song with ``V`` votes over ``B``
possible offset bins, chance alone puts ``lambda = V * w / B`` votes in a
window of ``w = 2 * time_tolerance + 1`` frames. The tallest window holding
``S`` votes is called significant when the Poisson tail ``P(X >= S | lambda)``,
multiplied by the number of windows tested over the whole database (a
Bonferroni correction), stays below ``10 ** -min_confidence``. ``confidence`` is
``-log10`` of that corrected probability: 3 means a bin this tall arises by
chance once in a thousand queries of music the database has never seen.

Music that only resembles the query (same instruments, same key) raises every
similar song's tallest bin together, which the Poisson background cannot see.
So the tallest bin ``S`` is also tested against the runner-up, the tallest bin
``R`` of any *other* song: ``P(X >= S | X ~ Poisson(R + 1))``. ``confidence`` is
the smaller of the two ``-log10`` probabilities, and a match needs it to reach
``min_confidence`` with at least ``min_aligned`` aligned hashes.

With a verifier in the pipeline (the default preset), these scores only rank
the candidates, and :mod:`dejavu_lab.core.verify` decides on single peaks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import gammainc, gammaln

from ._arrays import sorted_unique
from .params import Constraint, validate_params

_DIFF_BIAS = np.int64(1 << 31)
_LOW32 = np.int64(0xFFFFFFFF)


@dataclass(frozen=True)
class Lookup:
    """Database rows whose hash equals a query hash.

    Attributes
    ----------
    query_index : np.ndarray, shape (m,), int64
        Position of the query hash that found the row.
    song_id : np.ndarray, shape (m,), int32
    offset : np.ndarray, shape (m,), int32
        Frame of the row's hash in its song.
    """

    query_index: np.ndarray
    song_id: np.ndarray
    offset: np.ndarray

    def __len__(self) -> int:
        return len(self.song_id)

    @classmethod
    def empty(cls) -> Lookup:
        """No rows."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32))


@dataclass(frozen=True)
class Votes:
    """Vote counts per (song, offset difference) bin, windowed over the tolerance.

    Attributes
    ----------
    song_id : np.ndarray, int64
    diff : np.ndarray, int64
        ``db_offset - query_offset`` (frames): where the query starts in the song.
    count : np.ndarray, int64
        Votes in the bin itself.
    windowed : np.ndarray, int64
        Votes within ``+- time_tolerance`` frames of the bin.
    """

    song_id: np.ndarray
    diff: np.ndarray
    count: np.ndarray
    windowed: np.ndarray


#: Songs whose rows :func:`count_votes` counts exactly when it prefilters (see
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


def count_votes(
    query_offsets: np.ndarray,
    lookup: Lookup,
    *,
    time_tolerance: int,
    query_hashes: np.ndarray | None = None,
    max_songs: int | None = None,
) -> Votes:
    """Histogram the lookup rows on (song, offset difference), vectorised.

    With ``query_hashes``, a bin (and a window) counts each distinct hash
    value once: a sustained chord repeats one hash at a regular spacing in both
    query and song, and a hash found at two neighbouring offsets (a peak that
    moved by a frame) is one piece of evidence, not two.

    Parameters
    ----------
    query_offsets : np.ndarray, shape (q,), int
        Frame of each query hash.
    lookup : Lookup
    time_tolerance : int
        Window half-width (frames).
    query_hashes : np.ndarray, shape (q,), uint32, optional
        Count distinct hashes (see above).
    max_songs : int, optional
        Count only the songs most likely to hold the tallest windows: coarse
        histograms of the rows bound each song's tallest window from above
        (:func:`song_bounds`), and only the rows of the ``max_songs`` songs with
        the highest bounds (ties included) are counted (:func:`prefilter`). The
        bins of a kept song are exactly those of a full count; the other songs
        are absent. Default :data:`PREFILTER_SONGS` (None: every song).
    """
    lookup = _prefiltered(query_offsets, lookup, time_tolerance, max_songs)
    return _count_all(query_offsets, lookup, time_tolerance, query_hashes)


def _prefiltered(
    query_offsets: np.ndarray, lookup: Lookup, time_tolerance: int, max_songs: int | None
) -> Lookup:
    """``lookup`` through :func:`prefilter` (``max_songs`` None: :data:`PREFILTER_SONGS`)."""
    if len(lookup) and max_songs is None:
        max_songs = PREFILTER_SONGS
    if len(lookup) and max_songs is not None:
        lookup = prefilter(query_offsets, lookup, time_tolerance, max_songs)
    return lookup


def _count_all(
    query_offsets: np.ndarray,
    lookup: Lookup,
    time_tolerance: int,
    query_hashes: np.ndarray | None,
) -> Votes:
    """:func:`count_votes` of every row."""
    if len(lookup) == 0:
        empty = np.zeros(0, np.int64)
        return Votes(empty, empty, empty, empty)
    diff = np.asarray(query_offsets, dtype=np.int64)[lookup.query_index]
    np.subtract(lookup.offset, diff, out=diff)
    if query_hashes is not None and (packed := _pack_votes(lookup, diff, query_hashes)) is not None:
        return _count_packed(packed, time_tolerance)
    key = (lookup.song_id.astype(np.int64) << np.int64(32)) | (diff + _DIFF_BIAS)
    if query_hashes is None:
        keys, counts = np.unique(key, return_counts=True)
        windowed = counts.astype(np.int64)
        for delta in range(1, time_tolerance + 1):
            for neighbour in (keys - delta, keys + delta):
                position = np.searchsorted(keys, neighbour)
                position[position == len(keys)] = 0
                found = keys[position] == neighbour
                windowed[found] += counts[position[found]]
    else:
        hashes = query_hashes[lookup.query_index].astype(np.int64)
        key, hashes = _distinct_pairs(key, hashes)
        keys, counts = np.unique(key, return_counts=True)
        # Spread each (bin, hash) over the window, then count distinct hashes per bin.
        spread = np.concatenate(
            [key + delta for delta in range(-time_tolerance, time_tolerance + 1)]
        )
        spread, _ = _distinct_pairs(spread, np.tile(hashes, 2 * time_tolerance + 1))
        window_keys, window_counts = np.unique(spread, return_counts=True)
        windowed = window_counts[np.searchsorted(window_keys, keys)].astype(np.int64)
    return Votes(
        song_id=keys >> np.int64(32),
        diff=(keys & _LOW32) - _DIFF_BIAS,
        count=counts.astype(np.int64),
        windowed=windowed,
    )


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
    from ._kernels.prefilter import more_songs_than

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
    from ._kernels.prefilter import rows_of_songs

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
    from ._kernels.prefilter import song_bound_table

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


# One int64 per vote: | song: 19 bits | diff + 2**23: 24 bits | hash id: 20 bits |,
# so distinct (bin, hash) pairs come from a single sort.
_ID_BITS, _PDIFF_BITS, _PSONG_BITS = 20, 24, 19
_PDIFF_BIAS = 1 << (_PDIFF_BITS - 1)


def _pack_votes(lookup: Lookup, diff: np.ndarray, query_hashes: np.ndarray) -> np.ndarray | None:
    """Votes packed into int64 (song, diff, hash id), or None when a field overflows."""
    if (
        len(query_hashes) >= 1 << _ID_BITS
        or int(lookup.song_id.max()) >= 1 << _PSONG_BITS
        or int(np.abs(diff).max()) >= _PDIFF_BIAS - 64
    ):
        return None
    return (
        (lookup.song_id.astype(np.int64) << np.int64(_PDIFF_BITS + _ID_BITS))
        | ((diff + _PDIFF_BIAS) << np.int64(_ID_BITS))
        | _hash_ids(query_hashes)[lookup.query_index]
    )


def _hash_ids(query_hashes: np.ndarray) -> np.ndarray:
    """A small id of each query hash (int64): equal hashes, equal ids."""
    _, hash_id = np.unique(query_hashes, return_inverse=True)
    return hash_id.astype(np.int64)


def _count_packed(packed: np.ndarray, time_tolerance: int) -> Votes:
    """Distinct-hash bin and window counts from packed votes (see :func:`_pack_votes`).

    One sort of the votes gives the distinct ``(bin, hash)`` pairs, grouped by
    bin. A window ``[b - T, b + T]`` holds as many distinct hashes as it holds
    pairs that are the *first* of their hash in it: the pairs of bin
    ``b - T + j`` whose hash is in none of the ``j`` bins before. So each bin
    counts, for ``j = 1 .. 2T``, its pairs whose hash is in none of the ``j``
    bins before it (:func:`_new_in_bins`), and a window adds up the bins'
    counts for their place in it. No vote is copied per window position.
    """
    keys, counts, windowed = _distinct_windows(sorted_unique(packed), time_tolerance)
    return Votes(
        song_id=keys >> np.int64(_PDIFF_BITS),
        diff=(keys & np.int64((1 << _PDIFF_BITS) - 1)) - _PDIFF_BIAS,
        count=counts.astype(np.int64),
        windowed=windowed.astype(np.int64),
    )


def _distinct_windows(
    pairs: np.ndarray, time_tolerance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bins, distinct hashes in each, and in each one's window (see :func:`_count_packed`).

    Parameters
    ----------
    pairs : np.ndarray, int64
        Distinct ``bin << _ID_BITS | hash id`` values, sorted.
    time_tolerance : int

    Returns
    -------
    keys, counts, windowed : np.ndarray, int64
    """
    bins = pairs >> np.int64(_ID_BITS)
    starts = _run_starts(bins)
    keys = bins[starts]
    counts = np.diff(np.append(starts, len(pairs)))
    if not time_tolerance:
        return keys, counts, counts
    fresh = _new_in_bins(pairs, keys, starts, counts, 2 * time_tolerance)
    windowed = fresh[time_tolerance].copy()
    for j in range(2 * time_tolerance + 1):
        if j != time_tolerance:
            # Bin b's window holds bin b - T + j at place j.
            windowed += _at_neighbour(keys, fresh[j], j - time_tolerance)
    return keys, counts, windowed


def _run_starts(sorted_values: np.ndarray) -> np.ndarray:
    """Positions where a run of equal values starts in a sorted array."""
    new = np.empty(len(sorted_values), dtype=bool)
    if len(sorted_values):
        new[0] = True
        np.not_equal(sorted_values[1:], sorted_values[:-1], out=new[1:])
    return np.flatnonzero(new)


def _new_in_bins(
    pairs: np.ndarray, keys: np.ndarray, starts: np.ndarray, counts: np.ndarray, reach: int
) -> list[np.ndarray]:
    """For ``j = 0 .. reach``: each bin's pairs whose hash is in none of the ``j`` bins before.

    Parameters
    ----------
    pairs : np.ndarray, int64
        Distinct packed ``(bin, hash id)`` pairs, sorted.
    keys, starts, counts : np.ndarray
        The distinct bins, where their pairs start, and how many there are.
    reach : int
        Bins looked back.

    Returns
    -------
    list of np.ndarray, int64, one count per bin
        Element ``j``; element 0 is ``counts``.
    """
    # Only the pairs of a bin with another bin at most ``reach`` before it can
    # have been seen (few, outside the true alignment).
    near = np.zeros(len(keys), dtype=bool)
    near[1:] = keys[1:] - keys[:-1] <= reach
    fresh = [counts.astype(np.int64)]
    if not near.any():
        return fresh + [fresh[0]] * reach
    bin_of_pair = np.repeat(np.arange(len(keys)), counts)
    candidate = np.flatnonzero(near[bin_of_pair])
    probes = pairs[candidate]
    seen = np.zeros(len(candidate), dtype=bool)
    step = np.int64(1 << _ID_BITS)
    for back in range(1, reach + 1):
        earlier = probes - back * step
        position = np.searchsorted(pairs, earlier)
        position[position == len(pairs)] = 0
        seen |= pairs[position] == earlier
        repeats = np.bincount(bin_of_pair[candidate[seen]], minlength=len(keys))
        fresh.append(fresh[0] - repeats)
    return fresh


def _at_neighbour(keys: np.ndarray, values: np.ndarray, shift: int) -> np.ndarray:
    """``values`` of the bin ``keys + shift`` for every bin (0 where there is none).

    ``keys`` are sorted and distinct, so bin ``key + shift`` can only be at most
    ``|shift|`` places away.
    """
    out = np.zeros(len(keys), dtype=np.int64)
    for place in range(1, abs(shift) + 1):
        if shift > 0:
            found = np.flatnonzero(keys[place:] - keys[:-place] == shift)
            out[found] = values[found + place]
        else:
            found = np.flatnonzero(keys[place:] - keys[:-place] == -shift)
            out[found + place] = values[found]
    return out


def _distinct_pairs(key: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique (key, value) pairs, sorted by key."""
    order = np.lexsort((value, key))
    key, value = key[order], value[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = (key[1:] != key[:-1]) | (value[1:] != value[:-1])
    return key[first], value[first]


def poisson_log10_sf(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``log10 P(X >= observed)`` for ``X ~ Poisson(expected)``, vectorised.

    Uses the regularised lower incomplete gamma function:
    ``P(X >= k) = P(k, lambda)`` (scipy's ``gammainc``); deep tails through
    the leading term of the series to avoid underflow.
    """
    k = np.asarray(observed, dtype=np.float64)
    lam = np.maximum(np.asarray(expected, dtype=np.float64), 1e-300)
    with np.errstate(divide="ignore"):
        tail = np.log10(np.where(k <= 0, 1.0, gammainc(np.maximum(k, 1e-12), lam)))
    # Deep tail: P(X >= k) ~ e^-lam lam^k / k! (1 + lam/(k+1) + ...).
    deep = ~np.isfinite(tail) | (tail < -250)
    if np.any(deep):
        kd, ld = k[deep], lam[deep]
        ratio = np.minimum(ld / (kd + 1.0), 0.99)
        approx = -ld + kd * np.log(ld) - gammaln(kd + 1.0) - np.log1p(-ratio)
        tail[deep] = approx / math.log(10.0)
    return tail


@dataclass(frozen=True)
class Candidate:
    """One song's best-aligned offset.

    Attributes
    ----------
    song_id : int
    offset_frames : float
        Where the query starts in the song (frames): the vote-weighted mean
        offset of the window, finer than one frame.
    aligned_hashes : int
        Votes within the tolerance window around that offset.
    song_votes : int
        All votes this song received, at any offset.
    runner_up_aligned : int
        The tallest window of any other song.
    confidence : float
        ``-log10`` of the corrected chance probability (see module docstring).
    """

    song_id: int
    offset_frames: float
    aligned_hashes: int
    song_votes: int
    runner_up_aligned: int
    confidence: float


@dataclass(frozen=True)
class MatchResult:
    """The matcher's answer to one query.

    Attributes
    ----------
    candidates : tuple of Candidate
        Best first, at most ``top_k``.
    input_hashes : int
        Hashes extracted from the query.
    is_match : bool
        Whether the best candidate passes the no-match rule.
    """

    candidates: tuple[Candidate, ...]
    input_hashes: int
    is_match: bool

    @property
    def best(self) -> Candidate | None:
        """The best candidate if it is a match, else None."""
        return self.candidates[0] if self.is_match and self.candidates else None


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


def _runner_up(aligned: np.ndarray) -> np.ndarray:
    """For each song, the largest value among the other songs (0 if none)."""
    if len(aligned) < 2:
        return np.zeros(len(aligned))
    order = np.argsort(aligned)
    first, second = aligned[order[-1]], aligned[order[-2]]
    runner_up = np.full(len(aligned), float(first))
    runner_up[order[-1]] = float(second)
    return runner_up


def _tallest_windows(windowed: np.ndarray, count: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Each song's tallest window: the bin with most votes in its window, then in
    itself, then the smallest offset difference.

    Parameters
    ----------
    windowed, count : np.ndarray, int64
        Votes in each bin's window and in the bin, bins sorted by song, then
        offset difference (as :func:`count_votes` gives them).
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
    """Each song's tallest window, what :func:`score_windows` ranks.

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
        """The tallest windows of a vote histogram (sorted as :func:`count_votes` gives it)."""
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
    from the rows around them (:func:`_distinct_windows`). Every song's total,
    tallest window and offset are those of the full histogram.

    Parameters as :func:`count_votes`.
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
    from ._kernels.votes import dense_song_windows, hash_labels

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


def rank_candidates(
    votes: Votes,
    *,
    song_frames: np.ndarray,
    query_frames: int,
    time_tolerance: int,
    top_k: int,
) -> list[Candidate]:
    """Each song's tallest window, scored against its own chance background.

    Parameters
    ----------
    votes : Votes
        Sorted by song, then offset difference (as :func:`count_votes` gives them).
    song_frames : np.ndarray, indexed by song id
        Length of each song in frames (0 for unused ids); its sum sets the
        number of tests corrected for.
    query_frames : int
        Length of the query in frames.
    time_tolerance : int
    top_k : int
    """
    return score_windows(
        SongWindows.of_votes(votes, time_tolerance),
        song_frames=song_frames,
        query_frames=query_frames,
        time_tolerance=time_tolerance,
        top_k=top_k,
    )


def score_windows(
    windows: SongWindows,
    *,
    song_frames: np.ndarray,
    query_frames: int,
    time_tolerance: int,
    top_k: int,
) -> list[Candidate]:
    """Score each song's tallest window against its chance background (see the
    module docstring) and the runner-up; the ``top_k`` best candidates.

    Parameters as :func:`rank_candidates`.
    """
    if len(windows.song_id) == 0:
        return []
    width = 2 * time_tolerance + 1
    songs, totals, aligned = windows.song_id, windows.song_votes, windows.aligned
    offsets = windows.offset_frames
    known = songs < len(song_frames)
    frames = np.where(known, song_frames[np.minimum(songs, len(song_frames) - 1)], 0)
    bins = frames.astype(np.float64) + query_frames + 1
    expected = totals * width / bins
    n_songs = int(np.count_nonzero(song_frames))
    n_tests = max(1.0, (float(np.sum(song_frames)) + query_frames * n_songs) / width)
    background = -(poisson_log10_sf(aligned, expected) + math.log10(n_tests))
    # The tallest bin of every other song: music that merely resembles the
    # query (same instruments, same key) raises all of them together.
    runner_up = _runner_up(aligned)
    against_runner_up = -poisson_log10_sf(aligned, runner_up + 1.0)
    confidence = np.maximum(0.0, np.minimum(background, against_runner_up))
    ranking = np.lexsort((-aligned, -confidence))[:top_k]
    return [
        Candidate(
            song_id=int(songs[i]),
            offset_frames=float(offsets[i]),
            aligned_hashes=int(aligned[i]),
            song_votes=int(totals[i]),
            runner_up_aligned=int(runner_up[i]),
            confidence=round(float(confidence[i]), 3),
        )
        for i in ranking
    ]


def shortlist(windows: SongWindows, max_songs: int) -> np.ndarray:
    """The ``max_songs`` songs with the tallest windows (ties: more votes, lower id).

    Parameters
    ----------
    windows : SongWindows
        Usually counted on a partial lookup (the rarer hashes).
    max_songs : int

    Returns
    -------
    np.ndarray, int64
        Their ids, ascending.
    """
    ranking = np.lexsort((windows.song_id, -windows.song_votes, -windows.aligned))
    return np.sort(windows.song_id[ranking[:max_songs]])


@dataclass(frozen=True, kw_only=True)
class Matcher:
    """Pipeline stage: votes -> ranked candidates and the no-match decision.

    Parameters
    ----------
    time_tolerance : int
        Half-width of a vote window, in frames (0-16): votes within this many
        frames of a bin count for it, as peaks in noise move by a frame.
    min_aligned : int
        Aligned hashes a match needs at least (1-100000).
    min_confidence : float
        Confidence a match needs at least: ``-log10`` of the chance
        probability (0-1000; 3 means once in a thousand unseen queries).
    top_k : int
        Candidates returned (1-1000).
    distinct_hashes : bool
        Count each distinct hash value once per bin (see :func:`count_votes`).
    prefilter_songs : int or None
        Songs whose votes are counted exactly (1-1000000): those whose coarse
        histograms could hold the tallest windows (:func:`prefilter`). None,
        or a collection of no more songs, counts every song.
    max_postings : int or None
        Stop-list: query hashes stored in more than this many rows are not
        looked up (1 to 2**31 - 1). None looks every hash up. In a two-stage
        match it applies to stage one only.
    shortlist_songs : int or None
        Songs kept by stage one of a two-stage match (1-1000000). Stage one
        counts the query's own hashes, rarest first within ``shortlist_rows``;
        stage two counts every row of the shortlisted songs, as one stage
        would. None: always one stage.
    shortlist_rows : int
        Row budget of stage one (at least 1).
    shortlist_min_songs : int
        Collections of fewer songs are matched in one stage (at least 1).

    Notes
    -----
    How the large-collection settings trade speed for accuracy, measured up
    to 10,000 songs: "Matcher settings for large collections" in the
    documentation's stores page (``docs/stores.md``) and ``benchmarks/README.md``.
    """

    time_tolerance: int = 1
    min_aligned: int = 5
    min_confidence: float = 3.0
    top_k: int = 1
    distinct_hashes: bool = True
    prefilter_songs: int | None = None
    max_postings: int | None = None
    shortlist_songs: int | None = None
    shortlist_rows: int = 1_500_000
    shortlist_min_songs: int = 200

    _constraints: ClassVar[dict[str, Constraint]] = {
        "time_tolerance": Constraint(int, 0, 16),
        "min_aligned": Constraint(int, 1, 100000),
        "min_confidence": Constraint(float, 0.0, 1000.0),
        "top_k": Constraint(int, 1, 1000),
        "distinct_hashes": Constraint(bool),
        "prefilter_songs": Constraint(int, 1, 1_000_000, allow_none=True),
        "max_postings": Constraint(int, 1, 2**31 - 1, allow_none=True),
        "shortlist_songs": Constraint(int, 1, 1_000_000, allow_none=True),
        "shortlist_rows": Constraint(int, 1, 2**62),
        "shortlist_min_songs": Constraint(int, 1, 2**31 - 1),
    }

    def __post_init__(self) -> None:
        validate_params(self)

    def uses_shortlist(self, n_songs: int) -> bool:
        """Whether a collection of ``n_songs`` songs is matched in two stages."""
        return (
            self.shortlist_songs is not None
            and n_songs > self.shortlist_songs
            and n_songs >= self.shortlist_min_songs
        )

    def shortlist(
        self,
        query_offsets: np.ndarray,
        lookup: Lookup,
        *,
        query_hashes: np.ndarray | None = None,
    ) -> np.ndarray:
        """Stage one: the songs whose every row is counted in stage two.

        ``lookup`` holds the rows of the rarer query hashes (within
        ``shortlist_rows``). Returns song ids, ascending.
        """
        windows = self.windows(query_offsets, lookup, query_hashes=query_hashes)
        return shortlist(windows, self.shortlist_songs or len(windows.song_id))

    def windows(
        self, query_offsets: np.ndarray, lookup: Lookup, *, query_hashes: np.ndarray | None = None
    ) -> SongWindows:
        """Each song's tallest window with these settings (:func:`song_windows`)."""
        return song_windows(
            query_offsets,
            lookup,
            time_tolerance=self.time_tolerance,
            query_hashes=query_hashes if self.distinct_hashes else None,
            max_songs=self.prefilter_songs,
        )

    def __call__(
        self,
        query_offsets: np.ndarray,
        lookup: Lookup,
        *,
        song_frames: np.ndarray,
        query_frames: int,
        query_hashes: np.ndarray | None = None,
        top_k: int | None = None,
    ) -> MatchResult:
        windows = self.windows(query_offsets, lookup, query_hashes=query_hashes)
        candidates = score_windows(
            windows,
            song_frames=song_frames,
            query_frames=query_frames,
            time_tolerance=self.time_tolerance,
            top_k=top_k or self.top_k,
        )
        is_match = bool(
            candidates
            and candidates[0].aligned_hashes >= self.min_aligned
            and candidates[0].confidence >= self.min_confidence
        )
        return MatchResult(tuple(candidates), len(query_offsets), is_match)
