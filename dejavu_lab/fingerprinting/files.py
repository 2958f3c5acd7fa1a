"""One audio file: found on disk, decoded and fingerprinted (in a worker).

:func:`find_audio_files` lists what a run will fingerprint; :func:`fingerprint_path`
does one file's work and is what a worker runs, failures coming back as a
:class:`FileFailure` instead of an exception so that one bad file does not stop
a run.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.audio import DEFAULT_EXTENSIONS, content_hash, load_audio
from ..core.hashing import Fingerprints
from ..core.pipeline import Pipeline
from ..exceptions import AudioError

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
    sketch: np.ndarray | None = None


@dataclass(frozen=True)
class FileFailure:
    """A file that could not be fingerprinted, and why."""

    path: str
    reason: str


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
