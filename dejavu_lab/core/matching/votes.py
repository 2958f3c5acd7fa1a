"""The hash vote: a histogram of the lookup rows on (song, offset difference).

Each query hash found in the database votes for ``(song, db_offset -
query_offset)``: a true match piles its votes into one bin (the query's start
in the song), chance coincidences scatter theirs over every offset.
:func:`count_votes` counts the votes in every bin and in every bin's window of
``+- time_tolerance`` frames; given the query's hashes, each distinct hash
once. Votes are packed into one int64 each (song, offset difference, hash id)
so that distinct pairs come from a single sort. The helpers here (runs of
equal values, neighbouring bins, distinct hashes in a window) serve
:mod:`dejavu_lab.core.matching.windows` too.
"""

from __future__ import annotations

import numpy as np

from .._arrays import sorted_unique
from .lookup import Lookup, Votes
from .prefiltering import _prefiltered

_DIFF_BIAS = np.int64(1 << 31)
_LOW32 = np.int64(0xFFFFFFFF)


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
        (:func:`~.prefiltering.song_bounds`), and only the rows of the ``max_songs`` songs with
        the highest bounds (ties included) are counted (:func:`~.prefiltering.prefilter`). The
        bins of a kept song are exactly those of a full count; the other songs
        are absent. Default :data:`~.prefiltering.PREFILTER_SONGS` (None: every song).
    """
    lookup = _prefiltered(query_offsets, lookup, time_tolerance, max_songs)
    return _count_all(query_offsets, lookup, time_tolerance, query_hashes)


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
