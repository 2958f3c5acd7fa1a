"""What a recogniser keeps of its songs between queries, until the store changes.

Each cache is emptied when the store's data version (which changes when any process adds
songs) differs from the one it was filled at: :class:`SongTable` holds the songs' lengths
and names, :class:`SketchCache` their sketches. Nothing here knows about the store: its
reads and its version are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

#: Songs whose sketches a recogniser keeps in memory at most (about 42 kB a song).
SKETCH_CACHE_SONGS = 1024


class SongTable:
    """Each stored song's length (frames) and name, by song id.

    Attributes
    ----------
    version : object
        The store's data version the table was read at.
    """

    def __init__(self) -> None:
        self._table: tuple[np.ndarray, dict[int, str]] | None = None
        self.version: Any = None

    def clear(self) -> None:
        """Forget the table: the next :meth:`get` reads the songs again."""
        self._table = None

    def get(
        self,
        *,
        read: Callable[[], Sequence[Any]],
        frames_for: Callable[[float], int],
        version: Any,
    ) -> tuple[np.ndarray, dict[int, str]]:
        """The songs' lengths and names.

        Parameters
        ----------
        read : callable
            ``read()``: the stored songs, each with ``song_id``, ``name`` and
            ``duration_s`` (a store's ``songs``).
        frames_for : callable
            ``frames_for(duration_s)``: a song's length in frames.
        version : object
            The store's data version now; another than the last one empties the table.

        Returns
        -------
        frames : np.ndarray, int64
            Each song's length (frames), indexed by song id (0 for ids without a song).
        names : dict of int to str
            Each song's name.
        """
        if version != self.version:
            self._table, self.version = None, version
        if self._table is None:
            songs = read()
            size = max((s.song_id for s in songs), default=0) + 1
            frames = np.zeros(size, dtype=np.int64)
            for song in songs:
                frames[song.song_id] = frames_for(song.duration_s)
            self._table = (frames, {s.song_id: s.name for s in songs})
        return self._table


class SketchCache:
    """Songs' stored sketches (or their absence).

    Past :data:`SKETCH_CACHE_SONGS` songs it starts again empty.
    """

    def __init__(self) -> None:
        self._sketches: dict[int, np.ndarray | None] = {}
        self._version: Any = None

    def clear(self) -> None:
        """Forget every song: the next :meth:`get` reads them again."""
        self._sketches, self._version = {}, None

    def get(
        self,
        song_ids: list[int],
        *,
        read: Callable[[list[int]], Mapping[int, np.ndarray]],
        version: Any,
    ) -> dict[int, np.ndarray]:
        """The stored sketches of these songs (absent: none stored).

        Parameters
        ----------
        song_ids : list of int
        read : callable
            ``read(song_ids)``: the stored sketches of the songs not kept (a store's
            ``song_sketches``).
        version : object
            The store's data version now; another than the last one empties the cache.
        """
        if version != self._version or len(self._sketches) > SKETCH_CACHE_SONGS:
            self._sketches, self._version = {}, version
        missing = [song for song in song_ids if song not in self._sketches]
        if missing:
            found = read(missing)
            for song in missing:
                self._sketches[song] = found.get(song)
        return {song: bits for song in song_ids if (bits := self._sketches[song]) is not None}
