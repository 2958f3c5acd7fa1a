"""The evidence ``r`` on one scale: a pipeline's thresholds as ``r = 1``.

:func:`evidence_scales` gives the shape of the evidence of the calibrated rule
(:func:`~dejavu_lab.core.decision.calibration.hash_evidence`,
:func:`~dejavu_lab.core.decision.calibration.peak_evidence`); :func:`speed_evidence` and
:func:`scale_evidence` put an answer found at another speed or pitch, which its own rule
decided, on the same scale (``r = 1`` at that rule's thresholds).
"""

from __future__ import annotations

from ..matching import Matcher
from ..scale_matching import ScaleMatcher
from ..speed import ScaledAnswer, SpeedSearch
from ..verify import Verifier
from .calibration import EvidenceScales, hash_evidence


def evidence_scales(matcher: Matcher, verifier: Verifier) -> EvidenceScales:
    """The shape of the evidence: the matcher's and verifier's old thresholds as ``r = 1``."""
    return EvidenceScales(
        hash_confidence=max(matcher.min_confidence, 1e-6),
        hash_aligned=matcher.min_aligned,
        z_scale=max(verifier.min_z, 1e-6),
        frame_z_scale=max(verifier.min_frame_z, 1e-6),
        fraction_scale=verifier.min_fraction,
        support_confidence=verifier.support_confidence,
        supported_z_scale=max(verifier.supported_min_z, 1e-6),
        supported_frame_z_scale=max(verifier.supported_min_frame_z, 1e-6),
    )


def speed_evidence(answer: ScaledAnswer, *, search: SpeedSearch, scales: EvidenceScales) -> float:
    """``r`` of an answer of the speed search.

    Its peak check's ``z`` over ``search.min_z`` when the peaks decided; else the hash
    evidence of its corrected confidence (``scales``: :func:`evidence_scales`).
    """
    if answer.decided_by == "peaks":
        return answer.score / search.min_z
    return hash_evidence(answer.score, answer.best.aligned_hashes, scales)


def scale_evidence(answer: ScaledAnswer, *, scale: ScaleMatcher) -> float:
    """``r`` of an answer of the triplet matcher.

    Its peak check's ``z`` over ``scale.min_z`` when the peaks decided; else its
    confidence over ``scale.min_confidence`` (1 when unset).
    """
    if answer.decided_by == "peaks":
        return answer.score / scale.min_z
    return answer.score / max(scale.min_confidence or 1.0, 1e-6)
