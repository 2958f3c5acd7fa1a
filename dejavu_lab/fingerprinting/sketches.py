"""Sketches for stored songs that have none, computed from their files.

Songs fingerprinted by a version that stored no sketch get theirs from their
files, where they were fingerprinted, without fingerprinting them again
(:func:`add_missing_sketches`).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..core.audio import content_hash, load_audio
from ..core.pipeline import Pipeline
from ..exceptions import AudioError
from ..store import check_compatible
from ..store.base import SongRecord
from . import writing  # WRITE_EVERY_S, WRITE_HOLD_S: looked up there, where they are set
from .files import MIN_SONG_SECONDS, FileFailure
from .parallel import _results
from .writing import _WriteBatch

logger = logging.getLogger(__name__)

#: A sketch recomputed from a song's file may differ in length from the song's
#: frames (``Pipeline.frames_for`` of its stored duration) by this many frames.
SKETCH_FRAME_TOLERANCE = 1


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
            if time.perf_counter() - written >= writing.WRITE_EVERY_S:
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
