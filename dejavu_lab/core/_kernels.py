"""Compiled kernels of the query's hot loops, where numpy needs many passes.

**The vote count.** :func:`dejavu_lab.core.matching.song_windows` counts distinct hashes per
(song, offset difference) bin and per window of bins. In numpy that takes
about thirty passes over the rows (sorts, gathers, bincounts); here it is a
counting sort of the rows by cell and one walk over the occupied cells.
Distinct hashes are counted with a stamp per hash id (the last bin or window
that counted it), so no sort of the rows is needed. The results are exactly
those of the numpy reference (``tests/test_kernels.py``).

**The prefilter's bounds.** :func:`song_bound_table` fills the coarse song x
bin table of :func:`dejavu_lab.core.matching.song_bounds` and takes each
song's largest sum of two neighbouring bins in one pass over the rows and
one over the table.

**A song's stretch.** The peak check reads a few seconds of a song from the
song index, whose rows are sorted by hash: :func:`rows_in_range` selects and
sorts them in one pass instead of six.

**Single passes over a query's arrays**, each replacing a few numpy calls
and their temporaries with the same arithmetic in the same order:
:func:`spectral_power` (the STFT's power), :func:`near_maxima` and
:func:`rect_near_maxima` (peak candidates), :func:`hash_variants` (the ``dt``
variants), :func:`hash_labels` (the vote's hash ids) and :func:`band_energies` (the
sketch's bands, over a whole song too). Each has a test against the numpy or scipy it
replaces.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

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


@njit(cache=True, nogil=True)
def spectral_power(spectrum: np.ndarray, scale: np.float32, out: np.ndarray) -> None:
    """``out = (re**2 + im**2) * scale`` of a complex64 spectrum, in float32, in one pass.

    The same float32 operations in the same order as numpy's
    ``np.multiply(re, re, out); out += im**2; out *= scale`` (numba contracts
    no multiply-add into a fused one without ``fastmath``), so the same bits
    (``tests/test_kernels.py``); numpy makes three passes and a temporary.

    Parameters
    ----------
    spectrum : np.ndarray, shape (n_frames, n_bins), complex64 (any strides)
    scale : np.float32
    out : np.ndarray, shape (n_frames, n_bins), float32
    """
    n_frames, n_bins = out.shape
    for f in range(n_frames):
        for b in range(n_bins):
            value = spectrum[f, b]
            out[f, b] = (value.real * value.real + value.imag * value.imag) * scale


@njit(cache=True, nogil=True)
def band_energies(
    power: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    floor: np.float32,
) -> np.ndarray:
    """Each frame's band energies ``sum_j w[m, j] * max(power[f, j], floor)``, in one pass.

    The float32 operations of scipy's sparse product ``filters @ np.maximum(power.T,
    floor)`` in its order (each band's bins in the filter's order), so the same bits
    (``tests/test_kernels.py``); here the frames' rows are read contiguously, where the
    sparse product walks a transposed spectrogram's strided rows (about 9x slower on a song).

    Parameters
    ----------
    power : np.ndarray, shape (n_frames, n_bins), float32 (C-contiguous)
    indptr, indices : np.ndarray, int32
        A CSR matrix's structure, shape (n_bands, n_bins).
    weights : np.ndarray, float32
        Its values.
    floor : np.float32
        Power below this counts as this.

    Returns
    -------
    np.ndarray, shape (n_bands, n_frames), float32
    """
    n_frames = power.shape[0]
    n_bands = len(indptr) - 1
    out = np.zeros((n_bands, n_frames), dtype=np.float32)
    for f in range(n_frames):
        row = power[f]
        for m in range(n_bands):
            total = np.float32(0.0)
            for k in range(indptr[m], indptr[m + 1]):
                value = row[indices[k]]
                if value < floor:
                    value = floor
                total += weights[k] * value
            out[m, f] = total
    return out


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
def near_maxima(values: np.ndarray, largest: np.ndarray) -> np.ndarray:
    """Flat positions where ``values >= largest * 0.5`` (float32 product), ascending.

    ``np.flatnonzero(values >= largest * np.float32(0.5))`` in one pass, without
    the two temporaries of the size of the spectrogram: the same float32
    product and comparison, so the same positions.

    Parameters
    ----------
    values, largest : np.ndarray, float32, C-contiguous, the same shape

    Returns
    -------
    np.ndarray, int64
    """
    flat_values = values.ravel()
    flat_largest = largest.ravel()
    found = np.empty(len(flat_values), np.int64)
    n = 0
    half = np.float32(0.5)
    for i in range(len(flat_values)):
        # Without a branch: few points are near a maximum, at unforeseeable places.
        found[n] = i
        n += flat_values[i] >= flat_largest[i] * half
    return found[:n].copy()


@njit(cache=True, nogil=True)
def rect_near_maxima(
    values: np.ndarray, half_bins: int, half_frames: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Peak candidates of a rectangular maximum filter, the filter never stored.

    For ``largest``, the maximum of each point's ``±half_bins x ±half_frames``
    rectangle (-inf beyond the edges, as ``peaks._rect_maximum_filter``), the
    flat positions where ``values >= largest * 0.5`` (float32 product, as
    :func:`near_maxima`) and ``largest`` there. A frame's maxima along bins are
    kept in a ring of ``2 * half_frames + 1`` rows, so each frame is read once
    and the spectrogram-sized ``largest`` is never written. A maximum of
    values is one of them whatever the order they are compared in, so the
    positions and values are those of the numpy passes (``tests/test_kernels.py``)
    unless a value is NaN, which ``np.maximum`` spreads and a comparison does
    not: then ``finite`` is False and the results are not to be used.

    Parameters
    ----------
    values : np.ndarray, shape (n_frames, n_bins), float32, C-contiguous
    half_bins, half_frames : int

    Returns
    -------
    positions : np.ndarray, int64, ascending
    largest : np.ndarray, float32, the filter's maximum at ``positions``
    finite : bool
        False if ``values`` holds a NaN.
    """
    n_frames, n_bins = values.shape
    window = 2 * half_frames + 1
    ring = np.full((window, n_bins), -np.inf, dtype=np.float32)
    padded = np.full(n_bins + 2 * half_bins, -np.inf, dtype=np.float32)
    acc = np.empty(n_bins, dtype=np.float32)
    positions = np.empty(values.size, np.int64)
    largest = np.empty(values.size, np.float32)
    half = np.float32(0.5)
    n = 0
    nan = False
    for frame in range(n_frames + half_frames):
        row = ring[frame % window]
        if frame < n_frames:
            for j in range(n_bins):
                v = values[frame, j]
                nan |= v != v
                padded[half_bins + j] = v
            for j in range(n_bins):
                row[j] = padded[j]
            for k in range(1, 2 * half_bins + 1):
                for j in range(n_bins):
                    w = padded[j + k]
                    row[j] = w if w > row[j] else row[j]
        else:
            row[:] = -np.inf
        t = frame - half_frames  # the frame whose rectangle is now complete
        if t < 0:
            continue
        first = ring[0]
        for j in range(n_bins):
            acc[j] = first[j]
        for r in range(1, window):
            other = ring[r]
            for j in range(n_bins):
                w = other[j]
                acc[j] = w if w > acc[j] else acc[j]
        base = t * n_bins
        for j in range(n_bins):
            # Without a branch, as near_maxima: few points are candidates.
            positions[n] = base + j
            largest[n] = acc[j]
            n += values[t, j] >= acc[j] * half
    return positions[:n].copy(), largest[:n].copy(), not nan


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
def alignment_counts(
    query_frame: np.ndarray,
    query_bin: np.ndarray,
    ref_frame: np.ndarray,
    ref_bin: np.ndarray,
    first: int,
    n_offsets: int,
    query_frames: int,
    time_tolerance: int,
    freq_tolerance: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stored peaks (and frames) under the query, and those meeting a query peak, per offset.

    At offset ``o`` a stored peak ``(t, b)`` is under the query when
    ``0 <= t - o < query_frames``, and meets it when the query has a peak
    within ``time_tolerance`` frames of ``t - o`` (that position itself
    inside the query) and ``freq_tolerance`` bins of ``b``. The query's peaks
    are grouped by bin once; each stored peak visits the query peaks of its
    bins, and marks the offsets at which one of them meets it (once each).
    The peaks under each offset are counted by differences. A stored frame is
    under (meets) the query when one of its peaks is (does).

    Parameters
    ----------
    query_frame, query_bin : np.ndarray, int64
        The query's peaks (frames from its start, bins).
    ref_frame, ref_bin : np.ndarray, int64
        The stored peaks, distinct, sorted by frame then bin.
    first, n_offsets : int
        The offsets tried: ``first, first + 1, ..., first + n_offsets - 1`` (frames).
    query_frames, time_tolerance, freq_tolerance : int

    Returns
    -------
    matched, total, frames_matched, frames_total : np.ndarray, int64, shape (n_offsets,)
    """
    matched = np.zeros(n_offsets, np.int64)
    total = np.zeros(n_offsets + 1, np.int64)
    frames_matched = np.zeros(n_offsets, np.int64)
    frames_total = np.zeros(n_offsets + 1, np.int64)
    width = max(np.int64(query_frames), np.int64(0))
    # The query's peaks grouped by bin (counting sort), bins low .. high.
    n_query = len(query_bin)
    low = np.int64(0)
    high = np.int64(-1)
    if n_query:
        low = np.int64(query_bin[0])
        high = low
        for i in range(n_query):
            low = min(low, np.int64(query_bin[i]))
            high = max(high, np.int64(query_bin[i]))
    # Stored bins the query's grid spans: 0 .. (largest query bin + tolerance).
    n_bins = high + freq_tolerance + 1 if n_query else np.int64(0)
    starts = np.zeros(high - low + 2, np.int64)
    for i in range(n_query):
        starts[query_bin[i] - low + 1] += 1
    for j in range(1, len(starts)):
        starts[j] += starts[j - 1]
    fill = starts[:-1].copy()
    frames_by_bin = np.empty(n_query, np.int64)
    for i in range(n_query):
        j = query_bin[i] - low
        frames_by_bin[fill[j]] = query_frame[i]
        fill[j] += 1
    # The last stored peak (frame) that met the query at each offset.
    peak_met = np.full(n_offsets, -1, np.int64)
    frame_met = np.full(n_offsets, -1, np.int64)
    frame_id = np.int64(-1)  # the stored frame's number, counting distinct frames
    n_ref = len(ref_frame)
    for r in range(n_ref):
        t = np.int64(ref_frame[r])
        b = np.int64(ref_bin[r])
        new_frame = r == 0 or t != ref_frame[r - 1]
        if new_frame:
            frame_id += 1
        # Offsets o with 0 <= t - o < query_frames, within the tried ones.
        lo = max(t - width + 1, np.int64(first)) - first
        hi = min(t, np.int64(first) + n_offsets - 1) - first
        if lo > hi:
            continue
        total[lo] += 1
        total[hi + 1] -= 1
        if new_frame:
            frames_total[lo] += 1
            frames_total[hi + 1] -= 1
        if b < 0 or b >= n_bins:
            continue
        for df in range(-freq_tolerance, freq_tolerance + 1):
            q = b - df
            if q < low or q > high:
                continue
            for i in range(starts[q - low], starts[q - low + 1]):
                for dt in range(-time_tolerance, time_tolerance + 1):
                    position = frames_by_bin[i] - dt
                    if position < 0 or position >= width:
                        continue
                    k = t - position - first
                    if k < lo or k > hi or peak_met[k] == r:
                        continue
                    peak_met[k] = r
                    matched[k] += 1
                    if frame_met[k] != frame_id:
                        frame_met[k] = frame_id
                        frames_matched[k] += 1
    for k in range(1, n_offsets):
        total[k] += total[k - 1]
        frames_total[k] += frames_total[k - 1]
    return matched, total[:n_offsets].copy(), frames_matched, frames_total[:n_offsets].copy()


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


@njit(cache=True, nogil=True)
def distinct_peaks(
    hashes: np.ndarray, offsets: np.ndarray, dt_shift: int, bin_shift: int, bin_mask: int
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct peaks ``(offset, f1)`` and ``(offset + dt, f2)`` of packed hashes.

    Each peak of a song stands in tens of its hashes (as anchor and as
    target): the peaks are grouped by frame with a counting sort, and each
    frame's few distinct bins are kept with a stamp per bin and sorted.

    Parameters
    ----------
    hashes : np.ndarray, uint32
        Packed hashes, ``f1 << bin_shift + dt_shift | f2 << dt_shift | dt``.
    offsets : np.ndarray, int
        Frame of each hash (its anchor's).
    dt_shift, bin_shift, bin_mask : int
        The layout: ``dt`` is ``hashes & ((1 << dt_shift) - 1)``, ``f2`` is
        ``(hashes >> dt_shift) & bin_mask``, ``f1`` is
        ``(hashes >> (dt_shift + bin_shift)) & bin_mask``.

    Returns
    -------
    frame, bin : np.ndarray, int64
        The distinct peaks, sorted by frame then bin.
    """
    n = len(hashes)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    dt_mask = (np.int64(1) << dt_shift) - 1
    low = np.int64(offsets[0])
    high = np.int64(offsets[0])
    for i in range(n):
        low = min(low, np.int64(offsets[i]))
        high = max(high, np.int64(offsets[i]) + (np.int64(hashes[i]) & dt_mask))
    span = high - low + 1
    starts = np.zeros(span + 1, np.int64)
    for i in range(n):
        h = np.int64(hashes[i])
        t = np.int64(offsets[i]) - low
        starts[t + 1] += 1
        starts[t + (h & dt_mask) + 1] += 1
    for f in range(span):
        starts[f + 1] += starts[f]
    fill = starts[:-1].copy()
    bins = np.empty(2 * n, np.int64)
    for i in range(n):
        h = np.int64(hashes[i])
        t = np.int64(offsets[i]) - low
        bins[fill[t]] = (h >> (dt_shift + bin_shift)) & bin_mask
        fill[t] += 1
        target = t + (h & dt_mask)
        bins[fill[target]] = (h >> dt_shift) & bin_mask
        fill[target] += 1
    stamp = np.full(bin_mask + 1, -1, np.int64)
    frame = np.empty(2 * n, np.int64)
    bin_ = np.empty(2 * n, np.int64)
    found = 0
    for f in range(span):
        begin = found
        for j in range(starts[f], starts[f + 1]):
            b = bins[j]
            if stamp[b] != f:
                stamp[b] = f
                # Insertion into the frame's sorted bins (a frame has a few).
                k = found
                while k > begin and bin_[k - 1] > b:
                    bin_[k] = bin_[k - 1]
                    k -= 1
                bin_[k] = b
                frame[found] = f + low
                found += 1
    return frame[:found].copy(), bin_[:found].copy()


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


@njit(cache=True, nogil=True)
def dilated_query(
    query_frame: np.ndarray,
    query_bin: np.ndarray,
    width: np.int64,
    time_tolerance: int,
    freq_tolerance: int,
) -> tuple[np.ndarray, np.ndarray]:
    """For each stored bin, the distinct positions in the query that meet a peak there.

    A stored peak of bin ``b`` at position ``p`` of the query (``0 <= p <
    width``) meets it when a query peak lies within ``freq_tolerance`` bins of
    ``b`` and ``time_tolerance`` frames of ``p``.

    Returns
    -------
    starts : np.ndarray, int64, shape (n_bins + 1,)
        Bin ``b``'s positions are ``positions[starts[b]:starts[b + 1]]``; bins
        past the last are met nowhere.
    positions : np.ndarray, int64
    """
    n_query = len(query_bin)
    high = np.int64(-1)
    for i in range(n_query):
        high = max(high, np.int64(query_bin[i]))
    n_bins = high + freq_tolerance + 1 if n_query else np.int64(0)
    # The query's peaks grouped by bin (counting sort).
    by_bin = np.zeros(high + 2 if n_query else 1, np.int64)
    for i in range(n_query):
        by_bin[query_bin[i] + 1] += 1
    for b in range(1, len(by_bin)):
        by_bin[b] += by_bin[b - 1]
    fill = by_bin[:-1].copy()
    frames = np.empty(n_query, np.int64)
    for i in range(n_query):
        frames[fill[query_bin[i]]] = query_frame[i]
        fill[query_bin[i]] += 1
    starts = np.zeros(n_bins + 1, np.int64)
    positions = np.empty(n_query * (2 * freq_tolerance + 1) * (2 * time_tolerance + 1), np.int64)
    stamp = np.full(width, -1, np.int64)  # the last bin that took a position (width >= 0)
    found = 0
    for b in range(n_bins):
        lowest = b - freq_tolerance if b > freq_tolerance else 0
        highest = b + freq_tolerance if b + freq_tolerance < high else high
        for q in range(lowest, highest + 1):
            for i in range(by_bin[q], by_bin[q + 1]):
                for dt in range(-time_tolerance, time_tolerance + 1):
                    position = frames[i] + dt
                    if 0 <= position < width and stamp[position] != b:
                        stamp[position] = b
                        positions[found] = position
                        found += 1
        starts[b + 1] = found
    return starts, positions[:found]


@njit(cache=True, nogil=True)
def stretch_alignment_counts(
    met_starts: np.ndarray,
    met_positions: np.ndarray,
    hashes: np.ndarray,
    offsets: np.ndarray,
    bounds: np.ndarray,
    row_start: np.ndarray,
    row_stop: np.ndarray,
    skip_bits: int,
    firsts: np.ndarray,
    n_offsets: int,
    query_frames: int,
    dt_shift: int,
    bin_shift: int,
    bin_mask: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`alignment_counts` of several candidates, from their stored rows.

    ``met_starts``, ``met_positions``: :func:`dilated_query` of the query's
    peaks (``query_frames`` wide, with the tolerances).

    For candidate ``c``, the stored peaks are those its hashes were made of
    (:func:`distinct_peaks`) among its rows ``bounds[c]:bounds[c + 1]`` with
    ``row_start[c] <= offset < row_stop[c]`` and no bit of ``skip_bits`` set
    (triplet hashes); its offsets are ``firsts[c] + arange(n_offsets)``.

    The same counts as :func:`distinct_peaks` then :func:`alignment_counts`,
    with less work: only the peaks that can lie under the query at an offset
    tried are kept (in a bitmap of frames x bins, which drops repeats and
    sorts them), and each stored bin's meeting positions in the query are
    listed once for all candidates (:func:`dilated_query`), so a stored
    peak visits each offset it meets once, without the per-offset checks.

    Returns
    -------
    matched, total, frames_matched, frames_total : np.ndarray, int64, shape (candidates, n_offsets)
    """
    n_candidates = len(bounds) - 1
    matched = np.zeros((n_candidates, n_offsets), np.int64)
    total = np.zeros((n_candidates, n_offsets + 1), np.int64)
    frames_matched = np.zeros((n_candidates, n_offsets), np.int64)
    frames_total = np.zeros((n_candidates, n_offsets + 1), np.int64)
    width = max(np.int64(query_frames), np.int64(0))
    n_met_bins = len(met_starts) - 1
    dt_mask = (np.int64(1) << dt_shift) - 1
    frame_met = np.full(n_offsets, -1, np.int64)
    frame_id = np.int64(-1)
    for c in range(n_candidates):
        first = np.int64(firsts[c])
        # Frames under the query at some offset tried: first .. last.
        last = first + n_offsets + width - 2
        if width == 0 or n_offsets <= 0 or last < first:
            continue
        begin, end = bounds[c], bounds[c + 1]
        start, stop = np.int64(row_start[c]), np.int64(row_stop[c])
        # The bins spanned (by the rows kept), for the bitmap's width.
        low_bin = np.int64(bin_mask)
        high_bin = np.int64(0)
        for r in range(begin, end):
            h = np.int64(hashes[r])
            o = np.int64(offsets[r])
            if o < start or o >= stop or (h & skip_bits) != 0:
                continue
            f1 = (h >> (dt_shift + bin_shift)) & bin_mask
            f2 = (h >> dt_shift) & bin_mask
            low_bin = min(low_bin, min(f1, f2))
            high_bin = max(high_bin, max(f1, f2))
        if high_bin < low_bin:
            continue
        word_base = low_bin >> 6
        n_words = (high_bin >> 6) - word_base + 1
        n_frames = last - first + 1
        bitmap = np.zeros(n_frames * n_words, np.uint64)
        for r in range(begin, end):
            h = np.int64(hashes[r])
            o = np.int64(offsets[r])
            if o < start or o >= stop or (h & skip_bits) != 0:
                continue
            if first <= o <= last:
                b = (h >> (dt_shift + bin_shift)) & bin_mask
                bitmap[(o - first) * n_words + (b >> 6) - word_base] |= np.uint64(1) << np.uint64(
                    b & 63
                )
            t = o + (h & dt_mask)
            if first <= t <= last:
                b = (h >> dt_shift) & bin_mask
                bitmap[(t - first) * n_words + (b >> 6) - word_base] |= np.uint64(1) << np.uint64(
                    b & 63
                )
        for f in range(n_frames):
            t = first + f
            row = f * n_words
            in_frame = np.int64(0)
            for w in range(n_words):
                word = bitmap[row + w]
                while word:
                    in_frame += 1
                    word &= word - np.uint64(1)
            if in_frame == 0:
                continue
            frame_id += 1
            # Offsets k (from first) with the frame under the query: lo .. hi.
            lo = max(t - width + 1, first) - first
            hi = min(t, first + n_offsets - 1) - first
            total[c, lo] += in_frame
            total[c, hi + 1] -= in_frame
            frames_total[c, lo] += 1
            frames_total[c, hi + 1] -= 1
            for w in range(n_words):
                word = bitmap[row + w]
                while word:
                    b = ((word_base + w) << 6) + np.int64(trailing_zeros(word))  # type: ignore[call-arg]
                    word &= word - np.uint64(1)
                    if b >= n_met_bins:
                        continue
                    for j in range(met_starts[b], met_starts[b + 1]):
                        k = t - first - met_positions[j]
                        if 0 <= k < n_offsets:
                            matched[c, k] += 1
                            if frame_met[k] != frame_id:
                                frame_met[k] = frame_id
                                frames_matched[c, k] += 1
        for k in range(1, n_offsets):
            total[c, k] += total[c, k - 1]
            frames_total[c, k] += frames_total[c, k - 1]
    return matched, total[:, :n_offsets].copy(), frames_matched, frames_total[:, :n_offsets].copy()


@njit(cache=True, nogil=True)
def best_and_background(
    matched: np.ndarray,
    total: np.ndarray,
    frames_matched: np.ndarray,
    frames_total: np.ndarray,
    near_start: int,
    near_stop: int,
    first: np.ndarray,
    background_stop: int,
    background_start: np.ndarray,
) -> np.ndarray:
    """Each candidate's best column and the counts the peak check's ``z`` is made of.

    Row ``i``: the best column is the first largest ``matched[i]`` in
    ``[near_start, near_stop)``; the background is the columns ``[first[i],
    background_stop)`` and ``[background_start[i], columns)``.

    Parameters
    ----------
    matched, total, frames_matched, frames_total : np.ndarray, int64, shape (candidates, columns)
    near_start, near_stop, background_stop : int
    first, background_start : np.ndarray, int64, one per candidate

    Returns
    -------
    np.ndarray, int64, shape (candidates, 9)
        Per row: the best column, then for peaks and for frames: the matched
        and total counts there, and the background's matched and total sums.
    """
    n_rows, n_columns = matched.shape
    out = np.zeros((n_rows, 9), np.int64)
    for i in range(n_rows):
        best = near_start
        for j in range(near_start + 1, near_stop):
            if matched[i, j] > matched[i, best]:
                best = j
        out[i, 0] = best
        for part, (counts, under) in enumerate(((matched, total), (frames_matched, frames_total))):
            met = np.int64(0)
            seen = np.int64(0)
            for j in range(max(first[i], 0), min(background_stop, n_columns)):
                met += counts[i, j]
                seen += under[i, j]
            for j in range(max(background_start[i], 0), n_columns):
                met += counts[i, j]
                seen += under[i, j]
            out[i, 1 + 4 * part] = counts[i, best]
            out[i, 2 + 4 * part] = under[i, best]
            out[i, 3 + 4 * part] = met
            out[i, 4 + 4 * part] = seen
    return out
