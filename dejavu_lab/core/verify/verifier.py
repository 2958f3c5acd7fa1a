"""The pipeline stage of the peak check: :class:`Verifier`, its thresholds and its rule."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from ..hashing import F1_SHIFT, F2_SHIFT, MAX_BIN
from ..invariant import TAG
from ..params import Constraint, validate_params
from .alignment import _alignment_counts, _excess
from .peak_sets import PeakSet
from .results import Verification
from .stretches import Stretches


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
        The calibrated rule (:mod:`dejavu_lab.core.decision.calibration`): a match
        needs a false-match probability at most this (0-1). The thresholds
        above (and the matcher's ``min_confidence``, ``min_aligned``) then only
        shape the evidence, with ``r = 1`` where they would have accepted.
        None: the thresholds decide, as listed.
    full_band_db : float or None
        The channel gate of the calibrated rule: a query whose bass, the power at
        30-110 Hz over that at 150 Hz-5 kHz
        (:func:`~dejavu_lab.core.decision.bandwidth.low_band_ratio_db`), is above this (dB)
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
        :func:`~dejavu_lab.core.decision.bandwidth.low_band_ratio_db`) face the channel gate's
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
        :class:`~dejavu_lab.core.verify.results.Verification` as ``self(query,
        peaks_from_fingerprints(landmarks_only(stretches.fingerprints(i))), ...)``
        (``tests/test_verify.py``). The best candidate is checked alone (it
        often passes), then the others in one compiled pass; the checks are
        returned up to the first that ``passes`` (None: every candidate's).
        """
        from .._kernels.verify import dilated_query, stretch_alignment_counts

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
        from .._kernels.verify import best_and_background

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
