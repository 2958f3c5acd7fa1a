"""The peak check's counts and statistic, as plain functions.

How many stored peaks (and stored frames) under the query meet a query peak at each
offset (:func:`peak_alignment`; compiled, ``_numpy_alignment_counts`` is its numpy
reference), and ``z``, their excess over the background's rate (``_excess``).
"""

from __future__ import annotations

import math

import numpy as np

from .._arrays import sorted_unique
from .peak_sets import _KEY_SHIFT, PeakSet


def _matched_pairs(
    query: PeakSet,
    reference: PeakSet,
    offsets: np.ndarray,
    *,
    query_frames: int,
    time_tolerance: int,
    freq_tolerance: int,
) -> np.ndarray:
    """Distinct (stored peak, offset) pairs where the peak meets a query peak.

    Returned as sorted ``int64`` keys ``(reference index << 32) | (offset - offsets[0])``.
    """
    first, last = int(offsets[0]), int(offsets[-1])
    # Stored peaks sorted by (bin, frame), so each query peak's partners are one run.
    ref_key = (reference.bin << _KEY_SHIFT) | reference.frame
    order = np.argsort(ref_key, kind="stable")
    ref_key = ref_key[order]
    pairs = []
    for df in range(-freq_tolerance, freq_tolerance + 1):
        base = (query.bin + df) << _KEY_SHIFT
        lo = np.searchsorted(ref_key, base + query.frame + first - time_tolerance)
        hi = np.searchsorted(ref_key, base + query.frame + last + time_tolerance, side="right")
        counts = hi - lo
        if counts.sum() == 0:
            continue
        which = np.repeat(np.arange(len(query)), counts)
        starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
        ref_index = order[starts + np.arange(len(which))]
        lag = reference.frame[ref_index] - query.frame[which]
        for delta in range(-time_tolerance, time_tolerance + 1):
            offset = lag + delta
            inside = (offset >= first) & (offset <= last)
            position = reference.frame[ref_index] - offset
            inside &= (position >= 0) & (position < query_frames)
            pairs.append((ref_index[inside] << _KEY_SHIFT) | (offset[inside] - first))
    if not pairs:
        return np.zeros(0, dtype=np.int64)
    return sorted_unique(np.concatenate(pairs))


def _per_offset(keys: np.ndarray, n_offsets: int) -> np.ndarray:
    """How many keys fall on each offset (the key's low 32 bits)."""
    return np.bincount((keys & np.int64(0xFFFFFFFF)).astype(np.intp), minlength=n_offsets)[
        :n_offsets
    ].astype(np.int64)


def peak_alignment(
    query: PeakSet,
    reference: PeakSet,
    offsets: np.ndarray,
    *,
    query_frames: int,
    time_tolerance: int = 1,
    freq_tolerance: int = 0,
    by_frame: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Stored peaks under the query, and how many meet a query peak, per offset.

    Parameters
    ----------
    query : PeakSet
        Peaks of the query, frames from its start.
    reference : PeakSet
        Peaks of the stored song (or a stretch of it), frames from its start.
    offsets : np.ndarray of int, sorted, consecutive
        Frames of the song at which the query's start is tried.
    query_frames : int
        Length of the query (frames): at offset ``o`` the stored peaks with
        ``o <= frame < o + query_frames`` are under it.
    time_tolerance, freq_tolerance : int
        A stored peak meets a query peak within this many frames and bins.
    by_frame : bool
        Count stored *frames* instead of peaks: a frame is under the query if
        one of its peaks is, and meets the query if one of its peaks does.
        The harmonics of one note start in one frame, so a single chance
        coincidence of pitch and onset counts once, not once per harmonic.

    Returns
    -------
    matched, total : np.ndarray, int64, one value per offset
    """
    peaks, frames = _alignment_counts(
        query,
        reference,
        np.asarray(offsets, dtype=np.int64),
        query_frames=query_frames,
        time_tolerance=time_tolerance,
        freq_tolerance=freq_tolerance,
    )
    return frames if by_frame else peaks


def _alignment_counts(
    query: PeakSet,
    reference: PeakSet,
    offsets: np.ndarray,
    *,
    query_frames: int,
    time_tolerance: int,
    freq_tolerance: int,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """:func:`peak_alignment` by peak and by frame, in one pass: ``(peaks, frames)``.

    Compiled (:func:`~dejavu_lab.core._kernels.verify.alignment_counts`); the same
    counts as :func:`_numpy_alignment_counts` (``tests/test_kernels.py``).
    """
    if len(offsets) == 0:
        return _numpy_alignment_counts(
            query,
            reference,
            offsets,
            query_frames=query_frames,
            time_tolerance=time_tolerance,
            freq_tolerance=freq_tolerance,
        )
    from .._kernels.verify import alignment_counts

    matched, total, frames_matched, frames_total = alignment_counts(
        query.frame,
        query.bin,
        reference.frame,
        reference.bin,
        int(offsets[0]),
        len(offsets),
        query_frames,
        time_tolerance,
        freq_tolerance,
    )
    return (matched, total), (frames_matched, frames_total)


def _numpy_alignment_counts(
    query: PeakSet,
    reference: PeakSet,
    offsets: np.ndarray,
    *,
    query_frames: int,
    time_tolerance: int,
    freq_tolerance: int,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """:func:`_alignment_counts` in numpy: the compiled kernel's reference."""

    def under(column: np.ndarray) -> np.ndarray:
        return np.searchsorted(column, offsets + query_frames) - np.searchsorted(column, offsets)

    peak_total = under(reference.frame).astype(np.int64)
    frame_total = under(sorted_unique(reference.frame)).astype(np.int64)
    if len(offsets) == 0 or len(query) == 0 or len(reference) == 0:
        empty = np.zeros(len(offsets), dtype=np.int64)
        return (empty, peak_total), (empty, frame_total)
    keys = _matched_pairs(
        query,
        reference,
        offsets,
        query_frames=query_frames,
        time_tolerance=time_tolerance,
        freq_tolerance=freq_tolerance,
    )
    frame_keys = keys
    if len(keys):
        frame_of = reference.frame[keys >> _KEY_SHIFT]
        frame_keys = sorted_unique((frame_of << _KEY_SHIFT) | (keys & np.int64(0xFFFFFFFF)))
    return (
        (_per_offset(keys, len(offsets)), peak_total),
        (_per_offset(frame_keys, len(offsets)), frame_total),
    )


def _excess(m: int, n: int, background_matched: int, background_total: int) -> tuple[float, float]:
    """``z`` of ``m`` of ``n`` stored peaks met against the background's rate.

    Returns ``(z, p0)``; ``p0`` is smoothed by half a count so that it is never 0.
    """
    p0 = (float(background_matched) + 0.5) / (int(background_total) + 1.0)
    p0 = min(p0, 1.0 - 1e-6)
    z = (m - n * p0) / math.sqrt(n * p0 * (1.0 - p0)) if n else 0.0
    return z, p0
