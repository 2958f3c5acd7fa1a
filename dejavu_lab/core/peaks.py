"""Spectral peaks: 2-D local maxima above an amplitude threshold.

A peak is a time-frequency point whose value is the maximum of its
neighbourhood (a rectangle or Dejavu's diamond) and above ``amp_min_db``.
Optionally only the strongest ``peaks_per_second`` are kept in each second,
which fixes the fingerprint density whatever the playback level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import scipy.ndimage

from .params import Constraint, validate_params
from .spectrogram import LogSpectrogram, PowerSpectrogram, power_to_db

FOOTPRINTS = ("rect", "diamond")


@dataclass(frozen=True)
class Peaks:
    """Peaks of a spectrogram, sorted by frame then bin.

    Attributes
    ----------
    frame : np.ndarray, shape (n,), int32
        Time frame of each peak (hops from the start).
    bin : np.ndarray, shape (n,), int32
        Absolute frequency bin of each peak.
    amp_db : np.ndarray, shape (n,), float32
        Spectrogram value at the peak (dB).
    frame_seconds : float
        Seconds per frame (hop / sample rate).
    n_frames : int
        Frames in the analysed spectrogram.
    """

    frame: np.ndarray
    bin: np.ndarray
    amp_db: np.ndarray
    frame_seconds: float
    n_frames: int

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def per_second(self) -> float:
        """Mean number of peaks per second of audio."""
        duration = self.n_frames * self.frame_seconds
        return len(self) / duration if duration > 0 else 0.0


@lru_cache(maxsize=8)
def _diamond(radius_freq: int, radius_time: int) -> np.ndarray:
    rows = np.abs(np.arange(-radius_freq, radius_freq + 1))[:, None] / max(radius_freq, 1)
    cols = np.abs(np.arange(-radius_time, radius_time + 1))[None, :] / max(radius_time, 1)
    return np.asarray(rows + cols <= 1.0 + 1e-9)


def local_maxima_mask(
    values_db: np.ndarray,
    *,
    neighborhood_freq: int,
    neighborhood_time: int,
    footprint: str = "rect",
) -> np.ndarray:
    """Boolean mask of points equal to the maximum of their neighbourhood.

    Points beyond the edges of ``values_db`` count as -inf.

    Parameters
    ----------
    values_db : np.ndarray, shape (n_bins, n_frames)
    neighborhood_freq, neighborhood_time : int
        Half-sizes of the neighbourhood in bins and frames.
    footprint : {"rect", "diamond"}
        A rectangle (separable, fast) or Dejavu's diamond.

    Returns
    -------
    np.ndarray, shape (n_bins, n_frames), bool
    """
    if footprint == "rect":
        # log_spectrogram's values are a transposed view of a (frames, bins) array:
        # working on that layout needs no copy, and its rows are contiguous.
        by_frame = np.ascontiguousarray(values_db.T)
        return _rect_maxima_mask(by_frame, neighborhood_freq, neighborhood_time).T
    maxima = scipy.ndimage.maximum_filter(
        values_db,
        footprint=_diamond(neighborhood_freq, neighborhood_time),
        mode="constant",
        cval=-np.inf,
    )
    return np.asarray(maxima == values_db)


#: Frames filtered at a time by :func:`_rect_maxima_mask`: a block and its
#: temporaries (a few hundred kB for 1,000 bins) stay in the CPU's L2 cache.
_BLOCK_FRAMES = 128


def _rect_maxima_mask(by_frame: np.ndarray, half_bins: int, half_frames: int) -> np.ndarray:
    """Points equal to the maximum of their ``±half_bins x ±half_frames`` rectangle.

    Parameters
    ----------
    by_frame : np.ndarray, shape (n_frames, n_bins), C-contiguous
    half_bins, half_frames : int
        Half-sizes of the rectangle (bins, frames).

    Returns
    -------
    np.ndarray, shape (n_frames, n_bins), bool
    """
    return np.asarray(_rect_maximum_filter(by_frame, half_bins, half_frames) == by_frame)


def _rect_maximum_filter(by_frame: np.ndarray, half_bins: int, half_frames: int) -> np.ndarray:
    """The maximum of each point's ``±half_bins x ±half_frames`` rectangle (-inf beyond the edges).

    Parameters
    ----------
    by_frame : np.ndarray, shape (n_frames, n_bins), C-contiguous
    half_bins, half_frames : int
        Half-sizes of the rectangle (bins, frames).

    Returns
    -------
    np.ndarray, shape (n_frames, n_bins), the dtype of ``by_frame``

    Notes
    -----
    Blocks of :data:`_BLOCK_FRAMES` frames, each with ``half_frames`` frames of
    context either side, are padded with -inf into one buffer and filtered
    there, along bins then along frames; on a whole spectrogram the same
    passes are about five times slower, as every pass goes through main memory.
    """
    n_frames, n_bins = by_frame.shape
    out = np.empty((n_frames, n_bins), dtype=by_frame.dtype)
    if out.size == 0:
        return out
    block = min(_BLOCK_FRAMES, n_frames)
    padded = np.full(
        (block + 2 * half_frames, n_bins + 2 * half_bins), -np.inf, dtype=by_frame.dtype
    )
    inner = padded[:, half_bins : half_bins + n_bins]
    for start in range(0, n_frames, block):
        stop = min(n_frames, start + block)
        # Row r of ``inner`` holds frame start - half_frames + r, -inf beyond the ends.
        first = max(0, start - half_frames)
        last = min(n_frames, stop + half_frames)
        rows = stop - start + 2 * half_frames
        offset = first - (start - half_frames)
        inner[:offset] = -np.inf
        inner[offset : offset + last - first] = by_frame[first:last]
        inner[offset + last - first : rows] = -np.inf
        maxima = _running_max(padded[:rows], half_bins, n_bins, axis=1)
        out[start:stop] = _running_max(maxima, half_frames, stop - start, axis=0)
    return out


def _running_max(padded: np.ndarray, half_width: int, n: int, *, axis: int) -> np.ndarray:
    """Maximum over ``padded[i : i + 2 * half_width + 1]`` along ``axis``, for ``i < n``.

    By doubling: maxima of runs of 1, 2, 4, ... values, then of two overlapping
    runs covering the window; ``log2(window)`` passes of ``np.maximum``.
    ``padded`` has ``n + 2 * half_width`` values along ``axis`` (2-D).
    """

    def span(start: int, stop: int) -> tuple[slice, ...]:
        return (slice(start, stop),) if axis == 0 else (slice(None), slice(start, stop))

    window = 2 * half_width + 1
    runs = padded
    length = padded.shape[axis]
    run = 1
    while 2 * run <= window:
        runs = np.maximum(runs[span(0, length - run)], runs[span(run, length)])
        length -= run
        run *= 2  # runs[i]: maximum of the ``run`` values from i
    return np.maximum(runs[span(0, n)], runs[span(window - run, window - run + n)])


def find_peaks(
    spec: LogSpectrogram,
    *,
    neighborhood_freq: int,
    neighborhood_time: int,
    amp_min_db: float,
    footprint: str = "rect",
    peaks_per_second: float | None = None,
) -> Peaks:
    """Find the spectral peaks of a spectrogram.

    Parameters
    ----------
    spec : LogSpectrogram
    neighborhood_freq, neighborhood_time : int
        Half-sizes of the neighbourhood (bins, frames) a peak must dominate.
    amp_min_db : float
        Peaks must exceed this value (dB, Dejavu's scale).
    footprint : {"rect", "diamond"}
    peaks_per_second : float, optional
        Keep only the strongest peaks of each one-second block, this many per
        second; ``None`` keeps all.

    Returns
    -------
    Peaks
    """
    values = spec.values_db
    mask = local_maxima_mask(
        values,
        neighborhood_freq=neighborhood_freq,
        neighborhood_time=neighborhood_time,
        footprint=footprint,
    )
    # Flat indices into (frames, bins) come frame first, so peaks come time-sorted.
    # Maxima are a small fraction of the points: threshold only them.
    maxima = np.flatnonzero(mask.T)
    amp = np.ravel(values.T)[maxima]
    above = amp > amp_min_db
    return _peaks_at(
        maxima[above], amp[above], values.shape[0], spec, peaks_per_second=peaks_per_second
    )


def find_peaks_in_power(
    spec: PowerSpectrogram,
    *,
    neighborhood_freq: int,
    neighborhood_time: int,
    amp_min_db: float,
    footprint: str = "rect",
    peaks_per_second: float | None = None,
) -> Peaks:
    """:func:`find_peaks` of the spectrogram whose dB is ``power_to_db(spec.power)``.

    The same peaks, value for value, with the log taken of a few points only.
    The dB of :func:`~dejavu_lab.core.spectrogram.power_to_db` never decreases
    as the power grows (checked over every float32 power,
    ``tests/test_spectrogram_peaks.py``), so the largest dB of a neighbourhood
    is the dB of its largest power, and a point is a maximum in dB exactly when
    its dB equals that of its neighbourhood's largest power. Equal dB of two
    powers a factor of two apart would need both at the floor, which no peak
    is (``amp_min_db >= FLOOR_DB``, and a peak exceeds it): only points of at
    least half their neighbourhood's largest power are compared in dB.

    Parameters as :func:`find_peaks`; ``amp_min_db`` at least
    :data:`~dejavu_lab.core.spectrogram.FLOOR_DB` (-100 dB).
    """
    power = spec.power
    by_frame = np.ascontiguousarray(power.T)  # no copy for power_spectrogram's
    if footprint == "rect" and by_frame.dtype == np.float32:
        from ._kernels.peaks import rect_near_maxima

        # The filter's candidates in one pass, its maxima only where needed.
        near, largest_near, finite = rect_near_maxima(
            by_frame, neighborhood_freq, neighborhood_time
        )
        if finite:
            amp = power_to_db(by_frame.ravel()[near])
            keep = (amp == power_to_db(largest_near)) & (amp > amp_min_db)
            return _peaks_at(
                near[keep], amp[keep], by_frame.shape[1], spec, peaks_per_second=peaks_per_second
            )
    if footprint == "rect":
        largest = _rect_maximum_filter(by_frame, neighborhood_freq, neighborhood_time)
    else:
        largest = scipy.ndimage.maximum_filter(
            by_frame,
            footprint=_diamond(neighborhood_freq, neighborhood_time).T,
            mode="constant",
            cval=-np.inf,
        )
    # Flat indices into (frames, bins) come frame first, so peaks come time-sorted.
    if by_frame.dtype == np.float32 and largest.dtype == np.float32:
        from ._kernels.peaks import near_maxima

        near = near_maxima(by_frame, largest)
    else:
        near = np.flatnonzero(by_frame >= largest * np.float32(0.5))
    amp = power_to_db(by_frame.ravel()[near])
    keep = (amp == power_to_db(largest.ravel()[near])) & (amp > amp_min_db)
    return _peaks_at(
        near[keep], amp[keep], by_frame.shape[1], spec, peaks_per_second=peaks_per_second
    )


def _peaks_at(
    maxima: np.ndarray,
    amp: np.ndarray,
    n_bins: int,
    spec: LogSpectrogram | PowerSpectrogram,
    *,
    peaks_per_second: float | None,
) -> Peaks:
    """Peaks of the frame-major flat indices ``maxima`` (time-sorted) with dB ``amp``,
    the strongest ``peaks_per_second`` kept if given."""
    frame, row = np.divmod(maxima, n_bins)
    if peaks_per_second is not None and len(frame):
        frame, row, amp = _keep_strongest(
            frame, row, amp, per_block=peaks_per_second, frame_seconds=spec.frame_seconds
        )
    return Peaks(
        frame=frame.astype(np.int32),
        bin=(row + spec.first_bin).astype(np.int32),
        amp_db=amp.astype(np.float32),
        frame_seconds=spec.frame_seconds,
        n_frames=spec.n_frames,
    )


def _keep_strongest(
    frame: np.ndarray,
    row: np.ndarray,
    amp: np.ndarray,
    *,
    per_block: float,
    frame_seconds: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the ``per_block`` strongest peaks of each one-second block."""
    frames_per_block = max(1, round(1.0 / frame_seconds))
    block = frame // frames_per_block
    order = np.lexsort((-amp, block))
    sorted_block = block[order]
    starts = np.searchsorted(sorted_block, sorted_block, side="left")
    rank = np.arange(len(order)) - starts
    quota = max(1, round(per_block))
    keep = np.sort(order[rank < quota])  # back to time order
    return frame[keep], row[keep], amp[keep]


@dataclass(frozen=True, kw_only=True)
class PeakPicker:
    """Pipeline stage: :class:`LogSpectrogram` -> :class:`Peaks`.

    Parameters
    ----------
    neighborhood_freq, neighborhood_time : int
        Half-sizes of the neighbourhood a peak must dominate, in bins and
        frames (1-256).
    amp_min_db : float
        Minimum peak value, in dB (-100 to 200).
    footprint : {"rect", "diamond"}
        Shape of the neighbourhood: a rectangle (a separable maximum filter)
        or Dejavu's diamond.
    peaks_per_second : float or None
        Density cap: the strongest peaks kept a second (1-10000; None: no cap).
    query_density : float
        Query only: multiplies ``peaks_per_second`` when analysing a query, so
        the query offers more peaks to meet the stored ones (0.1-20).
    query_neighborhood_freq, query_neighborhood_time : int or None
        Query only: smaller neighbourhoods for queries, in bins and frames
        (1-256; None: the same). A stored peak that noise outshone within its
        neighbourhood can still be a maximum of a smaller one.
    """

    neighborhood_freq: int = 10
    neighborhood_time: int = 10
    amp_min_db: float = 10.0
    footprint: str = "rect"
    peaks_per_second: float | None = None
    query_density: float = field(default=1.0, metadata={"query_only": True})
    query_neighborhood_freq: int | None = field(default=None, metadata={"query_only": True})
    query_neighborhood_time: int | None = field(default=None, metadata={"query_only": True})

    _constraints: ClassVar[dict[str, Constraint]] = {
        "neighborhood_freq": Constraint(int, 1, 256),
        "neighborhood_time": Constraint(int, 1, 256),
        "amp_min_db": Constraint(float, -100.0, 200.0),
        "footprint": Constraint(str, options=FOOTPRINTS),
        "peaks_per_second": Constraint(float, 1.0, 10000.0, allow_none=True),
        "query_density": Constraint(float, 0.1, 20.0),
        "query_neighborhood_freq": Constraint(int, 1, 256, allow_none=True),
        "query_neighborhood_time": Constraint(int, 1, 256, allow_none=True),
    }

    def __post_init__(self) -> None:
        validate_params(self)

    def _settings(self, query: bool) -> dict[str, Any]:
        density = self.peaks_per_second
        neighborhood_freq, neighborhood_time = self.neighborhood_freq, self.neighborhood_time
        if query:
            if density is not None:
                density *= self.query_density
            neighborhood_freq = self.query_neighborhood_freq or neighborhood_freq
            neighborhood_time = self.query_neighborhood_time or neighborhood_time
        return {
            "neighborhood_freq": neighborhood_freq,
            "neighborhood_time": neighborhood_time,
            "amp_min_db": self.amp_min_db,
            "footprint": self.footprint,
            "peaks_per_second": density,
        }

    def __call__(self, spec: LogSpectrogram, *, query: bool = False) -> Peaks:
        return find_peaks(spec, **self._settings(query))

    def from_power(self, spec: PowerSpectrogram, *, query: bool = False) -> Peaks:
        """The peaks :meth:`__call__` finds in the dB of ``spec`` (:func:`find_peaks_in_power`)."""
        return find_peaks_in_power(spec, **self._settings(query))
