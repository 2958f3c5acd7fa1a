"""Matching time versus recording time: the write-up's speed study.

The write-up timed recording plus matching and fitted
``1.364757 * record_time - 0.034373``. Here each excerpt is written to a WAV
file and recognised from it, so the time covers decoding, fingerprinting,
lookup and voting (recording excluded: add ``record_time`` to compare).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm.auto import tqdm

from ..dejavu import Dejavu

#: Columns of :func:`matching_time`.
TIMING_COLUMNS = (
    "record_time_s",
    "repeat",
    "match_time_s",
    "decode_s",
    "fingerprint_lookup_s",
    "correct",
)


@dataclass(frozen=True)
class LineFit:
    """A least-squares line ``y = slope * x + intercept``.

    Attributes
    ----------
    slope, intercept : float
    r_squared : float
    """

    slope: float
    intercept: float
    r_squared: float

    def equation(self, variable: str = "record_time") -> str:
        """Written like the write-up: ``1.364757 * record_time - 0.034373``."""
        sign = "-" if self.intercept < 0 else "+"
        return f"{self.slope:.6f} * {variable} {sign} {abs(self.intercept):.6f}"

    @property
    def x_realtime(self) -> float:
        """How many times faster than real time matching runs (1 / slope)."""
        return 1.0 / self.slope if self.slope > 0 else float("inf")


def fit_line(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> LineFit:
    """Ordinary least squares of ``y`` on ``x``."""
    x_arr, y_arr = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    slope, intercept = np.polyfit(x_arr, y_arr, 1)
    residual = y_arr - (slope * x_arr + intercept)
    total = np.sum((y_arr - y_arr.mean()) ** 2)
    r_squared = 1.0 - float(np.sum(residual**2) / total) if total > 0 else 1.0
    return LineFit(float(slope), float(intercept), r_squared)


def matching_time(
    djv: Dejavu,
    samples: np.ndarray,
    sample_rate: int,
    *,
    song_name: str | None = None,
    record_times_s: Sequence[float] = tuple(np.arange(1.0, 10.5, 1.0)),
    repeats: int = 5,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Time to match excerpts of one song against their length.

    Like the write-up, one song: time depends on the length of the query, not
    on which song it is. Excerpts start at random (seeded) at least 10 s from
    either end. One untimed query first loads the database's index.

    Parameters
    ----------
    djv : Dejavu
    samples : np.ndarray
        The song (mono float32).
    sample_rate : int
        Hz.
    song_name : str, optional
        Its name in the database, to check the answers.
    record_times_s : sequence of float
        Excerpt lengths (s).
    repeats : int
        Excerpts per length.
    seed : int

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TIMING_COLUMNS`: ``match_time_s`` is decode +
        fingerprint + lookup + vote, wall clock; ``decode_s`` the decoding part.
    """
    rng = np.random.default_rng(seed)
    duration = len(samples) / sample_rate
    rows = []
    # Warm up: the first query loads the in-memory index; time queries, not loading.
    djv.match_samples(samples[: int(min(duration, 2.0) * sample_rate)], sample_rate)
    with tempfile.TemporaryDirectory(prefix="dejavu-timing-") as folder:
        clip_path = Path(folder) / "clip.wav"
        jobs = [(t, r) for t in record_times_s for r in range(repeats)]
        for record_time, repeat in tqdm(jobs, desc="timing", unit="clip", disable=not progress):
            margin = min(10.0, max(0.0, (duration - record_time) / 2))
            start = rng.uniform(margin, duration - record_time - margin)
            first = int(start * sample_rate)
            sf.write(
                clip_path,
                samples[first : first + int(record_time * sample_rate)],
                sample_rate,
                subtype="PCM_16",
            )
            began = time.perf_counter()
            result = djv.match_file(clip_path)
            elapsed = time.perf_counter() - began
            rows.append(
                {
                    "record_time_s": float(record_time),
                    "repeat": repeat,
                    "match_time_s": elapsed,
                    "decode_s": result.decode_time_s,
                    "fingerprint_lookup_s": result.match_time_s,
                    "correct": song_name is None or result.song_name == song_name,
                }
            )
    return pd.DataFrame(rows, columns=list(TIMING_COLUMNS))
