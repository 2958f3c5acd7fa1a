"""Spectral peaks: 2-D local maxima above an amplitude threshold.

A peak is a time-frequency point whose value is the maximum of its
neighbourhood (a rectangle or Dejavu's diamond) and above ``amp_min_db``.
Optionally only the strongest ``peaks_per_second`` are kept in each second,
which fixes the fingerprint density whatever the playback level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar

import numpy as np
import scipy.ndimage

from .params import Constraint, validate_params
from .spectrogram import LogSpectrogram

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

    Parameters
    ----------
    values_db : np.ndarray, shape (n_bins, n_frames)
    neighborhood_freq, neighborhood_time : int
        Half-sizes of the neighbourhood in bins and frames.
    footprint : {"rect", "diamond"}
        A rectangle (separable, fast) or Dejavu's diamond.
    """
    if footprint == "rect":
        # A rectangle is separable: a running maximum along each axis.
        maxima = _running_max(_running_max(values_db, neighborhood_freq, 0), neighborhood_time, 1)
    else:
        maxima = scipy.ndimage.maximum_filter(
            values_db,
            footprint=_diamond(neighborhood_freq, neighborhood_time),
            mode="constant",
            cval=-np.inf,
        )
    return np.asarray(maxima == values_db)


def _running_max(values: np.ndarray, half_width: int, axis: int) -> np.ndarray:
    """Maximum over ``[i - half_width, i + half_width]`` along ``axis``, -inf beyond the ends.

    By doubling: maxima of runs of 1, 2, 4, ... values, then of two overlapping
    runs covering the window; ``log2(window)`` passes of ``np.maximum``, about
    three times faster than ``scipy.ndimage.maximum_filter`` on spectrograms.
    """
    moved = np.moveaxis(values, axis, 0)
    n = moved.shape[0]
    window = 2 * half_width + 1
    runs = np.full((n + 2 * half_width, *moved.shape[1:]), -np.inf, dtype=values.dtype)
    runs[half_width : half_width + n] = moved
    span = 1
    while 2 * span <= window:
        runs = np.maximum(runs[:-span], runs[span:])  # runs[i]: max of span values from i
        span *= 2
    return np.moveaxis(np.maximum(runs[:n], runs[window - span : window - span + n]), 0, axis)


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
    mask &= values > amp_min_db
    # Transposed view: np.nonzero walks frames first, so peaks come time-sorted.
    frame, row = np.nonzero(mask.T)
    amp = values[row, frame]
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
        Half-sizes (bins, frames) of the neighbourhood a peak must dominate.
    amp_min_db : float
        Minimum peak value (dB).
    footprint : {"rect", "diamond"}
    peaks_per_second : float, optional
        Density cap: strongest peaks kept per second (None: no cap).
    query_density : float
        Query only: multiplies ``peaks_per_second`` when analysing a query, so
        the query offers more peaks to meet the stored ones.
    query_neighborhood_freq, query_neighborhood_time : int, optional
        Query only: smaller neighbourhoods for queries (None: the same). A
        stored peak that noise outshone within its neighbourhood can still be
        a maximum of a smaller one.
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

    def __call__(self, spec: LogSpectrogram, *, query: bool = False) -> Peaks:
        density = self.peaks_per_second
        neighborhood_freq, neighborhood_time = self.neighborhood_freq, self.neighborhood_time
        if query:
            if density is not None:
                density *= self.query_density
            neighborhood_freq = self.query_neighborhood_freq or neighborhood_freq
            neighborhood_time = self.query_neighborhood_time or neighborhood_time
        return find_peaks(
            spec,
            neighborhood_freq=neighborhood_freq,
            neighborhood_time=neighborhood_time,
            amp_min_db=self.amp_min_db,
            footprint=self.footprint,
            peaks_per_second=density,
        )
