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

One module a part; every name below imports from this package:

- :mod:`.peak_sets`: peaks as (frame, bin) pairs, and a stored song's rebuilt from its
  hashes (:class:`~.peak_sets.PeakSet`, :func:`~.peak_sets.peaks_from_fingerprints`);
- :mod:`.stretches`: the stored rows read for the candidates
  (:class:`~.stretches.Stretches`);
- :mod:`.alignment`: the counts of stored peaks meeting query peaks, per offset, and
  their ``z`` (:func:`~.alignment.peak_alignment`);
- :mod:`.results`: one candidate checked (:class:`~.results.Verification`);
- :mod:`.verifier`: the pipeline stage and its rule (:class:`~.verifier.Verifier`);
- :mod:`.candidates`: a query's candidates checked, their stored rows read through a
  callable (:func:`~.candidates.check_candidates`).
"""

from __future__ import annotations

# The names starting with _ are private, but tests/test_kernels.py reads them here.
from .alignment import _alignment_counts as _alignment_counts
from .alignment import _numpy_alignment_counts as _numpy_alignment_counts
from .alignment import peak_alignment
from .candidates import check_candidates
from .peak_sets import PeakSet, peaks_from_fingerprints
from .peak_sets import _numpy_peaks_from_fingerprints as _numpy_peaks_from_fingerprints
from .results import Verification
from .stretches import Stretches
from .verifier import Verifier

__all__ = [
    "PeakSet",
    "Stretches",
    "Verification",
    "Verifier",
    "check_candidates",
    "peak_alignment",
    "peaks_from_fingerprints",
]
