"""A fingerprinting run: files into a store, in parallel, resumable.

Workers decode and fingerprint; the calling process alone writes, one
transaction per song. Files are identified by content hash: a file already
stored (even renamed) is skipped, so a run killed at any moment and started
again loses nothing and does nothing twice.

The workers are local processes by default, or those of any executor passed in
(``concurrent.futures``, or a Dask ``Client`` / ``client.get_executor()``: see
``docs/cluster.md``). With an executor and a server database (PostgreSQL,
MySQL), each worker writes its songs itself, one transaction per song, and
only a summary comes back; a DuckDB file (one writer at a time) is written by
the calling process, which takes the file's write lock for a short batch of
songs at a time (:data:`~.writing.WRITE_HOLD_S`) so that readers get in
between. In one process, songs are written about a second's worth at a time
(:data:`~.writing.WRITE_EVERY_S`), not one connection per song.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..core.audio import content_hash
from ..core.pipeline import Pipeline
from ..exceptions import AudioError
from ..store import open_store, store_spec
from ..store.base import DuplicateSongError, SongInfo
from ..store.duckdb_store import DuckDBStore
from . import writing  # WRITE_EVERY_S, WRITE_HOLD_S: looked up there, where they are set
from .files import FileFailure, FileFingerprints, _worker
from .parallel import _results
from .writing import _WriteBatch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileStored:
    """A worker's result for a file it stored itself (server databases).

    Attributes
    ----------
    song_id : int or None
        None if the song was already stored (by another worker or an
        earlier attempt of this one).
    """

    path: str
    song_id: int | None
    duration_s: float
    num_hashes: int
    seconds: float


@dataclass
class FingerprintReport:
    """What a fingerprinting run did.

    Attributes
    ----------
    added : list of (path, song_id)
    skipped : list of (path, reason)
        Already stored, or a copy of another file of this run.
    failed : list of (path, reason)
    audio_seconds : float
        Audio fingerprinted in this run (s).
    num_hashes : int
        Hashes stored in this run.
    elapsed_s : float
        Wall-clock time of the run (s).
    """

    added: list[tuple[str, int]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    audio_seconds: float = 0.0
    num_hashes: int = 0
    elapsed_s: float = 0.0

    @property
    def speed_x_realtime(self) -> float:
        """Audio seconds fingerprinted per wall-clock second."""
        return self.audio_seconds / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> str:
        """One paragraph for people."""
        lines = [
            f"{len(self.added)} added, {len(self.skipped)} skipped, {len(self.failed)} failed; "
            f"{self.audio_seconds / 3600:.2f} h of audio, {self.num_hashes:,} hashes in "
            f"{self.elapsed_s:.1f} s ({self.speed_x_realtime:.0f}x real time)"
        ]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


#: A worker process's open server stores, by configuration (reused across tasks).
_WORKER_STORES: dict[Any, Any] = {}


def _store_worker(job: tuple[str, str, Pipeline, Any]) -> FileStored | FileFailure:
    """Fingerprint a file and store it in a server database, in a worker."""
    path, digest, pipeline, spec = job
    result = _worker((path, digest, pipeline))
    if isinstance(result, FileFailure):
        return result
    store = _WORKER_STORES.get(spec)
    if store is None:
        store = _WORKER_STORES[spec] = open_store(spec)
    info = SongInfo(result.name, result.path, result.content_hash, result.duration_s)
    try:
        song_id: int | None = int(store.add_song(info, result.fingerprints, sketch=result.sketch))
    except DuplicateSongError:
        song_id = None
    except BaseException:
        # A broken connection is not reused; the task fails (and may be retried).
        _WORKER_STORES.pop(spec, None)
        store.close()
        raise
    return FileStored(
        result.path, song_id, result.duration_s, len(result.fingerprints), result.seconds
    )


def fingerprint_files(
    files: Sequence[Path],
    pipeline: Pipeline,
    store: Any,
    *,
    nprocesses: int | None = None,
    progress: bool = True,
    executor: Any = None,
) -> FingerprintReport:
    """Fingerprint files into a store, skipping those already stored.

    Parameters
    ----------
    files : sequence of Path
    pipeline : Pipeline
    store : Store
        Written by this process, or, with an ``executor`` and a server
        database, by the workers.
    nprocesses : int, optional
        Local worker processes (default: CPU count); ignored with an
        ``executor`` that tells its width.
    progress : bool
        Show a tqdm bar (songs, audio hours, ETA).
    executor : Executor-like, optional
        Runs the workers: a ``concurrent.futures.Executor``, a Dask ``Client``
        or ``client.get_executor()``. Default: local processes. Its workers
        must be able to read the files (and reach a server database).
    """
    start = time.perf_counter()
    report = FingerprintReport()
    stored = store.content_hashes()
    jobs: list[tuple[str, str, Pipeline]] = []
    first_with: dict[str, str] = {}
    for path in files:
        try:
            digest = content_hash(path)
        except AudioError as error:
            report.failed.append((str(path), error.reason))
            continue
        if digest in stored:
            report.skipped.append((str(path), "already fingerprinted"))
        elif digest in first_with:
            report.skipped.append((str(path), f"same content as {first_with[digest]}"))
        else:
            first_with[digest] = str(path)
            jobs.append((str(path), digest, pipeline))
    workers = nprocesses or os.cpu_count() or 1
    function: Any = _worker
    work: list[Any] = jobs
    if executor is not None and not isinstance(store, DuckDBStore):
        spec = store_spec(store)  # a server database: the workers write
        function = _store_worker
        work = [(*job, spec) for job in jobs]
    # One process computes between writes: it gathers about WRITE_EVERY_S of work first.
    gather_s = (
        writing.WRITE_EVERY_S if executor is None and (workers <= 1 or len(jobs) <= 1) else 0.0
    )
    bar = tqdm(total=len(jobs), unit="song", desc="fingerprinting", disable=not progress)
    batch = _WriteBatch(store)
    ready: list[FileFingerprints] = []
    try:
        for result, next_ready in _results(function, work, workers, executor):
            if isinstance(result, FileFailure):
                report.failed.append((result.path, result.reason))
                logger.warning("cannot fingerprint %s: %s", result.path, result.reason)
            elif isinstance(result, FileStored):
                if result.song_id is None:
                    report.skipped.append((result.path, "already fingerprinted"))
                else:
                    _count_added(report, result.path, result.song_id, result)
            else:
                ready.append(result)
                if sum(r.seconds for r in ready) >= gather_s:
                    _store_ready(ready, store, batch, report)
            if not next_ready or batch.held_s() > writing.WRITE_HOLD_S:
                batch.release()
            bar.update(1)
            bar.set_postfix(
                audio_h=f"{report.audio_seconds / 3600:.2f}",
                failed=len(report.failed),
                refresh=False,
            )
        _store_ready(ready, store, batch, report)
    except KeyboardInterrupt:
        _store_ready(ready, store, batch, report)  # keep what is computed
        raise
    finally:
        batch.release()
        bar.close()
    report.elapsed_s = time.perf_counter() - start
    logger.info("fingerprinting: %s", report.summary())
    return report


def _store_ready(
    ready: list[FileFingerprints], store: Any, batch: _WriteBatch, report: FingerprintReport
) -> None:
    """Write the fingerprints computed so far, under one hold of the write lock."""
    if not ready:
        return
    batch.hold()
    for result in ready:
        info = SongInfo(result.name, result.path, result.content_hash, result.duration_s)
        try:
            song_id = store.add_song(info, result.fingerprints, sketch=result.sketch)
        except DuplicateSongError:
            report.skipped.append((result.path, "already fingerprinted"))
        else:
            _count_added(report, result.path, song_id, result)
    ready.clear()


def _count_added(
    report: FingerprintReport,
    path: str,
    song_id: int,
    result: FileFingerprints | FileStored,
) -> None:
    logger.debug("stored song %d: %s", song_id, path)
    report.added.append((path, song_id))
    report.audio_seconds += result.duration_s
    report.num_hashes += (
        result.num_hashes if isinstance(result, FileStored) else len(result.fingerprints)
    )
