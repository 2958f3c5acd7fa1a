"""Fingerprinting files and directories: parallel workers, one writer.

Workers decode and fingerprint; the calling process alone writes, one
transaction per song. Files are identified by content hash: a file already
stored (even renamed) is skipped, so a run killed at any moment and started
again loses nothing and does nothing twice.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .core.audio import DEFAULT_EXTENSIONS, content_hash, load_audio
from .core.hashing import Fingerprints
from .core.pipeline import Pipeline
from .exceptions import AudioError, DejavuLabError
from .store.base import DuplicateSongError, SongInfo

logger = logging.getLogger(__name__)

#: Songs shorter than this are refused (s): too little to fingerprint.
MIN_SONG_SECONDS = 1.0


@dataclass(frozen=True)
class FileFingerprints:
    """A worker's result for one file."""

    path: str
    name: str
    content_hash: str
    duration_s: float
    fingerprints: Fingerprints
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
    fingerprints = pipeline.fingerprint(audio.samples)
    if len(fingerprints) == 0:
        raise AudioError(path, "no fingerprints: the audio is silent or has no spectral peaks")
    return FileFingerprints(
        path=str(path),
        name=song_name if song_name is not None else path.stem,
        content_hash=digest,
        duration_s=audio.duration_s,
        fingerprints=fingerprints,
        seconds=time.perf_counter() - start,
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


def _results(
    jobs: list[tuple[str, str, Pipeline]], nprocesses: int
) -> Iterator[FileFingerprints | FileFailure]:
    if nprocesses <= 1 or len(jobs) <= 1:
        yield from map(_worker, jobs)
        return
    # fork: workers inherit the imported modules (fast start, no __main__ guard
    # needed in user scripts); they never touch the database.
    context = get_context("fork")
    with ProcessPoolExecutor(max_workers=nprocesses, mp_context=context) as pool:
        yield from pool.map(_worker, jobs, chunksize=1)


def fingerprint_files(
    files: Sequence[Path],
    pipeline: Pipeline,
    store: Any,
    *,
    nprocesses: int | None = None,
    progress: bool = True,
) -> FingerprintReport:
    """Fingerprint files into a store, skipping those already stored.

    Parameters
    ----------
    files : sequence of Path
    pipeline : Pipeline
    store : Store
        Written by this process only.
    nprocesses : int, optional
        Worker processes (default: CPU count).
    progress : bool
        Show a tqdm bar (songs, audio hours, ETA).
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
    bar = tqdm(total=len(jobs), unit="song", desc="fingerprinting", disable=not progress)
    try:
        for result in _results(jobs, workers):
            if isinstance(result, FileFailure):
                report.failed.append((result.path, result.reason))
                logger.warning("cannot fingerprint %s: %s", result.path, result.reason)
            else:
                info = SongInfo(result.name, result.path, result.content_hash, result.duration_s)
                try:
                    song_id = store.add_song(info, result.fingerprints)
                except DuplicateSongError:
                    report.skipped.append((result.path, "already fingerprinted"))
                else:
                    logger.debug("stored song %d: %s", song_id, result.path)
                    report.added.append((result.path, song_id))
                    report.audio_seconds += result.duration_s
                    report.num_hashes += len(result.fingerprints)
            bar.update(1)
            bar.set_postfix(
                audio_h=f"{report.audio_seconds / 3600:.2f}",
                failed=len(report.failed),
                refresh=False,
            )
    finally:
        bar.close()
    report.elapsed_s = time.perf_counter() - start
    logger.info("fingerprinting: %s", report.summary())
    return report


__all__ = [
    "DejavuLabError",
    "FileFailure",
    "FileFingerprints",
    "FingerprintReport",
    "find_audio_files",
    "fingerprint_files",
    "fingerprint_path",
]
