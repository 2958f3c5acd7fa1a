"""Fingerprint stores: the protocol, the DuckDB default, and a factory.

>>> store = open_store(":memory:")
>>> store.stats().num_songs
0
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..exceptions import ParameterError, StoreError
from .base import (
    DuplicateSongError,
    SongInfo,
    SongRecord,
    Store,
    StoreStats,
    check_compatible,
)
from .duckdb_store import DuckDBStore
from .server import ServerConfig, parse_server_config, parse_server_url

__all__ = [
    "DuckDBStore",
    "DuplicateSongError",
    "SongInfo",
    "SongRecord",
    "Store",
    "StoreStats",
    "check_compatible",
    "default_db_path",
    "open_store",
    "store_spec",
]

DEFAULT_DB = "fingerprints.duckdb"


def default_db_path() -> str:
    """``$DEJAVU_LAB_DB`` if set, else ``fingerprints.duckdb`` in the working directory."""
    return os.environ.get("DEJAVU_LAB_DB") or DEFAULT_DB


def open_store(
    spec: str | os.PathLike[str] | Mapping[str, Any] | ServerConfig | None = None,
    *,
    read_only: bool = False,
) -> Any:
    """Open a store from a path, a URL or a Dejavu-style config dict.

    Parameters
    ----------
    spec : str, path, dict, ServerConfig or None
        ``"fingerprints.duckdb"``, ``"duckdb:path"``, ``":memory:"``,
        ``"mysql://user:pass@host/db"``, ``"postgresql://..."``,
        ``{"type": "duckdb", "path": ..., "index": ..., "lock_timeout": ...}`` /
        ``{"type": "mysql", "host": ...}``, or a server store's ``config``.
        None means :func:`default_db_path`.
    read_only : bool
        Open for reading only (DuckDB).

    Raises
    ------
    ParameterError
        For an unknown store type.
    """
    if spec is None:
        spec = default_db_path()
    if isinstance(spec, ServerConfig):
        return _open(spec)
    if isinstance(spec, Mapping):
        config = dict(spec)
        kind = config.pop("type", "duckdb")
        if kind == "duckdb":
            index = config.pop("index", "memory")
            path = config.pop("path", default_db_path())
            timeout = config.pop("lock_timeout", None)
            if config:
                raise ParameterError(
                    f"unknown duckdb database option(s): {', '.join(sorted(config))}"
                )
            return DuckDBStore(path, read_only=read_only, index=index, lock_timeout=timeout)
        if kind in ("mysql", "mariadb", "postgresql", "postgres"):
            return open_server_store(kind, config)
        raise ParameterError(
            f"unknown database type {kind!r}: expected duckdb, mysql or postgresql"
        )
    text = os.fspath(spec)
    lowered = text.lower()
    if lowered.startswith(("mysql://", "mariadb://", "postgresql://", "postgres://")):
        return open_server_store_url(text)
    if lowered.startswith("duckdb:"):
        text = text[len("duckdb:") :]
    return DuckDBStore(text, read_only=read_only)


def store_spec(store: Any) -> Any:
    """What :func:`open_store` reopens ``store`` from, in another process.

    Raises
    ------
    ParameterError
        For an in-memory database (no other process can see it) or a store
        of unknown kind.
    """
    if isinstance(store, DuckDBStore):
        if store.path == ":memory:":
            raise ParameterError(
                "an in-memory DuckDB database cannot be shared with other processes: "
                "use a database file or a server database"
            )
        return {
            "type": "duckdb",
            "path": store.path,
            "index": store.index_mode,
            "lock_timeout": store.lock_timeout,
        }
    config = getattr(store, "config", None)
    if isinstance(config, ServerConfig):
        return config
    raise ParameterError(f"cannot reopen {store!r} in another process: unknown kind of store")


def open_server_store(kind: str, config: Mapping[str, Any]) -> Any:
    """Open a MySQL/MariaDB or PostgreSQL store from a Dejavu-style config.

    Parameters
    ----------
    kind : {"mysql", "mariadb", "postgresql", "postgres"}
    config : dict
        host, port, user, passwd (or password), db (or database), schema
        (PostgreSQL), connect_timeout.

    Raises
    ------
    ParameterError
        For a bad config.
    StoreError
        If the server cannot be reached or refuses the login, naming host,
        port, database and the reason; or if its driver is not installed.
    """
    return _open(parse_server_config(kind, config))


def open_server_store_url(url: str) -> Any:
    """Open a server store from a ``mysql://``, ``mariadb://``, ``postgresql://`` URL."""
    return _open(parse_server_url(url))


def _open(config: ServerConfig) -> Any:
    if config.kind == "mysql":
        try:
            from .server.mysql_store import MySQLStore
        except ImportError as error:
            raise StoreError(
                f"{config.describe()}: MySQL support needs PyMySQL "
                f"(pip install 'dejavu-lab[server]'): {error}"
            ) from error
        return MySQLStore(config)
    try:
        from .server.postgres_store import PostgresStore
    except ImportError as error:
        raise StoreError(
            f"{config.describe()}: PostgreSQL support needs psycopg 3 "
            f"(pip install 'dejavu-lab[server]'): {error}"
        ) from error
    return PostgresStore(config)
