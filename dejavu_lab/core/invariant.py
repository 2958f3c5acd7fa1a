"""Scale-invariant hashes: peak triplets hashed on ratios that speed and pitch leave alone.

A landmark ``(f1, f2, dt)`` (:mod:`dejavu_lab.core.hashing`) moves when a clip
is played faster, slower or at another pitch. A triplet of peaks -- an anchor
``a`` and two later peaks ``b``, ``c`` of its target zone -- gives three
numbers that do not:

- ``ratio = (t_b - t_a) / (t_c - t_a)``: a time scaling multiplies both gaps;
- ``d_b = log2(f_b / f_a)`` and ``d_c = log2(f_c / f_a)``: a frequency scaling
  adds the same ``log2`` to every peak's log-frequency.

(After the idea of Panako, J. Six: hashing ratios rather than absolute values.)
Each is quantised and packed into one 32-bit hash whose top bit is set, so
triplet hashes and landmark hashes (top bit clear) share one table without
colliding. The hash's offset is the anchor's frame, as for landmarks; the
matcher (:mod:`dejavu_lab.core.scale_matching`) fits offset *and* speed to
the rows found.

Bit layout (most significant bit first)::

    | tag: 1 | ratio: 7 bits | d_b: 12 bits | d_c: 12 bits |
      31       30 ..... 24    23 ..... 12    11 ...... 0

``tag`` is 1. ``ratio`` is ``floor(ratio * ratio_levels)``; ``d_b`` and
``d_c`` are ``floor(d / octave_step)`` offset by :data:`D_ZERO`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..exceptions import ParameterError
from .hashing import Fingerprints
from .params import Constraint, validate_params
from .peaks import Peaks
from .peaks import _keep_strongest as keep_strongest

TAG_SHIFT = 31
RATIO_BITS = 7
D_BITS = 12
RATIO_SHIFT = 2 * D_BITS
DB_SHIFT = D_BITS
MAX_RATIO_LEVELS = 1 << RATIO_BITS
MAX_D_CELL = (1 << D_BITS) - 1
#: The field value of ``d = 0`` (cells below it are negative log-frequency steps).
D_ZERO = 1 << (D_BITS - 1)
TAG = np.uint32(1 << TAG_SHIFT)
#: Added before rounding down, so that values computed from scaled peaks land
#: in the same cell as the originals despite float rounding (a value exactly on
#: a cell edge, such as ``d = 0``, stays in its cell).
_EDGE_EPS = 1e-9


def pack_triplets(ratio_cell: np.ndarray, db_cell: np.ndarray, dc_cell: np.ndarray) -> np.ndarray:
    """Pack quantised fields into tagged uint32 hashes.

    Parameters
    ----------
    ratio_cell : np.ndarray of int, values in [0, 127]
    db_cell, dc_cell : np.ndarray of int, values in [0, 4095]
        Log-frequency cells, :data:`D_ZERO` meaning no change.

    Returns
    -------
    np.ndarray, uint32, top bit set
    """
    ratio_cell = np.asarray(ratio_cell, dtype=np.int64)
    db_cell = np.asarray(db_cell, dtype=np.int64)
    dc_cell = np.asarray(dc_cell, dtype=np.int64)
    if ratio_cell.size and (
        ratio_cell.min() < 0
        or ratio_cell.max() >= MAX_RATIO_LEVELS
        or min(db_cell.min(), dc_cell.min()) < 0
        or max(db_cell.max(), dc_cell.max()) > MAX_D_CELL
    ):
        raise ValueError("triplet field out of range: ratio in [0, 127], d cells in [0, 4095]")
    packed = (ratio_cell << RATIO_SHIFT) | (db_cell << DB_SHIFT) | dc_cell
    return packed.astype(np.uint32) | TAG


def unpack_triplets(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`pack_triplets`: (ratio_cell, db_cell, dc_cell) as int32 arrays."""
    hashes = np.asarray(hashes, dtype=np.uint32)
    ratio = (hashes >> np.uint32(RATIO_SHIFT)) & np.uint32(MAX_RATIO_LEVELS - 1)
    db = (hashes >> np.uint32(DB_SHIFT)) & np.uint32(MAX_D_CELL)
    dc = hashes & np.uint32(MAX_D_CELL)
    return ratio.astype(np.int32), db.astype(np.int32), dc.astype(np.int32)


def is_triplet(hashes: np.ndarray) -> np.ndarray:
    """Which hashes are triplet hashes (top bit set), as a bool array."""
    return (np.asarray(hashes, dtype=np.uint32) & TAG) != 0


def landmarks_only(fingerprints: Fingerprints) -> Fingerprints:
    """The landmark hashes of a stored song, its triplet hashes left out."""
    keep = ~is_triplet(fingerprints.hashes)
    if keep.all():
        return fingerprints
    return Fingerprints(fingerprints.hashes[keep], fingerprints.offsets[keep])


@dataclass(frozen=True)
class Triplets:
    """Peak triplets and their scale-free coordinates.

    Attributes
    ----------
    anchor : np.ndarray, shape (n,), intp
        Index of each triplet's anchor peak.
    ratio : np.ndarray, shape (n,), float64
        ``(t_b - t_a) / (t_c - t_a)``, in (0, 1).
    d_b, d_c : np.ndarray, shape (n,), float64
        ``log2`` of each later peak's frequency over the anchor's (octaves).
    """

    anchor: np.ndarray
    ratio: np.ndarray
    d_b: np.ndarray
    d_c: np.ndarray


def peak_triplets(
    frame: np.ndarray,
    bin_: np.ndarray,
    *,
    fan_value: int,
    min_dt: float,
    max_dt: float,
    max_octaves: float,
) -> Triplets:
    """Every triplet (anchor, b, c) of an anchor's target zone, b before c.

    The zone of an anchor starts at the first peak at least ``min_dt`` frames
    later; it holds the ``fan_value`` peaks from there on. Each pair of zone
    peaks ``b``, ``c`` with ``t_b < t_c <= t_a + max_dt`` and both within
    ``max_octaves`` of the anchor's frequency makes a triplet.

    Parameters
    ----------
    frame : np.ndarray, shape (n,), int or float
        Peak times (frames), ascending.
    bin_ : np.ndarray, shape (n,), int or float
        Peak frequencies (FFT bins, > 0; bins at or below 0 are skipped).
    fan_value : int
    min_dt, max_dt : float
        Target zone in time (frames).
    max_octaves : float
        Target zone in frequency (octaves either side of the anchor).
    """
    frame = np.asarray(frame, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_f = np.log2(np.maximum(np.asarray(bin_, dtype=np.float64), 0.0))
    n = len(frame)
    index = np.arange(n)
    zone_start = np.maximum(index + 1, np.searchsorted(frame, frame + min_dt, side="left"))
    anchors, ratios, d_bs, d_cs = [], [], [], []
    for step_b in range(fan_value - 1):
        b = zone_start + step_b
        for step_c in range(step_b + 1, fan_value):
            c = zone_start + step_c
            inside = c < n
            if not inside.any():
                break
            a, bb, cc = index[inside], b[inside], c[inside]
            gap_b = frame[bb] - frame[a]
            gap_c = frame[cc] - frame[a]
            d_b = log_f[bb] - log_f[a]
            d_c = log_f[cc] - log_f[a]
            keep = (gap_c <= max_dt) & (gap_b < gap_c)
            keep &= np.isfinite(log_f[a]) & (np.abs(d_b) <= max_octaves)
            keep &= np.abs(d_c) <= max_octaves
            if not keep.any():
                continue
            anchors.append(a[keep])
            ratios.append(gap_b[keep] / gap_c[keep])
            d_bs.append(d_b[keep])
            d_cs.append(d_c[keep])
    if not anchors:
        empty = np.zeros(0, np.float64)
        return Triplets(np.zeros(0, np.intp), empty, empty, empty)
    return Triplets(
        np.concatenate(anchors),
        np.concatenate(ratios),
        np.concatenate(d_bs),
        np.concatenate(d_cs),
    )


def _cells(values: np.ndarray, step: float, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Cell of each value, and the neighbouring cell when within ``margin`` (of a cell) of it.

    Returns the cell (int64) and the neighbour's offset (-1, 0 or +1; 0 when none).
    """
    scaled = values / step + _EDGE_EPS
    cell = np.floor(scaled)
    frac = scaled - cell
    near = np.where(frac < margin, -1, np.where(frac > 1.0 - margin, 1, 0))
    return cell.astype(np.int64), near.astype(np.int64)


def quantise(
    triplets: Triplets, *, ratio_levels: int, octave_step: float, margin: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of triplets, with the neighbouring cells of values near a cell edge.

    Parameters
    ----------
    triplets : Triplets
    ratio_levels : int, <= 128
        Cells of the time ratio on (0, 1).
    octave_step : float
        Cell width of the log-frequency differences (octaves).
    margin : float, in [0, 0.5)
        Also hash a value into its neighbouring cell when it lies within this
        fraction of a cell from the edge (queries; 0 for references).

    Returns
    -------
    hashes : np.ndarray, uint32
        One hash a triplet (first) then the variants.
    origin : np.ndarray, int64
        Index of the triplet each hash came from.
    """
    ratio_cell, ratio_near = _cells(triplets.ratio, 1.0 / ratio_levels, margin)
    db_cell, db_near = _cells(triplets.d_b, octave_step, margin)
    dc_cell, dc_near = _cells(triplets.d_c, octave_step, margin)
    ratio_cell = np.clip(ratio_cell, 0, ratio_levels - 1)
    db_cell, dc_cell = db_cell + D_ZERO, dc_cell + D_ZERO
    index = np.arange(len(triplets.ratio), dtype=np.int64)
    parts, origins = [], []
    for use_r in (0, 1):
        for use_b in (0, 1):
            for use_c in (0, 1):
                chosen = np.ones(len(index), dtype=bool)
                if use_r:
                    chosen &= ratio_near != 0
                if use_b:
                    chosen &= db_near != 0
                if use_c:
                    chosen &= dc_near != 0
                if not chosen.any():
                    continue
                r = ratio_cell[chosen] + use_r * ratio_near[chosen]
                b = db_cell[chosen] + use_b * db_near[chosen]
                c = dc_cell[chosen] + use_c * dc_near[chosen]
                ok = (r >= 0) & (r < ratio_levels)
                parts.append(pack_triplets(r[ok], b[ok], c[ok]))
                origins.append(index[chosen][ok])
    if not parts:
        return np.zeros(0, np.uint32), np.zeros(0, np.int64)
    return np.concatenate(parts), np.concatenate(origins)


def triplet_hashes(
    frame: np.ndarray,
    bin_: np.ndarray,
    *,
    fan_value: int,
    min_dt: float,
    max_dt: float,
    max_octaves: float,
    ratio_levels: int,
    octave_step: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Triplet hashes of a peak set and the frame of each one's anchor.

    The maths of :class:`TripletHasher` on plain arrays (float frames and
    bins allowed, so scaled peak sets can be hashed exactly).

    Returns
    -------
    hashes : np.ndarray, uint32
    anchor_frames : np.ndarray, float64
    """
    triplets = peak_triplets(
        frame, bin_, fan_value=fan_value, min_dt=min_dt, max_dt=max_dt, max_octaves=max_octaves
    )
    hashes, _ = quantise(triplets, ratio_levels=ratio_levels, octave_step=octave_step)
    return hashes, np.asarray(frame, dtype=np.float64)[triplets.anchor]


@dataclass(frozen=True)
class QueryTriplets:
    """A query's triplet hashes to look up.

    Attributes
    ----------
    hashes : np.ndarray, shape (m,), uint32
        Each triplet's hash and the variants of values near a cell edge.
    origin : np.ndarray, shape (m,), int64
        Triplet each hash came from (index into ``anchor_frames``).
    anchor_frames : np.ndarray, shape (n,), int32
        Frame of each triplet's anchor in the query.
    """

    hashes: np.ndarray
    origin: np.ndarray
    anchor_frames: np.ndarray

    def __len__(self) -> int:
        return len(self.anchor_frames)


@dataclass(frozen=True, kw_only=True)
class TripletHasher:
    """Pipeline stage: :class:`Peaks` -> scale-invariant triplet hashes.

    Stored beside the landmark hashes of the same peaks (one table; the tag
    bit keeps them apart). ``fan_value=0`` turns the stage off: nothing is
    stored and no parameter of it is recorded with the database.

    Parameters
    ----------
    fan_value : int
        Zone peaks of each anchor (0-30); ``fan * (fan - 1) / 2`` triplets an
        anchor at most. 0: off.
    min_dt, max_dt : int
        Target zone in time (frames from the anchor, 1-255).
    max_octaves : float
        Target zone in frequency (octaves either side of the anchor, 0.05-8).
    ratio_levels : int
        Cells of the time ratio (2-128).
    octave_step : float
        Cell width of the log-frequency differences (octaves, 0.002-1).
    query_fan_value : int or None
        Query only: zone peaks of a query's anchors (None: ``fan_value``).
    query_margin : float
        Query only: a value within this fraction of a cell from its edge is
        also looked up in the neighbouring cell (0-0.49).
    query_peaks_per_second : float or None
        Query only: the query's peaks are thinned to the strongest this many
        a second before they are grouped (the reference's density, so that a
        zone holds the same peaks; 1-10000; None: all).
    """

    fan_value: int = 0
    min_dt: int = 4
    max_dt: int = 63
    max_octaves: float = 1.5
    ratio_levels: int = 64
    octave_step: float = 1.0 / 48.0
    query_fan_value: int | None = field(default=None, metadata={"query_only": True})
    query_margin: float = field(default=0.2, metadata={"query_only": True})
    query_peaks_per_second: float | None = field(default=None, metadata={"query_only": True})

    _constraints: ClassVar[dict[str, Constraint]] = {
        "fan_value": Constraint(int, 0, 30),
        "min_dt": Constraint(int, 1, 255),
        "max_dt": Constraint(int, 1, 255),
        "max_octaves": Constraint(float, 0.05, 8.0),
        "ratio_levels": Constraint(int, 2, MAX_RATIO_LEVELS),
        "octave_step": Constraint(float, 0.002, 1.0),
        "query_fan_value": Constraint(int, 2, 30, allow_none=True),
        "query_margin": Constraint(float, 0.0, 0.49),
        "query_peaks_per_second": Constraint(float, 1.0, 10000.0, allow_none=True),
    }

    def __post_init__(self) -> None:
        validate_params(self)
        if self.min_dt >= self.max_dt:
            raise ParameterError(
                f"TripletHasher.min_dt={self.min_dt} is not allowed: expected less than "
                f"max_dt={self.max_dt}"
            )
        if math.floor(self.max_octaves / self.octave_step) + 1 >= D_ZERO:
            raise ParameterError(
                f"TripletHasher.max_octaves={self.max_octaves} is not allowed with octave_step="
                f"{self.octave_step}: the {D_BITS}-bit fields hold at most "
                f"{(D_ZERO - 2) * self.octave_step:g} octaves"
            )

    @property
    def enabled(self) -> bool:
        """Whether triplet hashes are made and stored."""
        return self.fan_value > 0

    def _triplets(self, peaks: Peaks, fan: int) -> Triplets:
        return peak_triplets(
            peaks.frame,
            peaks.bin,
            fan_value=fan,
            min_dt=self.min_dt,
            max_dt=self.max_dt,
            max_octaves=self.max_octaves,
        )

    def __call__(self, peaks: Peaks) -> Fingerprints:
        """Reference hashes: unique (hash, anchor frame) pairs; empty when off."""
        if not self.enabled:
            return Fingerprints.empty()
        triplets = self._triplets(peaks, self.fan_value)
        hashes, _ = quantise(triplets, ratio_levels=self.ratio_levels, octave_step=self.octave_step)
        return Fingerprints(hashes, peaks.frame[triplets.anchor].astype(np.int32)).unique()

    def thinned(self, peaks: Peaks) -> Peaks:
        """The query peaks the triplets are made of: the strongest
        ``query_peaks_per_second`` (all of them when None)."""
        if self.query_peaks_per_second is None or not len(peaks):
            return peaks
        frame, bin_, amp = keep_strongest(
            peaks.frame,
            peaks.bin,
            peaks.amp_db,
            per_block=self.query_peaks_per_second,
            frame_seconds=peaks.frame_seconds,
        )
        return Peaks(frame, bin_, amp, peaks.frame_seconds, peaks.n_frames)

    def query(self, peaks: Peaks) -> QueryTriplets:
        """A query's hashes, with the neighbouring cells of values near an edge."""
        fan = self.query_fan_value or max(self.fan_value, 2)
        peaks = self.thinned(peaks)
        triplets = self._triplets(peaks, fan)
        hashes, origin = quantise(
            triplets,
            ratio_levels=self.ratio_levels,
            octave_step=self.octave_step,
            margin=self.query_margin,
        )
        return QueryTriplets(hashes, origin, peaks.frame[triplets.anchor].astype(np.int32))
