"""The DuckDB store's sidecar indexes: opened where current, else built from its tables.

Each sidecar (:mod:`~dejavu_lab.store.indexes`) records the signature of the
rows it was built from (:func:`~dejavu_lab.store.duckdb_sql.read_signature`).
:class:`DuckDBSidecars` opens it if the database still has those rows, else
builds it on one read-only connection, the rows streamed by the queries of
:mod:`~dejavu_lab.store.duckdb_sql`, and writes it beside the database file,
renamed into place. Where it cannot be written (a read-only folder), it is
built without a file.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np

from .duckdb_sql import (
    memory_limit,
    read_signature,
    read_sketch_signature,
    row_extremes,
    rows_by_hash,
    rows_of_songs,
    sketches_by_song,
    song_row_counts,
)
from .indexes.hash_index import HashIndex, IndexLayout, IndexWriter, sidecar_path
from .indexes.song_index import SongIndex, SongIndexWriter, offset_dtype, song_sidecar_path
from .indexes.song_sketches import SongSketches, sketch_sidecar_path
from .indexes.song_stretches import SongStretches, stretch_sidecar_path

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

#: Rows fetched at a time while building the index (vectors of 2048 rows).
_INDEX_CHUNK_VECTORS = 512
#: Rows sorted at a time (whole songs) while building the song index.
_SONG_INDEX_CHUNK_ROWS = 1 << 23

logger = logging.getLogger(__name__)
_Index = TypeVar("_Index")
#: ``current(key, read)``: ``read(con)``, kept while the database is unchanged.
Current = Callable[[str, Callable[[duckdb.DuckDBPyConnection], Any]], Any]
#: ``connection()``: a read-only connection to the database, as a context manager.
Connection = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


class DuckDBSidecars:
    """The sidecar indexes of one DuckDB database, each loaded once while it is unchanged.

    Each method takes how to read the database: ``current(key, read)``, which
    answers ``read(con)``, kept while the file is unchanged (and calls
    :meth:`drop` first once it has changed), and ``connection()``, which opens
    a read-only connection (a context manager).

    Parameters
    ----------
    path : str
        The database file; ``":memory:"`` for indexes built in memory, without a sidecar.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._index: HashIndex | None = None
        self._song_index: SongIndex | None = None
        self._stretches: SongStretches | None = None
        self._sketches: SongSketches | None = None

    def hash_index(self, current: Current, connection: Connection) -> HashIndex:
        """The index of every stored hash (``<path>.index``)."""
        current("signature", read_signature)  # drops a stale index
        if self._index is None:
            build = partial(build_hash_index, in_memory=self.path == ":memory:")
            self._index = self._load(
                "hash index", sidecar_path, HashIndex.open, build, current, connection
            )
        return self._index

    def song_index(self, current: Current, connection: Connection) -> SongIndex:
        """Each song's rows by hash (``<path>.songs``)."""
        current("signature", read_signature)  # drops a stale index
        if self._song_index is None:
            self._song_index = self._load(
                "song index",
                song_sidecar_path,
                SongIndex.open,
                build_song_index,
                current,
                connection,
            )
        return self._song_index

    def song_stretches(self, current: Current, connection: Connection) -> SongStretches:
        """Each song's rows by offset (``<path>.stretches``), built from :meth:`song_index`."""
        current("signature", read_signature)  # drops a stale index
        if self._stretches is None:

            def build(
                con: duckdb.DuckDBPyConnection, signature: Mapping[str, Any], sidecar: Path | None
            ) -> SongStretches:
                song_index = self.song_index(current, connection)
                return SongStretches.from_song_index(song_index, sidecar, signature)

            self._stretches = self._load(
                "song stretches",
                stretch_sidecar_path,
                SongStretches.open,
                build,
                current,
                connection,
            )
        return self._stretches

    def song_sketches(self, current: Current, connection: Connection) -> SongSketches | None:
        """The songs' sketches (``<path>.sketches``); None where they cannot be written."""
        current("sketch_signature", read_sketch_signature)  # drops a stale one
        if self._sketches is None:
            self._sketches = self._load(
                "song sketches",
                sketch_sidecar_path,
                SongSketches.open,
                build_song_sketches,
                current,
                connection,
                sign=read_sketch_signature,
                key="sketch_signature",
            )
        return self._sketches

    def drop(self) -> None:
        """Forget (and close) every index loaded: the database has changed."""
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

    def _load(
        self,
        what: str,
        where: Callable[[str], Path],
        opener: Callable[[Path, Mapping[str, Any]], _Index | None],
        builder: Callable[[duckdb.DuckDBPyConnection, Mapping[str, Any], Path | None], _Index],
        current: Current,
        connection: Connection,
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
        sign = sign or read_signature
        signature = dict(current(key, sign))
        sidecar = None if self.path == ":memory:" else where(self.path)
        index = None if sidecar is None else opener(sidecar, signature)
        if index is not None:
            return index
        with connection() as con:
            signature = sign(con)
            index = None if sidecar is None else opener(sidecar, signature)
            if index is None:
                with logged_build(what, sidecar, signature):
                    try:
                        index = builder(con, signature, sidecar)
                    except OSError:  # a read-only folder, or another reader published meanwhile
                        index = builder(con, signature, None)
        return index


def build_hash_index(
    con: duckdb.DuckDBPyConnection,
    signature: Mapping[str, Any],
    sidecar: Path | None,
    *,
    in_memory: bool,
) -> HashIndex:
    """Stream the rows sorted by hash into an :class:`IndexWriter`.

    ``in_memory``: the database is ``:memory:``, whose own data counts against
    DuckDB's memory limit, so the sort is not capped at :data:`INDEX_SORT_MEMORY`.
    """
    values = row_extremes(con)
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
    with memory_limit(con, None if in_memory else INDEX_SORT_MEMORY):
        try:
            for hashes, song_ids, offsets in rows_by_hash(con, _INDEX_CHUNK_VECTORS):
                writer.write(hashes, song_ids, offsets)
            return writer.finish(signature)
        except BaseException:
            writer.abort()
            raise


def build_song_index(
    con: duckdb.DuckDBPyConnection, signature: Mapping[str, Any], sidecar: Path | None
) -> SongIndex:
    """Stream the rows, a few songs at a time, sorted by song, hash, offset."""
    songs, rows, low, high = song_row_counts(con)
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
            writer.write(*rows_of_songs(con, int(songs[begin]), int(songs[end - 1])))
            begin = end
        return writer.finish(signature)
    except BaseException:
        writer.abort()
        raise


def build_song_sketches(
    con: duckdb.DuckDBPyConnection, signature: Mapping[str, Any], sidecar: Path | None
) -> SongSketches | None:
    """Stream the sketches, in song order, into their sidecar (None without one)."""
    if sidecar is None:
        return None
    lengths, songs = sketches_by_song(con)
    return SongSketches.from_songs(songs, sidecar, signature, lengths=lengths)


@contextlib.contextmanager
def logged_build(what: str, sidecar: Path | None, signature: Mapping[str, Any]) -> Iterator[None]:
    """Log the (re)build of a sidecar: minutes, for millions of rows."""
    where = "in memory" if sidecar is None else f"into {sidecar}"
    logger.info("building the %s of %s rows %s", what, f"{signature.get('rows', 0):,}", where)
    start = time.perf_counter()
    yield
    logger.info("%s built in %.1f s", what, time.perf_counter() - start)
