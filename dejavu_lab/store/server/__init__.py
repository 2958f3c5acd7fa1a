"""Server stores (MySQL/MariaDB, PostgreSQL): configuration, vote pushdown, the stores.

Several processes, on one machine or several, may fingerprint into one server
database at once: a song is stored in one transaction (its row, then its hashes
bulk-loaded), so it is visible only when complete, and the UNIQUE content hash
makes a second writer of the same song wait for the first and then fail with
:class:`~dejavu_lab.store.base.DuplicateSongError`, its transaction rolled back.

- :mod:`~dejavu_lab.store.server.config`: where the database is (a mapping or a URL);
- :mod:`~dejavu_lab.store.server.votes`: the offset histogram computed by the database;
- :mod:`~dejavu_lab.store.server.sql_store`: what the two engines share;
- :mod:`~dejavu_lab.store.server.mysql_store`, :mod:`~dejavu_lab.store.server.postgres_store`:
  each engine's SQL.

The engines' drivers are optional dependencies: the store modules import them
only when a store is opened.
"""

from __future__ import annotations

from .config import DEFAULT_PORTS, ServerConfig, parse_server_config, parse_server_url
from .votes import (
    MAX_TIME_TOLERANCE,
    MAX_TOP_N,
    REST_DIFF,
    VoteSummary,
    check_vote_params,
    expand_lookup,
    summarize_votes,
    summary_from_rows,
    vote_query_rows,
)

__all__ = [
    "DEFAULT_PORTS",
    "MAX_TIME_TOLERANCE",
    "MAX_TOP_N",
    "REST_DIFF",
    "ServerConfig",
    "VoteSummary",
    "check_vote_params",
    "expand_lookup",
    "parse_server_config",
    "parse_server_url",
    "summarize_votes",
    "summary_from_rows",
    "vote_query_rows",
]
