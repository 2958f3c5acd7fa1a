"""The embedded default store: one DuckDB file (or ``:memory:``).

A song, its hashes and its sketch are inserted in one transaction, so a song
is visible only once all its hashes are; a killed writer leaves nothing
half-stored. ``sketches`` is added to a database of before it when the file is
opened for writing; read-only, such a database simply has no sketches. Its
songs' sketches can be added later, one transaction each (:meth:`DuckDBStore.add_sketch`).
The tables and every statement are in :mod:`~dejavu_lab.store.duckdb_sql`.

Lookups go through a :class:`~dejavu_lab.store.indexes.hash_index.HashIndex` (``index="memory"``,
the default) or through one SQL join per query (``index="sql"``). The index of
a database file is kept in a sidecar next to it, ``<path>.index``, opened
memory-mapped in milliseconds; it is rebuilt (one sorted pass over the table,
streamed, DuckDB's memory capped) when the database's songs are no longer the
ones it was built from, as told by :meth:`DuckDBStore.index_signature`
(:mod:`~dejavu_lab.store.duckdb_sidecars`).

Many processes share a database file: DuckDB lets one process open it for
writing, or several for reading, never both. So a store holds no connection
between calls: it opens one read-only to read (and keeps what it read, the
songs and the index signature, until the file changes: :meth:`DuckDBStore.data_version`),
and read-write only for the time a write takes (or a short batch of writes,
:meth:`DuckDBStore.writing`). A process that finds the file locked waits and
retries, up to ``lock_timeout`` seconds, then raises
:class:`~dejavu_lab.exceptions.StoreLockedError` naming the file
(:mod:`~dejavu_lab.store.duckdb_connection`). Readers see the songs added
meanwhile at their next call; the sidecars are rebuilt for the new songs by the
first reader that needs them, written beside and renamed into place.
An in-memory database (``:memory:``) keeps its one connection.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from ..core.hashing import Fingerprints
from ..core.matching import Lookup
from ..core.verify import Stretches
from ..exceptions import ParameterError, StoreError
from . import duckdb_sql as sql
from .base import (
    SongInfo,
    SongRecord,
    StoreStats,
    added_sketch_bytes,
    frame_range,
    restrict_songs,
    sketch_bytes,
    sketch_ids,
)
from .duckdb_connection import Backoff, Contested, connect, file_version, lock_timeout_s
from .duckdb_sidecars import DuckDBSidecars
from .indexes.hash_index import HashIndex, skip_common
from .indexes.song_index import SongIndex
from .indexes.song_sketches import SongSketches
from .indexes.song_stretches import SongStretches


class DuckDBStore:
    """Fingerprints in a DuckDB database file.

    Parameters
    ----------
    path : str or Path
        Database file, created if missing; ``":memory:"`` for a throwaway one.
    read_only : bool
        Never write (writing methods raise :class:`StoreError`); a missing file
        is an error rather than created.
    index : {"memory", "sql"}
        How lookups are answered (see the module docstring).
    lock_timeout : float, optional
        Seconds to wait for another process's lock on the file (default
        :data:`~dejavu_lab.store.duckdb_connection.LOCK_TIMEOUT_S`, or
        ``$DEJAVU_LAB_LOCK_TIMEOUT``).

    Raises
    ------
    StoreLockedError
        If the file stays locked by another process for ``lock_timeout`` s.
    """

    def __init__(
        self,
        path: str | Path = "fingerprints.duckdb",
        *,
        read_only: bool = False,
        index: str = "memory",
        lock_timeout: float | None = None,
    ) -> None:
        self.path = str(path)
        if index not in ("memory", "sql"):
            raise ParameterError(f"index={index!r} is not allowed: expected 'memory' or 'sql'")
        self.lock_timeout = lock_timeout_s(lock_timeout)
        self.index_mode = index
        self.read_only = read_only
        # The indexes beside the file, loaded once while it is unchanged.
        self._sidecars = DuckDBSidecars(self.path)
        # The one connection of an in-memory database, or of a batch of writes.
        self._con: duckdb.DuckDBPyConnection | None = None
        # What was read at a data version: {"version": ..., "signature": ..., ...}.
        self._seen: dict[str, Any] = {}
        # The data version read once for the reads of a pinned() block.
        self._pinned_version: tuple[int, ...] | None = None
        self._closed = False
        if self.path == ":memory:":
            self._con = self._connect(write=True)
            sql.create_schema(self._con)
            return
        parent = Path(self.path).expanduser().resolve().parent
        if not parent.exists():
            raise StoreError(f"cannot create database {self.path}: no directory {parent}")
        if read_only and not Path(self.path).exists():
            raise StoreError(f"no database at {self.path}")
        if not read_only and not self._has_schema():
            # A new file, or one written before the sketches table: CREATE ... IF NOT EXISTS.
            with self.writing() as con:
                sql.create_schema(con)

    def __repr__(self) -> str:
        return f"DuckDBStore({self.path!r})"

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connections ----------------------------------------------------

    def _connect(self, *, write: bool) -> duckdb.DuckDBPyConnection:
        """A new connection, retrying while another process holds the file's lock."""
        if self._closed:
            raise StoreError(f"database {self.path} is closed")
        return connect(self.path, write=write, lock_timeout=self.lock_timeout)

    @contextlib.contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to read from, held only inside the ``with`` block."""
        if self._con is not None:
            yield self._con
            return
        con = self._connect(write=False)
        try:
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold the file's write lock inside the ``with`` block (writes in it share it).

        Other processes wait to read or write meanwhile: keep it short.

        Raises
        ------
        StoreError
            If the store was opened read-only.
        StoreLockedError
            If another process holds the file for ``lock_timeout`` s.
        """
        if self.read_only:
            raise StoreError(f"database {self.path} was opened read-only: cannot write to it")
        if self._con is not None:
            yield self._con
            return
        con = self._connect(write=True)
        self._con = con
        try:
            yield con
        finally:
            self._con = None
            self._seen = {}  # what was read before may be stale now
            con.close()

    def _has_schema(self) -> bool:
        """Whether the file has every table of this version."""
        if not Path(self.path).exists():
            return False
        with self.connection() as con:
            return sql.has_tables(con)

    def data_version(self) -> tuple[int, ...] | None:
        """Changes whenever the file is written (by any process); None in memory.

        The file's and its write-ahead log's modification times and sizes: a
        reader compares it with the last one seen to know that songs were added.
        """
        if self.path == ":memory:":
            return None
        if self._pinned_version is not None:
            return self._pinned_version
        return file_version(self.path)

    @contextlib.contextmanager
    def pinned(self) -> Iterator[None]:
        """Read :meth:`data_version` once for all the reads inside the block.

        The peak check reads up to ten songs' stretches a query, each read
        checking the file's version (two ``stat`` calls): inside the block
        they share one check, as if the reads were one. Songs another process
        adds meanwhile are seen at the first read after the block.
        """
        if self._pinned_version is not None or self.path == ":memory:":
            yield
            return
        self._pinned_version = self.data_version()
        try:
            yield
        finally:
            self._pinned_version = None

    def _current(self, key: str, read: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        """``read(con)``, reused while the file is unchanged (in memory: until a write)."""
        version = self.data_version()
        if "version" not in self._seen or self._seen["version"] != version:
            self._seen = {"version": version}
            self._sidecars.drop()
        if key not in self._seen:
            with self.connection() as con:
                self._seen[key] = read(con)
        return self._seen[key]

    # -- parameters -----------------------------------------------------

    def read_params(self) -> dict[str, Any] | None:
        return self._current("params", sql.read_params)  # type: ignore[no-any-return]

    def write_params(self, params: Mapping[str, Any], version: str) -> None:
        with self.writing() as con:
            sql.write_params(con, params, version)
        self._seen = {}

    # -- songs ----------------------------------------------------------

    def content_hashes(self) -> set[str]:
        with self.connection() as con:
            return sql.content_hashes(con)

    def add_song(
        self, info: SongInfo, fingerprints: Fingerprints, *, sketch: np.ndarray | None = None
    ) -> int:
        """Store a song, all its hashes and its sketch in one transaction; return its id.

        Parameters
        ----------
        info : SongInfo
        fingerprints : Fingerprints
            Its hashes (uint32) and their offsets (frames, int32).
        sketch : np.ndarray, shape (n_frames,), uint32, optional
            One value a spectrogram frame; None stores none.

        Returns
        -------
        int
            The new song's id.

        Raises
        ------
        DuplicateSongError
            If a song of the same content hash is stored, also when another store of
            this process committed it while this one was storing it; nothing of this
            song is stored.
        ParameterError
            (a ``ValueError``) For a sketch that is not 1-D uint32 values; nothing is written.
        StoreError
            If the store was opened read-only.
        """
        frames = sketch_bytes(info, sketch)  # checked before anything is written
        frame = pd.DataFrame(
            {
                "hash": fingerprints.hashes.astype(np.uint32, copy=False),
                "offset": fingerprints.offsets.astype(np.int32, copy=False),
            }
        )
        backoff = Backoff(self.lock_timeout)
        while True:
            with self.writing() as con:
                try:
                    song_id = sql.insert_song(con, info, frame, len(fingerprints), frames)
                    break
                except Contested as contested:
                    # Another connection of this process (another process would have
                    # waited for the file's lock) is committing a song of this content
                    # hash: once it has, the next try raises DuplicateSongError; if its
                    # commit fails, the next try stores this song.
                    if backoff.expired():
                        raise StoreError(
                            f"database {self.path}: cannot store {info.path}: another "
                            "connection of this process was storing a song of the same "
                            f"content hash ({info.content_hash}) for {self.lock_timeout:g} s"
                        ) from contested.__cause__
            backoff.wait()
        self._seen = {}
        self._sidecars.drop()
        return song_id

    def songs(self) -> list[SongRecord]:
        return list(self._current("songs", sql.read_songs))

    def song_sketches(self, song_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored sketches of ``song_ids``.

        In ``index="memory"`` mode of a database file, one ``pread`` a song from
        the song sketches (:mod:`dejavu_lab.store.indexes.song_sketches`): a query of the
        file opens a connection, about 20 ms. Otherwise one query.

        Returns
        -------
        dict of int to np.ndarray, shape (n_frames,), uint32
            By song id; songs without a sketch and unknown ids are absent (a
            database written before sketches, opened read-only, has none).
        """
        ids = sketch_ids(song_ids)
        if len(ids) == 0:
            return {}
        sidecar = self.load_song_sketches()
        if sidecar is not None:
            return sidecar.read(ids.tolist())
        with self.connection() as con:
            return sql.read_sketches(con, ids.tolist())

    def song_ids_with_sketch(self) -> set[int]:
        """The ids of the songs whose sketch is stored (one query of the ids alone).

        Returns
        -------
        set of int
            Empty for a database written before sketches, opened read-only (it has
            no sketches table).
        """
        with self.connection() as con:
            return sql.sketched_song_ids(con)

    def add_sketch(self, song_id: int, sketch: np.ndarray) -> bool:
        """Store the sketch of a stored song that has none, in one transaction.

        Parameters
        ----------
        song_id : int
        sketch : np.ndarray, shape (n_frames,), uint32
            One value a spectrogram frame (:meth:`add_song`'s ``sketch``).

        Returns
        -------
        bool
            True if stored; False if the song has one already (left as it is).

        Raises
        ------
        ParameterError
            (a ``ValueError``) For a sketch that is not 1-D uint32 values; nothing is written.
        StoreError
            If no song ``song_id`` is stored, or the store was opened read-only.
        """
        frames = added_sketch_bytes(song_id, sketch)  # checked before anything is written
        song = int(song_id)
        backoff = Backoff(self.lock_timeout)
        while True:
            with self.writing() as con:
                try:
                    added = sql.insert_sketch(con, song, frames)
                except (duckdb.ConstraintException, duckdb.TransactionException):
                    # Another connection of this process is storing this song's sketch
                    # (another process would have waited for the file's lock): once it
                    # commits, or rolls back, the next try returns False, or stores it.
                    if backoff.expired():
                        raise
                else:
                    if added:
                        return True
                    known = sql.has_song(con, song)
                    break
            backoff.wait()
        if not known:
            raise StoreError(
                f"no song {song} is stored in database {self.path}: cannot add its sketch"
            )
        return False

    def song_fingerprints(
        self, song_id: int, start: int | None = None, stop: int | None = None
    ) -> Fingerprints:
        """A song's rows, sorted by offset then hash (optionally a range of offsets).

        In ``index="memory"`` mode they are read from the song stretches (one
        read of the blocks around the stretch, whatever the collection's size):
        the peak check asks for ten songs' stretches a query.
        """
        if self.index_mode == "memory":
            hashes, offsets = self.load_song_stretches().rows(song_id, start, stop)
            return Fingerprints(hashes, offsets)
        lo, hi = frame_range(start, stop)
        with self.connection() as con:
            return sql.song_rows(con, song_id, lo, hi)

    def song_stretches(
        self, song_ids: Sequence[int], start: Sequence[int], stop: Sequence[int]
    ) -> Stretches:
        """Several songs' rows with ``start <= offset < stop`` (and possibly more around them).

        The stretches :meth:`song_fingerprints` reads one at a time, for the
        peak check's candidates at once. In ``index="memory"`` mode each
        stretch is the whole blocks around it, read from the song stretches
        (one read a column and song); otherwise exactly its rows.
        """
        if self.index_mode == "memory":
            hashes, offsets, bounds = self.load_song_stretches().blocks_of(
                np.asarray(song_ids, np.int64),
                np.asarray(start, np.int64),
                np.asarray(stop, np.int64),
            )
            return Stretches(
                hashes, offsets, bounds, np.asarray(start, np.int64), np.asarray(stop, np.int64)
            )
        return Stretches.read(self.song_fingerprints, song_ids, start, stop)

    # -- indexes --------------------------------------------------------

    def index_signature(self) -> dict[str, Any]:
        """What the index sidecar must have been built from.

        The database's identity, its songs (count, largest id, hashes, a digest
        of their content hashes), its rows and its parameters: adding a song
        changes it, and so does replacing the file by another database.
        """
        return dict(self._current("signature", sql.read_signature))

    def load_index(self) -> HashIndex:
        """Load (once while the file is unchanged) the index of every stored hash.

        A database file's index is opened from its sidecar (``<path>.index``),
        or built and written there if it is missing or stale; where the sidecar
        cannot be written (a read-only folder) it is built in memory.
        """
        return self._sidecars.hash_index(self._current, self.connection)

    def load_song_index(self) -> SongIndex:
        """Load (once) the song-major index (:mod:`dejavu_lab.store.indexes.song_index`).

        Opened from its sidecar (``<path>.songs``) or built there, song by song
        from the table (a few songs' rows sorted at a time), if missing or stale.
        """
        return self._sidecars.song_index(self._current, self.connection)

    def load_song_stretches(self) -> SongStretches:
        """Load (once) each song's rows by offset (:mod:`dejavu_lab.store.indexes.song_stretches`).

        Opened from its sidecar (``<path>.stretches``) or built there from the
        song index, song by song, if missing or stale.
        """
        return self._sidecars.song_stretches(self._current, self.connection)

    def load_song_sketches(self) -> SongSketches | None:
        """Load (once) the songs' sketches (:mod:`dejavu_lab.store.indexes.song_sketches`).

        Opened from its sidecar (``<path>.sketches``) or built there from the
        sketches table if missing or stale. None where there is no sidecar to
        read: ``index="sql"``, an in-memory database, a batch of writes, or a
        folder the sidecar cannot be written to (sketches are then read by SQL,
        rather than all held in memory).
        """
        if self.index_mode != "memory" or self.path == ":memory:" or self._con is not None:
            return None
        return self._sidecars.song_sketches(self._current, self.connection)

    # -- lookups --------------------------------------------------------

    def lookup_songs(self, hashes: np.ndarray, song_ids: np.ndarray) -> Lookup:
        """The rows of :meth:`lookup` (without a stop-list) of the given songs only.

        In ``index="memory"`` mode, read from the song index: the cost grows
        with the songs asked about, not with the collection.
        """
        if self.index_mode == "memory":
            return self.load_song_index().lookup(hashes, song_ids)
        return restrict_songs(self.lookup_sql(hashes), song_ids)

    def lookup(
        self, hashes: np.ndarray, *, max_postings: int | None = None, max_rows: int | None = None
    ) -> Lookup:
        if self.index_mode == "memory":
            # The index skips common hashes before gathering a row of theirs.
            return self.load_index().lookup(hashes, max_postings=max_postings, max_rows=max_rows)
        return self.lookup_sql(hashes, max_postings=max_postings, max_rows=max_rows)

    def lookup_sql(
        self, hashes: np.ndarray, *, max_postings: int | None = None, max_rows: int | None = None
    ) -> Lookup:
        """The same rows as :meth:`lookup`, through one SQL join.

        The stop-list (``max_postings``) and the row budget (``max_rows``) are
        applied to the joined rows (:func:`~dejavu_lab.store.indexes.hash_index.skip_common`): the
        join still reads the rows of common hashes.
        """
        if len(hashes) == 0:
            return Lookup.empty()
        query = sql.hash_query(hashes)
        with self.connection() as con:
            found = sql.join_hashes(con, query)
        return skip_common(found, max_postings, len(hashes), max_rows=max_rows)

    # -- size -----------------------------------------------------------

    def stats(self) -> StoreStats:
        with self.connection() as con:
            num_songs, num_fingerprints, duration_s = sql.song_totals(con)
            free = sql.free_bytes(con) if self.path != ":memory:" else 0
        size = 0
        if self.path != ":memory:":
            # Every write closes its connection, which checkpoints the log into the file.
            size = os.path.getsize(self.path)
            wal = self.path + ".wal"
            if os.path.exists(wal):
                size += os.path.getsize(wal)
        return StoreStats(num_songs, num_fingerprints, size, duration_s, free_bytes=free)

    def get_num_fingerprints(self) -> int:
        """Number of stored hashes (Dejavu's name)."""
        return self.stats().num_fingerprints

    def close(self) -> None:
        self._sidecars.drop()
        self._seen = {}
        if self._con is not None and self.path == ":memory:":
            self._con.close()
            self._con = None
        self._closed = True
