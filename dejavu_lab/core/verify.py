"""Peak-level verification of the hash candidates: the no-match rule.

Voting on hashes finds *where* a query could sit in *which* songs quickly, but
through a room and a microphone a 1-2 s query keeps few whole hashes: a hash
needs both of its peaks to survive, so if a third of the peaks survive, a
ninth of the hashes do, and unseen music raises bins of similar height.

So each of the best hash candidates is checked peak by peak: the stored
song's peaks under the query (rebuilt from its hashes, which hold every
anchor and target peak) are compared with the query's own peaks, and
``matched`` counts the stored peaks that meet a query peak within
``time_tolerance`` frames and ``freq_tolerance`` bins. A single peak needs
only itself to survive.

**The rule.** Chance is measured on the same song and the same query: the
matched fraction at every offset within ``background_s`` of the candidate
(but not within ``search_frames + 1`` of it) gives the background rate
``p0``, and ``z = (matched - n p0) / sqrt(n p0 (1 - p0))`` over the ``n``
stored peaks under the query. Local music (a repeated beat, a held chord) is
thereby part of the background. The hash-chosen offset already lines up some
peaks, so ``z`` is not a standard normal deviate under chance; the thresholds
are calibrated on clips of never-fingerprinted tracks. A match needs:

- ``z >= min_z``;
- ``frame_z >= min_frame_z``, the same statistic over stored *frames* (a
  frame meets the query if one of its peaks does), so that the notes of one
  chord, which start in the same frame, count once;
- ``matched >= min_fraction * n``, as ``z`` grows with the square root of
  ``n`` and a small excess of chance alignments over several seconds would
  otherwise become "significant";
- or, for a candidate whose hash confidence reached ``support_confidence``,
  the lower ``supported_min_z`` and ``supported_min_frame_z``: the vote and
  the peaks are two pieces of evidence, and unseen music seldom has both.

The measurements behind each part and the calibration tables are in the
documentation's no-match page (``docs/no-match.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from ._arrays import sorted_unique
from .hashing import F1_SHIFT, F2_SHIFT, MAX_BIN, Fingerprints, unpack_hashes
from .invariant import TAG
from .params import Constraint, validate_params

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
    from ._kernels.verify import distinct_peaks

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


@dataclass(frozen=True)
class Stretches:
    """Stretches of stored songs' rows, one a candidate, in one set of arrays.

    What the peak check reads for its candidates at once
    (:meth:`Verifier.check_stretches`); a store may give whole blocks of rows
    around each stretch (:meth:`~dejavu_lab.store.DuckDBStore.song_stretches`):
    the rows outside it are ignored.

    Attributes
    ----------
    hashes : np.ndarray, uint32
    offsets : np.ndarray, integers (frames)
    bounds : np.ndarray, int64, shape (n + 1,)
        Stretch ``i``'s rows are ``bounds[i]:bounds[i + 1]``, sorted by offset then hash.
    start, stop : np.ndarray, int64, shape (n,)
        Stretch ``i`` is those of its rows with ``start[i] <= offset < stop[i]``.
    """

    hashes: np.ndarray
    offsets: np.ndarray
    bounds: np.ndarray
    start: np.ndarray
    stop: np.ndarray

    def __len__(self) -> int:
        return len(self.bounds) - 1

    @classmethod
    def of(
        cls, parts: Sequence[Fingerprints], start: Sequence[int], stop: Sequence[int]
    ) -> Stretches:
        """Stretches from each one's rows (sorted by offset then hash)."""
        lengths = [len(part.hashes) for part in parts]
        return cls(
            np.concatenate([np.zeros(0, np.uint32), *(part.hashes for part in parts)]),
            np.concatenate([np.zeros(0, np.int32), *(part.offsets for part in parts)]),
            np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64),
            np.asarray(start, dtype=np.int64),
            np.asarray(stop, dtype=np.int64),
        )

    @classmethod
    def read(
        cls,
        song_fingerprints: Callable[[int, int, int], Fingerprints],
        song_ids: Sequence[int],
        start: Sequence[int],
        stop: Sequence[int],
    ) -> Stretches:
        """Stretches read one at a time by ``song_fingerprints(song_id, start, stop)``
        (a store's method of that name)."""
        parts = [
            song_fingerprints(int(song), int(first), int(last))
            for song, first, last in zip(song_ids, start, stop, strict=True)
        ]
        return cls.of(parts, start, stop)

    def fingerprints(self, i: int) -> Fingerprints:
        """Stretch ``i``'s rows (only those within its range)."""
        rows = slice(int(self.bounds[i]), int(self.bounds[i + 1]))
        offsets = self.offsets[rows]
        keep = (offsets >= self.start[i]) & (offsets < self.stop[i])
        return Fingerprints(
            np.asarray(self.hashes[rows][keep], np.uint32), offsets[keep].astype(np.int32)
        )


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
    from ._kernels.verify import alignment_counts

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


@dataclass(frozen=True)
class Verification:
    """One candidate checked peak by peak.

    Attributes
    ----------
    song_id : int
    offset_frames : int
        The offset within ``search_frames`` of the hash offset where most
        stored peaks meet query peaks.
    matched : int
        Stored peaks under the query that meet a query peak there.
    reference_peaks : int
        Stored peaks under the query there.
    background_rate : float
        Fraction of stored peaks meeting a query peak at other offsets nearby.
    z : float
        ``(matched - n p0) / sqrt(n p0 (1 - p0))`` (see the module docstring).
    matched_frames : int
        Stored frames under the query (frames holding stored peaks) with a
        peak that meets a query peak, at the same offset.
    reference_frames : int
        Stored frames under the query there.
    frame_z : float
        ``z`` counted over frames instead of peaks, with its own background rate.
    hash_confidence : float
        The candidate's confidence from the hash vote (``-log10`` of a chance
        probability, :mod:`dejavu_lab.core.matching`).
    """

    song_id: int
    offset_frames: int
    matched: int
    reference_peaks: int
    background_rate: float
    z: float
    matched_frames: int = 0
    reference_frames: int = 0
    frame_z: float = 0.0
    hash_confidence: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Verifier:
    """Pipeline stage: check the best hash candidates peak by peak (queries only).

    Parameters
    ----------
    candidates : int
        Hash candidates checked, best first (0-1000); 0 turns verification
        off, and the matcher's own rule decides.
    time_tolerance : int
        Frames a stored peak may be from a query peak and still meet it (0-16).
    freq_tolerance : int
        Bins a stored peak may be from a query peak and still meet it (0-16).
    search_frames : int
        The offset is refined within this many frames of the hash offset (0-64).
    background_s : float
        Seconds either side of the offset whose alignments give the
        background rate (0.5-60).
    min_z : float
        ``z`` a match needs at least (0-1000).
    min_frame_z : float
        ``frame_z`` a match needs at least (0-1000): the matched peaks must fall
        in more frames than chance would put them in, not in one or two chords.
    min_fraction : float
        Fraction of the stored peaks under the query that must meet a query
        peak (0-1).
    support_confidence : float or None
        Hash confidence from which a candidate is held to the lower
        ``supported_*`` thresholds instead (0-1000). None: never.
    supported_min_z, supported_min_frame_z : float
        The thresholds for such a candidate (0-1000).
    unsure_only : bool
        Check candidates only when the hashes alone name no song, so
        that a query whose hashes agree is answered at the hash matcher's speed.
    max_false_match : float or None
        The calibrated rule (:mod:`dejavu_lab.core.calibration`): a match
        needs a false-match probability at most this (0-1). The thresholds
        above (and the matcher's ``min_confidence``, ``min_aligned``) then only
        shape the evidence, with ``r = 1`` where they would have accepted.
        None: the thresholds decide, as listed.
    full_band_db : float or None
        The channel gate of the calibrated rule: a query whose bass, the power at
        30-110 Hz over that at 150 Hz-5 kHz
        (:func:`~dejavu_lab.core.bandwidth.low_band_ratio_db`), is above this (dB)
        did not come through a small loudspeaker, and a match needs evidence
        ``full_band_min_evidence`` as well (-100 to 100). None: no gate.
    full_band_min_evidence : float
        The evidence ``r`` such a query needs at least (0-1000): a clean copy of
        a stored song gives far more; music that only resembles it, less.
    sketch_weight : float
        The sketch fold of the calibrated rule: a candidate whose song's sketch is
        stored (:mod:`dejavu_lab.core.sketch`) has evidence ``r + sketch_weight * z``,
        ``z`` the agreement of the query's sketch with the song's at the candidate's
        offset (+-``search_frames``), standardised over ``background_s``; its
        false-match probability is read from the fold's null (0-100). 0: no fold.
    """

    candidates: int = 10
    time_tolerance: int = 1
    freq_tolerance: int = 0
    search_frames: int = 2
    background_s: float = 4.0
    min_z: float = 8.0
    min_frame_z: float = 0.0
    min_fraction: float = 0.0
    support_confidence: float | None = None
    supported_min_z: float = 7.0
    supported_min_frame_z: float = 4.0
    unsure_only: bool = False
    max_false_match: float | None = None
    full_band_db: float | None = None
    full_band_min_evidence: float = 2.0
    sketch_weight: float = 0.0

    _constraints: ClassVar[dict[str, Constraint]] = {
        "candidates": Constraint(int, 0, 1000),
        "time_tolerance": Constraint(int, 0, 16),
        "freq_tolerance": Constraint(int, 0, 16),
        "search_frames": Constraint(int, 0, 64),
        "background_s": Constraint(float, 0.5, 60.0),
        "min_z": Constraint(float, 0.0, 1000.0),
        "min_frame_z": Constraint(float, 0.0, 1000.0),
        "min_fraction": Constraint(float, 0.0, 1.0),
        "support_confidence": Constraint(float, 0.0, 1000.0, allow_none=True),
        "supported_min_z": Constraint(float, 0.0, 1000.0),
        "supported_min_frame_z": Constraint(float, 0.0, 1000.0),
        "unsure_only": Constraint(bool),
        "max_false_match": Constraint(float, 0.0, 1.0, allow_none=True),
        "full_band_db": Constraint(float, -100.0, 100.0, allow_none=True),
        "full_band_min_evidence": Constraint(float, 0.0, 1000.0),
        "sketch_weight": Constraint(float, 0.0, 100.0),
    }

    def __post_init__(self) -> None:
        validate_params(self)

    @property
    def calibrated(self) -> bool:
        """Whether the calibrated rule decides (``max_false_match`` is set)."""
        return self.max_false_match is not None

    @property
    def enabled(self) -> bool:
        """Whether candidates are verified at all."""
        return self.candidates > 0

    @property
    def folds_sketch(self) -> bool:
        """Whether the calibrated rule folds the sketch check into the evidence."""
        return self.calibrated and self.sketch_weight > 0

    def gates(self, evidence: float) -> bool:
        """Whether the channel gate can refuse this evidence ``r`` (it is below
        ``full_band_min_evidence``): only then need a query's bass be measured."""
        return self.full_band_db is not None and evidence < self.full_band_min_evidence

    def keeps_bass(self, bass_db: ArrayLike) -> np.ndarray:
        """Whether queries with these bass ratios (dB,
        :func:`~dejavu_lab.core.bandwidth.low_band_ratio_db`) face the channel gate's
        bar: above ``full_band_db`` (NaN, silence, does not; without the gate, none)."""
        bass_db = np.asarray(bass_db, float)
        if self.full_band_db is None:
            return np.zeros(bass_db.shape, bool)
        return bass_db > self.full_band_db

    def refuses(self, evidence: ArrayLike, bass_db: ArrayLike) -> np.ndarray:
        """Whether the channel gate refuses evidence ``r`` of queries with these bass
        ratios (dB): they kept their bass and ``r`` is below ``full_band_min_evidence``.
        The null's own threshold is apart: a match needs both.

        >>> Verifier(full_band_db=-6.0).refuses([1.5, 1.5, 2.5], [-3.0, -20.0, -3.0]).tolist()
        [True, False, False]
        """
        evidence = np.asarray(evidence, float)
        return (evidence < self.full_band_min_evidence) & self.keeps_bass(bass_db)

    def passes(self, check: Verification) -> bool:
        """Whether a checked candidate is a match."""
        if check.matched < self.min_fraction * check.reference_peaks:
            return False
        if check.z >= self.min_z and check.frame_z >= self.min_frame_z:
            return True
        return (
            self.support_confidence is not None
            and check.hash_confidence >= self.support_confidence
            and check.z >= self.supported_min_z
            and check.frame_z >= self.supported_min_frame_z
        )

    def window(
        self, offset_frames: float, frame_seconds: float, query_frames: int
    ) -> tuple[int, int]:
        """Frames of the stored song needed to verify an offset: ``[start, stop)``."""
        reach = self.background_frames(frame_seconds) + self.search_frames
        centre = round(offset_frames)
        return max(0, centre - reach), centre + reach + query_frames

    def background_frames(self, frame_seconds: float) -> int:
        """``background_s`` in frames."""
        return max(self.search_frames + 2, round(self.background_s / frame_seconds))

    def __call__(
        self,
        query: PeakSet,
        reference: PeakSet,
        *,
        song_id: int,
        offset_frames: float,
        query_frames: int,
        frame_seconds: float,
        hash_confidence: float = 0.0,
    ) -> Verification:
        """Verify one candidate: ``reference`` must cover :meth:`window`."""
        centre = round(offset_frames)
        reach = self.background_frames(frame_seconds)
        offsets = np.arange(centre - reach, centre + reach + 1)
        counts = _alignment_counts(
            query,
            reference,
            offsets,
            query_frames=query_frames,
            time_tolerance=self.time_tolerance,
            freq_tolerance=self.freq_tolerance,
        )
        (matched, total), (frames_matched, frames_total) = counts
        return self._verifications(
            (matched[None], total[None], frames_matched[None], frames_total[None]),
            [centre],
            reach,
            [song_id],
            [hash_confidence],
        )[0]

    def check_stretches(
        self,
        query: PeakSet,
        stretches: Stretches,
        *,
        song_ids: Sequence[int],
        offsets_frames: Sequence[float],
        query_frames: int,
        frame_seconds: float,
        hash_confidences: Sequence[float],
        passes: Callable[[Verification], bool] | None = None,
    ) -> list[Verification]:
        """Verify candidates from their stored rows, best first, until one ``passes``.

        Candidate ``i`` (``song_ids[i]`` at ``offsets_frames[i]``) is checked
        against the peaks of the landmark hashes of stretch ``i``, which must
        cover its :meth:`window` reaching back ``max_dt`` frames: the same
        :class:`Verification` as ``self(query,
        peaks_from_fingerprints(landmarks_only(stretches.fingerprints(i))), ...)``
        (``tests/test_verify.py``). The best candidate is checked alone (it
        often passes), then the others in one compiled pass; the checks are
        returned up to the first that ``passes`` (None: every candidate's).
        """
        from ._kernels.verify import dilated_query, stretch_alignment_counts

        reach = self.background_frames(frame_seconds)
        centres = [round(offset) for offset in offsets_frames]
        met = dilated_query(
            np.asarray(query.frame, np.int64),
            np.asarray(query.bin, np.int64),
            np.int64(max(query_frames, 0)),
            self.time_tolerance,
            self.freq_tolerance,
        )
        firsts = np.asarray(centres, dtype=np.int64) - reach
        checks: list[Verification] = []
        for part in (slice(0, 1), slice(1, len(centres))):
            if part.start >= part.stop:
                continue
            counts = stretch_alignment_counts(
                *met,
                stretches.hashes,
                stretches.offsets,
                stretches.bounds[part.start : part.stop + 1],
                stretches.start[part],
                stretches.stop[part],
                int(TAG),
                firsts[part],
                2 * reach + 1,
                query_frames,
                F2_SHIFT,
                F1_SHIFT - F2_SHIFT,
                MAX_BIN,
            )
            for check in self._verifications(
                counts, centres[part], reach, song_ids[part], hash_confidences[part]
            ):
                checks.append(check)
                if passes is not None and passes(check):
                    return checks
        return checks

    def _verifications(
        self,
        counts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        centres: Sequence[int],
        reach: int,
        song_ids: Sequence[int],
        hash_confidences: Sequence[float],
    ) -> list[Verification]:
        """The checks of candidates from their counts (one row each) at offsets ``centre +- reach``.

        ``counts``: matched, total, frames matched, frames total, each of shape
        (candidates, 2 * reach + 1). The best offset and the background sums of
        all candidates come from one compiled pass (ten candidates a query).
        """
        from ._kernels.verify import best_and_background

        # Column ``reach`` is the centre: the offsets tried are those within
        # search_frames of it; the background, those beyond search_frames + 1
        # either side that are not before the song's start (column ``first``).
        search = self.search_frames
        first = np.maximum(0, reach - np.asarray(centres, dtype=np.int64))
        summary = best_and_background(
            *counts,
            reach - search,
            reach + search + 1,
            first,
            reach - search - 1,
            np.maximum(first, reach + search + 2),
        ).tolist()
        checks = []
        for i, (best, m, n, bm, bt, fm, fn, fbm, fbt) in enumerate(summary):
            z, p0 = _excess(m, n, bm, bt)
            frame_z, _ = _excess(fm, fn, fbm, fbt)
            checks.append(
                Verification(
                    song_id=int(song_ids[i]),
                    offset_frames=int(centres[i]) - reach + best,
                    matched=m,
                    reference_peaks=n,
                    background_rate=round(p0, 6),
                    z=round(z, 3),
                    matched_frames=fm,
                    reference_frames=fn,
                    frame_z=round(frame_z, 3),
                    hash_confidence=float(hash_confidences[i]),
                )
            )
        return checks


def _excess(m: int, n: int, background_matched: int, background_total: int) -> tuple[float, float]:
    """``z`` of ``m`` of ``n`` stored peaks met against the background's rate.

    Returns ``(z, p0)``; ``p0`` is smoothed by half a count so that it is never 0.
    """
    p0 = (float(background_matched) + 0.5) / (int(background_total) + 1.0)
    p0 = min(p0, 1.0 - 1e-6)
    z = (m - n * p0) / math.sqrt(n * p0 * (1.0 - p0)) if n else 0.0
    return z, p0
