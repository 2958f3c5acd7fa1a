"""Matching queries played faster, slower or at another pitch: a search over scale factors.

A landmark ``(f1, f2, dt)`` on linear FFT bins moves by several bins when the
spectrum is scaled by a few per cent, so a clip played 3 % fast keeps almost no
stored hash. Rather than new hashes, the query's *peaks* are mapped back to the
reference's coordinates for each candidate factor and hashed again (no new
analysis of the audio), and each factor is matched as an ordinary query:

- varispeed by ``s`` (a turntable or a pitch control; 1.02 is 2 % fast and
  34 cents high): a query peak at bin ``b`` and frame ``t`` stands for the
  stored peak at bin ``b / s`` and frame ``t * s``;
- pitch shift by ``p`` without tempo change: bin ``b / p``, frame ``t``.

Factors are tried coarse to fine: a coarse grid over the range, then a fine
grid around the best coarse ones; if the best of those is no match by the
hashes, a second pass ranks a denser grid over the whole range and matches
its best factors too. Offsets come out in the reference's frames.

**False matches.** Every factor tried is one more chance for unseen music to
raise a tall bin. The hash confidence of a factor's best candidate (``-log10``
of a chance probability, :mod:`dejavu_lab.core.matching`) is lowered by
``log10`` of the number of factors tried (a Bonferroni correction) before the
matcher's rule is applied; the peak check (:mod:`dejavu_lab.core.verify`) sees
only the best factor's candidates, with the thresholds of :class:`~.search.SpeedSearch`.

One module a part; every name below imports from this package:

- :mod:`.factors`: the hypotheses and their grids (:class:`~.factors.Factor`,
  :func:`~.factors.factor_grid`, :data:`~.factors.KINDS`);
- :mod:`.scaling`: the query's peaks mapped back under a factor and hashed again
  (:func:`~.scaling.scale_peaks`, :func:`~.scaling.hash_sets`,
  :func:`~.scaling.scaled_hashes`, :func:`~.scaling.dt_variants`);
- :mod:`.ranking`: each factor's tallest window of votes, one lookup for all
  (:func:`~.ranking.factor_heights`, :func:`~.ranking.tallest_windows`,
  :func:`~.ranking.window_heights`, :func:`~.ranking.distinct_keys`);
- :mod:`.results`: what a search finds (:class:`~.results.SpeedMatch`,
  :class:`~.results.ScaledAnswer`);
- :mod:`.significance`: the confidences corrected for the factors tried
  (:func:`~.significance.corrected`);
- :mod:`.search`: the pipeline stage (:class:`~.search.SpeedSearch`).

:data:`~.scaling.SET_GAP_FRAMES` and :data:`~.ranking.SET_BUCKETS` are looked up in
:mod:`.scaling` and :mod:`.ranking` when they are used: set them there.
"""

from __future__ import annotations

from .factors import KINDS as KINDS
from .factors import Factor, factor_grid
from .ranking import SET_BUCKETS as SET_BUCKETS
from .ranking import distinct_keys, factor_heights, tallest_windows, window_heights
from .results import ScaledAnswer, SpeedMatch
from .scaling import SET_GAP_FRAMES as SET_GAP_FRAMES
from .scaling import dt_variants, hash_sets, scale_peaks, scaled_hashes
from .search import SpeedSearch
from .significance import corrected

__all__ = [
    "Factor",
    "ScaledAnswer",
    "SpeedMatch",
    "SpeedSearch",
    "corrected",
    "distinct_keys",
    "dt_variants",
    "factor_grid",
    "factor_heights",
    "hash_sets",
    "scale_peaks",
    "scaled_hashes",
    "tallest_windows",
    "window_heights",
]
