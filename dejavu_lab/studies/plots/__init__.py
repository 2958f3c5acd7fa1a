"""Figures of the Dejavu write-up and of our experiments.

Every function takes data that is already computed, draws it on ``ax`` (a new
figure when ``ax`` is None) and returns the axes. None of them computes
anything beyond formatting: no STFT, no peak picking, no fitting. Cropping to
a range, pivoting sweep rows into a grid, counting trials per duration and
:func:`~.sweep.pareto_front_mask` are the only data handling here. Every name
below imports from this package:

- :mod:`.fingerprints`: a spectrogram's peaks, hash pairs, a match's offset votes;
- :mod:`.accuracy`: accuracy and false matches against seconds listened, live trials;
- :mod:`.timing`: matching time against recording time;
- :mod:`.storage`: storage of audio and fingerprints;
- :mod:`.sweep`: parameter sweeps and the storage-accuracy Pareto front;
- :mod:`.robustness_study`: the robustness study;
- :mod:`.calibration`: reliability diagrams and operating characteristics;
- :mod:`.labels`: axis labels with units, fitted-line equations;
- :mod:`.published`: the write-up's own results.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> from dejavu_lab.studies import plots
>>> ax = plots.accuracy_vs_seconds(
...     pd.DataFrame({"condition": "clean", "seconds": [1.0, 2.0], "accuracy_pct": [80.0, 100.0]})
... )
>>> ax.get_xlabel()
'seconds listened (s)'
"""

from __future__ import annotations

from .accuracy import accuracy_vs_seconds, false_matches, trials_accuracy
from .calibration import operating_characteristic, reliability
from .fingerprints import hash_pairs, offset_histogram, spectrogram_peaks
from .labels import axis_label, line_equation
from .published import (
    DEJAVU_PUBLISHED_ACCURACY,
    DEJAVU_PUBLISHED_MATCHING_TIME,
    DEJAVU_PUBLISHED_STORAGE_MB,
    PUBLISHED_LABEL,
)
from .robustness_study import robustness, robustness_false_matches
from .storage import storage_bars
from .sweep import pareto, pareto_front_mask, peak_rates, sweep_heatmap, sweep_lines
from .timing import matching_time

__all__ = [
    "DEJAVU_PUBLISHED_ACCURACY",
    "DEJAVU_PUBLISHED_MATCHING_TIME",
    "DEJAVU_PUBLISHED_STORAGE_MB",
    "PUBLISHED_LABEL",
    "accuracy_vs_seconds",
    "axis_label",
    "false_matches",
    "hash_pairs",
    "line_equation",
    "matching_time",
    "offset_histogram",
    "operating_characteristic",
    "pareto",
    "pareto_front_mask",
    "peak_rates",
    "reliability",
    "robustness",
    "robustness_false_matches",
    "spectrogram_peaks",
    "storage_bars",
    "sweep_heatmap",
    "sweep_lines",
    "trials_accuracy",
]
