"""Every statement the DuckDB store runs, as functions of a connection.

Tables::

    meta(key VARCHAR PRIMARY KEY, value VARCHAR)       -- params, version, schema
    songs(song_id, name, path, content_hash UNIQUE, duration_s, num_hashes,
          fingerprinted_at)
    fingerprints(hash UINTEGER, song_id INTEGER, "offset" INTEGER)
    sketches(song_id INTEGER PRIMARY KEY, frames BLOB)  -- little-endian uint32 a frame

The writes (:func:`insert_song`, :func:`insert_sketch`, :func:`write_params`)
are one transaction each. A database written before sketches has no
``sketches`` table: read-only, the functions reading it answer as if it were
empty. The row streams at the end feed the sidecar builders
(:mod:`~dejavu_lab.store.duckdb_sidecars`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from ..core.hashing import Fingerprints
from ..core.matching import Lookup
from .base import (
    SCHEMA_VERSION,
    DuplicateSongError,
    SongInfo,
    SongRecord,
    params_to_json,
    sketch_array,
)
from .duckdb_connection import Contested

SCHEMA = """
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
TABLES = ("meta", "sketches")


# -- schema and parameters ----------------------------------------------


def has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the database has every table of this version (:data:`TABLES`)."""
    found = con.execute(
        "SELECT count(DISTINCT table_name) FROM information_schema.tables "
        "WHERE table_name IN (SELECT unnest(?::VARCHAR[]))",
        [list(TABLES)],
    ).fetchall()[0][0]
    return int(found) == len(TABLES)


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables missing, and record the schema version and a database id."""
    con.execute(SCHEMA)
    con.execute(
        "INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
        [str(SCHEMA_VERSION)],
    )
    # A new database at the same path never takes an older one's index sidecar.
    con.execute("INSERT INTO meta VALUES ('database_id', uuid()::VARCHAR) ON CONFLICT DO NOTHING")


def read_params(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """``{"params": ..., "version": ...}`` as stored, or None before the first song."""
    rows = dict(con.execute("SELECT key, value FROM meta").fetchall())
    if "params" not in rows:
        return None
    return {"params": json.loads(rows["params"]), "version": rows.get("package_version")}


def write_params(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any], version: str) -> None:
    """Store the parameters and package version, unless some are stored already."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT INTO meta VALUES ('params', ?), ('package_version', ?) ON CONFLICT DO NOTHING",
            [params_to_json(params), version],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


# -- songs and sketches --------------------------------------------------


def read_songs(con: duckdb.DuckDBPyConnection) -> list[SongRecord]:
    """Every song, by id."""
    rows = con.execute(
        "SELECT song_id, name, path, content_hash, duration_s, num_hashes, fingerprinted_at "
        "FROM songs ORDER BY song_id"
    ).fetchall()
    return [SongRecord(int(r[0]), r[1], r[2], r[3], float(r[4]), int(r[5]), r[6]) for r in rows]


def content_hashes(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The stored songs' content hashes."""
    return {row[0] for row in con.execute("SELECT content_hash FROM songs").fetchall()}


def has_song(con: duckdb.DuckDBPyConnection, song_id: int) -> bool:
    """Whether a song ``song_id`` is stored."""
    return bool(
        con.execute("SELECT count(*) FROM songs WHERE song_id = ?", [song_id]).fetchall()[0][0]
    )


def insert_song(
    con: duckdb.DuckDBPyConnection,
    info: SongInfo,
    frame: pd.DataFrame,
    num_hashes: int,
    sketch: bytes | None,
) -> int:
    """Insert a song, its hashes and its sketch in a transaction; its new id.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Open for writing.
    info : SongInfo
    frame : pd.DataFrame
        Columns ``hash`` (uint32) and ``offset`` (int32, frames).
    num_hashes : int
    sketch : bytes, optional
        The sketch's little-endian uint32 values, or None for no sketch.

    Raises
    ------
    DuplicateSongError
        If a song of the same content hash is stored.
    Contested
        (Nothing stored) If another connection stored, or is committing, a song
        of the same content hash since the transaction began.
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
                [song_id, info.name, info.path, info.content_hash, info.duration_s, num_hashes],
            )
        except duckdb.ConstraintException as error:
            raise Contested() from error
        con.register("new_fingerprints", frame)
        try:
            con.execute(
                'INSERT INTO fingerprints SELECT hash, ?::INTEGER, "offset" FROM new_fingerprints',
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
            raise Contested() from error
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")  # none left to roll back if the COMMIT failed
        raise
    return song_id


def insert_sketch(con: duckdb.DuckDBPyConnection, song_id: int, frames: bytes) -> bool:
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


def read_sketches(con: duckdb.DuckDBPyConnection, song_ids: list[int]) -> dict[int, np.ndarray]:
    """The sketches of ``song_ids`` (uint32 arrays) by song id; those without one absent."""
    try:
        rows = con.execute(
            "SELECT song_id, frames FROM sketches WHERE song_id IN (SELECT unnest(?::BIGINT[]))",
            [song_ids],
        ).fetchall()
    except duckdb.CatalogException:  # no sketches table: an older database
        return {}
    return {int(song_id): sketch_array(frames) for song_id, frames in rows}


def sketched_song_ids(con: duckdb.DuckDBPyConnection) -> set[int]:
    """The ids of the songs whose sketch is stored."""
    try:
        ids = con.execute("SELECT song_id FROM sketches").fetchnumpy()["song_id"]
    except duckdb.CatalogException:  # no sketches table: an older database
        return set()
    return set(np.asarray(ids, dtype=np.int64).tolist())


# -- rows ------------------------------------------------------------------


def song_rows(con: duckdb.DuckDBPyConnection, song_id: int, low: int, high: int) -> Fingerprints:
    """A song's rows with ``low <= offset < high``, sorted by offset then hash."""
    result = con.execute(
        'SELECT hash, "offset" FROM fingerprints WHERE song_id = ? '
        'AND "offset" >= ? AND "offset" < ? ORDER BY "offset", hash',
        [song_id, low, high],
    ).fetchnumpy()
    return Fingerprints(
        np.asarray(result["hash"], dtype=np.uint32),
        np.asarray(result["offset"], dtype=np.int32),
    )


def hash_query(hashes: np.ndarray) -> pd.DataFrame:
    """The table of a query's hashes that :func:`join_hashes` joins: index and hash."""
    return pd.DataFrame(
        {
            "query_index": np.arange(len(hashes), dtype=np.int64),
            "hash": np.asarray(hashes, dtype=np.uint32),
        }
    )


def join_hashes(con: duckdb.DuckDBPyConnection, query: pd.DataFrame) -> Lookup:
    """Every row of each hash of ``query`` (:func:`hash_query`), in one SQL join."""
    con.register("query_hashes", query)
    try:
        result = con.execute(
            'SELECT q.query_index, f.song_id, f."offset" FROM query_hashes q '
            "JOIN fingerprints f ON f.hash = q.hash"
        ).fetchnumpy()
    finally:
        con.unregister("query_hashes")
    return Lookup(
        np.asarray(result["query_index"], dtype=np.int64),
        np.asarray(result["song_id"], dtype=np.int32),
        np.asarray(result["offset"], dtype=np.int32),
    )


def song_totals(con: duckdb.DuckDBPyConnection) -> tuple[int, int, float]:
    """The number of songs, their hashes and their seconds."""
    row = con.execute(
        "SELECT count(*), coalesce(sum(num_hashes), 0), coalesce(sum(duration_s), 0) FROM songs"
    ).fetchall()[0]
    return int(row[0]), int(row[1]), float(row[2])


def free_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """Bytes of the database file's free blocks (reused by later writes)."""
    row = con.execute(
        "SELECT free_blocks * block_size FROM pragma_database_size() "
        "WHERE database_name = current_database()"
    ).fetchall()
    return int(row[0][0]) if row and row[0][0] is not None else 0


# -- signatures and row streams of the sidecars ----------------------------


def read_signature(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The database's identity, its songs, its rows and its parameters."""
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
        "params": read_params(con),
    }


def read_sketch_signature(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The database's signature, and how many sketches it holds, and their bytes."""
    try:
        count, size = con.execute(
            "SELECT count(*), coalesce(sum(octet_length(frames)), 0) FROM sketches"
        ).fetchall()[0]
    except duckdb.CatalogException:  # no sketches table: an older database
        count, size = 0, 0
    return {**read_signature(con), "sketches": int(count), "sketch_bytes": int(size)}


def row_extremes(con: duckdb.DuckDBPyConnection) -> list[int]:
    """The rows' count, smallest and largest song id, smallest and largest offset (0 if none)."""
    extremes = con.execute(
        'SELECT count(*), min(song_id), max(song_id), min("offset"), max("offset") '
        "FROM fingerprints"
    ).fetchall()[0]
    return [0 if value is None else int(value) for value in extremes]


@contextlib.contextmanager
def memory_limit(con: duckdb.DuckDBPyConnection, limit: str | None) -> Iterator[None]:
    """Set DuckDB's memory limit (``"2GB"``) inside the block; None leaves it as it is."""
    if limit is None:
        yield
        return
    previous = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    con.execute(f"SET memory_limit = '{limit}'")
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = '{previous}'")


def rows_by_hash(
    con: duckdb.DuckDBPyConnection, chunk_vectors: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every row sorted by hash, song, offset: ``(hash, song_id, offset)`` chunks.

    Chunks of ``chunk_vectors`` vectors of 2048 rows; uint32, int32 and int32 arrays.
    """
    result = con.execute(
        'SELECT hash, song_id, "offset" FROM fingerprints ORDER BY hash, song_id, "offset"'
    )
    while len(chunk := result.fetch_df_chunk(chunk_vectors)):
        yield (
            chunk["hash"].to_numpy(np.uint32),
            chunk["song_id"].to_numpy(np.int32),
            chunk["offset"].to_numpy(np.int32),
        )


def song_row_counts(
    con: duckdb.DuckDBPyConnection,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each song's id, rows, lowest and highest offset, by song id (int64, int64, ints)."""
    counts = con.execute(
        'SELECT song_id, count(*) AS n, min("offset") AS low, max("offset") AS high '
        "FROM fingerprints GROUP BY song_id ORDER BY song_id"
    ).fetchnumpy()
    songs = np.asarray(counts["song_id"], dtype=np.int64)
    rows = np.asarray(counts["n"], dtype=np.int64)
    return songs, rows, np.asarray(counts["low"]), np.asarray(counts["high"])


def rows_of_songs(
    con: duckdb.DuckDBPyConnection, first: int, last: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of songs ``first`` to ``last`` sorted by song, hash, offset (uint32, int32s)."""
    chunk = con.execute(
        'SELECT hash, song_id, "offset" FROM fingerprints '
        'WHERE song_id BETWEEN ? AND ? ORDER BY song_id, hash, "offset"',
        [first, last],
    ).fetchnumpy()
    return (
        np.asarray(chunk["hash"], dtype=np.uint32),
        np.asarray(chunk["song_id"], dtype=np.int32),
        np.asarray(chunk["offset"], dtype=np.int32),
    )


def sketches_by_song(
    con: duckdb.DuckDBPyConnection,
) -> tuple[list[int], Iterable[tuple[int, np.ndarray]]]:
    """Every sketch's length (frames), and the sketches, in song order.

    An older database without a sketches table has none.
    """
    try:
        lengths = con.execute(
            "SELECT octet_length(frames) // 4 FROM sketches ORDER BY song_id"
        ).fetchnumpy()
        cursor = con.execute("SELECT song_id, frames FROM sketches ORDER BY song_id")
    except duckdb.CatalogException:  # no sketches table: an older database
        return [], []

    def songs() -> Iterator[tuple[int, np.ndarray]]:
        while batch := cursor.fetchmany(64):
            for song_id, frames in batch:
                yield int(song_id), sketch_array(frames)

    column = next(iter(lengths.values()))
    return np.asarray(column, np.int64).tolist(), songs()
