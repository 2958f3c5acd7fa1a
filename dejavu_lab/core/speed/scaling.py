"""The query's peaks mapped back under a factor, and hashed again, as plain functions.

:func:`scale_peaks` maps one set; :func:`hash_sets` hashes several sets in one pass;
:func:`scaled_hashes` does both for every factor at once (compiled); :func:`dt_variants`
gives the ranking's ``dt`` variants of each hash.
"""

from __future__ import annotations

import numpy as np

from ..hashing import MAX_BIN, MAX_DT, Fingerprints, Hasher, tolerance_steps
from ..peaks import Peaks
from .factors import Factor


def scale_peaks(peaks: Peaks, *, freq_scale: float, time_scale: float) -> Peaks:
    """Map query peaks to the stored song's frames and bins.

    Parameters
    ----------
    peaks : Peaks
        Peaks of the query, sorted by frame.
    freq_scale : float, > 0
        Query frequency over stored frequency: bins are divided by it (rounded).
    time_scale : float, > 0
        Stored frames per query frame: frames are multiplied by it (rounded).

    Returns
    -------
    Peaks
        Still sorted by frame; peaks falling outside the hash's bin range are
        dropped. ``n_frames`` is scaled too.
    """
    if freq_scale <= 0 or time_scale <= 0:
        raise ValueError(f"scale_peaks: scales must be > 0, not {freq_scale}, {time_scale}")
    bins = np.rint(peaks.bin / freq_scale).astype(np.int32)
    frames = np.rint(peaks.frame * time_scale).astype(np.int32)
    keep = (bins >= 0) & (bins <= MAX_BIN)
    return Peaks(
        frame=frames[keep],
        bin=bins[keep],
        amp_db=peaks.amp_db[keep],
        frame_seconds=peaks.frame_seconds,
        n_frames=round(peaks.n_frames * time_scale),
    )


#: Frames between the peak sets that :func:`hash_sets` hashes together.
SET_GAP_FRAMES = 1 << 16


def hash_sets(peak_sets: list[Peaks], hasher: Hasher) -> tuple[Fingerprints, np.ndarray]:
    """Query hashes of several peak sets in one pass.

    The sets are laid end to end, :data:`SET_GAP_FRAMES` apart (more than any
    ``max_dt``, so no pair joins two sets), hashed at once, and the offsets
    put back in each set's own frames.

    Returns
    -------
    Fingerprints
        Every set's hashes, offsets in its own frames.
    owner : np.ndarray, int64
        Which set each hash belongs to.
    """
    if not peak_sets:
        return Fingerprints.empty(), np.zeros(0, np.int64)
    shift = np.repeat(
        np.arange(len(peak_sets), dtype=np.int64) * SET_GAP_FRAMES, [len(p) for p in peak_sets]
    )
    joined = Peaks(
        frame=np.concatenate([p.frame for p in peak_sets]).astype(np.int64) + shift,
        bin=np.concatenate([p.bin for p in peak_sets]),
        amp_db=np.concatenate([p.amp_db for p in peak_sets]),
        frame_seconds=peak_sets[0].frame_seconds,
        n_frames=len(peak_sets) * SET_GAP_FRAMES,
    )
    hashed = hasher(joined, query=True)
    owner = hashed.offsets.astype(np.int64) // SET_GAP_FRAMES
    offsets = (hashed.offsets - owner * SET_GAP_FRAMES).astype(np.int32)
    return Fingerprints(hashed.hashes, offsets), owner


def scaled_hashes(
    peaks: Peaks, factors: list[Factor], hasher: Hasher
) -> tuple[Fingerprints, np.ndarray]:
    """Query hashes of ``peaks`` mapped back under each factor, in one compiled pass.

    The hashes of ``hash_sets([scale_peaks(peaks, ...) for each factor], hasher)``
    (:func:`scale_peaks`, :func:`hash_sets`), grouped by factor rather than
    sorted, without the peak sets being built: the frames and bins of every
    set are scaled at once and each set paired on its own
    (:func:`~dejavu_lab.core._kernels.speed.scaled_set_hashes`). Repeated
    (hash, offset) pairs, which :func:`hash_sets` drops, need two peaks on
    one scaled (frame, bin): peaks dominating a neighbourhood of a bin and a
    frame or more never do at these factors.

    Returns
    -------
    Fingerprints
        Every set's hashes, offsets in its own (the stored song's) frames.
    owner : np.ndarray, int64
        Which factor each hash belongs to.
    """
    from .._kernels.speed import scaled_set_hashes

    if not factors or not len(peaks):
        return Fingerprints.empty(), np.zeros(0, np.int64)
    freq = np.array([f.freq_scale for f in factors])[:, None]
    time = np.array([f.time_scale for f in factors])[:, None]
    bins = np.rint(peaks.bin[None, :] / freq).astype(np.int64)
    frames = np.rint(peaks.frame[None, :] * time).astype(np.int64)
    keep = (bins >= 0) & (bins <= MAX_BIN)
    fan = hasher.query_fan_value if hasher.query_fan_value is not None else hasher.fan_value
    hashes, offsets, owner = scaled_set_hashes(
        frames,
        bins,
        keep,
        fan,
        hasher.min_dt,
        hasher.max_dt,
        -1 if hasher.max_df is None else hasher.max_df,
    )
    return Fingerprints(hashes, offsets), owner


def dt_variants(hashes: np.ndarray, *, dt_tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """Each hash and those whose ``dt`` differs by up to ``dt_tolerance`` frames, side by side.

    The variants of :func:`~dejavu_lab.core.hashing.tolerance_variants` (without
    frequency tolerance), in another order: a hash's variants follow it (``dt``
    is the hash's low field, so they are neighbouring values), which keeps the
    owner of each variant in its hash's order and the index's reads together.

    Returns
    -------
    variants : np.ndarray, uint32
    origin : np.ndarray, int64
        Index into ``hashes`` of each variant's original (non-decreasing).
    """
    hashes = np.asarray(hashes, dtype=np.uint32)
    steps = np.array(tolerance_steps(dt_tolerance), dtype=np.int64)
    dt = (hashes & np.uint32(MAX_DT)).astype(np.int64)
    moved = dt[:, None] + steps[None, :]
    ok = (moved >= 0) & (moved <= MAX_DT)
    values = hashes.astype(np.int64)[:, None] + steps[None, :]
    origin = np.broadcast_to(np.arange(len(hashes), dtype=np.int64)[:, None], ok.shape)
    return values[ok].astype(np.uint32), origin[ok]
