"""The calibrated decision rule: which candidate, if any, a query names.

The rule of the default preset (``verifier__max_false_match`` set), as one pure function
(:func:`decide`) over the candidates the hash vote ranked: the peak check it may need and
the sketch scores it may fold in are passed in as callables, so nothing here knows about
the store. The evidence and its null are :mod:`dejavu_lab.core.decision.calibration`'s; the answer
is a :class:`Decision`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..matching import Candidate
from ..verify import Verification, Verifier
from .calibration import EvidenceScales, NullModel, hash_evidence, peak_evidence, sketch_fold


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What the calibrated rule decided for one query.

    Attributes
    ----------
    best : Candidate or None
        The answer, or None for "no match".
    evidence : float
        The answer's evidence ``r``; for "no match", that of the candidate least likely
        under its null (0 without candidates).
    false_match_probability : float
        The chance that unknown music scores ``evidence`` (1 without candidates).
    z_of : dict of int to float
        The peak check's ``z`` by song, for the candidates checked (empty when the hashes
        decided).
    decided_by : str
        ``"hashes"``, ``"peaks"``, or ``"gate"`` for a "no match" the channel gate decided
        (the null alone would have named a song).
    evidence_of : dict of int to float
        Each candidate's evidence by song: its hashes' (the best one's with its sketch
        folded in) or, where it was checked, the larger of its hashes' and its peaks',
        folded.
    """

    best: Candidate | None
    evidence: float
    false_match_probability: float
    z_of: dict[int, float]
    decided_by: str
    evidence_of: dict[int, float]


def decide(
    ranked: Sequence[Candidate],
    *,
    verifier: Verifier,
    scales: EvidenceScales,
    null_model: NullModel,
    sketch_null: NullModel,
    query_s: float,
    verify: Callable[[Callable[[Verification], bool]], Sequence[Verification]],
    full_band: Callable[[], bool] = lambda: False,
    sketch_z: Callable[[Candidate], float | None] = lambda c: None,
) -> Decision:
    """The calibrated rule: the answer, its evidence and false-match probability.

    The hashes' best candidate first: if its evidence alone is rare enough
    under the null (and ``unsure_only``), it is the answer. Otherwise the
    candidates are checked peak by peak, best first, until one is; for "no
    match", every candidate was checked and the evidence is the one least
    likely under its null. With the sketch fold, a candidate whose song's
    sketch is stored (``sketch_z`` is not None) has evidence ``r + w z`` read
    against the fold's null (``sketch_null``); others, ``r`` against
    ``null_model``. With the channel gate (``verifier__full_band_db``),
    evidence below ``verifier__full_band_min_evidence`` is not enough for a
    query that kept its bass (``full_band()``, asked only then, at most once).

    Parameters
    ----------
    ranked : sequence of Candidate
        The hash vote's candidates, best first.
    verifier : Verifier
        The pipeline's verifier: its threshold (``max_false_match``), whether it checks
        peaks (``enabled``, ``unsure_only``), the gate and the fold's weight.
    scales : EvidenceScales
        The shape of the evidence (``Dejavu.evidence_scales``).
    null_model, sketch_null : NullModel
        The null of ``r``, and of ``r + w z`` for candidates with a sketch.
    query_s : float
        The query's length (s), which the nulls depend on.
    verify : callable
        ``verify(passes)`` checks ``ranked`` peak by peak, best first, until a check
        ``passes``, and returns the checks made (the last one passed, if any did).
    full_band : callable
        Whether the query kept its bass (the channel gate); default never.
    sketch_z : callable
        The sketch check's ``z`` of a candidate, None without a stored sketch;
        default None (no fold).

    Returns
    -------
    Decision
    """
    limit = float(verifier.max_false_match or 0.0)
    gated: list[bool] = []  # the gate's verdict, once asked
    folds: dict[int, float | None] = {}  # each candidate's sketch z (None: no sketch)
    bars: dict[int, float] = {}  # each null's threshold, by id

    def null_of(song_id: int) -> NullModel:
        return null_model if folds[song_id] is None else sketch_null

    def fold(candidate: Candidate, r: float) -> float:
        if candidate.song_id not in folds:
            folds[candidate.song_id] = sketch_z(candidate)
        z = folds[candidate.song_id]
        return r if z is None else sketch_fold(r, z, verifier.sketch_weight)

    def enough(song_id: int, r: float) -> bool:
        # The probability falls as the evidence grows: compare evidence with the
        # threshold's, and read the probability once, for the answer.
        null = null_of(song_id)
        if id(null) not in bars:
            bars[id(null)] = null.evidence_for(limit, query_s) if limit > 0 else math.inf
        if r < bars[id(null)]:
            return False
        if not verifier.gates(r):
            return True
        if not gated:
            gated.append(full_band())
        return not gated[0]

    def probability(song_id: int, r: float) -> float:
        return null_of(song_id).false_match_probability(r, query_s)

    if not ranked:
        return Decision(
            best=None,
            evidence=0.0,
            false_match_probability=1.0,
            z_of={},
            decided_by="hashes",
            evidence_of={},
        )
    of_hashes = {c.song_id: hash_evidence(c.confidence, c.aligned_hashes, scales) for c in ranked}
    of_check = dict(of_hashes)
    top = ranked[0]
    of_check[top.song_id] = evidence = fold(top, of_hashes[top.song_id])
    if (verifier.unsure_only or not verifier.enabled) and enough(top.song_id, evidence):
        return Decision(
            best=top,
            evidence=evidence,
            false_match_probability=probability(top.song_id, evidence),
            z_of={},
            decided_by="hashes",
            evidence_of=of_check,
        )
    if not verifier.enabled:
        why = "gate" if gated and gated[0] else "hashes"
        return Decision(
            best=None,
            evidence=evidence,
            false_match_probability=probability(top.song_id, evidence),
            z_of={},
            decided_by=why,
            evidence_of=of_check,
        )

    def passes(check: Verification) -> bool:
        candidate = next(c for c in ranked if c.song_id == check.song_id)
        r = max(
            of_hashes[candidate.song_id],
            peak_evidence(
                check.z,
                check.frame_z,
                check.matched,
                check.reference_peaks,
                check.hash_confidence,
                scales,
            ),
        )
        of_check[check.song_id] = r = fold(candidate, r)
        return enough(check.song_id, r)

    checks = verify(passes)
    z_of = {c.song_id: c.z for c in checks}
    if checks and enough(checks[-1].song_id, of_check[checks[-1].song_id]):
        chosen = next(c for c in ranked if c.song_id == checks[-1].song_id)
        r = of_check[chosen.song_id]
        return Decision(
            best=chosen,
            evidence=r,
            false_match_probability=probability(chosen.song_id, r),
            z_of=z_of,
            decided_by="peaks",
            evidence_of=of_check,
        )
    # No match: the evidence least likely under its null (candidates not checked
    # keep their hash evidence, read against the null of r).
    folds.update({song: None for song in of_check if song not in folds})
    least = min(of_check, key=lambda song: probability(song, of_check[song]))
    why = "gate" if gated and gated[0] else "peaks"  # the null alone would have named one
    evidence = of_check[least]
    return Decision(
        best=None,
        evidence=evidence,
        false_match_probability=probability(least, evidence),
        z_of=z_of,
        decided_by=why,
        evidence_of=of_check,
    )
