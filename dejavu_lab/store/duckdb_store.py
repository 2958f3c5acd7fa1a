"""The embedded default store: one DuckDB file (or ``:memory:``).

Tables::

    meta(key VARCHAR PRIMARY KEY, value VARCHAR)       -- params, version, schema
    songs(song_id, name, path, content_hash UNIQUE, duration_s, num_hashes,
          fingerprinted_at)
    fingerprints(hash UINTEGER, song_id INTEGER, "offset" INTEGER)
    sketches(song_id INTEGER PRIMARY KEY, frames BLOB)  -- little-endian uint32 a frame

A song, its hashes and its sketch are inserted in one transaction, so a song
is visible only once all its hashes are; a killed writer leaves nothing
half-stored. ``sketches`` is added to a database of before it when the file is
opened for writing; read-only, such a database simply has no sketches. Its
songs' sketches can be added later, one transaction each (:meth:`DuckDBStore.add_sketch`).
Lookups go through a :class:`~dejavu_lab.store.indexes.hash_index.HashIndex` (``index="memory"``,
the default) or through one SQL join per query (``index="sql"``). The index of
a database file is kept in a sidecar next to it, ``<path>.index``, opened
memory-mapped in milliseconds; it is rebuilt (one sorted pass over the table,
streamed, DuckDB's memory capped) when the database's songs are no longer the
ones it was built from, as told by :meth:`DuckDBStore.index_signature`.

Many processes share a database file: DuckDB lets one process open it for
writing, or several for reading, never both. So a store holds no connection
between calls: it opens one read-only to read (and keeps what it read, the
songs and the index signature, until the file changes: :meth:`DuckDBStore.data_version`),
and read-write only for the time a write takes (or a short batch of writes,
:meth:`DuckDBStore.writing`). A process that finds the file locked waits and
retries, up to ``lock_timeout`` seconds, then raises
:class:`~dejavu_lab.exceptions.StoreLockedError` naming the file. Readers see the
songs added meanwhile at their next call; the sidecars are rebuilt for the new
songs by the first reader that needs them, written beside and renamed into place.
An in-memory database (``:memory:``) keeps its one connection.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import pandas as pd

from ..core.hashing import Fingerprints
from ..core.matching import Lookup
from ..core.verify import Stretches
from ..exceptions import ParameterError, StoreError, StoreLockedError
from .base import (
    SCHEMA_VERSION,
    DuplicateSongError,
    SongInfo,
    SongRecord,
    StoreStats,
    added_sketch_bytes,
    frame_range,
    params_to_json,
    restrict_songs,
    sketch_array,
    sketch_bytes,
    sketch_ids,
)
from .indexes.hash_index import HashIndex, IndexLayout, IndexWriter, sidecar_path, skip_common
from .indexes.song_index import SongIndex, SongIndexWriter, offset_dtype, song_sidecar_path
from .indexes.song_sketches import SongSketches, sketch_sidecar_path
from .indexes.song_stretches import SongStretches, stretch_sidecar_path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE SEQUENCE IF NOT EXISTS song_id_seq START 1;
CREATE TABLE IF NOT EXISTS songs (
    song_id INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL UNIQUE,
    duration_s DOUBLE NOT NULL,
    num_hashes BIGINT NOT NULL,
    fingerprinted_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS fingerprints (
    hash UINTEGER NOT NULL,
    song_id INTEGER NOT NULL,
    "offset" INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sketches (song_id INTEGER PRIMARY KEY, frames BLOB NOT NULL);
"""
#: Tables every database written by this version has (older ones lack ``sketches``).
_TABLES = ("meta", "sketches")


#: DuckDB's memory while it sorts every row for the index; it spills to disk
#: beyond. (Unlimited, sorting the 10^9 rows of 10,000 songs took 20 GB.)
INDEX_SORT_MEMORY = "2GB"
#: Hashes stored in more rows than this fraction of the songs are laid out
#: after the others in the index (``IndexLayout.common_postings``): a query
#: with a stop-list of that fraction never maps their pages (a quarter of the
#: rows at 10,000 songs, see ``benchmarks/README.md``).
INDEX_COMMON_FRACTION = 0.25
#: ... but never fewer rows than this (small collections need no split).
INDEX_COMMON_MIN_ROWS = 1000
logger = logging.getLogger(__name__)
_Index = TypeVar("_Index")

#: How long a process waits for another one's lock on the file before giving up (s);
#: ``$DEJAVU_LAB_LOCK_TIMEOUT`` overrides it.
LOCK_TIMEOUT_S = 120.0
#: Longest and shortest pause between two tries to open a locked file (s).
_RETRY_MAX_S = 0.1
_RETRY_MIN_S = 0.005

#: Held while a connection is opened, so that a process opens one at a time. Threads
#: opening the first connections to a file at once otherwise see some of their
#: transactions fail to find DuckDB's ``pandas_scan`` (``CatalogException``), as if
#: they had the database instance before its first connection registered its scans.
_CONNECT_LOCK = threading.Lock()

#: Rows fetched at a time while building the index (vectors of 2048 rows).
_INDEX_CHUNK_VECTORS = 512
#: Rows sorted at a time (whole songs) while building the song index.
_SONG_INDEX_CHUNK_ROWS = 1 << 23


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
        :data:`LOCK_TIMEOUT_S`, or ``$DEJAVU_LAB_LOCK_TIMEOUT``).

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
        if lock_timeout is None:
            text = os.environ.get("DEJAVU_LAB_LOCK_TIMEOUT") or str(LOCK_TIMEOUT_S)
            try:
                lock_timeout = float(text)
            except ValueError:
                raise ParameterError(
                    f"DEJAVU_LAB_LOCK_TIMEOUT={text!r} is not allowed: expected seconds >= 0"
                ) from None
        if isinstance(lock_timeout, bool) or not lock_timeout >= 0:
            raise ParameterError(
                f"lock_timeout={lock_timeout!r} is not allowed: expected seconds >= 0"
            )
        self.lock_timeout = float(lock_timeout)
        self.index_mode = index
        self.read_only = read_only
        self._index: HashIndex | None = None
        self._song_index: SongIndex | None = None
        self._stretches: SongStretches | None = None
        self._sketches: SongSketches | None = None
        # The one connection of an in-memory database, or of a batch of writes.
        self._con: duckdb.DuckDBPyConnection | None = None
        # What was read at a data version: {"version": ..., "signature": ..., ...}.
        self._seen: dict[str, Any] = {}
        # The data version read once for the reads of a pinned() block.
        self._pinned_version: tuple[int, ...] | None = None
        self._closed = False
        if self.path == ":memory:":
            self._con = self._connect(write=True)
            self._create_schema(self._con)
            return
        parent = Path(self.path).expanduser().resolve().parent
        if not parent.exists():
            raise StoreError(f"cannot create database {self.path}: no directory {parent}")
        if read_only and not Path(self.path).exists():
            raise StoreError(f"no database at {self.path}")
        if not read_only and not self._has_schema():
            # A new file, or one written before the sketches table: CREATE ... IF NOT EXISTS.
            with self.writing() as con:
                self._create_schema(con)

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
        deadline = time.monotonic() + self.lock_timeout
        pause = _RETRY_MIN_S
        while True:
            try:
                with _CONNECT_LOCK:
                    return duckdb.connect(
                        self.path, read_only=not write and self.path != ":memory:"
                    )
            except duckdb.IOException as error:
                message = str(error)
                if "lock" not in message.lower():
                    raise StoreError(f"cannot open database {self.path}: {message}") from error
                if time.monotonic() >= deadline:
                    raise StoreLockedError(
                        f"database {self.path} is in use by another process: waited "
                        f"{self.lock_timeout:g} s to {'write' if write else 'read'} it. Wait for "
                        "that process to finish, raise lock_timeout ($DEJAVU_LAB_LOCK_TIMEOUT) "
                        f"or use another --db ({message.splitlines()[0]})"
                    ) from error
            except duckdb.Error as error:
                raise StoreError(f"cannot open database {self.path}: {error}") from error
            time.sleep(pause)
            pause = min(2 * pause, _RETRY_MAX_S)

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
            found = con.execute(
                "SELECT count(DISTINCT table_name) FROM information_schema.tables "
                "WHERE table_name IN (SELECT unnest(?::VARCHAR[]))",
                [list(_TABLES)],
            ).fetchall()[0][0]
        return int(found) == len(_TABLES)

    @staticmethod
    def _create_schema(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(_SCHEMA)
        con.execute(
            "INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
            [str(SCHEMA_VERSION)],
        )
        # A new database at the same path never takes an older one's index sidecar.
        con.execute(
            "INSERT INTO meta VALUES ('database_id', uuid()::VARCHAR) ON CONFLICT DO NOTHING"
        )

    def data_version(self) -> tuple[int, ...] | None:
        """Changes whenever the file is written (by any process); None in memory.

        The file's and its write-ahead log's modification times and sizes: a
        reader compares it with the last one seen to know that songs were added.
        """
        if self.path == ":memory:":
            return None
        if self._pinned_version is not None:
            return self._pinned_version
        version: list[int] = []
        for name in (self.path, self.path + ".wal"):
            try:
                stat = os.stat(name)
            except FileNotFoundError:
                version += [0, 0, 0]
            else:
                version += [stat.st_mtime_ns, stat.st_size, stat.st_ino]
        return tuple(version)

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
            self._drop_indexes()
        if key not in self._seen:
            with self.connection() as con:
                self._seen[key] = read(con)
        return self._seen[key]

    # -- parameters -----------------------------------------------------

    def read_params(self) -> dict[str, Any] | None:
        return self._current("params", _read_params)  # type: ignore[no-any-return]

    def write_params(self, params: Mapping[str, Any], version: str) -> None:
        with self.writing() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(
                    "INSERT INTO meta VALUES ('params', ?), ('package_version', ?) "
                    "ON CONFLICT DO NOTHING",
                    [params_to_json(params), version],
                )
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        self._seen = {}

    # -- songs ----------------------------------------------------------

    def content_hashes(self) -> set[str]:
        with self.connection() as con:
            return {row[0] for row in con.execute("SELECT content_hash FROM songs").fetchall()}

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
        deadline = time.monotonic() + self.lock_timeout
        pause = _RETRY_MIN_S
        while True:
            with self.writing() as con:
                try:
                    song_id = self._insert_song(con, info, frame, len(fingerprints), frames)
                    break
                except _Contested as contested:
                    # Another connection of this process (another process would have
                    # waited for the file's lock) is committing a song of this content
                    # hash: once it has, the next try raises DuplicateSongError; if its
                    # commit fails, the next try stores this song.
                    if time.monotonic() >= deadline:
                        raise StoreError(
                            f"database {self.path}: cannot store {info.path}: another "
                            "connection of this process was storing a song of the same "
                            f"content hash ({info.content_hash}) for {self.lock_timeout:g} s"
                        ) from contested.__cause__
            time.sleep(pause)
            pause = min(2 * pause, _RETRY_MAX_S)
        self._seen = {}
        self._drop_indexes()
        return song_id

    @staticmethod
    def _insert_song(
        con: duckdb.DuckDBPyConnection,
        info: SongInfo,
        frame: pd.DataFrame,
        num_hashes: int,
        sketch: bytes | None,
    ) -> int:
        """Insert a song, its hashes and its sketch in a transaction; its new id.

        Raises :class:`DuplicateSongError` if the song is stored, and
        :class:`_Contested` (nothing stored) if another connection stored or is
        committing a song of the same content hash since the transaction began.
        """
        con.execute("BEGIN TRANSACTION")
        try:
            existing = con.execute(
                "SELECT song_id FROM songs WHERE content_hash = ?", [info.content_hash]
            ).fetchall()
            if existing:
                raise DuplicateSongError(info.content_hash, int(existing[0][0]))
            song_id = int(con.execute("SELECT nextval('song_id_seq')").fetchall()[0][0])
            try:
                # First, so that a constraint error here can only be the content hash's
                # (its id is new): a song another connection committed meanwhile.
                con.execute(
                    "INSERT INTO songs (song_id, name, path, content_hash, duration_s, "
                    "num_hashes) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        song_id,
                        info.name,
                        info.path,
                        info.content_hash,
                        info.duration_s,
                        num_hashes,
                    ],
                )
            except duckdb.ConstraintException as error:
                raise _Contested() from error
            con.register("new_fingerprints", frame)
            try:
                con.execute(
                    'INSERT INTO fingerprints SELECT hash, ?::INTEGER, "offset" '
                    "FROM new_fingerprints",
                    [song_id],
                )
            finally:
                con.unregister("new_fingerprints")
            if sketch is not None:
                con.execute("INSERT INTO sketches VALUES (?, ?)", [song_id, sketch])
            try:
                con.execute("COMMIT")
            except duckdb.TransactionException as error:
                # Only a connection committing the same key at once conflicts here: the
                # new song's id is new, and so is its sketch's row.
                raise _Contested() from error
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")  # none left to roll back if the COMMIT failed
            raise
        return song_id

    def songs(self) -> list[SongRecord]:
        return list(self._current("songs", _read_songs))

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
            try:
                rows = con.execute(
                    "SELECT song_id, frames FROM sketches "
                    "WHERE song_id IN (SELECT unnest(?::BIGINT[]))",
                    [ids.tolist()],
                ).fetchall()
            except duckdb.CatalogException:  # no sketches table: an older database
                return {}
        return {int(song_id): sketch_array(frames) for song_id, frames in rows}

    def song_ids_with_sketch(self) -> set[int]:
        """The ids of the songs whose sketch is stored (one query of the ids alone).

        Returns
        -------
        set of int
            Empty for a database written before sketches, opened read-only (it has
            no sketches table).
        """
        with self.connection() as con:
            try:
                ids = con.execute("SELECT song_id FROM sketches").fetchnumpy()["song_id"]
            except duckdb.CatalogException:  # no sketches table: an older database
                return set()
        return set(np.asarray(ids, dtype=np.int64).tolist())

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
        deadline = time.monotonic() + self.lock_timeout
        pause = _RETRY_MIN_S
        while True:
            with self.writing() as con:
                try:
                    added = self._insert_sketch(con, song, frames)
                except (duckdb.ConstraintException, duckdb.TransactionException):
                    # Another connection of this process is storing this song's sketch
                    # (another process would have waited for the file's lock): once it
                    # commits, or rolls back, the next try returns False, or stores it.
                    if time.monotonic() >= deadline:
                        raise
                else:
                    if added:
                        return True
                    known = con.execute(
                        "SELECT count(*) FROM songs WHERE song_id = ?", [song]
                    ).fetchall()[0][0]
                    break
            time.sleep(pause)
            pause = min(2 * pause, _RETRY_MAX_S)
        if not known:
            raise StoreError(
                f"no song {song} is stored in database {self.path}: cannot add its sketch"
            )
        return False

    @staticmethod
    def _insert_sketch(con: duckdb.DuckDBPyConnection, song_id: int, frames: bytes) -> bool:
        """Insert a stored song's sketch unless it has one, in a transaction; whether it did."""
        con.execute("BEGIN TRANSACTION")
        try:
            added = con.execute(
                "INSERT INTO sketches SELECT song_id, ?::BLOB FROM songs WHERE song_id = ? "
                "ON CONFLICT DO NOTHING RETURNING song_id",
                [frames, song_id],
            ).fetchall()
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")  # none left to roll back if the COMMIT failed
            raise
        return bool(added)

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
            result = con.execute(
                'SELECT hash, "offset" FROM fingerprints WHERE song_id = ? '
                'AND "offset" >= ? AND "offset" < ? ORDER BY "offset", hash',
                [song_id, lo, hi],
            ).fetchnumpy()
        return Fingerprints(
            np.asarray(result["hash"], dtype=np.uint32),
            np.asarray(result["offset"], dtype=np.int32),
        )

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

    # -- lookups --------------------------------------------------------

    def index_signature(self) -> dict[str, Any]:
        """What the index sidecar must have been built from.

        The database's identity, its songs (count, largest id, hashes, a digest
        of their content hashes), its rows and its parameters: adding a song
        changes it, and so does replacing the file by another database.
        """
        return dict(self._current("signature", _read_signature))

    def load_index(self) -> HashIndex:
        """Load (once while the file is unchanged) the index of every stored hash.

        A database file's index is opened from its sidecar (``<path>.index``),
        or built and written there if it is missing or stale; where the sidecar
        cannot be written (a read-only folder) it is built in memory.
        """
        self._current("signature", _read_signature)  # drops a stale index
        if self._index is None:
            self._index = self._load_sidecar(
                "hash index", sidecar_path, HashIndex.open, self._build_index
            )
        return self._index

    def _load_sidecar(
        self,
        what: str,
        where: Callable[[str], Path],
        opener: Callable[[Path, Mapping[str, Any]], _Index | None],
        builder: Callable[[duckdb.DuckDBPyConnection, Mapping[str, Any], Path | None], _Index],
        sign: Callable[[duckdb.DuckDBPyConnection], dict[str, Any]] | None = None,
        key: str = "signature",
    ) -> _Index:
        """Open a sidecar of this database, or build it (logged) if missing or stale.

        The signature (``sign``'s, kept under ``key`` while the file is unchanged;
        by default the songs' and rows') is read and the index built on one
        read-only connection: no process writes meanwhile, so the index is of the
        songs it names. Where the sidecar cannot be written, ``builder`` is called
        without one.
        """
        sign = sign or _read_signature
        signature = dict(self._current(key, sign))
        sidecar = None if self.path == ":memory:" else where(self.path)
        index = None if sidecar is None else opener(sidecar, signature)
        if index is not None:
            return index
        with self.connection() as con:
            signature = sign(con)
            index = None if sidecar is None else opener(sidecar, signature)
            if index is None:
                with _logged_build(what, sidecar, signature):
                    try:
                        index = builder(con, signature, sidecar)
                    except OSError:  # a read-only folder, or another reader published meanwhile
                        index = builder(con, signature, None)
        return index

    def _build_index(
        self, con: duckdb.DuckDBPyConnection, signature: Mapping[str, Any], sidecar: Path | None
    ) -> HashIndex:
        """Stream the rows sorted by hash into an :class:`IndexWriter`."""
        extremes = con.execute(
            'SELECT count(*), min(song_id), max(song_id), min("offset"), max("offset") '
            "FROM fingerprints"
        ).fetchall()[0]
        values = [0 if value is None else int(value) for value in extremes]
        n_songs = int(signature.get("songs", 0))
        layout = IndexLayout.plan(
            n_rows=values[0],
            min_song_id=values[1],
            max_song_id=values[2],
            min_offset=values[3],
            max_offset=values[4],
            common_postings=max(INDEX_COMMON_MIN_ROWS, round(INDEX_COMMON_FRACTION * n_songs)),
        )
        try:
            writer = IndexWriter(layout, sidecar)
        except OSError:
            writer = IndexWriter(layout, None)
        # An in-memory database's own data counts against its memory limit.
        memory = None
        if self.path != ":memory:":
            memory = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
            con.execute(f"SET memory_limit = '{INDEX_SORT_MEMORY}'")
        try:
            result = con.execute(
                'SELECT hash, song_id, "offset" FROM fingerprints ORDER BY hash, song_id, "offset"'
            )
            while len(chunk := result.fetch_df_chunk(_INDEX_CHUNK_VECTORS)):
                writer.write(
                    chunk["hash"].to_numpy(np.uint32),
                    chunk["song_id"].to_numpy(np.int32),
                    chunk["offset"].to_numpy(np.int32),
                )
            return writer.finish(signature)
        except BaseException:
            writer.abort()
            raise
        finally:
            if memory is not None:
                con.execute(f"SET memory_limit = '{memory}'")

    def load_song_index(self) -> SongIndex:
        """Load (once) the song-major index (:mod:`dejavu_lab.store.indexes.song_index`).

        Opened from its sidecar (``<path>.songs``) or built there, song by song
        from the table (a few songs' rows sorted at a time), if missing or stale.
        """
        self._current("signature", _read_signature)  # drops a stale index
        if self._song_index is None:
            self._song_index = self._load_sidecar(
                "song index", song_sidecar_path, SongIndex.open, self._build_song_index
            )
        return self._song_index

    def load_song_stretches(self) -> SongStretches:
        """Load (once) each song's rows by offset (:mod:`dejavu_lab.store.indexes.song_stretches`).

        Opened from its sidecar (``<path>.stretches``) or built there from the
        song index, song by song, if missing or stale.
        """
        self._current("signature", _read_signature)  # drops a stale index
        if self._stretches is None:

            def build(
                con: duckdb.DuckDBPyConnection, signature: Mapping[str, Any], sidecar: Path | None
            ) -> SongStretches:
                return SongStretches.from_song_index(self.load_song_index(), sidecar, signature)

            self._stretches = self._load_sidecar(
                "song stretches", stretch_sidecar_path, SongStretches.open, build
            )
        return self._stretches

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
        self._current("sketch_signature", _read_sketch_signature)  # drops a stale one
        if self._sketches is None:
            self._sketches = self._load_sidecar(
                "song sketches",
                sketch_sidecar_path,
                SongSketches.open,
                _build_song_sketches,
                sign=_read_sketch_signature,
                key="sketch_signature",
            )
        return self._sketches

    def _build_song_index(
        self, con: duckdb.DuckDBPyConnection, signature: Mapping[str, Any], sidecar: Path | None
    ) -> SongIndex:
        """Stream the rows, a few songs at a time, sorted by song, hash, offset."""
        counts = con.execute(
            'SELECT song_id, count(*) AS n, min("offset") AS low, max("offset") AS high '
            "FROM fingerprints GROUP BY song_id ORDER BY song_id"
        ).fetchnumpy()
        songs = np.asarray(counts["song_id"], dtype=np.int64)
        rows = np.asarray(counts["n"], dtype=np.int64)
        low, high = np.asarray(counts["low"]), np.asarray(counts["high"])
        offsets = offset_dtype(int(low.min(initial=0)), int(high.max(initial=0)))
        try:
            writer = SongIndexWriter(int(rows.sum()), sidecar, offsets=offsets)
        except OSError:
            writer = SongIndexWriter(int(rows.sum()), None, offsets=offsets)
        try:
            # Song ranges of about _SONG_INDEX_CHUNK_ROWS rows (a song is never split).
            ends = np.cumsum(rows)
            begin = 0
            while begin < len(songs):
                start = int(ends[begin] - rows[begin])
                end = max(
                    begin + 1, int(np.searchsorted(ends, start + _SONG_INDEX_CHUNK_ROWS, "right"))
                )
                chunk = con.execute(
                    'SELECT hash, song_id, "offset" FROM fingerprints '
                    'WHERE song_id BETWEEN ? AND ? ORDER BY song_id, hash, "offset"',
                    [int(songs[begin]), int(songs[end - 1])],
                ).fetchnumpy()
                writer.write(
                    np.asarray(chunk["hash"], dtype=np.uint32),
                    np.asarray(chunk["song_id"], dtype=np.int32),
                    np.asarray(chunk["offset"], dtype=np.int32),
                )
                begin = end
            return writer.finish(signature)
        except BaseException:
            writer.abort()
            raise

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
        query = pd.DataFrame(
            {
                "query_index": np.arange(len(hashes), dtype=np.int64),
                "hash": np.asarray(hashes, dtype=np.uint32),
            }
        )
        with self.connection() as con:
            con.register("query_hashes", query)
            try:
                result = con.execute(
                    'SELECT q.query_index, f.song_id, f."offset" FROM query_hashes q '
                    "JOIN fingerprints f ON f.hash = q.hash"
                ).fetchnumpy()
            finally:
                con.unregister("query_hashes")
        found = Lookup(
            np.asarray(result["query_index"], dtype=np.int64),
            np.asarray(result["song_id"], dtype=np.int32),
            np.asarray(result["offset"], dtype=np.int32),
        )
        return skip_common(found, max_postings, len(hashes), max_rows=max_rows)

    # -- size -----------------------------------------------------------

    def stats(self) -> StoreStats:
        with self.connection() as con:
            row = con.execute(
                "SELECT count(*), coalesce(sum(num_hashes), 0), coalesce(sum(duration_s), 0) "
                "FROM songs"
            ).fetchall()[0]
        size = 0
        if self.path != ":memory:":
            # Every write closes its connection, which checkpoints the log into the file.
            size = os.path.getsize(self.path)
            wal = self.path + ".wal"
            if os.path.exists(wal):
                size += os.path.getsize(wal)
        return StoreStats(int(row[0]), int(row[1]), size, float(row[2]))

    def get_num_fingerprints(self) -> int:
        """Number of stored hashes (Dejavu's name)."""
        return self.stats().num_fingerprints

    def _drop_indexes(self) -> None:
        self._index = None
        if self._song_index is not None:
            self._song_index.close()
            self._song_index = None
        if self._stretches is not None:
            self._stretches.close()
            self._stretches = None
        if self._sketches is not None:
            self._sketches.close()
            self._sketches = None

    def close(self) -> None:
        self._drop_indexes()
        self._seen = {}
        if self._con is not None and self.path == ":memory:":
            self._con.close()
            self._con = None
        self._closed = True


class _Contested(Exception):
    """A song insert met one of the same content hash another connection committed
    (or is committing) since its transaction began; it stored nothing."""


def _read_params(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    rows = dict(con.execute("SELECT key, value FROM meta").fetchall())
    if "params" not in rows:
        return None
    return {"params": json.loads(rows["params"]), "version": rows.get("package_version")}


def _read_songs(con: duckdb.DuckDBPyConnection) -> list[SongRecord]:
    rows = con.execute(
        "SELECT song_id, name, path, content_hash, duration_s, num_hashes, fingerprinted_at "
        "FROM songs ORDER BY song_id"
    ).fetchall()
    return [SongRecord(int(r[0]), r[1], r[2], r[3], float(r[4]), int(r[5]), r[6]) for r in rows]


def _read_signature(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    songs = con.execute(
        "SELECT count(*), coalesce(max(song_id), 0), coalesce(sum(num_hashes), 0), "
        "coalesce(bit_xor(hash(content_hash)), 0) FROM songs"
    ).fetchall()[0]
    rows = con.execute("SELECT count(*) FROM fingerprints").fetchall()[0][0]
    identity = con.execute("SELECT value FROM meta WHERE key = 'database_id'").fetchall()
    return {
        "database_id": identity[0][0] if identity else None,
        "songs": int(songs[0]),
        "max_song_id": int(songs[1]),
        "song_hashes": int(songs[2]),
        "songs_digest": int(songs[3]),
        "rows": int(rows),
        "params": _read_params(con),
    }


def _read_sketch_signature(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The database's signature, and how many sketches it holds, and their bytes."""
    try:
        count, size = con.execute(
            "SELECT count(*), coalesce(sum(octet_length(frames)), 0) FROM sketches"
        ).fetchall()[0]
    except duckdb.CatalogException:  # no sketches table: an older database
        count, size = 0, 0
    return {**_read_signature(con), "sketches": int(count), "sketch_bytes": int(size)}


def _build_song_sketches(
    con: duckdb.DuckDBPyConnection, signature: Mapping[str, Any], sidecar: Path | None
) -> SongSketches | None:
    """Stream the sketches, in song order, into their sidecar (None without one)."""
    if sidecar is None:
        return None
    try:
        lengths = con.execute(
            "SELECT octet_length(frames) // 4 FROM sketches ORDER BY song_id"
        ).fetchnumpy()
        cursor = con.execute("SELECT song_id, frames FROM sketches ORDER BY song_id")
    except duckdb.CatalogException:  # no sketches table: an older database
        return SongSketches.from_songs([], sidecar, signature, lengths=[])

    def songs() -> Iterator[tuple[int, np.ndarray]]:
        while batch := cursor.fetchmany(64):
            for song_id, frames in batch:
                yield int(song_id), sketch_array(frames)

    column = next(iter(lengths.values()))
    return SongSketches.from_songs(
        songs(), sidecar, signature, lengths=np.asarray(column, np.int64).tolist()
    )


@contextlib.contextmanager
def _logged_build(what: str, sidecar: Path | None, signature: Mapping[str, Any]) -> Iterator[None]:
    """Log the (re)build of a sidecar: minutes, for millions of rows."""
    where = "in memory" if sidecar is None else f"into {sidecar}"
    logger.info("building the %s of %s rows %s", what, f"{signature.get('rows', 0):,}", where)
    start = time.perf_counter()
    yield
    logger.info("%s built in %.1f s", what, time.perf_counter() - start)
