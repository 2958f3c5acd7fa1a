"""Compiled kernels of the matcher's vote count (:mod:`dejavu_lab.core.matching`).

**The vote count.** :func:`dejavu_lab.core.matching.windows.song_windows` counts distinct hashes per
(song, offset difference) bin and per window of bins. In numpy that takes
about thirty passes over the rows (sorts, gathers, bincounts); here
(:func:`dense_song_windows`) it is a counting sort of the rows by cell and one
walk over the occupied cells. Distinct hashes are counted with a stamp per hash
id (the last bin or window that counted it), so no sort of the rows is needed.
The results are exactly those of the numpy reference (``tests/test_kernels.py``).

**The vote's hash ids.** :func:`hash_labels` numbers the query's hashes (equal
hashes, equal ids) in a single pass, a hash table instead of the sort of
``np.unique``: only equality matters to the vote.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Bits of a hash id in a packed row (query hashes are fewer than 2**20).
_ID_BITS = 20
_ID_MASK = (1 << _ID_BITS) - 1
#: Cells and rows past this are counted by the numpy version (int32 positions here).
_INT32_LIMIT = (1 << 31) - 1


@njit(cache=True, nogil=True, inline="always")
def _distinct(
    ids: np.ndarray, first: np.int64, stop: np.int64, stamp: np.ndarray, mark: np.int64
) -> np.int64:
    """Distinct values of ``ids[first:stop]``; marks them in ``stamp`` with ``mark``."""
    found = np.int64(0)
    for i in range(first, stop):
        if stamp[ids[i]] != mark:
            stamp[ids[i]] = mark
            found += 1
    return found


@njit(cache=True, nogil=True)
def dense_song_windows(
    query_offsets: np.ndarray,
    query_index: np.ndarray,
    song_id: np.ndarray,
    offset: np.ndarray,
    hash_id: np.ndarray,
    time_tolerance: int,
    max_cells: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """Each song's total votes, tallest window and its offset, on a dense table.

    Parameters
    ----------
    query_offsets : np.ndarray, int64, one per query hash
        Frame of each query hash.
    query_index, song_id, offset : np.ndarray
        The lookup's rows (int64, int32, int32); at least one row.
    hash_id : np.ndarray, int64, one per query hash
        Equal query hashes have equal ids, in ``[0, len(hash_id))``.
    time_tolerance : int
        Window half-width (frames).
    max_cells : int
        Largest song x offset table allowed (and below 2**31 cells and rows).

    Returns
    -------
    song_ids, song_votes, aligned : np.ndarray, int64
        Songs with rows (ascending), their distinct-hash votes over all bins,
        and the distinct hashes of their tallest window (most distinct hashes
        in the window, then in the bin, then the smallest offset difference).
    offsets : np.ndarray, float64
        The tallest window's offset difference plus the vote-weighted mean
        shift of the bins within the tolerance (frames).
    ok : bool
        False (and empty arrays) when the table would exceed ``max_cells``.
    """
    n_rows = len(song_id)
    tolerance = time_tolerance
    # Songs with rows, renumbered densely in ascending id order, and their
    # rows; from the song ids alone (a quarter of the rows' bytes).
    n_ids = 0
    for r in range(n_rows):
        if song_id[r] + 1 > n_ids:
            n_ids = song_id[r] + 1
    rank = np.zeros(n_ids, np.int64)
    for r in range(n_rows):
        rank[song_id[r]] += 1
    n_songs = 0
    for s in range(n_ids):
        n_songs += rank[s] > 0
    songs = np.empty(n_songs, np.int64)
    song_start = np.zeros(n_songs + 1, np.int64)
    n_songs = 0
    for s in range(n_ids):
        if rank[s] > 0:
            songs[n_songs] = s
            song_start[n_songs + 1] = song_start[n_songs] + rank[s]
            rank[s] = n_songs
            n_songs += 1
    # The rows grouped by song in one read of them (random reads of the rows
    # would miss the cache): each song's differences and hash ids packed,
    # contiguous; and each song's smallest and largest difference.
    fill = song_start[:-1].copy()
    packed = np.empty(n_rows, np.int64)
    for r in range(n_rows):
        s = rank[song_id[r]]
        q = query_index[r]
        d = np.int64(offset[r]) - query_offsets[q]
        # A negative difference packs too: the shift back is arithmetic.
        packed[fill[s]] = (d << _ID_BITS) | hash_id[q]
        fill[s] += 1
    # Each song's extremes from its packed rows, contiguous (a vectorised
    # pass, where the scattered loop above would update them row by row).
    low = np.empty(n_songs, np.int64)
    high = np.empty(n_songs, np.int64)
    for s in range(n_songs):
        smallest = packed[song_start[s]]
        largest = smallest
        for i in range(song_start[s] + 1, song_start[s + 1]):
            smallest = min(smallest, packed[i])
            largest = max(largest, packed[i])
        # The hash id is in the low bits: the order of the packed values is
        # that of the differences.
        low[s] = smallest >> _ID_BITS
        high[s] = largest >> _ID_BITS
    # The dense table the numpy reference would build: each song's cells run
    # from the smallest difference of all, plus ``tolerance`` empty cells.
    n_cells = np.int64(0)
    smallest = low.min()
    for s in range(n_songs):
        n_cells += high[s] - smallest + 1 + tolerance
    empty_i = np.zeros(0, np.int64)
    if n_cells > max_cells or n_cells >= _INT32_LIMIT or n_rows >= _INT32_LIMIT:
        return empty_i, empty_i, empty_i, np.zeros(0), False
    # Per song: a counting sort of its rows by cell (offset difference), the
    # distinct hashes of each cell, then the exact windows of the cells that
    # could be the song's tallest: a window holds at most the sum of its
    # cells' counts, and the tallest at least the fullest cell's.
    longest = np.int64(0)
    for s in range(n_songs):
        longest = max(longest, high[s] - low[s] + 1)
    # bounds[c] .. bounds[c + 1]: the rows of cell c, once placed.
    # int32 (checked above): half the memory traffic of the passes over the rows.
    bounds = np.zeros(longest + 1, np.int32)
    count = np.zeros(longest, np.int32)
    ids = np.empty(n_rows, np.int32)
    cell_of = np.empty(n_rows, np.int32)
    occupied = np.empty(n_rows + 1, np.int32)  # one spare: see the walk below
    # A hash's stamp is the last cell (numbered across songs) that counted it.
    stamp = np.full(len(hash_id), -1, np.int64)
    window_stamp = np.full(len(hash_id), -1, np.int64)
    song_votes = np.zeros(n_songs, np.int64)
    aligned = np.zeros(n_songs, np.int64)
    offsets = np.zeros(n_songs, np.float64)
    base = np.int64(0)
    for s in range(n_songs):
        width = high[s] - low[s] + 1
        first_row, last_row = song_start[s], song_start[s + 1]
        bounds[: width + 1] = 0
        origin = low[s]  # cell 0: the song's smallest difference
        for i in range(first_row, last_row):
            bounds[(packed[i] >> _ID_BITS) - origin] += 1
        for c in range(1, width):
            bounds[c] += bounds[c - 1]
        bounds[width] = last_row - first_row
        # Placed by decrementing each cell's end: it ends at its start.
        for i in range(first_row, last_row):
            c = (packed[i] >> _ID_BITS) - origin
            bounds[c] -= 1
            ids[first_row + bounds[c]] = packed[i] & _ID_MASK
            cell_of[first_row + bounds[c]] = c
        # The occupied cells in order and their distinct hashes, walking the
        # placed rows (most cells of a song are empty: no pass over all of
        # them). Without branches: most cells hold one or two rows, and a loop
        # per cell mispredicted its end about once a cell.
        count[:width] = 0
        n_occupied = 0
        fullest = np.int64(0)
        votes = np.int64(0)
        previous = np.int64(-1)
        for i in range(first_row, last_row):
            cell = np.int64(cell_of[i])
            mark = base + cell
            new = np.int64(stamp[ids[i]] != mark)  # the hash's first row in the cell
            stamp[ids[i]] = mark
            in_cell = np.int64(count[cell]) + new
            count[cell] = in_cell
            votes += new
            fullest = max(fullest, in_cell)
            occupied[first_row + n_occupied] = cell  # kept once the next cell starts
            n_occupied += int(cell != previous)
            previous = cell
        song_votes[s] = votes
        best = -1
        best_window = np.int64(-1)
        best_count = np.int64(-1)
        for j in range(first_row, first_row + n_occupied):
            c = occupied[j]
            lo = max(0, c - tolerance)
            hi = min(width, c + tolerance + 1)
            ceiling = np.int64(0)
            for k in range(lo, hi):
                ceiling += count[k]
            if ceiling < fullest or ceiling < best_window:
                continue
            window = _distinct(
                ids, first_row + bounds[lo], first_row + bounds[hi], window_stamp, base + c
            )
            if window > best_window or (window == best_window and count[c] > best_count):
                best, best_window, best_count = c, window, count[c]
        aligned[s] = best_window
        centre = np.float64(best + low[s])
        if tolerance:
            # As matching._mean_shift: the same sums in the same order.
            total = np.float64(count[best])
            moment = np.float64(0.0)
            for delta in range(-tolerance, tolerance + 1):
                if delta == 0:
                    continue
                neighbour = best + delta
                weight = np.int64(0)
                if 0 <= neighbour < width:
                    weight = count[neighbour]
                total += weight
                moment += weight * delta
            offsets[s] = centre + moment / total
        else:
            offsets[s] = centre
        base += width
    return songs, song_votes, aligned, offsets, True


@njit(cache=True, nogil=True)
def hash_labels(query_hashes: np.ndarray) -> np.ndarray:
    """A small id of each query hash: equal hashes, equal ids (in order of first appearance).

    An open-addressing table of the distinct values instead of
    ``np.unique(return_inverse=True)``'s sort: only equality matters to the vote.

    Parameters
    ----------
    query_hashes : np.ndarray, integers

    Returns
    -------
    np.ndarray, int64, in ``[0, number of distinct hashes)``
    """
    n = len(query_hashes)
    bits = 4
    while (1 << bits) < 2 * n:
        bits += 1
    size = 1 << bits
    value_of = np.empty(size, query_hashes.dtype)
    label_of = np.full(size, -1, np.int64)
    labels = np.empty(n, np.int64)
    n_labels = 0
    mask = np.uint64(size - 1)
    for i in range(n):
        value = query_hashes[i]
        # Fibonacci hashing: the product's top bits depend on all of the value's.
        slot = (np.uint64(value) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)
        while label_of[slot] >= 0 and value_of[slot] != value:
            slot = (slot + np.uint64(1)) & mask
        if label_of[slot] < 0:
            value_of[slot] = value
            label_of[slot] = n_labels
            n_labels += 1
        labels[i] = label_of[slot]
    return labels
