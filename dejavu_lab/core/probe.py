"""Probing a stored song's peaks in the query's spectrogram (an exploration; not in any preset).

The peak check (:mod:`dejavu_lab.core.verify`) compares the stored song's peaks
with peaks *picked* in the query. Through a room and a microphone, picking
loses true peaks (masked by noise or reverberation) and adds noise peaks, and
a lost peak counts as a miss however close it came. The probe asks instead,
at each stored peak ``(t, f)`` under the query, how much the query's log
spectrogram stands out there: its **contrast** (:func:`contrast_map`), the
largest value within ``+-time_reach`` frames and ``+-freq_reach`` bins of
``(t, f)`` minus a local level (the frame's mean over nearby bins, the bin's
mean over nearby frames, or the maximum of a peak picker's neighbourhood),
optionally standardised per bin over the clip so that a note the query holds
throughout does not reward every stored song in that key. If the song is
playing, the stored peaks fall on ridges of the query's spectrogram; if not,
anywhere.

The score of an offset is the mean contrast over the stored peaks under the
query there (:func:`probe_scores`). As in the peak check, chance is measured
on the same song and the same query: the scores at the other offsets within
the background reach give a mean and a standard deviation, and ``z`` is the
best nearby offset's score standardised by them (:func:`probe_check`).
``experiments/peak_probe.py`` measures it against the peak check on the
study's clips; ``docs/notes/no-match-explorations.md`` (the peak probe) says what it found: alone
no stronger than the peak check; folded into its evidence (``r + 0.2 z``) more
1-2 s laptop-mic clips above a ``1e-3`` threshold on held-out seeds, not yet
wired in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter, uniform_filter1d

from .verify import PeakSet

#: What a cell's neighbourhood maximum is compared with in :func:`contrast_map`.
LEVELS = ("frame-mean", "bin-mean", "neighbourhood-max")
#: The contrast folded into the evidence in ``docs/no-match.md`` (keyword arguments of
#: :func:`contrast_map`): each cell against its 5 x 5 neighbourhood's maximum, bins standardised.
PEAKNESS: dict[str, int | str | bool] = {
    "time_reach": 0,
    "freq_reach": 0,
    "level": "neighbourhood-max",
    "level_bins": 5,
    "level_frames": 5,
    "normalise_rows": True,
}


def contrast_map(
    values_db: np.ndarray,
    *,
    time_reach: int = 1,
    freq_reach: int = 1,
    level_bins: int = 8,
    level_frames: int = 5,
    level: str = "frame-mean",
    normalise_rows: bool = False,
) -> np.ndarray:
    """How much each cell's neighbourhood stands out from a local level.

    Parameters
    ----------
    values_db : np.ndarray, shape (n_bins, n_frames), float
        Log-magnitude spectrogram (dB), e.g. :attr:`LogSpectrogram.values_db`.
    time_reach, freq_reach : int
        A cell takes the largest value within this many frames and bins of it
        (>= 0): a stored peak that moved by a frame or a bin still lands on its ridge.
    level_bins, level_frames : int
        Extent of the local level (>= 1; the edges repeat the outermost cells).
    level : str
        The local level (one of :data:`LEVELS`): ``"frame-mean"``, the mean of
        the same frame over ``+-level_bins`` bins (follows the microphone's tilt
        and the noise floor); ``"bin-mean"``, the mean of the same bin over
        ``+-level_frames`` frames (an onset or a note's rise); or
        ``"neighbourhood-max"``, the maximum over ``+-level_bins`` bins and
        ``+-level_frames`` frames (0 where the cell would be picked as a peak in
        a neighbourhood of that size, negative elsewhere).
    normalise_rows : bool
        Standardise each bin's row over the frames (mean 0, standard deviation
        1), so that a bin the query holds throughout (a sustained note, which any
        song in that key meets) weighs no more than any other.

    Returns
    -------
    np.ndarray, shape (n_bins, n_frames), float32
        Contrast (dB, or standard units with ``normalise_rows``).
    """
    if values_db.ndim != 2:
        raise ValueError(f"contrast_map: values_db must be 2-D, got shape {values_db.shape}")
    if time_reach < 0 or freq_reach < 0 or level_bins < 1 or level_frames < 1:
        raise ValueError(
            "contrast_map: time_reach and freq_reach must be >= 0, level_bins and "
            f"level_frames >= 1, got {time_reach}, {freq_reach}, {level_bins}, {level_frames}"
        )
    if level not in LEVELS:
        raise ValueError(f"contrast_map: level must be one of {LEVELS}, got {level!r}")
    values = np.asarray(values_db, dtype=np.float32)
    peak = maximum_filter(values, size=(2 * freq_reach + 1, 2 * time_reach + 1), mode="nearest")
    if level == "frame-mean":
        local = uniform_filter1d(values, size=2 * level_bins + 1, axis=0, mode="nearest")
    elif level == "bin-mean":
        local = uniform_filter1d(values, size=2 * level_frames + 1, axis=1, mode="nearest")
    else:
        local = maximum_filter(
            values, size=(2 * level_bins + 1, 2 * level_frames + 1), mode="nearest"
        )
    contrast = peak - local
    if normalise_rows:
        spread = contrast.std(axis=1, keepdims=True)
        contrast = (contrast - contrast.mean(axis=1, keepdims=True)) / np.where(
            spread > 0, spread, 1.0
        )
    return contrast.astype(np.float32)


def probe_scores(
    contrast: np.ndarray,
    reference: PeakSet,
    offsets: np.ndarray,
    *,
    first_bin: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Summed contrast at the stored peaks under the query, and their number, per offset.

    Parameters
    ----------
    contrast : np.ndarray, shape (n_bins, n_frames)
        :func:`contrast_map` of the query; row ``i`` is absolute bin ``first_bin + i``.
    reference : PeakSet
        Stored peaks (absolute frame and bin of the song).
    offsets : np.ndarray of int
        Frames of the song at which the query's start is tried: at offset ``o``
        the stored peaks with ``o <= frame < o + n_frames`` are under the query.
    first_bin : int
        Absolute bin of the contrast map's first row; stored peaks outside the
        map's rows are ignored.

    Returns
    -------
    sums : np.ndarray, float64, one value per offset
        Sum of the contrast (dB) at the stored peaks under the query.
    counts : np.ndarray, int64, one value per offset
        Stored peaks under the query.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    n_bins, n_frames = contrast.shape
    row = reference.bin - first_bin
    keep = (row >= 0) & (row < n_bins)
    frame, row = reference.frame[keep], row[keep]
    sums = np.zeros(len(offsets), dtype=np.float64)
    counts = np.zeros(len(offsets), dtype=np.int64)
    if len(offsets) == 0 or len(frame) == 0:
        return sums, counts
    # Each stored peak lies under the query at n_frames consecutive offsets: one per position.
    position = np.arange(n_frames, dtype=np.int64)
    offset_of = frame[:, None] - position[None, :]
    index = offset_of - offsets[0]
    index_ok = (index >= 0) & (index < len(offsets))
    if not np.all(np.diff(offsets) == 1):
        lookup = np.full(int(offsets[-1] - offsets[0]) + 1, -1, dtype=np.int64)
        lookup[offsets - offsets[0]] = np.arange(len(offsets))
        index = np.where(index_ok, lookup[np.clip(index, 0, len(lookup) - 1)], -1)
        index_ok = index >= 0
    values = contrast[row[:, None], np.broadcast_to(position, offset_of.shape)]
    sums += np.bincount(index[index_ok], weights=values[index_ok], minlength=len(offsets))[
        : len(offsets)
    ]
    counts += np.bincount(index[index_ok], minlength=len(offsets))[: len(offsets)]
    return sums, counts


@dataclass(frozen=True)
class ProbeCheck:
    """One candidate probed at an offset.

    Attributes
    ----------
    offset_frames : int
        The offset (frames of the song) within the search of the centre with the largest score.
    score_db : float
        Mean contrast (dB) at the stored peaks under the query there.
    reference_peaks : int
        Stored peaks under the query there.
    background_db : float
        Mean score (dB) at the background offsets.
    background_spread_db : float
        Standard deviation of the score at the background offsets (dB).
    z : float
        ``(score_db - background_db) / background_spread_db``.
    """

    offset_frames: int
    score_db: float
    reference_peaks: int
    background_db: float
    background_spread_db: float
    z: float


def probe_check(
    contrast: np.ndarray,
    reference: PeakSet,
    centre: int,
    *,
    first_bin: int = 0,
    search_frames: int = 2,
    background_frames: int = 172,
    min_peaks: int = 1,
) -> ProbeCheck:
    """Probe a candidate at ``centre +- search_frames``, against its background offsets.

    Parameters
    ----------
    contrast : np.ndarray, shape (n_bins, n_frames)
        :func:`contrast_map` of the query.
    reference : PeakSet
        Stored peaks of the song covering ``centre - background_frames`` to
        ``centre + background_frames + n_frames``.
    centre : int
        Offset (frames of the song) of the candidate.
    first_bin : int
        Absolute bin of the contrast map's first row.
    search_frames : int
        Offsets within this many frames of ``centre`` are tried; the best is kept.
    background_frames : int
        Offsets up to this many frames either side of ``centre``, beyond
        ``search_frames + 1`` and not before the song's start, give the background.
    min_peaks : int
        Offsets with fewer stored peaks under the query are not scored (their
        mean is noise): excluded from the background, and a ``z`` of 0 if all
        searched ones are.

    Returns
    -------
    ProbeCheck
    """
    offsets = np.arange(centre - background_frames, centre + background_frames + 1)
    sums, counts = probe_scores(contrast, reference, offsets, first_bin=first_bin)
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    scored = counts >= max(min_peaks, 1)
    distance = np.abs(offsets - centre)
    near = (distance <= search_frames) & scored
    far = (distance > search_frames + 1) & (offsets >= 0) & scored
    if not near.any() or far.sum() < 2:
        return ProbeCheck(int(centre), 0.0, 0, 0.0, 0.0, 0.0)
    best = int(np.flatnonzero(near)[np.argmax(mean[near])])
    background, spread = float(mean[far].mean()), float(mean[far].std())
    z = (float(mean[best]) - background) / spread if spread > 0 else 0.0
    return ProbeCheck(
        offset_frames=int(offsets[best]),
        score_db=float(mean[best]),
        reference_peaks=int(counts[best]),
        background_db=background,
        background_spread_db=spread,
        z=z,
    )
