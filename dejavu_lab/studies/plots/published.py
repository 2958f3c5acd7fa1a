"""The Dejavu write-up's published results, drawn beside ours for reference."""

from __future__ import annotations

import pandas as pd

#: The write-up's laptop-microphone results (45 songs, random excerpts).
DEJAVU_PUBLISHED_ACCURACY = pd.DataFrame(
    {
        "seconds": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "correct": [27, 43, 44, 44, 45, 45],
        "total": [45, 45, 45, 45, 45, 45],
        "accuracy_pct": [60.0, 95.6, 97.8, 97.8, 100.0, 100.0],
    }
)

#: The write-up's least-squares line: ``time_to_match = slope * record_time + intercept`` (s).
DEJAVU_PUBLISHED_MATCHING_TIME = {"slope": 1.364757, "intercept": -0.034373}

#: The write-up's storage table for its 45 songs (MB).
DEJAVU_PUBLISHED_STORAGE_MB = {"mp3": 339.0, "wav": 1885.0, "fingerprints": 377.0}

PUBLISHED_LABEL = "Dejavu write-up (laptop mic)"
