"""The price of trying many factors: confidences corrected for them (:func:`corrected`)."""

from __future__ import annotations

import math
from dataclasses import replace

from ..matching import MatchResult


def corrected(
    result: MatchResult, *, tests: int, min_aligned: int, min_confidence: float
) -> MatchResult:
    """``result`` with every confidence lowered by ``log10(tests)`` and the rule applied again.

    Parameters
    ----------
    result : MatchResult
    tests : int, >= 1
        Factors tried.
    min_aligned : int
    min_confidence : float
        The matcher's rule.
    """
    penalty = math.log10(max(1, tests))
    candidates = tuple(
        replace(c, confidence=round(max(0.0, c.confidence - penalty), 3)) for c in result.candidates
    )
    is_match = bool(
        candidates
        and candidates[0].aligned_hashes >= min_aligned
        and candidates[0].confidence >= min_confidence
    )
    return MatchResult(candidates, result.input_hashes, is_match)
