"""Landmark hashes: pairs of peaks packed into 32-bit integers.

Bit layout of a hash (most significant bit first)::

    | f1: 12 bits | f2: 12 bits | dt: 8 bits |
      31 ..... 20   19 ...... 8   7 ...... 0

``f1`` is the anchor peak's frequency bin, ``f2`` the target's and ``dt`` the
frames from anchor to target. Bins are absolute FFT bins (so window sizes up to
8190 samples fit) and ``dt`` at most 255 frames. The hash's offset is the
anchor's frame. Integers, not Dejavu's SHA-1 strings: 4 bytes a hash, exact
round trip, and lookups by integer comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ._arrays import sorted_unique
from .params import Constraint, validate_params
from .peaks import Peaks

F1_BITS = 12
F2_BITS = 12
DT_BITS = 8
F2_SHIFT = DT_BITS
F1_SHIFT = DT_BITS + F2_BITS
MAX_BIN = (1 << F1_BITS) - 1
MAX_DT = (1 << DT_BITS) - 1


def pack_hashes(f1: np.ndarray, f2: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Pack anchor bin, target bin and frame delta into uint32 hashes.

    Parameters
    ----------
    f1, f2 : np.ndarray of int, values in [0, 4095]
        Frequency bins of anchor and target.
    dt : np.ndarray of int, values in [0, 255]
        Frames from anchor to target.

    Returns
    -------
    np.ndarray, uint32
    """
    f1 = np.asarray(f1, dtype=np.uint32)
    f2 = np.asarray(f2, dtype=np.uint32)
    dt = np.asarray(dt, dtype=np.uint32)
    if f1.size and (f1.max() > MAX_BIN or f2.max() > MAX_BIN or dt.max() > MAX_DT):
        raise ValueError("hash field out of range: bins must be <= 4095 and dt <= 255")
    return (f1 << np.uint32(F1_SHIFT)) | (f2 << np.uint32(F2_SHIFT)) | dt


def unpack_hashes(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`pack_hashes`: (f1, f2, dt) as int32 arrays."""
    hashes = np.asarray(hashes, dtype=np.uint32)
    f1 = (hashes >> np.uint32(F1_SHIFT)) & np.uint32(MAX_BIN)
    f2 = (hashes >> np.uint32(F2_SHIFT)) & np.uint32(MAX_BIN)
    dt = hashes & np.uint32(MAX_DT)
    return f1.astype(np.int32), f2.astype(np.int32), dt.astype(np.int32)


@dataclass(frozen=True)
class Fingerprints:
    """The hashes of one recording.

    Attributes
    ----------
    hashes : np.ndarray, shape (n,), uint32
        Packed landmark hashes (see the module's bit layout).
    offsets : np.ndarray, shape (n,), int32
        Frame of each hash's anchor peak.
    """

    hashes: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)

    @classmethod
    def empty(cls) -> Fingerprints:
        """No hashes."""
        return cls(np.zeros(0, np.uint32), np.zeros(0, np.int32))

    @classmethod
    def concatenate(cls, parts: list[Fingerprints]) -> Fingerprints:
        """Join several sets of hashes."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.hashes for p in parts]),
            np.concatenate([p.offsets for p in parts]),
        )

    def unique(self) -> Fingerprints:
        """Drop repeated (hash, offset) pairs; sorted by offset then hash."""
        key = (self.offsets.astype(np.uint64) << np.uint64(32)) | self.hashes.astype(np.uint64)
        key = sorted_unique(key)
        return Fingerprints(
            (key & np.uint64(0xFFFFFFFF)).astype(np.uint32),
            (key >> np.uint64(32)).astype(np.int32),
        )


def tolerance_variants(
    hashes: np.ndarray, *, freq_tolerance: int, dt_tolerance: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every hash whose fields lie within the tolerances of a query hash.

    Peaks heard through a room move by a bin or a frame; looking up the
    neighbours of each query hash finds the stored pairs anyway.

    Parameters
    ----------
    hashes : np.ndarray, shape (n,), uint32
    freq_tolerance : int
        Bins either side, applied to ``f1`` and ``f2``.
    dt_tolerance : int
        Frames either side, applied to ``dt``.

    Returns
    -------
    variants : np.ndarray, uint32
        ``n * (2 * freq_tolerance + 1) ** 2 * (2 * dt_tolerance + 1)`` hashes at
        most (out-of-range fields dropped); the originals come first.
    origin : np.ndarray, int64
        Index into ``hashes`` of each variant's original.
    """
    if freq_tolerance == 0 and dt_tolerance == 0:
        return hashes, np.arange(len(hashes), dtype=np.int64)
    from ._kernels.hashing import hash_variants

    freq_steps, dt_steps = tolerance_steps(freq_tolerance), tolerance_steps(dt_tolerance)
    return hash_variants(  # type: ignore[no-any-return]
        np.asarray(hashes, dtype=np.uint32),
        np.array(freq_steps, dtype=np.int64),
        np.array(dt_steps, dtype=np.int64),
        F1_SHIFT,
        F2_SHIFT,
        MAX_BIN,
        MAX_DT,
    )


def tolerance_steps(tolerance: int) -> list[int]:
    """0, then -1, 1, -2, 2, ... up to ``tolerance``: the order variants come in."""
    return [0, *[s for k in range(1, tolerance + 1) for s in (-k, k)]]


def _numpy_tolerance_variants(
    hashes: np.ndarray, *, freq_tolerance: int, dt_tolerance: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`tolerance_variants` in numpy: the reference of the compiled kernel."""
    if freq_tolerance == 0 and dt_tolerance == 0:
        return hashes, np.arange(len(hashes), dtype=np.int64)
    f1, f2, dt = unpack_hashes(hashes)
    freq_steps, dt_steps = tolerance_steps(freq_tolerance), tolerance_steps(dt_tolerance)
    parts, origins = [], []
    index = np.arange(len(hashes), dtype=np.int64)
    for d1 in freq_steps:
        for d2 in freq_steps:
            for ddt in dt_steps:
                g1, g2, gdt = f1 + d1, f2 + d2, dt + ddt
                ok = (g1 >= 0) & (g1 <= MAX_BIN) & (g2 >= 0) & (g2 <= MAX_BIN)
                ok &= (gdt >= 0) & (gdt <= MAX_DT)
                parts.append(pack_hashes(g1[ok], g2[ok], gdt[ok]))
                origins.append(index[ok])
    return np.concatenate(parts), np.concatenate(origins)


def peak_pairs(
    frame: np.ndarray,
    bin_: np.ndarray,
    *,
    fan_value: int,
    min_dt: int,
    max_dt: int,
    max_df: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (anchor, target) of the peak pairs that make hashes.

    The target zone of an anchor starts at the first peak at least ``min_dt``
    frames later (with ``min_dt = 0``: the next peak in (frame, bin) order, as
    Dejavu); the anchor pairs with the ``fan_value`` peaks from there on that
    lie within ``max_dt`` frames and, if given, ``max_df`` bins. Peaks must be
    sorted by frame. One vectorised pass per fan step.
    """
    n = len(frame)
    anchors: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    index = np.arange(n)
    zone_start = np.maximum(index + 1, np.searchsorted(frame, frame + min_dt, side="left"))
    for step in range(fan_value):
        target = zone_start + step
        inside = target < n
        if not inside.any():
            break
        anchor, target = index[inside], target[inside]
        dt = frame[target] - frame[anchor]
        keep = dt <= max_dt
        if max_df is not None:
            keep &= np.abs(bin_[target] - bin_[anchor]) <= max_df
        if not keep.any():
            if dt.min(initial=max_dt + 1) > max_dt:
                break  # every later step is farther still
            continue
        anchors.append(anchor[keep])
        targets.append(target[keep])
    if not anchors:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    return np.concatenate(anchors), np.concatenate(targets)


def hash_peaks(
    peaks: Peaks, *, fan_value: int, min_dt: int, max_dt: int, max_df: int | None
) -> Fingerprints:
    """Pair peaks within the fan and pack each pair into a hash.

    Returns
    -------
    Fingerprints
        Unique (hash, offset) pairs.
    """
    frame, bin_ = peaks.frame, peaks.bin
    compiled = (
        (len(frame) == 0 or (int(bin_.min()) >= 0 and int(bin_.max()) <= MAX_BIN))
        and max_dt <= MAX_DT
        and bool(np.all(frame[1:] >= frame[:-1]))
    )
    if not compiled:  # the numpy version, which raises on fields out of range
        return _numpy_hash_peaks(
            peaks, fan_value=fan_value, min_dt=min_dt, max_dt=max_dt, max_df=max_df
        )
    from ._kernels.hashing import landmark_hashes

    hashes, offsets, ordered = landmark_hashes(
        frame, bin_, fan_value, min_dt, max_dt, -1 if max_df is None else max_df, F1_SHIFT, F2_SHIFT
    )
    fingerprints = Fingerprints(hashes, offsets)
    return fingerprints if ordered else fingerprints.unique()


def _numpy_hash_peaks(
    peaks: Peaks, *, fan_value: int, min_dt: int, max_dt: int, max_df: int | None
) -> Fingerprints:
    """:func:`hash_peaks` in numpy: the compiled kernel's reference."""
    anchor, target = peak_pairs(
        peaks.frame, peaks.bin, fan_value=fan_value, min_dt=min_dt, max_dt=max_dt, max_df=max_df
    )
    hashes = pack_hashes(
        peaks.bin[anchor], peaks.bin[target], peaks.frame[target] - peaks.frame[anchor]
    )
    return Fingerprints(hashes, peaks.frame[anchor].astype(np.int32)).unique()


@dataclass(frozen=True, kw_only=True)
class Hasher:
    """Pipeline stage: :class:`Peaks` -> :class:`Fingerprints`.

    Parameters
    ----------
    fan_value : int
        Each anchor pairs with up to this many following peaks (1-100).
    min_dt, max_dt : int
        Target zone in time: frames from anchor to target (0-255).
    max_df : int or None
        Target zone in frequency: largest bin distance between anchor and
        target (1-4095; None: any).
    query_fan_value : int or None
        Query only: fan value used for queries (1-100; None: ``fan_value``).
    query_freq_tolerance, query_dt_tolerance : int
        Query only: also look up stored hashes whose bins differ by up to this
        many bins and whose ``dt`` differs by up to this many frames (0-3).
    """

    fan_value: int = 15
    min_dt: int = 0
    max_dt: int = 200
    max_df: int | None = None
    query_fan_value: int | None = field(default=None, metadata={"query_only": True})
    query_freq_tolerance: int = field(default=0, metadata={"query_only": True})
    query_dt_tolerance: int = field(default=0, metadata={"query_only": True})

    _constraints: ClassVar[dict[str, Constraint]] = {
        "fan_value": Constraint(int, 1, 100),
        "min_dt": Constraint(int, 0, MAX_DT),
        "max_dt": Constraint(int, 0, MAX_DT),
        "max_df": Constraint(int, 1, MAX_BIN, allow_none=True),
        "query_fan_value": Constraint(int, 1, 100, allow_none=True),
        "query_freq_tolerance": Constraint(int, 0, 3),
        "query_dt_tolerance": Constraint(int, 0, 3),
    }

    def __post_init__(self) -> None:
        validate_params(self)
        if self.min_dt > self.max_dt:
            from ..exceptions import ParameterError

            raise ParameterError(
                f"Hasher.min_dt={self.min_dt} is not allowed: expected at most max_dt={self.max_dt}"
            )

    def lookup_variants(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hashes to look up for a query, and the index of each one's original."""
        return tolerance_variants(
            hashes,
            freq_tolerance=self.query_freq_tolerance,
            dt_tolerance=self.query_dt_tolerance,
        )

    def __call__(self, peaks: Peaks, *, query: bool = False) -> Fingerprints:
        fan = self.fan_value
        if query and self.query_fan_value is not None:
            fan = self.query_fan_value
        return hash_peaks(
            peaks, fan_value=fan, min_dt=self.min_dt, max_dt=self.max_dt, max_df=self.max_df
        )
