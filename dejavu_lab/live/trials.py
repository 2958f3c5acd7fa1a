"""The bookkeeping of live microphone trials: a row per trial, in a DuckDB table.

No widgets and no microphone: :func:`unmarked_trial` is the row of an answer
not judged yet, :func:`mark_trial` the row once judged, and :class:`TrialLog`
appends rows to the ``trials`` table and reads them back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from ..exceptions import ParameterError

if TYPE_CHECKING:
    from ..dejavu import Recognition

#: Columns of the ``trials`` table, in order.
TRIAL_COLUMNS = (
    "time",
    "seconds",
    "device",
    "predicted",
    "truth",
    "correct",
    "confidence",
    "offset_seconds",
    "match_time_s",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    "time" TIMESTAMP NOT NULL,
    seconds DOUBLE NOT NULL,
    device VARCHAR,
    predicted VARCHAR,
    truth VARCHAR,
    correct BOOLEAN NOT NULL,
    confidence DOUBLE,
    offset_seconds DOUBLE,
    match_time_s DOUBLE
)
"""


@dataclass(frozen=True)
class Trial:
    """One microphone trial, a row of the ``trials`` table.

    Attributes
    ----------
    time : datetime
        When the recording ended (local time).
    seconds : float
        Seconds recorded.
    device : str or None
        Input device name.
    predicted : str or None
        Song named by the recogniser, None for "no match".
    truth : str or None
        Song that was played, None for music not in the database.
    correct : bool
        The verdict given by whoever ran the trial.
    confidence : float
        The answer's confidence (:attr:`Recognition.confidence <dejavu_lab.dejavu.Recognition>`).
    offset_seconds : float or None
        Where the recording started in the predicted song (s).
    match_time_s : float
        Fingerprinting, lookup and voting time (s), recording excluded.
    """

    time: datetime
    seconds: float
    device: str | None
    predicted: str | None
    truth: str | None
    correct: bool
    confidence: float
    offset_seconds: float | None
    match_time_s: float


def unmarked_trial(recognition: Recognition, *, seconds: float, device: str | None) -> Trial:
    """The trial of an answer not judged yet: ended now, ``truth`` None, ``correct`` False.

    Parameters
    ----------
    recognition : Recognition
        The answer to ``seconds`` seconds recorded from ``device``.
    seconds : float
        Seconds recorded.
    device : str or None
        Input device name.
    """
    return Trial(
        time=datetime.now().replace(microsecond=0),
        seconds=seconds,
        device=device,
        predicted=recognition.song_name,
        truth=None,
        correct=False,
        confidence=float(recognition.confidence),
        offset_seconds=recognition.offset_seconds,
        match_time_s=float(recognition.match_time_s),
    )


def mark_trial(pending: Trial, *, correct: bool, truth: str | None) -> Trial:
    """``pending`` with its verdict and the song really played.

    Parameters
    ----------
    pending : Trial
        The trial of the answer, as :func:`unmarked_trial` made it.
    correct : bool
        The verdict given by whoever ran the trial.
    truth : str or None
        The song played, None for music not in the database.

    Raises
    ------
    ParameterError
        ``truth`` is neither a song name nor None.
    """
    if truth is not None and not isinstance(truth, str):
        raise ParameterError(f"truth={truth!r} is not allowed: expected a song name or None")
    return Trial(
        time=pending.time,
        seconds=pending.seconds,
        device=pending.device,
        predicted=pending.predicted,
        truth=truth,
        correct=bool(correct),
        confidence=pending.confidence,
        offset_seconds=pending.offset_seconds,
        match_time_s=pending.match_time_s,
    )


class TrialLog:
    """The ``trials`` table of a DuckDB file, opened only while reading or writing.

    Opening per operation keeps the file free for other processes (another
    notebook, a script analysing the trials) between trials.

    Parameters
    ----------
    path : str or Path
        DuckDB file, created with its table if missing; ``":memory:"`` keeps
        the trials in this process only.
    """

    def __init__(self, path: str | Path = "trials.duckdb") -> None:
        self.path = str(path)
        self._memory = duckdb.connect(":memory:") if self.path == ":memory:" else None
        with self._connect() as con:
            con.execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"TrialLog({self.path!r})"

    @contextlib.contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._memory is not None:
            yield self._memory
            return
        con = duckdb.connect(self.path)
        try:
            yield con
        finally:
            con.close()

    def add(self, trial: Trial) -> None:
        """Append one trial."""
        placeholders = ", ".join("?" for _ in TRIAL_COLUMNS)
        columns = ", ".join(f'"{name}"' for name in TRIAL_COLUMNS)
        with self._connect() as con:
            con.execute(f"INSERT INTO trials ({columns}) VALUES ({placeholders})", astuple(trial))

    def table(self) -> pd.DataFrame:
        """Every trial, oldest first, with the columns of :data:`TRIAL_COLUMNS`."""
        columns = ", ".join(f'"{name}"' for name in TRIAL_COLUMNS)
        with self._connect() as con:
            return con.execute(f'SELECT {columns} FROM trials ORDER BY "time"').df()
