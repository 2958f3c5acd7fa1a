"""Writes in batches: how long results wait, and holding a DuckDB file's write lock.

A DuckDB file has one writer at a time, and a connection costs more than
storing a small song: the calling process writes the results ready about
:data:`WRITE_EVERY_S` at a time (in one process) and keeps the file's write lock
across them for at most about :data:`WRITE_HOLD_S`, so that readers get in
between. Other stores take each write as it comes.

The runs look these constants up here as they go: to change one, set it on
this module (``dejavu_lab.fingerprinting.writing.WRITE_EVERY_S = 0.05``).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import Any

from ..store.duckdb_store import DuckDBStore

#: The writer of a DuckDB file keeps its write lock across songs whose results
#: are ready, for at most about this long (s), then lets readers in.
WRITE_HOLD_S = 0.5
#: In one process, fingerprints wait in memory until about this much computing
#: time (s) is ready, then are written together: one connection to the file per
#: batch instead of one per song. A run killed meanwhile redoes at most this much.
WRITE_EVERY_S = 1.0


class _WriteBatch:
    """Holds a DuckDB file's write lock across consecutive writes (else does nothing)."""

    def __init__(self, store: Any) -> None:
        self.store = store if isinstance(store, DuckDBStore) else None
        self.stack: ExitStack | None = None
        self.since = 0.0

    def hold(self) -> None:
        """Take the lock, if not held, for the writes that follow."""
        if self.store is not None and self.stack is None:
            stack = ExitStack()
            stack.enter_context(self.store.writing())
            self.stack, self.since = stack, time.perf_counter()

    def held_s(self) -> float:
        return time.perf_counter() - self.since if self.stack is not None else 0.0

    def release(self) -> None:
        if self.stack is not None:
            stack, self.stack = self.stack, None
            stack.close()
