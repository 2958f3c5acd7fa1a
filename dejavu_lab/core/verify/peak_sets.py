"""Spectral peaks as (frame, bin) pairs: what the peak check compares.

:class:`PeakSet` holds a query's peaks or a stored song's; :func:`peaks_from_fingerprints`
rebuilds a stored song's peaks from its hashes (compiled;
``_numpy_peaks_from_fingerprints`` is its numpy reference).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._arrays import sorted_unique
from ..hashing import F1_SHIFT, F2_SHIFT, MAX_BIN, Fingerprints, unpack_hashes

_KEY_SHIFT = np.int64(32)


@dataclass(frozen=True)
class PeakSet:
    """Spectral peaks as (frame, bin) pairs, sorted by frame then bin.

    Attributes
    ----------
    frame : np.ndarray, int64
        Time frame of each peak (hops).
    bin : np.ndarray, int64
        Absolute frequency bin of each peak.
    """

    frame: np.ndarray
    bin: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def from_arrays(cls, frame: np.ndarray, bin_: np.ndarray) -> PeakSet:
        """Distinct peaks of the given arrays, sorted."""
        key = (np.asarray(frame, np.int64) << _KEY_SHIFT) | np.asarray(bin_, np.int64)
        key = sorted_unique(key)
        return cls(key >> _KEY_SHIFT, key & np.int64(0xFFFFFFFF))


def peaks_from_fingerprints(fingerprints: Fingerprints) -> PeakSet:
    """The peaks a song's hashes were made of: every anchor and every target.

    A hash ``(f1, f2, dt)`` at offset ``t`` stands for the peaks ``(t, f1)``
    and ``(t + dt, f2)``; a peak paired with anything is recovered.
    """
    from .._kernels.verify import distinct_peaks

    frame, bin_ = distinct_peaks(
        np.asarray(fingerprints.hashes, dtype=np.uint32),
        np.asarray(fingerprints.offsets),
        F2_SHIFT,
        F1_SHIFT - F2_SHIFT,
        MAX_BIN,
    )
    return PeakSet(frame, bin_)


def _numpy_peaks_from_fingerprints(fingerprints: Fingerprints) -> PeakSet:
    """:func:`peaks_from_fingerprints` in numpy: the compiled kernel's reference."""
    f1, f2, dt = unpack_hashes(fingerprints.hashes)
    offsets = fingerprints.offsets.astype(np.int64)
    return PeakSet.from_arrays(
        np.concatenate([offsets, offsets + dt]), np.concatenate([f1, f2]).astype(np.int64)
    )
