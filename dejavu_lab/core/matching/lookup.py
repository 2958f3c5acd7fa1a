"""What a store hands the matcher: the rows its lookup found, and their votes.

:class:`Lookup` holds the database rows whose hash equals a query hash, as every
store's ``lookup`` returns them. :class:`Votes` holds their counts per (song,
offset difference) bin, as :func:`~dejavu_lab.core.matching.votes.count_votes`
counts them in process or a database server counts them
(:mod:`dejavu_lab.store.server`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Lookup:
    """Database rows whose hash equals a query hash.

    Attributes
    ----------
    query_index : np.ndarray, shape (m,), int64
        Position of the query hash that found the row.
    song_id : np.ndarray, shape (m,), int32
    offset : np.ndarray, shape (m,), int32
        Frame of the row's hash in its song.
    """

    query_index: np.ndarray
    song_id: np.ndarray
    offset: np.ndarray

    def __len__(self) -> int:
        return len(self.song_id)

    @classmethod
    def empty(cls) -> Lookup:
        """No rows."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32))


@dataclass(frozen=True)
class Votes:
    """Vote counts per (song, offset difference) bin, windowed over the tolerance.

    Attributes
    ----------
    song_id : np.ndarray, int64
    diff : np.ndarray, int64
        ``db_offset - query_offset`` (frames): where the query starts in the song.
    count : np.ndarray, int64
        Votes in the bin itself.
    windowed : np.ndarray, int64
        Votes within ``+- time_tolerance`` frames of the bin.
    """

    song_id: np.ndarray
    diff: np.ndarray
    count: np.ndarray
    windowed: np.ndarray
