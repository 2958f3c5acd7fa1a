"""Fingerprints in a MySQL or MariaDB database (PyMySQL).

Tables (InnoDB, utf8mb4 so that any song name survives)::

    meta(`key` VARCHAR(64) PRIMARY KEY, value LONGTEXT)  -- params, package_version,
                                                          -- schema_version
    songs(song_id INT AUTO_INCREMENT PRIMARY KEY, name TEXT, path TEXT,
          content_hash VARCHAR(255) UNIQUE, duration_s DOUBLE, num_hashes BIGINT,
          fingerprinted_at DATETIME(6))                   -- UTC
    fingerprints(hash INT UNSIGNED, song_id INT, `offset` INT, seq INT,
                 PRIMARY KEY (song_id, seq), KEY (hash, `offset`))
    sketches(song_id INT PRIMARY KEY, frames LONGBLOB)   -- little-endian uint32 a frame

``seq`` is a hash's position within its song: with ``song_id`` it makes a
clustered key that new songs append to and that reads one song in order, and
the secondary key on ``(hash, offset)`` (InnoDB adds the primary key to it)
answers lookups from the index alone.

**Transactions.** ``add_song`` inserts the song row, then its hashes in
multi-row INSERTs of :data:`INSERT_BATCH` rows, then its sketch (if any), and
commits: other sessions see the song only once it is complete. A second
writer of the same content hash waits on the UNIQUE key until the first
commits, then gets :class:`DuplicateSongError` and rolls back; a deadlock or
lock timeout is retried. The connection runs in autocommit between writes, so
every read sees the songs committed so far (no REPEATABLE READ snapshot is held
open). ``add_sketch`` stores a stored song's sketch later in
one statement; a second writer of it meets the first's row on the primary key
and stores nothing.

**Reads.** ``lookup`` asks for each distinct query hash once, in ``IN (...)``
lists of :data:`LOOKUP_BATCH`, and receives the rows as one GROUP_CONCAT text
that numpy parses (PyMySQL would decode every field in Python). ``vote`` loads
the query into a per-connection MEMORY temporary table and counts the votes in
SQL. ``stats().size_bytes`` is the data + index length information_schema
reports, which InnoDB refreshes with its statistics (seconds after a bulk load,
at once after ``ANALYZE TABLE``).

Integer arrays are written into the SQL text as decimal literals (they come
from numpy integer arrays, so cannot carry SQL); every string goes through the
driver's parameter escaping.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pymysql
import pymysql.cursors

from ...core._arrays import sorted_unique
from ...exceptions import StoreError
from ..base import SCHEMA_VERSION, DuplicateSongError, SongInfo, params_to_json
from .config import ServerConfig
from .sql_store import Failure, ServerStore

#: Rows per multi-row INSERT (about 30 bytes each: well under max_allowed_packet).
INSERT_BATCH = 10_000
#: Distinct hashes per lookup statement.
LOOKUP_BATCH = 5_000

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS meta (
        `key` VARCHAR(64) NOT NULL PRIMARY KEY,
        value LONGTEXT NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
    """CREATE TABLE IF NOT EXISTS songs (
        song_id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        content_hash VARCHAR(255) NOT NULL,
        duration_s DOUBLE NOT NULL,
        num_hashes BIGINT NOT NULL,
        fingerprinted_at DATETIME(6) NOT NULL,
        UNIQUE KEY songs_content_hash (content_hash)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
    """CREATE TABLE IF NOT EXISTS fingerprints (
        hash INT UNSIGNED NOT NULL,
        song_id INT NOT NULL,
        `offset` INT NOT NULL,
        seq INT NOT NULL,
        PRIMARY KEY (song_id, seq),
        KEY fingerprints_hash (hash, `offset`)
    ) ENGINE=InnoDB""",
    # LONGBLOB: a BLOB holds 64 kB, 16,000 frames (6 minutes); an hour is 620 kB.
    """CREATE TABLE IF NOT EXISTS sketches (
        song_id INT NOT NULL PRIMARY KEY,
        frames LONGBLOB NOT NULL
    ) ENGINE=InnoDB""",
)
_QUERY_TABLE = """CREATE TEMPORARY TABLE IF NOT EXISTS vote_query (
    hash INT UNSIGNED NOT NULL,
    query_offset INT NOT NULL,
    vote_hash INT UNSIGNED NOT NULL,
    weight INT NOT NULL,
    KEY (hash)
) ENGINE=MEMORY"""
# The offset histogram, windowed and ranked in SQL, as count_votes does it;
# only each song's top bins (and its best bin's neighbours) are sent back.
# Distinct hashes: each hash counts once in a bin, and once in a window (a
# window's count is over the distinct hashes of its bins). {deltas} is the
# table of window offsets -tol..tol.
_VOTE_DISTINCT = """
WITH pairs AS (
    SELECT DISTINCT f.song_id, CAST(f.`offset` AS SIGNED) - q.query_offset AS diff, q.vote_hash
    FROM vote_query q JOIN fingerprints f ON f.hash = q.hash
), bins AS (
    SELECT song_id, diff, COUNT(*) AS cnt FROM pairs GROUP BY song_id, diff
), spread AS (
    SELECT p.song_id, p.diff + d.delta AS diff, COUNT(DISTINCT p.vote_hash) AS windowed
    FROM pairs p CROSS JOIN ({deltas}) d
    GROUP BY p.song_id, p.diff + d.delta
), windows AS (
    SELECT b.song_id, b.diff, b.cnt, s.windowed,
        SUM(b.cnt) OVER (PARTITION BY b.song_id) AS song_votes
    FROM bins b JOIN spread s ON s.song_id = b.song_id AND s.diff = b.diff
)"""
# All votes: every query position votes once for every row found.
_VOTE_ALL = """
WITH bins AS (
    SELECT f.song_id, CAST(f.`offset` AS SIGNED) - q.query_offset AS diff, SUM(q.weight) AS cnt
    FROM vote_query q JOIN fingerprints f ON f.hash = q.hash
    GROUP BY f.song_id, diff
), windows AS (
    SELECT song_id, diff, cnt,
        SUM(cnt) OVER (PARTITION BY song_id ORDER BY diff
                       RANGE BETWEEN {tol} PRECEDING AND {tol} FOLLOWING) AS windowed,
        SUM(cnt) OVER (PARTITION BY song_id) AS song_votes
    FROM bins
)"""
_VOTE_TOP = """, ranked AS (
    SELECT song_id, diff, cnt, windowed, song_votes,
        ROW_NUMBER() OVER w AS bin_rank, FIRST_VALUE(diff) OVER w AS best_diff
    FROM windows
    WINDOW w AS (PARTITION BY song_id ORDER BY windowed DESC, cnt DESC, diff)
)
SELECT song_id, diff, CAST(cnt AS SIGNED), CAST(windowed AS SIGNED), CAST(song_votes AS SIGNED)
FROM ranked
WHERE bin_rank <= %s OR diff BETWEEN best_diff - {tol} AND best_diff + {tol}
ORDER BY song_id, diff
"""

_ER_DUP_ENTRY = 1062
_ER_LOCK_WAIT_TIMEOUT = 1205
_ER_LOCK_DEADLOCK = 1213
_CONNECT_HINTS = {
    2003: "is the server running and accepting TCP connections there?",
    1045: "wrong user or password",
    1049: "no such database: create it first (CREATE DATABASE ...)",
}


def _int_literals(values: np.ndarray) -> str:
    """``1,2,3`` from an integer array (safe to put in SQL text)."""
    if values.dtype.kind not in "iu":
        raise TypeError(f"expected an integer array, got {values.dtype}")
    return ",".join(map(str, values.tolist()))


def _rows_literal(*columns: np.ndarray) -> str:
    """``(a,b),(c,d)`` from integer columns of equal length."""
    for column in columns:
        if column.dtype.kind not in "iu":
            raise TypeError(f"expected integer arrays, got {column.dtype}")
    width = len(columns)
    flat = np.empty(len(columns[0]) * width, dtype=np.int64)
    for k, column in enumerate(columns):
        flat[k::width] = column
    row = "(" + ",".join(["%d"] * width) + "),"
    return (row * len(columns[0]))[:-1] % tuple(flat.tolist())


class MySQLStore(ServerStore):
    """Fingerprints in a MySQL or MariaDB database.

    Parameters
    ----------
    config : ServerConfig
        See :func:`~dejavu_lab.store.open_server_store`.

    Raises
    ------
    StoreError
        If the server cannot be reached, refuses the login, the database does
        not exist, or holds tables of another program or schema version.

    Notes
    -----
    One connection per store: use one store per thread or process.
    """

    _driver_error = pymysql.MySQLError

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        try:
            self.con = pymysql.connect(
                host=config.host,
                port=config.port,
                user=config.user,
                password=config.password or "",
                database=config.database,
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=config.connect_timeout,
            )
        except pymysql.MySQLError as error:
            code, reason = _error_parts(error)
            hint = _CONNECT_HINTS.get(code, "")
            raise StoreError(
                f"cannot connect to {config.engine} at {config.host}:{config.port}, database "
                f"{config.database!r} as user {config.user or '(default)'!r}: {reason}"
                + (f" ({hint})" if hint else "")
            ) from None
        self._query_table = False
        try:
            with self._errors("preparing the database"):
                self._execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'")
                self._execute("SET SESSION group_concat_max_len = @@max_allowed_packet")
                self._create_schema()
        except BaseException:
            self.con.close()
            raise

    # -- plumbing ---------------------------------------------------------

    @staticmethod
    def _reason(error: BaseException) -> str:
        return _error_parts(error)[1]

    def _classify(self, error: Exception) -> Failure:
        code, reason = _error_parts(error)
        if code == _ER_DUP_ENTRY:
            # Only the content hash's key means the song is stored; another key
            # (a stray sketch row where the new song's goes) is a plain failure.
            return "duplicate" if "songs_content_hash" in reason else "fail"
        return "retry" if code in (_ER_LOCK_DEADLOCK, _ER_LOCK_WAIT_TIMEOUT) else "fail"

    def _execute(self, query: Any, params: Any = None) -> list[tuple[Any, ...]]:
        with self.con.cursor() as cursor:
            cursor.execute(query, params)
            return list(cursor.fetchall())

    def _create_schema(self) -> None:
        # Several processes may open a new database at once: one creates it.
        lock = f"dejavu_lab_schema:{self.config.database}"
        if self._execute("SELECT GET_LOCK(%s, 60)", [lock])[0][0] != 1:
            raise StoreError(f"{self!r}: timed out waiting for another process creating tables")
        try:
            present = {
                row[0]
                for row in self._execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() "
                    "AND table_name IN ('meta', 'songs', 'fingerprints')"
                )
            }
            if present and "meta" not in present:
                raise StoreError(
                    f"{self!r} has tables {', '.join(sorted(present))} that dejavu-lab did not "
                    "create (an original Dejavu database?): use another database"
                )
            for statement in _SCHEMA:
                self._execute(statement)
            self._execute(
                "INSERT IGNORE INTO meta (`key`, value) VALUES ('schema_version', %s)",
                [str(SCHEMA_VERSION)],
            )
        finally:
            self._execute("SELECT RELEASE_LOCK(%s)", [lock])
        version = self._execute("SELECT value FROM meta WHERE `key` = 'schema_version'")
        if version[0][0] != str(SCHEMA_VERSION):
            raise StoreError(
                f"{self!r} has schema version {version[0][0]}; this dejavu-lab reads version "
                f"{SCHEMA_VERSION}"
            )

    @contextmanager
    def _transaction(self) -> Iterator[pymysql.cursors.Cursor]:
        cursor = self.con.cursor()
        try:
            self.con.begin()
            yield cursor
            self.con.commit()
        except BaseException:
            # If the connection is gone, the server rolls back by itself.
            with suppress(pymysql.MySQLError):
                self.con.rollback()
            raise
        finally:
            cursor.close()

    # -- parameters -------------------------------------------------------

    def _meta_rows(self) -> list[tuple[Any, ...]]:
        return self._execute("SELECT `key`, value FROM meta")

    def write_params(self, params: Mapping[str, Any], version: str) -> None:
        # INSERT IGNORE: the first of several writers starting together wins,
        # the others then find its parameters (check_compatible).
        with self._errors("writing parameters"), self._transaction() as cursor:
            cursor.execute(
                "INSERT IGNORE INTO meta (`key`, value) VALUES ('params', %s), "
                "('package_version', %s)",
                [params_to_json(params), version],
            )

    # -- songs --------------------------------------------------------------

    def _add_song_once(
        self, info: SongInfo, hashes: np.ndarray, offsets: np.ndarray, sketch: bytes | None
    ) -> int:
        with self._transaction() as cursor:
            # Refusing a known duplicate before the INSERT keeps song ids gap-free:
            # a failed INSERT uses up an AUTO_INCREMENT value. Only writers racing
            # for the same song leave a gap; the UNIQUE key decides between them.
            cursor.execute("SELECT song_id FROM songs WHERE content_hash = %s", [info.content_hash])
            existing = cursor.fetchone()
            if existing is not None:
                raise DuplicateSongError(info.content_hash, int(existing[0]))
            cursor.execute(
                "INSERT INTO songs (name, path, content_hash, duration_s, num_hashes, "
                "fingerprinted_at) VALUES (%s, %s, %s, %s, %s, %s)",
                [
                    info.name,
                    info.path,
                    info.content_hash,
                    float(info.duration_s),
                    len(hashes),
                    datetime.now(timezone.utc).replace(tzinfo=None),
                ],
            )
            song_id = int(cursor.lastrowid)
            seq = np.arange(len(hashes), dtype=np.int64)
            song = np.full(len(hashes), song_id, dtype=np.int64)
            for start in range(0, len(hashes), INSERT_BATCH):
                block = slice(start, start + INSERT_BATCH)
                values = _rows_literal(hashes[block], song[block], offsets[block], seq[block])
                cursor.execute(
                    "INSERT INTO fingerprints (hash, song_id, `offset`, seq) VALUES " + values
                )
            if sketch is not None:
                cursor.execute(
                    "INSERT INTO sketches (song_id, frames) VALUES (%s, %s)", [song_id, sketch]
                )
        return song_id

    def _insert_sketch(self, song_id: int, frames: bytes) -> bool:
        # One autocommitted statement. A second writer waits on the primary key
        # until the first commits, then meets its row: a duplicate key, not an error.
        try:
            with self.con.cursor() as cursor:
                inserted = cursor.execute(
                    "INSERT INTO sketches (song_id, frames) "
                    "SELECT song_id, %s FROM songs WHERE song_id = %s",
                    [frames, song_id],
                )
        except pymysql.IntegrityError as error:
            if _error_parts(error)[0] == _ER_DUP_ENTRY:
                return False
            raise
        return bool(inserted)

    def _sketch_rows(self, song_ids: np.ndarray) -> list[tuple[Any, ...]]:
        return self._execute(
            f"SELECT song_id, frames FROM sketches WHERE song_id IN ({_int_literals(song_ids)})"
        )

    def _song_rows(self, song_id: int, lo: int, hi: int) -> list[np.ndarray]:
        return self._fetch_ints(
            ["hash", "`offset`"],
            "FROM fingerprints WHERE song_id = %s AND `offset` >= %s AND `offset` < %s",
            [song_id, lo, hi],
            order_by="`offset`, hash",
        )

    def _fetch_columns(self, sql: str, args: Any, ncols: int) -> list[np.ndarray]:
        rows = self._execute(sql, args)
        if not rows:
            return [np.zeros(0, np.int64) for _ in range(ncols)]
        table = np.array(rows, dtype=np.int64).reshape(len(rows), ncols)
        return [table[:, k] for k in range(ncols)]

    def _fetch_ints(
        self, columns: list[str], from_where: str, args: Any, *, order_by: str | None = None
    ) -> list[np.ndarray]:
        """Integer columns of many rows, as arrays.

        PyMySQL decodes each field of each row in Python (about 2 us a field);
        the server's GROUP_CONCAT sends them as one text that numpy parses,
        three times faster for a lookup. A result longer than
        ``group_concat_max_len`` (set to the server's max_allowed_packet) comes
        back cut or NULL: the row count tells, and those rows are then fetched
        the ordinary way.
        """
        order = f" ORDER BY {order_by}" if order_by else ""
        joined = ", ',', ".join(columns)
        count, text = self._execute(
            f"SELECT COUNT(*), GROUP_CONCAT({joined}{order} SEPARATOR ',') {from_where}", args
        )[0]
        if count == 0:
            return [np.zeros(0, np.int64) for _ in columns]
        if text is not None:
            values = np.fromstring(text, dtype=np.int64, sep=",")
            if len(values) == count * len(columns):
                table = values.reshape(count, len(columns))
                return [table[:, k] for k in range(len(columns))]
        return self._fetch_columns(
            f"SELECT {', '.join(columns)} {from_where}{order}", args, len(columns)
        )

    # -- lookups ------------------------------------------------------------

    def _rows_of(self, query: np.ndarray, songs: np.ndarray | None = None) -> list[np.ndarray]:
        distinct = sorted_unique(query)
        where = "" if songs is None else f" AND song_id IN ({_int_literals(songs)})"
        parts = [[np.zeros(0, np.int64)] * 3]
        for start in range(0, len(distinct), LOOKUP_BATCH):
            batch = _int_literals(distinct[start : start + LOOKUP_BATCH])
            parts.append(
                self._fetch_ints(
                    ["hash", "song_id", "`offset`"],
                    f"FROM fingerprints WHERE hash IN ({batch}){where}",
                    None,
                )
            )
        return [np.concatenate([part[k] for part in parts]) for k in range(3)]

    def _vote_rows(
        self,
        rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        *,
        top_n: int,
        time_tolerance: int,
        distinct_hashes: bool,
    ) -> list[np.ndarray]:
        # The query goes into a per-connection MEMORY table, joined in SQL.
        hashes, offsets, vote_hashes, weights = rows
        tol = time_tolerance
        if distinct_hashes:
            deltas = " UNION ALL ".join(
                f"SELECT {delta} AS delta" if delta == -tol else f"SELECT {delta}"
                for delta in range(-tol, tol + 1)
            )
            statement = (_VOTE_DISTINCT + _VOTE_TOP).format(tol=tol, deltas=deltas)
        else:
            statement = (_VOTE_ALL + _VOTE_TOP).format(tol=tol)
        if not self._query_table:
            self._execute(_QUERY_TABLE)
            self._query_table = True
        self._execute("TRUNCATE TABLE vote_query")
        for start in range(0, len(hashes), INSERT_BATCH):
            block = slice(start, start + INSERT_BATCH)
            values = _rows_literal(
                hashes[block], offsets[block], vote_hashes[block], weights[block]
            )
            self._execute(
                "INSERT INTO vote_query (hash, query_offset, vote_hash, weight) VALUES " + values
            )
        return self._fetch_columns(statement, [top_n], 5)

    # -- size ---------------------------------------------------------------

    def _size_bytes(self) -> int:
        # InnoDB's own estimate, refreshed by its background statistics.
        return int(
            self._execute(
                "SELECT COALESCE(SUM(data_length + index_length), 0) "
                "FROM information_schema.tables WHERE table_schema = DATABASE() "
                "AND table_name IN ('meta', 'songs', 'fingerprints', 'sketches')"
            )[0][0]
        )

    def close(self) -> None:
        if self.con.open:
            self.con.close()


def _error_parts(error: BaseException) -> tuple[int, str]:
    """PyMySQL's (code, message), or (0, text) for other errors."""
    args: tuple[Any, ...] = tuple(getattr(error, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int):
        return args[0], str(args[1])
    return 0, str(error) or type(error).__name__
