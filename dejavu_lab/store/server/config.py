"""Where a server store lives: MySQL/MariaDB or PostgreSQL, from a mapping or a URL.

Configuration, as in Dejavu::

    {"type": "mysql", "host": "127.0.0.1", "port": 3306, "user": "root",
     "passwd": "", "db": "dejavu"}
    {"type": "postgresql", "host": "127.0.0.1", "user": "me", "database": "dejavu",
     "schema": "fingerprints"}

or a URL: ``mysql://root@127.0.0.1/dejavu``, ``mariadb://...``,
``postgresql://me:secret@db.example.org:5432/dejavu?schema=fingerprints``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ...exceptions import ParameterError

__all__ = ["ServerConfig", "parse_server_config", "parse_server_url"]

DEFAULT_PORTS = {"mysql": 3306, "postgresql": 5432}
_KINDS = {
    "mysql": "mysql",
    "mariadb": "mysql",
    "postgresql": "postgresql",
    "postgres": "postgresql",
}
_CONFIG_KEYS = ("host", "port", "user", "passwd", "password", "db", "database", "schema")
_OPTIONAL_KEYS = ("connect_timeout",)


@dataclass(frozen=True)
class ServerConfig:
    """Where a server database is and how to log in.

    Attributes
    ----------
    kind : {"mysql", "postgresql"}
    host : str
    port : int
    database : str
    user : str or None
        None: the driver's default (the login name).
    password : str or None
        Never shown in messages or reprs.
    schema : str or None
        PostgreSQL only: the schema holding the tables (created if missing);
        None means the user's default search path.
    connect_timeout : float
        Seconds to wait for the server to answer a connection.
    """

    kind: str
    host: str
    port: int
    database: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str | None = None
    connect_timeout: float = 10.0

    @property
    def engine(self) -> str:
        """The server's name for people."""
        return "MySQL/MariaDB" if self.kind == "mysql" else "PostgreSQL"

    def describe(self) -> str:
        """A URL without the password, for messages and reprs."""
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        text = f"{self.kind}://{user}{host}:{self.port}/{self.database}"
        return text + (f"?schema={self.schema}" if self.schema else "")


def _normalise_kind(kind: str) -> str:
    try:
        return _KINDS[kind.lower()]
    except KeyError:
        raise ParameterError(
            f"unknown server database type {kind!r}: expected mysql, mariadb, postgresql "
            "or postgres"
        ) from None


def _one_of(config: Mapping[str, Any], first: str, second: str) -> Any:
    if first in config and second in config:
        raise ParameterError(f"give either {first!r} or {second!r}, not both")
    return config.get(first, config.get(second))


def parse_server_config(kind: str, config: Mapping[str, Any]) -> ServerConfig:
    """Check a Dejavu-style config dict (without ``type``).

    Raises
    ------
    ParameterError
        For an unknown key, a key given twice under both its names, a missing
        database, a bad port or timeout, or ``schema`` with MySQL.
    """
    kind = _normalise_kind(kind)
    unknown = set(config) - set(_CONFIG_KEYS) - set(_OPTIONAL_KEYS)
    if unknown:
        raise ParameterError(
            f"unknown {kind} database option(s) {', '.join(sorted(unknown))}: expected "
            f"{', '.join(_CONFIG_KEYS + _OPTIONAL_KEYS)}"
        )
    database = _one_of(config, "db", "database")
    if not database or not isinstance(database, str):
        raise ParameterError(f"a {kind} database config needs 'db' (the database name)")
    password = _one_of(config, "passwd", "password")
    schema = config.get("schema")
    if schema is not None and kind != "postgresql":
        raise ParameterError("'schema' is a PostgreSQL option; MySQL has databases only")
    if schema is not None and (not isinstance(schema, str) or not schema):
        raise ParameterError(f"schema={schema!r} is not allowed: expected a non-empty name")
    port = config.get("port", DEFAULT_PORTS[kind])
    try:
        port = int(port)
    except (TypeError, ValueError):
        port = -1
    if not 0 < port < 65536:
        raise ParameterError(f"port={config.get('port')!r} is not allowed: expected 1-65535")
    timeout = config.get("connect_timeout", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ParameterError(
            f"connect_timeout={timeout!r} is not allowed: expected a positive number of seconds"
        )
    user = config.get("user")
    return ServerConfig(
        kind=kind,
        host=str(config.get("host") or "127.0.0.1"),
        port=port,
        database=database,
        user=str(user) if user is not None else None,
        password=str(password) if password is not None else None,
        schema=schema,
        connect_timeout=float(timeout),
    )


def parse_server_url(url: str) -> ServerConfig:
    """``mysql://user:password@host:port/db`` or ``postgresql://...?schema=name``.

    User and password may be percent-encoded; the query string may hold
    ``schema`` (PostgreSQL) and ``connect_timeout``.
    """
    parts = urlsplit(url)
    kind = _normalise_kind(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        raise ParameterError(f"bad port in database URL {_redact(url)}") from None
    config: dict[str, Any] = {"db": unquote(parts.path.lstrip("/"))}
    if parts.hostname:
        config["host"] = parts.hostname
    if port is not None:
        config["port"] = port
    if parts.username:
        config["user"] = unquote(parts.username)
    if parts.password is not None:
        config["password"] = unquote(parts.password)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "schema":
            config["schema"] = value
        elif key == "connect_timeout":
            try:
                config["connect_timeout"] = float(value)
            except ValueError:
                raise ParameterError(f"connect_timeout={value!r} is not a number") from None
        else:
            raise ParameterError(
                f"unknown option {key!r} in database URL {_redact(url)}: expected schema "
                "(PostgreSQL) or connect_timeout"
            )
    if not config["db"]:
        raise ParameterError(f"database URL {_redact(url)} names no database (…/DBNAME)")
    return parse_server_config(kind, config)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
