"""One score for every answer: evidence, its null distribution, and the false-match probability.

The hash vote and the peak check measure different things (a ``-log10`` chance
probability of a vote window; a peak-alignment ``z``). Each is first put on one
dimensionless scale, the **evidence** ``r``:

- from the hashes, ``r_hash = min(confidence / hash_confidence, aligned / hash_aligned)``;
- from the peak check, ``r_peaks = min(z / z_scale, frame_z / frame_z_scale,
  matched_fraction / fraction_scale)``, with the lower ``supported_*`` scales
  for a candidate whose hash confidence reached ``support_confidence``;
- a candidate's evidence is the larger of the two, the query's the largest of
  its candidates'.

``r = 1`` is where the rules of the earlier default preset accepted a match; the
scales are those rules' thresholds, kept as the shape of the score.

The **null model** is the distribution of ``r`` for queries of music the
database does not hold, by query length: its survival function
``S(r) = P(r_unseen >= r)`` is the **false-match probability** of an answer
with evidence ``r``, the chance that a query of unknown music scores as high.
``S`` is stored as the evidence at a few survival levels (:data:`LEVELS`),
log-linear between them, and an exponential tail beyond the last one
(peaks over threshold with a shape of 0). The tail is one scale for every
length, fitted on the excesses of all lengths pooled, and taken at the upper
confidence bound of its mean (:data:`TAIL_CONFIDENCE`): a handful of excesses
a length gave tails that were too light (a null fitted with them predicted
0.4 false matches at ``1e-3`` where 2 were seen). It is fitted once per
database and preset (:func:`fit_null`) on null scores: clips of
never-fingerprinted tracks, or decoys (the database's own music played
backwards, which cannot match).
A match needs ``S(r) <= max_false_match``: one threshold, one scale.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np
from scipy.stats import chi2

#: Survival levels at which the null's evidence quantiles are stored.
LEVELS = (0.5, 0.25, 0.1)

_LOG_LEVELS = tuple(math.log(level) for level in LEVELS)

#: One-sided confidence of the bound the tail scale is taken at (0: the maximum-likelihood mean).
TAIL_CONFIDENCE = 0.95

#: Smallest false-match probability reported (the tail is extrapolated no further).
MIN_PROBABILITY = 1e-12


@dataclass(frozen=True, kw_only=True)
class EvidenceScales:
    """The evidence's shape: the value of each statistic that counts as ``r = 1``.

    Parameters
    ----------
    hash_confidence : float
        Hash confidence (``-log10`` chance probability) for ``r = 1``.
    hash_aligned : int
        Aligned hashes for ``r = 1``.
    z_scale, frame_z_scale : float
        Peak-alignment ``z`` and ``frame_z`` for ``r = 1``.
    fraction_scale : float
        Share of the stored peaks under the query met by a query peak, for ``r = 1``.
    support_confidence : float or None
        Hash confidence from which the ``supported_*`` scales apply. None: never.
    supported_z_scale, supported_frame_z_scale : float
        ``z`` and ``frame_z`` for ``r = 1`` with that support.
    """

    hash_confidence: float
    hash_aligned: int
    z_scale: float
    frame_z_scale: float
    fraction_scale: float
    support_confidence: float | None
    supported_z_scale: float
    supported_frame_z_scale: float


def hash_evidence(confidence: float, aligned: int, scales: EvidenceScales) -> float:
    """``r`` from the hash vote of one candidate (0 when ``aligned`` is 0)."""
    return max(0.0, min(confidence / scales.hash_confidence, aligned / max(scales.hash_aligned, 1)))


def peak_evidence(
    z: float,
    frame_z: float,
    matched: int,
    reference_peaks: int,
    hash_confidence: float,
    scales: EvidenceScales,
) -> float:
    """``r`` from the peak check of one candidate."""
    supported = (
        scales.support_confidence is not None and hash_confidence >= scales.support_confidence
    )
    z_scale = scales.supported_z_scale if supported else scales.z_scale
    frame_z_scale = scales.supported_frame_z_scale if supported else scales.frame_z_scale
    fraction = matched / reference_peaks if reference_peaks else 0.0
    ratios = [z / z_scale, frame_z / frame_z_scale]
    if scales.fraction_scale > 0:
        ratios.append(fraction / scales.fraction_scale)
    return max(0.0, min(ratios))


def sketch_fold(evidence: float, z: float, weight: float) -> float:
    """A candidate's evidence with its sketch check folded in: ``r + weight * z``.

    ``z`` is the sketch's agreement at the candidate's offset standardised on the
    same song (:func:`~dejavu_lab.core.sketch.sketch_check`); NaN (a query at a
    song's edge, too little background) counts as 0.
    """
    return evidence + weight * z if math.isfinite(z) else evidence


@dataclass(frozen=True, kw_only=True)
class NullModel:
    """Survival function of the evidence of unseen queries, by query length.

    Attributes
    ----------
    seconds : tuple of float
        Query lengths fitted (s), ascending; other lengths interpolate in
        ``log(seconds)`` and clamp at the ends.
    quantiles : tuple of tuple of float
        For each length, the evidence at each survival level of :data:`LEVELS`.
    tail_scale : tuple of float
        For each length, the scale of the exponential tail beyond the last
        quantile ``q``: ``S(r) = LEVELS[-1] * exp(-(r - q) / tail_scale)``.
        :func:`fit_null` fits one scale for all lengths.
    n_null : tuple of int
        Null scores each length was fitted on.
    note : str
        Where the null scores came from.
    """

    seconds: tuple[float, ...]
    quantiles: tuple[tuple[float, ...], ...]
    tail_scale: tuple[float, ...]
    n_null: tuple[int, ...] = ()
    note: str = ""

    @property
    def n_fitted(self) -> int:
        """How many numbers were fitted (a tail scale shared by lengths counts once)."""
        return len(self.seconds) * len(LEVELS) + len(set(self.tail_scale))

    @cached_property
    def _table(self) -> tuple[list[float], list[list[float]], list[float]]:
        logs = [math.log(s) for s in self.seconds]
        return logs, [list(q) for q in self.quantiles], list(self.tail_scale)

    def _at(self, seconds: float) -> tuple[list[float], float]:
        """Quantiles and tail scale at a length (plain floats: a query reads them once)."""
        logs, table, scales = self._table
        x = math.log(max(seconds, 1e-3))
        i = min(max(bisect.bisect_right(logs, x) - 1, 0), len(logs) - 1)
        j = min(i + 1, len(logs) - 1)
        w = 0.0 if i == j else min(max((x - logs[i]) / (logs[j] - logs[i]), 0.0), 1.0)
        quantiles, highest = [], 0.0
        for low, high in zip(table[i], table[j], strict=True):
            highest = max(highest, low + w * (high - low))
            quantiles.append(highest)
        return quantiles, max(scales[i] + w * (scales[j] - scales[i]), 1e-6)

    def false_match_probability(self, evidence: float, seconds: float) -> float:
        """``S(evidence)`` for a query of ``seconds``: monotone non-increasing in evidence."""
        quantiles, scale = self._at(seconds)
        r = max(0.0, float(evidence))
        if r >= quantiles[-1]:
            log_p = math.log(LEVELS[-1]) - (r - quantiles[-1]) / scale
            return max(MIN_PROBABILITY, math.exp(log_p))
        # Log-linear between (0, 1) and the quantiles; equal quantiles: the last one counts.
        knots = [(0.0, 0.0), *zip(quantiles, _LOG_LEVELS, strict=True)]
        for (r0, p0), (r1, p1) in itertools.pairwise(knots):
            if r < r1:
                return math.exp(p0 + (r - r0) / (r1 - r0) * (p1 - p0))
        return LEVELS[-1]

    def evidence_for(self, probability: float, seconds: float) -> float:
        """The evidence at which ``S`` falls to ``probability`` (the threshold on ``r``)."""
        quantiles, scale = self._at(seconds)
        if probability <= LEVELS[-1]:
            return quantiles[-1] + scale * math.log(LEVELS[-1] / probability)
        target = math.log(probability)
        knots = [(0.0, 0.0), *zip(quantiles, _LOG_LEVELS, strict=True)]
        for (r0, p0), (r1, p1) in itertools.pairwise(knots):
            if target >= p1:
                return r0 + (target - p0) / (p1 - p0) * (r1 - r0) if p1 != p0 else r0
        return quantiles[-1]

    def to_json(self) -> str:
        """The model as JSON (:meth:`from_json` reads it back)."""
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> NullModel:
        """A model written by :meth:`to_json`."""
        data = json.loads(text)
        return cls(
            seconds=tuple(data["seconds"]),
            quantiles=tuple(tuple(q) for q in data["quantiles"]),
            tail_scale=tuple(data["tail_scale"]),
            n_null=tuple(data.get("n_null", ())),
            note=data.get("note", ""),
        )


def fit_null(
    evidence: Sequence[float] | np.ndarray,
    seconds: Sequence[float] | np.ndarray,
    *,
    note: str = "",
    tail_confidence: float = TAIL_CONFIDENCE,
) -> NullModel:
    """Fit the null model to the evidence of queries that cannot match.

    Parameters
    ----------
    evidence : array_like of float
        The largest evidence of each null query (:func:`hash_evidence`,
        :func:`peak_evidence`), every candidate checked.
    seconds : array_like of float
        Each null query's length (s); one model row per distinct length.
    note : str
        Where the null queries came from, kept with the model.
    tail_confidence : float
        The tail scale is the upper bound, at this one-sided confidence, of the
        mean excess over the last quantile (exponential excesses: ``2 n mean /
        scale`` is chi-square with ``2 n`` degrees of freedom); 0 takes the
        mean itself (maximum likelihood). In [0, 1).

    Returns
    -------
    NullModel
        Per length, the evidence quantiles at :data:`LEVELS`; one exponential
        tail scale fitted on the excesses of all lengths pooled.
    """
    evidence = np.asarray(evidence, dtype=np.float64)
    seconds = np.asarray(seconds, dtype=np.float64)
    if evidence.shape != seconds.shape or evidence.size == 0:
        raise ValueError("fit_null: evidence and seconds must be non-empty and of one length")
    if not 0.0 <= tail_confidence < 1.0:
        raise ValueError(f"fit_null: tail_confidence={tail_confidence!r} must be in [0, 1)")
    lengths, quantiles, counts, excesses = [], [], [], []
    for length in np.unique(seconds):
        scores = np.sort(evidence[seconds == length])
        q = np.quantile(scores, [1.0 - level for level in LEVELS], method="linear")
        q = np.maximum.accumulate(q)
        excesses.append(scores[scores > q[-1]] - q[-1])
        lengths.append(float(length))
        quantiles.append(tuple(round(float(v), 5) for v in q))
        counts.append(len(scores))
    excess = np.concatenate(excesses)
    scale = float(excess.mean()) if len(excess) else 1e-3
    if len(excess) and tail_confidence > 0:
        n = len(excess)
        scale = 2 * n * scale / float(chi2.ppf(1.0 - tail_confidence, 2 * n))
    scale = round(max(scale, 1e-3), 5)
    return NullModel(
        seconds=tuple(lengths),
        quantiles=tuple(quantiles),
        tail_scale=(scale,) * len(lengths),
        n_null=tuple(counts),
        note=note,
    )


def confidence_of(probability: float) -> float:
    """The answer's score: ``-log10`` of its false-match probability."""
    return round(-math.log10(max(probability, MIN_PROBABILITY)), 3)


#: The null of the default preset on the free-music corpus (45 reference tracks), fitted by
#: ``experiments/calibration.py``: seed 1, the unseen tracks of even index, 440 clips; the tail
#: pooled over lengths (45 excesses) at the 95 % upper bound of its scale (16 fitted numbers).
DEFAULT_NULL = NullModel(
    seconds=(1.0, 2.0, 3.0, 5.0, 10.0),
    quantiles=(
        (0.6585, 0.71377, 0.7902),
        (0.6075, 0.67202, 0.70748),
        (0.57345, 0.63238, 0.70597),
        (0.50985, 0.55275, 0.60749),
        (0.4486, 0.49257, 0.53286),
    ),
    tail_scale=(0.09588,) * 5,
    n_null=(88, 88, 88, 88, 88),
    note="full corpus, seed 1, unseen tracks of even index, 440 clips (clean, laptop-mic)",
)


#: The null of the default preset's sketch fold (``r + 0.1 z``, ``verifier__sketch_weight``) on
#: the free-music corpus, fitted by ``experiments/calibration.py`` as :data:`DEFAULT_NULL` was:
#: seed 1, the unseen tracks of even index, 440 clips; the tail pooled over lengths at the 95 %
#: upper bound of its scale (16 fitted numbers). Songs stored without a sketch are read on
#: ``r`` against :data:`DEFAULT_NULL`.
DEFAULT_SKETCH_NULL = NullModel(
    seconds=(1.0, 2.0, 3.0, 5.0, 10.0),
    quantiles=(
        (0.81688, 0.86961, 0.92648),
        (0.72637, 0.78565, 0.87914),
        (0.71738, 0.76404, 0.83635),
        (0.6556, 0.70332, 0.77719),
        (0.59199, 0.64909, 0.69242),
    ),
    tail_scale=(0.10168,) * 5,
    n_null=(88, 88, 88, 88, 88),
    note="full corpus, seed 1, unseen tracks of even index, 440 clips (clean, laptop-mic)",
)
