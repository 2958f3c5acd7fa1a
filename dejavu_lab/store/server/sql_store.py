"""What the server stores share: the store contract over a DB-API connection.

:class:`ServerStore` holds everything that reads the same in every SQL dialect
(errors named after the database, the song table, the insert's retry loop,
lookups and the vote pushdown's arguments); a subclass supplies the connection
and the few statements its dialect writes differently:

========================  =================================================
hook                      what it does
========================  =================================================
``_driver_error``         the driver's base exception class
``_reason(error)``        the driver's message on one line
``_classify(error)``      a failed insert: ``"duplicate"``, ``"retry"``, ``"fail"``
``_add_song_once``        one transaction: a song, its hashes, its sketch
``_meta_rows``            ``meta`` as ``(key, value)`` rows
``_song_rows``            one song's hashes and offsets in a frame range
``_sketch_rows``          ``(song_id, frames)`` of some songs' sketches
``_insert_sketch``        one statement: a stored song's sketch, unless it has one
``_rows_of``              rows of distinct query hashes (of some songs only)
``_vote_rows``            the vote pushdown's SQL
``_size_bytes``           the tables' size on disk
========================  =================================================
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, Self

import numpy as np

from ...core.hashing import Fingerprints
from ...core.matching import Lookup
from ...exceptions import StoreError
from ..base import (
    DuplicateSongError,
    SongInfo,
    SongRecord,
    StoreStats,
    added_sketch_bytes,
    frame_range,
    sketch_array,
    sketch_bytes,
    sketch_ids,
)
from .config import ServerConfig
from .votes import (
    VoteSummary,
    check_vote_params,
    expand_lookup,
    summary_from_rows,
    vote_query_rows,
)

#: Attempts of a song insert that meets a deadlock or lock-wait timeout.
RETRIES = 5

Failure = Literal["duplicate", "retry", "fail"]


class ServerStore(ABC):
    """A fingerprint store in a server database; one connection per store.

    Subclasses open ``self.con`` and set ``self.config`` in ``__init__``.
    """

    config: ServerConfig
    #: The driver's base exception (``pymysql.MySQLError``, ``psycopg.Error``).
    _driver_error: type[Exception] = Exception

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.describe()!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- hooks --------------------------------------------------------------

    @staticmethod
    @abstractmethod
    def _reason(error: BaseException) -> str:
        """The driver's message of ``error``, on one line."""

    @abstractmethod
    def _classify(self, error: Exception) -> Failure:
        """What a driver error raised by :meth:`_add_song_once` means."""

    @abstractmethod
    def _execute(self, query: Any, params: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (none for a statement without a result)."""

    @abstractmethod
    def _add_song_once(
        self, info: SongInfo, hashes: np.ndarray, offsets: np.ndarray, sketch: bytes | None
    ) -> int:
        """Store a song, its hashes and its sketch (if not None) in one transaction; its new id.

        ``sketch`` is the stored bytes (:func:`~dejavu_lab.store.base.sketch_bytes`).
        """

    @abstractmethod
    def _meta_rows(self) -> list[tuple[Any, ...]]:
        """Every ``(key, value)`` row of the ``meta`` table."""

    @abstractmethod
    def _song_rows(self, song_id: int, lo: int, hi: int) -> list[np.ndarray]:
        """Hashes and offsets of one song with ``lo <= offset < hi``, by offset then hash."""

    @abstractmethod
    def _sketch_rows(self, song_ids: np.ndarray) -> list[tuple[Any, ...]]:
        """``(song_id, frames)`` of the stored sketches of ``song_ids`` (sorted, distinct,
        not empty), in one statement; ``frames`` as bytes."""

    @abstractmethod
    def _insert_sketch(self, song_id: int, frames: bytes) -> bool:
        """Insert ``(song_id, frames)`` into ``sketches`` in one statement, if the song is
        stored and has no sketch; whether a row was inserted.

        A writer racing for the same song waits for the other's commit, then inserts
        nothing (False), with no error.
        """

    @abstractmethod
    def _rows_of(self, query: np.ndarray, songs: np.ndarray | None = None) -> list[np.ndarray]:
        """Hashes, song ids and offsets of the stored rows of the distinct
        ``query`` hashes (of ``songs`` only, if given: sorted, distinct)."""

    @abstractmethod
    def _vote_rows(
        self,
        rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        *,
        top_n: int,
        time_tolerance: int,
        distinct_hashes: bool,
    ) -> list[np.ndarray]:
        """The five columns of :func:`~dejavu_lab.store.server.votes.summary_from_rows`,
        counted by the server from :func:`~dejavu_lab.store.server.votes.vote_query_rows`."""

    @abstractmethod
    def _size_bytes(self) -> int:
        """Bytes the tables take, as the server reports them."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection (idempotent)."""

    # -- plumbing -----------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn driver errors into a StoreError naming the database."""
        try:
            yield
        except self._driver_error as error:
            raise StoreError(
                f"{self.config.describe()}: {action} failed: {self._reason(error)}"
            ) from error

    # -- the store contract -------------------------------------------------

    def read_params(self) -> dict[str, Any] | None:
        with self._errors("reading parameters"):
            rows = dict(self._meta_rows())
        if "params" not in rows:
            return None
        return {"params": json.loads(rows["params"]), "version": rows.get("package_version")}

    def content_hashes(self) -> set[str]:
        with self._errors("reading content hashes"):
            return {row[0] for row in self._execute("SELECT content_hash FROM songs")}

    def add_song(
        self, info: SongInfo, fingerprints: Fingerprints, *, sketch: np.ndarray | None = None
    ) -> int:
        """Store a song, its hashes and its sketch; a deadlock or lock timeout is retried.

        Raises
        ------
        DuplicateSongError
            If a song of the same content hash is stored (by this or another process).
        ParameterError
            (a ``ValueError``) If ``sketch`` is not 1-D uint32 values; nothing is sent.
        StoreError
            If the server refuses the song.
        """
        frames = sketch_bytes(info, sketch)
        hashes = np.asarray(fingerprints.hashes, dtype=np.uint32)
        offsets = np.asarray(fingerprints.offsets, dtype=np.int32)
        for attempt in range(RETRIES):
            try:
                return self._add_song_once(info, hashes, offsets, frames)
            except self._driver_error as error:
                failure = self._classify(error)
                if failure == "duplicate":
                    with self._errors("looking up a duplicate"):
                        rows = self._execute(
                            "SELECT song_id FROM songs WHERE content_hash = %s",
                            [info.content_hash],
                        )
                    raise DuplicateSongError(
                        info.content_hash, rows[0][0] if rows else None
                    ) from None
                if failure == "retry" and attempt + 1 < RETRIES:
                    continue
                raise StoreError(
                    f"{self!r}: storing {info.path} failed: {self._reason(error)}"
                ) from error
        raise AssertionError("unreachable")

    def songs(self) -> list[SongRecord]:
        with self._errors("reading songs"):
            rows = self._execute(
                "SELECT song_id, name, path, content_hash, duration_s, num_hashes, "
                "fingerprinted_at FROM songs ORDER BY song_id"
            )
        return [SongRecord(int(r[0]), r[1], r[2], r[3], float(r[4]), int(r[5]), r[6]) for r in rows]

    def song_sketches(self, song_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored sketches of ``song_ids`` (one statement): uint32, by song id.

        Songs without a sketch and unknown ids are absent.
        """
        ids = sketch_ids(song_ids)
        if len(ids) == 0:
            return {}
        with self._errors("reading sketches"):
            rows = self._sketch_rows(ids)
        return {int(song_id): sketch_array(bytes(frames)) for song_id, frames in rows}

    def song_ids_with_sketch(self) -> set[int]:
        """The ids of the songs whose sketch is stored (one statement over the ids alone).

        Returns
        -------
        set of int
        """
        with self._errors("listing the songs with a sketch"):
            rows = self._execute("SELECT song_id FROM sketches")
        return {int(row[0]) for row in rows}

    def add_sketch(self, song_id: int, sketch: np.ndarray) -> bool:
        """Store the sketch of a stored song that has none (one statement; a deadlock
        or lock timeout is retried).

        Parameters
        ----------
        song_id : int
        sketch : np.ndarray, shape (n_frames,), uint32
            One value a spectrogram frame (:meth:`add_song`'s ``sketch``).

        Returns
        -------
        bool
            True if stored; False if the song has one already (left as it is), also
            when another writer stored it first.

        Raises
        ------
        ParameterError
            (a ``ValueError``) For a sketch that is not 1-D uint32 values; nothing is sent.
        StoreError
            If no song ``song_id`` is stored, or the server refuses the sketch.
        """
        frames = added_sketch_bytes(song_id, sketch)
        song = int(song_id)
        with self._errors(f"storing the sketch of song {song}"):
            for attempt in range(RETRIES):
                try:
                    added = self._insert_sketch(song, frames)
                    break
                except self._driver_error as error:
                    if self._classify(error) != "retry" or attempt + 1 == RETRIES:
                        raise
            if added:
                return True
            known = self._execute("SELECT COUNT(*) FROM songs WHERE song_id = %s", [song])
        if not known[0][0]:
            raise StoreError(f"no song {song} is stored in {self!r}: cannot add its sketch")
        return False

    def song_fingerprints(
        self, song_id: int, start: int | None = None, stop: int | None = None
    ) -> Fingerprints:
        lo, hi = frame_range(start, stop)
        with self._errors(f"reading the hashes of song {song_id}"):
            hashes, offsets = self._song_rows(int(song_id), lo, hi)
        return Fingerprints(hashes.astype(np.uint32), offsets.astype(np.int32))

    def lookup_songs(self, hashes: np.ndarray, song_ids: np.ndarray) -> Lookup:
        """:meth:`lookup` restricted to ``song_ids``, filtered by the server."""
        if len(song_ids) == 0:
            return Lookup.empty()
        query = np.asarray(hashes, dtype=np.uint32)
        songs = np.unique(np.asarray(song_ids)).astype(np.int64)
        with self._errors("looking hashes up"):
            rows = self._rows_of(query, songs)
        return expand_lookup(query, *rows)

    def lookup(
        self, hashes: np.ndarray, *, max_postings: int | None = None, max_rows: int | None = None
    ) -> Lookup:
        """All rows of ``hashes``, fetched in batches of distinct hashes.

        The stop-list (``max_postings``) is applied to the fetched rows
        (:func:`~dejavu_lab.store.server.votes.expand_lookup`): the same rows as
        the DuckDB store's, but the server still sends those of common hashes.
        So is a row budget (``max_rows``).
        """
        query = np.asarray(hashes, dtype=np.uint32)
        with self._errors("looking hashes up"):
            rows = self._rows_of(query)
        return expand_lookup(query, *rows, max_postings=max_postings, max_rows=max_rows)

    def vote(
        self,
        query_hashes: np.ndarray,
        query_offsets: np.ndarray,
        *,
        top_n: int = 50,
        time_tolerance: int = 1,
        distinct_hashes: bool = True,
        variants: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> VoteSummary:
        """The offset histogram counted in SQL; each song's top bins come back.

        Equal to ``summarize_votes(count_votes(query_offsets, lookup, time_tolerance=...,
        query_hashes=query_hashes if distinct_hashes else None), top_n=...,
        time_tolerance=...)`` where ``lookup`` is ``self.lookup(query_hashes)``, or,
        with ``variants``, ``self.lookup(variants[0])`` with its query indices
        mapped through ``variants[1]``.

        Parameters
        ----------
        query_hashes : np.ndarray, shape (n,), uint32
        query_offsets : np.ndarray, shape (n,), int32
            Frame of each query hash.
        top_n : int
            Bins returned per song (by votes in their window).
        time_tolerance : int
            Window half-width (frames) of ``windowed``.
        distinct_hashes : bool
            Count each distinct hash value once per bin and window (see ``count_votes``).
        variants : (np.ndarray, np.ndarray), optional
            Hashes to look up and the index of each one's original in
            ``query_hashes`` (``Hasher.lookup_variants``).
        """
        check_vote_params(top_n, time_tolerance)
        rows = vote_query_rows(query_hashes, query_offsets, variants)
        if len(rows[0]) == 0:
            return summary_from_rows(*(np.zeros(0, np.int64) for _ in range(5)))
        with self._errors("counting votes"):
            columns = self._vote_rows(
                rows,
                top_n=int(top_n),
                time_tolerance=int(time_tolerance),
                distinct_hashes=distinct_hashes,
            )
        return summary_from_rows(*columns)

    def stats(self) -> StoreStats:
        with self._errors("reading statistics"):
            count, hashes, seconds = self._execute(
                "SELECT COUNT(*), COALESCE(SUM(num_hashes), 0), COALESCE(SUM(duration_s), 0) "
                "FROM songs"
            )[0]
            size = self._size_bytes()
        return StoreStats(int(count), int(hashes), int(size), float(seconds))

    def get_num_fingerprints(self) -> int:
        """Number of stored hashes (Dejavu's name)."""
        return self.stats().num_fingerprints
