"""Opening a DuckDB file that other processes share: the wait for its lock, and its version.

DuckDB lets one process open a file for writing, or several for reading, never
both. :func:`connect` retries while another process holds the file, pausing a
little longer each time (:class:`Backoff`), for up to ``lock_timeout`` seconds,
then raises :class:`~dejavu_lab.exceptions.StoreLockedError` naming the file.
:func:`file_version` tells a reader that the file was written since it last looked.
"""

from __future__ import annotations

import os
import threading
import time

import duckdb

from ..exceptions import ParameterError, StoreError, StoreLockedError

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


def lock_timeout_s(lock_timeout: float | None) -> float:
    """The seconds to wait for a lock.

    Parameters
    ----------
    lock_timeout : float, optional
        Seconds >= 0; None for ``$DEJAVU_LAB_LOCK_TIMEOUT``, else :data:`LOCK_TIMEOUT_S`.

    Raises
    ------
    ParameterError
        For a negative or non-numeric value (of the argument or the variable).
    """
    if lock_timeout is None:
        text = os.environ.get("DEJAVU_LAB_LOCK_TIMEOUT") or str(LOCK_TIMEOUT_S)
        try:
            lock_timeout = float(text)
        except ValueError:
            raise ParameterError(
                f"DEJAVU_LAB_LOCK_TIMEOUT={text!r} is not allowed: expected seconds >= 0"
            ) from None
    if isinstance(lock_timeout, bool) or not lock_timeout >= 0:
        raise ParameterError(f"lock_timeout={lock_timeout!r} is not allowed: expected seconds >= 0")
    return float(lock_timeout)


class Backoff:
    """Pauses between tries, doubling from 5 ms to 100 ms, and a deadline for them.

    Parameters
    ----------
    timeout_s : float
        Seconds from now after which :meth:`expired` is true.
    """

    def __init__(self, timeout_s: float) -> None:
        self.deadline = time.monotonic() + timeout_s
        self.pause_s = _RETRY_MIN_S

    def expired(self) -> bool:
        """Whether the deadline has passed: the caller gives up."""
        return time.monotonic() >= self.deadline

    def wait(self) -> None:
        """Sleep the current pause, and double the next one."""
        time.sleep(self.pause_s)
        self.pause_s = min(2 * self.pause_s, _RETRY_MAX_S)


class Contested(Exception):
    """A song insert met one of the same content hash another connection committed
    (or is committing) since its transaction began; it stored nothing."""


def connect(path: str, *, write: bool, lock_timeout: float) -> duckdb.DuckDBPyConnection:
    """A new connection, retrying while another process holds the file's lock.

    Parameters
    ----------
    path : str
        Database file, or ``":memory:"`` (always opened for writing).
    write : bool
        Open for writing (one process at a time) rather than read-only.
    lock_timeout : float
        Seconds to retry for while the file is locked.

    Raises
    ------
    StoreLockedError
        If the file stays locked for ``lock_timeout`` s.
    StoreError
        If DuckDB cannot open the file for another reason.
    """
    backoff = Backoff(lock_timeout)
    while True:
        try:
            with _CONNECT_LOCK:
                return duckdb.connect(path, read_only=not write and path != ":memory:")
        except duckdb.IOException as error:
            message = str(error)
            if "lock" not in message.lower():
                raise StoreError(f"cannot open database {path}: {message}") from error
            if backoff.expired():
                raise StoreLockedError(
                    f"database {path} is in use by another process: waited "
                    f"{lock_timeout:g} s to {'write' if write else 'read'} it. Wait for "
                    "that process to finish, raise lock_timeout ($DEJAVU_LAB_LOCK_TIMEOUT) "
                    f"or use another --db ({message.splitlines()[0]})"
                ) from error
        except duckdb.Error as error:
            raise StoreError(f"cannot open database {path}: {error}") from error
        backoff.wait()


def file_version(path: str) -> tuple[int, ...]:
    """Changes whenever the file is written (by any process).

    The modification times, sizes and inodes of the file and of its write-ahead
    log (zeros for a missing one).
    """
    version: list[int] = []
    for name in (path, path + ".wal"):
        try:
            stat = os.stat(name)
        except FileNotFoundError:
            version += [0, 0, 0]
        else:
            version += [stat.st_mtime_ns, stat.st_size, stat.st_ino]
    return tuple(version)
