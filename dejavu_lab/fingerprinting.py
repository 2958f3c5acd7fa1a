"""Fingerprinting files and directories: parallel workers, one writer.

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
songs at a time (:data:`WRITE_HOLD_S`) so that readers get in between. In
one process, songs are written about a second's worth at a time
(:data:`WRITE_EVERY_S`), not one connection per song.

Songs fingerprinted by a version that stored no sketch get theirs from their
files, where they were fingerprinted, without fingerprinting them again
(:func:`add_missing_sketches`).
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .core.audio import DEFAULT_EXTENSIONS, content_hash, load_audio
from .core.hashing import Fingerprints
from .core.pipeline import Pipeline
from .exceptions import AudioError, DejavuLabError
from .store import check_compatible, open_store, store_spec
from .store.base import DuplicateSongError, SongInfo, SongRecord
from .store.duckdb_store import DuckDBStore

logger = logging.getLogger(__name__)

#: Songs shorter than this are refused (s): too little to fingerprint.
MIN_SONG_SECONDS = 1.0
#: The writer of a DuckDB file keeps its write lock across songs whose results
#: are ready, for at most about this long (s), then lets readers in.
WRITE_HOLD_S = 0.5
#: In one process, fingerprints wait in memory until about this much computing
#: time (s) is ready, then are written together: one connection to the file per
#: batch instead of one per song. A run killed meanwhile redoes at most this much.
WRITE_EVERY_S = 1.0
#: Jobs in flight per worker (results are taken in order: a long file at the head
#: must not leave the other workers idle).
JOBS_PER_WORKER = 8
#: A sketch recomputed from a song's file may differ in length from the song's
#: frames (``Pipeline.frames_for`` of its stored duration) by this many frames.
SKETCH_FRAME_TOLERANCE = 1


@dataclass(frozen=True)
class FileFingerprints:
    """A worker's result for one file."""

    path: str
    name: str
    content_hash: str
    duration_s: float
    fingerprints: Fingerprints
    seconds: float
    sketch: np.ndarray | None = None


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


@dataclass(frozen=True)
class FileFailure:
    """A file that could not be fingerprinted, and why."""

    path: str
    reason: str


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


def find_audio_files(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    extensions: Sequence[str] | None = None,
) -> list[Path]:
    """Audio files under directories (recursively) and files given directly.

    Extensions are matched case-insensitively, with or without the dot. Files
    named explicitly are kept whatever their extension. Sorted, unique.

    Raises
    ------
    AudioError
        For a path that does not exist.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    wanted = tuple(
        e.lower() if e.startswith(".") else "." + e.lower()
        for e in (extensions or DEFAULT_EXTENSIONS)
    )
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found.extend(
                p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in wanted
            )
        elif path.exists():
            found.append(path)
        else:
            raise AudioError(path, "no such file or directory")
    unique = dict.fromkeys(p.resolve() for p in found)
    return list(unique)


def fingerprint_path(
    path: str | os.PathLike[str],
    pipeline: Pipeline,
    *,
    song_name: str | None = None,
    digest: str | None = None,
) -> FileFingerprints:
    """Decode and fingerprint one file (runs in a worker).

    Raises
    ------
    AudioError
        If the file cannot be used, naming it and the reason.
    """
    start = time.perf_counter()
    path = Path(path)
    digest = digest or content_hash(path)
    audio = load_audio(
        path, sample_rate=pipeline.spectrogram.sample_rate, min_duration_s=MIN_SONG_SECONDS
    )
    fingerprints, sketch = pipeline.fingerprint_song(audio.samples)
    if len(fingerprints) == 0:
        raise AudioError(path, "no fingerprints: the audio is silent or has no spectral peaks")
    return FileFingerprints(
        path=str(path),
        name=song_name if song_name is not None else path.stem,
        content_hash=digest,
        duration_s=audio.duration_s,
        fingerprints=fingerprints,
        seconds=time.perf_counter() - start,
        sketch=sketch,
    )


def _worker(job: tuple[str, str, Pipeline]) -> FileFingerprints | FileFailure:
    path, digest, pipeline = job
    try:
        return fingerprint_path(path, pipeline, digest=digest)
    except AudioError as error:
        return FileFailure(path, error.reason)
    except MemoryError:
        return FileFailure(path, "out of memory while decoding (file too large?)")
    except Exception as error:  # a bug or an unforeseen codec error: report, go on
        logger.exception("unexpected error fingerprinting %s", path)
        return FileFailure(path, f"unexpected error: {type(error).__name__}: {error}")


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


def executor_width(executor: Any) -> int | None:
    """How many tasks an executor runs at once, where it says (else None).

    Knows ``concurrent.futures`` pools and Dask clients (threads of every
    worker now connected).
    """
    client = getattr(executor, "_client", executor)  # Client.get_executor() wraps a Client
    nthreads = getattr(client, "nthreads", None)
    if callable(nthreads):
        try:
            return max(1, sum(dict(nthreads()).values()))
        except Exception:  # not a Dask client after all
            return None
    width = getattr(executor, "_max_workers", None)
    return int(width) if isinstance(width, int) else None


def ordered_results(
    executor: Any, function: Any, jobs: Sequence[Any], *, window: int
) -> Iterator[tuple[Any, bool]]:
    """``function(job)`` for each job through ``executor.submit``, in order.

    At most ``window`` jobs are in flight, so results wait in bounded memory.
    Yields ``(result, next_ready)``: whether the next result is already done.
    Works with any executor whose ``submit`` returns an object with ``result()``
    and ``done()`` (``concurrent.futures``, a Dask ``Client``).
    """
    pending: deque[Any] = deque()
    queue = iter(jobs)
    for job in queue:
        pending.append(executor.submit(function, job))
        if len(pending) >= window:
            break
    while pending:
        result = pending.popleft().result()
        for job in queue:
            pending.append(executor.submit(function, job))
            break
        yield result, bool(pending) and pending[0].done()


def _results(
    function: Any, jobs: list[Any], nprocesses: int, executor: Any
) -> Iterator[tuple[Any, bool]]:
    if executor is not None:
        width = executor_width(executor) or nprocesses
        yield from ordered_results(executor, function, jobs, window=JOBS_PER_WORKER * width)
        return
    if nprocesses <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield function(job), False
        return
    # fork: workers inherit the imported modules (fast start, no __main__ guard
    # needed in user scripts); they never touch the database.
    context = get_context("fork")
    with ProcessPoolExecutor(max_workers=nprocesses, mp_context=context) as pool:
        yield from ordered_results(pool, function, jobs, window=JOBS_PER_WORKER * nprocesses)


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
    gather_s = WRITE_EVERY_S if executor is None and (workers <= 1 or len(jobs) <= 1) else 0.0
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
            if not next_ready or batch.held_s() > WRITE_HOLD_S:
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


@dataclass(frozen=True)
class SongSketch:
    """A worker's result: a stored song's sketch, computed from its file.

    Attributes
    ----------
    song : SongRecord
    sketch : np.ndarray, shape (n_frames,), uint32
    seconds : float
        Time taken to hash, decode and sketch the file (s).
    """

    song: SongRecord
    sketch: np.ndarray
    seconds: float


@dataclass
class SketchReport:
    """What a run of :func:`add_missing_sketches` did.

    Attributes
    ----------
    added : list of (path, song_id)
        Songs given their sketch.
    skipped : list of (path, song_id)
        Songs that had one already (or were given one by another writer meanwhile).
    failed : list of (path, reason)
        Songs left without one: file missing, changed, or undecodable.
    elapsed_s : float
        Wall-clock time of the run (s).
    """

    added: list[tuple[str, int]] = field(default_factory=list)
    skipped: list[tuple[str, int]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    elapsed_s: float = 0.0

    def summary(self) -> str:
        """One line for people, then one line a failed song."""
        lines = [
            f"sketches: {len(self.added)} added, {len(self.skipped)} skipped (had one), "
            f"{len(self.failed)} failed in {self.elapsed_s:.1f} s"
        ]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


def sketch_stored_song(song: SongRecord, pipeline: Pipeline) -> SongSketch:
    """Compute a stored song's sketch from its file, checked to be the one fingerprinted.

    Runs in a worker.

    Parameters
    ----------
    song : SongRecord
        Its ``path`` is read; its ``content_hash`` and ``duration_s`` must match the file.
    pipeline : Pipeline
        The database's pipeline; the file is decoded at its ``spectrogram.sample_rate``.

    Returns
    -------
    SongSketch

    Raises
    ------
    AudioError
        Naming the file, if it is missing, its content hash is not the stored one (the
        file changed), it cannot be decoded, or its sketch's length differs from the
        song's frames by more than :data:`SKETCH_FRAME_TOLERANCE`.
    """
    start = time.perf_counter()
    path = Path(song.path)
    if not path.is_file():
        raise AudioError(path, "file not found")
    digest = content_hash(path)
    if digest != song.content_hash:
        raise AudioError(
            path,
            f"file changed since it was fingerprinted (content hash {digest}, stored "
            f"{song.content_hash})",
        )
    audio = load_audio(
        path, sample_rate=pipeline.spectrogram.sample_rate, min_duration_s=MIN_SONG_SECONDS
    )
    sketch = pipeline.sketch_of(audio.samples)
    expected = pipeline.frames_for(song.duration_s)
    if abs(len(sketch) - expected) > SKETCH_FRAME_TOLERANCE:
        raise AudioError(
            path,
            f"sketch of {len(sketch)} frames, but the song stored has {expected} "
            f"({song.duration_s:.3f} s): the file decodes to other audio than was fingerprinted",
        )
    return SongSketch(song, sketch, time.perf_counter() - start)


def _sketch_worker(job: tuple[SongRecord, Pipeline]) -> SongSketch | FileFailure:
    song, pipeline = job
    try:
        return sketch_stored_song(song, pipeline)
    except AudioError as error:
        return FileFailure(song.path, error.reason)
    except MemoryError:
        return FileFailure(song.path, "out of memory while decoding (file too large?)")
    except Exception as error:  # a bug or an unforeseen codec error: report, go on
        logger.exception("unexpected error sketching %s", song.path)
        return FileFailure(song.path, f"unexpected error: {type(error).__name__}: {error}")


def add_missing_sketches(
    store: Any, pipeline: Pipeline, *, progress: bool = True, nprocesses: int | None = None
) -> SketchReport:
    """Give every stored song without a sketch its sketch, computed from its file.

    For songs fingerprinted by a version that stored no sketch: each one's file is
    decoded again from where it was fingerprinted (``SongRecord.path``), checked to be
    the same file (content hash) of the same length (within
    :data:`SKETCH_FRAME_TOLERANCE` frames), and only its sketch is computed and stored
    (``store.add_sketch``, one transaction a song); no song is fingerprinted again.
    The songs that have a sketch are found from their ids alone
    (``store.song_ids_with_sketch``): no stored sketch is read.
    A song whose file fails a check is reported and left as it is. A run stopped at any
    moment keeps the sketches stored so far; running it again does the rest.

    Parameters
    ----------
    store : Store
        Written by this process only.
    pipeline : Pipeline
        The database's pipeline: its spectrogram makes the sketch.
    progress : bool
        Show a tqdm bar (songs).
    nprocesses : int, optional
        Local worker processes decoding files (default: CPU count); 1 decodes them in
        this process.

    Returns
    -------
    SketchReport

    Raises
    ------
    IncompatibleStoreError
        If the database was fingerprinted with other parameters than ``pipeline``'s.
    """
    start = time.perf_counter()
    check_compatible(store.read_params(), pipeline.reference_params(), f"database {store!r}")
    report = SketchReport()
    jobs: list[tuple[SongRecord, Pipeline]] = []
    songs = store.songs()
    # Read after the songs: one stored with its sketch in between is not taken for one
    # without (a sketch added in between makes add_sketch say False: skipped).
    have = store.song_ids_with_sketch()
    for song in songs:
        if song.song_id in have:
            report.skipped.append((song.path, song.song_id))
        else:
            jobs.append((song, pipeline))
    workers = nprocesses or os.cpu_count() or 1
    bar = tqdm(total=len(jobs), unit="song", desc="adding sketches", disable=not progress)
    batch = _WriteBatch(store)
    ready: list[SongSketch] = []
    # Sketches are small (4 bytes a frame): they wait in memory and are written
    # about WRITE_EVERY_S at a time, under one hold of a DuckDB file's write lock
    # (its connection costs more than storing a sketch), released at once after.
    written = time.perf_counter()
    try:
        for result, _ in _results(_sketch_worker, jobs, workers, None):
            if isinstance(result, FileFailure):
                report.failed.append((result.path, result.reason))
                logger.warning("cannot add the sketch of %s: %s", result.path, result.reason)
            else:
                ready.append(result)
            if time.perf_counter() - written >= WRITE_EVERY_S:
                _store_sketches(ready, store, batch, report)
                batch.release()
                written = time.perf_counter()
            bar.update(1)
            bar.set_postfix(failed=len(report.failed), refresh=False)
        _store_sketches(ready, store, batch, report)
    except KeyboardInterrupt:
        _store_sketches(ready, store, batch, report)  # keep what is computed
        raise
    finally:
        batch.release()
        bar.close()
    report.elapsed_s = time.perf_counter() - start
    logger.info("adding sketches: %s", report.summary())
    return report


def _store_sketches(
    ready: list[SongSketch], store: Any, batch: _WriteBatch, report: SketchReport
) -> None:
    """Store the sketches computed so far, under one hold of the write lock."""
    if not ready:
        return
    batch.hold()
    for result in ready:
        song = result.song
        if store.add_sketch(song.song_id, result.sketch):
            logger.debug("stored the sketch of song %d: %s", song.song_id, song.path)
            report.added.append((song.path, song.song_id))
        else:
            report.skipped.append((song.path, song.song_id))
    ready.clear()


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


__all__ = [
    "DejavuLabError",
    "FileFailure",
    "FileFingerprints",
    "FileStored",
    "FingerprintReport",
    "SketchReport",
    "SongSketch",
    "add_missing_sketches",
    "find_audio_files",
    "fingerprint_files",
    "fingerprint_path",
    "ordered_results",
    "sketch_stored_song",
]
