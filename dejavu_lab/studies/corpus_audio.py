"""Decoded corpora for the studies, and databases built from them.

Studies decode each track once and keep the samples in memory; every setting
of a sweep then fingerprints from memory (decode time is measured apart).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..core.audio import load_audio, resample
from ..core.cache import MemoryCache
from ..core.pipeline import Pipeline
from ..dejavu import Dejavu
from ..exceptions import StoreLockedError
from ..store import DuckDBStore
from ..store.base import SongInfo
from .corpus import manifest_hash, tracks
from .synth import synth_song

#: Rate the studies decode at: the corpus' own, so the "dejavu" preset sees it all.
STUDY_RATE = 44100


@dataclass
class CorpusAudio:
    """Decoded tracks of a corpus.

    Attributes
    ----------
    reference : dict of str to np.ndarray
        Tracks to fingerprint: name -> mono float32 samples at ``sample_rate``.
    unseen : dict of str to np.ndarray
        Tracks never fingerprinted (for false matches).
    sample_rate : int
        Hz.
    paths : dict of str to Path
        Source file of each track (absent for synthetic corpora).
    manifest_hash : str
        Identity of the corpus, for provenance.
    decode_seconds : float
        Time spent decoding (s).
    """

    reference: dict[str, np.ndarray]
    unseen: dict[str, np.ndarray]
    sample_rate: int
    paths: dict[str, Path] = field(default_factory=dict)
    manifest_hash: str = "synthetic"
    decode_seconds: float = 0.0

    @property
    def reference_seconds(self) -> float:
        """Total duration of the reference tracks (s)."""
        return sum(len(x) for x in self.reference.values()) / self.sample_rate


def load_corpus_audio(
    corpus_dir: str | os.PathLike[str],
    *,
    sample_rate: int = STUDY_RATE,
    max_tracks: int | None = None,
    progress: bool = True,
) -> CorpusAudio:
    """Decode a corpus built by ``data/build_corpus.py``.

    Parameters
    ----------
    corpus_dir : path
        Folder holding ``manifest.csv``.
    sample_rate : int
        Hz.
    max_tracks : int, optional
        Keep only the first tracks of each set (for quick looks).
    progress : bool
        Show a progress bar.
    """
    reference: dict[str, np.ndarray] = {}
    unseen: dict[str, np.ndarray] = {}
    paths: dict[str, Path] = {}
    start = time.perf_counter()
    listed = tracks(corpus_dir)
    for track in tqdm(listed, desc="decoding corpus", unit="track", disable=not progress):
        target = reference if track.set == "reference" else unseen
        if max_tracks is not None and len(target) >= max_tracks:
            continue
        target[track.name] = load_audio(track.path, sample_rate=sample_rate).samples
        paths[track.name] = track.path
    return CorpusAudio(
        reference=reference,
        unseen=unseen,
        sample_rate=sample_rate,
        paths=paths,
        manifest_hash=manifest_hash(corpus_dir),
        decode_seconds=time.perf_counter() - start,
    )


def synthetic_corpus(
    n_reference: int = 8,
    n_unseen: int = 3,
    *,
    duration_s: float = 40.0,
    sample_rate: int = 22050,
) -> CorpusAudio:
    """A corpus of seeded synthetic songs (offline tests and demos)."""
    return CorpusAudio(
        reference={
            f"synth_{seed:03d}": synth_song(seed, duration_s, sample_rate)
            for seed in range(n_reference)
        },
        unseen={
            f"unseen_{seed:03d}": synth_song(seed, duration_s, sample_rate)
            for seed in range(1000, 1000 + n_unseen)
        },
        sample_rate=sample_rate,
        manifest_hash=f"synthetic-{n_reference}-{n_unseen}-{duration_s:g}",
    )


@dataclass(frozen=True)
class BuildReport:
    """What building a database from a decoded corpus took.

    Attributes
    ----------
    fingerprint_seconds : float
        Resampling + fingerprinting + storing (s), decode excluded.
    audio_seconds : float
        Reference audio fingerprinted (s).
    num_hashes : int
    """

    fingerprint_seconds: float
    audio_seconds: float
    num_hashes: int

    @property
    def speed_x_realtime(self) -> float:
        """Audio seconds per second of fingerprinting."""
        return self.audio_seconds / self.fingerprint_seconds if self.fingerprint_seconds else 0.0


def build_database(
    pipeline: Pipeline,
    corpus: CorpusAudio,
    *,
    path: str | os.PathLike[str] = ":memory:",
    cache: MemoryCache | None = None,
    progress: bool = False,
) -> tuple[Dejavu, BuildReport]:
    """Fingerprint a decoded corpus's reference tracks into a DuckDB database.

    Parameters
    ----------
    pipeline : Pipeline
    corpus : CorpusAudio
    path : path
        Database file (replaced if it exists) or ``":memory:"``.
    cache : MemoryCache, optional
        Reuse spectrograms and peaks across settings (sweeps).
    progress : bool

    Returns
    -------
    (Dejavu, BuildReport)
    """
    if str(path) != ":memory:":
        for stale in (Path(path), Path(str(path) + ".wal")):
            stale.unlink(missing_ok=True)
    store = DuckDBStore(str(path))
    djv = Dejavu(pipeline=pipeline, store=store)
    djv._claim_store()
    rate = pipeline.spectrogram.sample_rate
    start = time.perf_counter()
    audio_seconds, num_hashes = 0.0, 0
    items = tqdm(
        corpus.reference.items(), desc="fingerprinting", unit="track", disable=not progress
    )
    # A new file nobody else uses yet: one write lock for the whole build.
    with store.writing():
        for name, samples in items:
            key = f"{corpus.manifest_hash}/{name}@{rate}"
            signal = resample(samples, corpus.sample_rate, rate)
            fingerprints = pipeline.fingerprint(signal, cache=cache, key=key)
            duration = len(signal) / rate
            info = SongInfo(
                name, str(corpus.paths.get(name, name)), f"{corpus.manifest_hash}/{name}", duration
            )
            store.add_song(info, fingerprints, sketch=pipeline.sketch_of(signal))
            audio_seconds += duration
            num_hashes += len(fingerprints)
    elapsed = time.perf_counter() - start
    store.load_index()
    return djv, BuildReport(elapsed, audio_seconds, num_hashes)


def write_synthetic_corpus(
    out_dir: str | os.PathLike[str],
    n_reference: int = 8,
    n_unseen: int = 3,
    *,
    duration_s: float = 60.0,
    sample_rate: int = 22050,
) -> Path:
    """Write :func:`synthetic_corpus` as MP3 files with a manifest, like a built corpus.

    The offline stand-in for ``data/build_corpus.py`` (tests, and ``make demo``
    where Debian's tools are missing). Existing files are kept.
    """
    import csv

    import soundfile as sf

    from .corpus import MANIFEST_COLUMNS, file_sha1

    out = Path(out_dir)
    corpus = synthetic_corpus(n_reference, n_unseen, duration_s=duration_s, sample_rate=sample_rate)
    rows = []
    for set_name, songs in (("reference", corpus.reference), ("unseen", corpus.unseen)):
        (out / set_name).mkdir(parents=True, exist_ok=True)
        for name, samples in songs.items():
            path = out / set_name / f"{name}.mp3"
            if not path.exists():
                sf.write(path, samples, sample_rate, format="MP3")
            rows.append(
                {
                    "file": f"{set_name}/{name}.mp3",
                    "set": set_name,
                    "package": "synthetic",
                    "package_version": "0",
                    "original_path": "-",
                    "stems": "",
                    "duration_s": f"{duration_s:.3f}",
                    "sample_rate": str(sample_rate),
                    "license": "CC0-1.0",
                    "sha1": file_sha1(path),
                }
            )
    with open(out / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(MANIFEST_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return out


def open_corpus(
    size: str = "small", *, synthetic_fallback: bool = True, progress: bool = False
) -> tuple[Path, CorpusAudio]:
    """The decoded corpus of a size, for notebooks and scripts.

    Where the corpus was never built (``make corpus-small``) and
    ``synthetic_fallback`` is set, a synthetic corpus is written next to it
    and used instead, so notebooks run anywhere.

    Returns
    -------
    (Path, CorpusAudio)
        The corpus folder and its decoded tracks.
    """
    from .corpus import default_corpus_dir

    folder = default_corpus_dir(size)
    if not (folder / "manifest.csv").exists():
        if not synthetic_fallback:
            raise FileNotFoundError(f"no corpus at {folder}: run `make corpus-{size}`")
        import logging

        folder = folder.parent / "synthetic"
        logging.getLogger(__name__).warning(
            "no %s corpus (make corpus-small): using synthetic songs in %s", size, folder
        )
        write_synthetic_corpus(folder)
    return folder, load_corpus_audio(folder, progress=progress)


def holds_songs(djv: Dejavu, count: int) -> bool:
    """Whether a database holds ``count`` songs, each with its sketch (a database made
    before songs had sketches is stale: the default's rule reads them)."""
    songs = djv.db.songs()
    if len(songs) != count:
        return False
    return {s.song_id for s in songs} <= djv.db.song_ids_with_sketch()


def cached_database(
    pipeline: Pipeline | str,
    corpus: CorpusAudio,
    folder: str | os.PathLike[str],
    *,
    name: str | None = None,
    progress: bool = False,
) -> tuple[Dejavu, Path]:
    """A database of the corpus in ``folder``, built once and reused while it matches.

    The file is named after the preset (or ``name``) and the corpus manifest,
    and rebuilt when its parameters or song count no longer fit.

    Raises
    ------
    StoreLockedError
        If another process holds the file (it is not rebuilt under them).
    """
    import logging

    from ..core.presets import get_preset

    label = name or (pipeline if isinstance(pipeline, str) else "custom")
    pipe = get_preset(pipeline) if isinstance(pipeline, str) else pipeline
    directory = Path(folder)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{label}-{corpus.manifest_hash[:10]}.duckdb"
    if path.exists():
        try:
            djv = Dejavu({"database": str(path)}, pipeline=pipe)
            if holds_songs(djv, len(corpus.reference)):
                return djv, path
            djv.close()
        except StoreLockedError:
            raise  # another process is using it: rebuilding would pull it from under them
        except Exception as error:  # stale or foreign file: rebuild it
            logging.getLogger(__name__).warning("rebuilding %s (%s)", path, error)
    djv, _ = build_database(pipe, corpus, path=path, progress=progress)
    return djv, path
