"""Compiled kernels of the peak check (:mod:`dejavu_lab.core.verify`).

At each offset tried, the check counts the stored peaks (and frames) under the
query and those meeting a query peak within the tolerances.

**A song's peaks.** :func:`distinct_peaks` recovers the distinct peaks a song's
packed hashes were made of (each peak stands in tens of them, as anchor and as
target) with a counting sort by frame.

**One candidate.** :func:`alignment_counts` counts them from the stored peaks,
the query's grouped by bin once: the counts of the numpy reference
(``tests/test_kernels.py``).

**Many candidates, from their stored rows.** :func:`dilated_query` lists once,
for each stored bin, the query's positions that meet a peak there;
:func:`stretch_alignment_counts` then counts each candidate from its stretch
of rows (the counts of :func:`distinct_peaks` then :func:`alignment_counts`,
with less work), and :func:`best_and_background` takes each candidate's best
offset and the background sums the check's ``z`` is made of.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros


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
