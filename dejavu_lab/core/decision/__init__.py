"""How a query's answer is decided: one score on one scale, and the rule that reads it.

- :mod:`~dejavu_lab.core.decision.calibration`: the evidence ``r`` of a candidate, its
  null distribution among clips of music the database does not hold, and the false-match
  probability read from it;
- :mod:`~dejavu_lab.core.decision.evidence`: a pipeline's thresholds as the evidence's
  scales, and answers found at another speed or pitch on the same scale;
- :mod:`~dejavu_lab.core.decision.sketch_scores`: the sketch check's ``z`` of the
  candidates, folded into their evidence;
- :mod:`~dejavu_lab.core.decision.bandwidth`: the query's bass, the channel gate's measure;
- :mod:`~dejavu_lab.core.decision.rule`: :func:`decide`, the calibrated rule over the
  ranked candidates;
- :mod:`~dejavu_lab.core.decision.scaled_answers`: the speed search's and the triplet
  matcher's answers to a query.

The method and its measurements: the documentation's no-match page.
"""

from __future__ import annotations

from .rule import Decision, decide

__all__ = ["Decision", "decide"]
