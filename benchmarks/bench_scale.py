"""Scale benchmark: 45, 1,000 and 10,000 songs' worth of fingerprints in DuckDB.

The 45 reference tracks of the real corpus are fingerprinted with the
``default`` preset as it is when the benchmark runs; the rest of each
collection is *distractor* fingerprints drawn so that their hash and offset
statistics match real music (see :class:`DistractorModel`): uniform random
hashes would almost never meet a query hash and make lookups unrealistically
cheap. For each size it reports:

- database bytes (and bytes per track), build time, index sidecar build time;
- in a fresh query process: peak memory (``ru_maxrss``), index load time, and
  the median and 95th percentile of the in-process time of a 5 s query
  (``Dejavu.match_samples``: fingerprint + lookup + vote, decode and
  resampling excluded), split into fingerprinting, lookup and voting, with
  the rows a query gathers;
- accuracy on 5 s clips of the 45 real tracks, clean and through
  ``laptop-mic`` (a distractor answering counts as "stolen"), and false
  matches on clips of the 12 unseen tracks.

Queries run in random order until all are done or ``--budget-s`` is spent,
so a size whose queries are slow is measured on an unbiased sample.

Each size is measured in one or more query modes (``--modes``, see
:class:`QueryMode`): the ``default`` preset as it is (``all``: its stop-list
and vote prefilter), every row and song (``exact``), a row budget, another
stop-list or prefilter, or combinations.

    python benchmarks/bench_scale.py                     # 45, 1000, 10000
    python benchmarks/bench_scale.py --sizes 45 1000 --keep --workdir /tmp/scale
    python benchmarks/bench_scale.py --sizes 1000 --modes all exact cap=none+songs=64

Writes ``benchmarks/results/scale.csv`` and prints the table.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dejavu_lab import Dejavu
from dejavu_lab._version import __version__
from dejavu_lab.core.audio import content_hash, load_audio, resample
from dejavu_lab.core.hashing import Fingerprints, pack_hashes, unpack_hashes
from dejavu_lab.core.matching import Lookup
from dejavu_lab.core.matching import matcher as matcher_module
from dejavu_lab.core.pipeline import Pipeline
from dejavu_lab.core.presets import get_preset
from dejavu_lab.store import DuckDBStore
from dejavu_lab.store.base import SongInfo
from dejavu_lab.store.indexes.hash_index import HashIndex, sidecar_path
from dejavu_lab.store.indexes.song_index import song_sidecar_path
from dejavu_lab.studies.accuracy import OFFSET_TOLERANCE_S
from dejavu_lab.studies.corpus import default_corpus_dir, manifest_hash, tracks
from dejavu_lab.studies.provenance import provenance
from dejavu_lab.studies.queries import make_queries

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_SIZES = (45, 1000, 10000)
#: Distractor rows inserted per DuckDB transaction.
BATCH_ROWS = 8_000_000
QUERY_SECONDS = 5.0
CONDITIONS = ("clean", "laptop-mic")
#: The corpus' sample rate: clips are cut and degraded at it.
CORPUS_RATE = 44100
DISTRACTOR_PREFIX = "distractor-"


# -- the real tracks ------------------------------------------------------


@dataclass(frozen=True)
class RealSong:
    """A reference track and its stored fingerprints."""

    info: SongInfo
    fingerprints: Fingerprints
    sketch: np.ndarray | None = None


def fingerprint_reference(
    corpus_dir: Path, pipeline: Pipeline, cache_dir: Path
) -> tuple[list[RealSong], float]:
    """Fingerprint the reference tracks in this process (decode included).

    Cached in ``cache_dir`` under the parameters and the manifest, so the
    three sizes (and reruns) share one fingerprinting; the time returned is
    the one measured when the cache was made.
    """
    params = json.dumps(pipeline.reference_params(), sort_keys=True)
    # "sketch": caches made before the songs' sketches were stored are not reused.
    digest = f"{params}|{manifest_hash(corpus_dir)}|sketch"
    key = hashlib.sha1(digest.encode()).hexdigest()[:16]
    cached = cache_dir / f"reference-{key}.npz"
    listed = tracks(corpus_dir, set="reference")
    if cached.exists():
        data = np.load(cached)
        meta = json.loads(str(data["meta"]))
        songs = [
            RealSong(SongInfo(**m), Fingerprints(data[f"h{i}"], data[f"o{i}"]), data[f"s{i}"])
            for i, m in enumerate(meta["songs"])
        ]
        return songs, float(meta["seconds"])
    start = time.perf_counter()
    songs = []
    for track in listed:
        audio = load_audio(track.path, sample_rate=pipeline.spectrogram.sample_rate)
        info = SongInfo(track.name, str(track.path), content_hash(track.path), audio.duration_s)
        songs.append(RealSong(info, *pipeline.fingerprint_song(audio.samples)))
    seconds = time.perf_counter() - start
    meta = {"seconds": seconds, "songs": [vars(s.info) for s in songs]}
    arrays: dict[str, Any] = {"meta": np.array(json.dumps(meta))}
    for i, song in enumerate(songs):
        arrays[f"h{i}"] = song.fingerprints.hashes
        arrays[f"o{i}"] = song.fingerprints.offsets
        if song.sketch is not None:
            arrays[f"s{i}"] = song.sketch
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(cached, **arrays)
    return songs, seconds


# -- distractors ----------------------------------------------------------


@dataclass(frozen=True)
class DistractorModel:
    """Draw fingerprints of songs that do not exist, with real music's statistics.

    Distractor ``i`` is built from its own random generator
    (``SeedSequence([seed, i])``), so collections of different sizes share
    their first distractors:

    1. its **length** is the duration of a real track drawn at random (the
       real duration distribution), in frames of the pipeline;
    2. a real track is drawn as its **template**; the distractor's time line is
       filled with blocks of ``block_frames`` frames (~3 s) copied from random
       places of the template, each keeping its hashes and their relative
       offsets: the density of hashes per second, the joint distribution of
       ``(f1, f2, dt)`` *within* a song (its key, its instruments) and
       short-range repetition are real, while the block order is random, so
       the distractor never lines up with its template for long;
    3. the whole song is **transposed** by a random factor of 0.5 to 3
       semitones up or down (``f -> round(f * 2 ** (s / 12))`` for both bins,
       ``dt`` unchanged), so every hash differs from its template's while
       staying where music puts its energy; hashes that leave the band of
       the real hashes, or whose bin distance exceeds the real maximum, are
       dropped (a few per cent, so distractors have slightly fewer hashes per
       second than the real tracks; the benchmark prints both).

    Offsets are whole frames, ``(hash, offset)`` pairs unique, as stored by the
    pipeline. Compared with a varied real collection, 10,000 songs drawn
    from 45 templates concentrate on fewer hash values, so lookups return
    rather more rows than they would: the figures err on the slow side.
    """

    hashes: tuple[np.ndarray, ...]
    offsets: tuple[np.ndarray, ...]
    frames: np.ndarray
    durations_s: np.ndarray
    frame_seconds: float
    block_frames: int = 128
    max_semitones: float = 3.0
    min_semitones: float = 0.5
    seed: int = 0

    @classmethod
    def from_real(cls, songs: list[RealSong], pipeline: Pipeline, seed: int) -> DistractorModel:
        """The model of a set of real songs fingerprinted with ``pipeline``."""
        hashes, offsets = [], []
        for song in songs:
            order = np.argsort(song.fingerprints.offsets, kind="stable")
            hashes.append(song.fingerprints.hashes[order])
            offsets.append(song.fingerprints.offsets[order])
        durations = np.array([s.info.duration_s for s in songs])
        return cls(
            hashes=tuple(hashes),
            offsets=tuple(offsets),
            frames=np.array([pipeline.frames_for(d) for d in durations]),
            durations_s=durations,
            frame_seconds=pipeline.spectrogram.frame_seconds,
            seed=seed,
        )

    def _limits(self) -> tuple[int, int, int]:
        f1, f2, _ = unpack_hashes(np.concatenate(self.hashes))
        return (
            int(min(f1.min(), f2.min())),
            int(max(f1.max(), f2.max())),
            int(np.abs(f2 - f1).max()),
        )

    def song(self, index: int, limits: tuple[int, int, int]) -> tuple[float, Fingerprints]:
        """Duration (s) and fingerprints of distractor ``index``."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, index]))
        duration = float(self.durations_s[rng.integers(len(self.durations_s))])
        n_frames = max(1, round(duration / self.frame_seconds))
        template = int(rng.integers(len(self.hashes)))
        hashes, offsets = self.hashes[template], self.offsets[template]
        block = self.block_frames
        n_source = max(1, int(self.frames[template]) // block)
        edges = np.searchsorted(offsets, np.arange(n_source + 1) * block)
        n_blocks = -(-n_frames // block)
        source = rng.integers(n_source, size=n_blocks)
        lengths = edges[source + 1] - edges[source]
        total = int(lengths.sum())
        out_start = np.cumsum(lengths) - lengths
        rows = np.arange(total) + np.repeat(edges[source] - out_start, lengths)
        move = np.repeat((np.arange(n_blocks) - source) * block, lengths)
        new_offsets = offsets[rows].astype(np.int64) + move
        keep = new_offsets < n_frames
        f1, f2, dt = unpack_hashes(hashes[rows][keep])
        new_offsets = new_offsets[keep]
        semitones = rng.uniform(self.min_semitones, self.max_semitones) * rng.choice([-1, 1])
        ratio = 2.0 ** (semitones / 12.0)
        g1 = np.rint(f1 * ratio).astype(np.int64)
        g2 = np.rint(f2 * ratio).astype(np.int64)
        low, high, max_df = limits
        ok = (g1 >= low) & (g1 <= high) & (g2 >= low) & (g2 <= high)
        ok &= np.abs(g2 - g1) <= max_df
        fingerprints = Fingerprints(
            pack_hashes(g1[ok], g2[ok], dt[ok]), new_offsets[ok].astype(np.int32)
        )
        return duration, _unique(fingerprints)


def _unique(fingerprints: Fingerprints) -> Fingerprints:
    """Unique (hash, offset) pairs, by a sort (numpy 2's hash-based unique is slower)."""
    key = (fingerprints.offsets.astype(np.uint64) << np.uint64(32)) | fingerprints.hashes
    key.sort()
    first = np.ones(len(key), bool)
    first[1:] = key[1:] != key[:-1]
    key = key[first]
    return Fingerprints(key.astype(np.uint32), (key >> np.uint64(32)).astype(np.int32))


# -- building a collection ------------------------------------------------


@dataclass
class Build:
    """What building one collection took and holds."""

    params: str
    songs: int
    hashes: int
    distractor_hashes_per_s: float
    insert_s: float
    db_bytes: int
    sidecar_s: float
    sidecar_bytes: int
    song_index_s: float = 0.0
    song_index_bytes: int = 0


def _batches(
    model: DistractorModel, first_id: int, count: int
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Distractor songs as (songs, fingerprints) frames of about BATCH_ROWS rows."""
    limits = model._limits()
    songs: list[dict[str, Any]] = []
    parts: list[tuple[int, Fingerprints]] = []
    rows = 0
    for index in range(count):
        duration, fingerprints = model.song(index, limits)
        song_id = first_id + index
        songs.append(
            {
                "song_id": song_id,
                "name": f"{DISTRACTOR_PREFIX}{index:05d}",
                "path": "synthetic",
                "content_hash": f"{DISTRACTOR_PREFIX}{model.seed}-{index}",
                "duration_s": duration,
                "num_hashes": len(fingerprints),
            }
        )
        parts.append((song_id, fingerprints))
        rows += len(fingerprints)
        if rows >= BATCH_ROWS or index == count - 1:
            fingerprints_frame = pd.DataFrame(
                {
                    "hash": np.concatenate([f.hashes for _, f in parts]),
                    "song_id": np.concatenate([np.full(len(f), i, np.int32) for i, f in parts]),
                    "offset": np.concatenate([f.offsets for _, f in parts]),
                }
            )
            yield pd.DataFrame(songs), fingerprints_frame
            songs, parts, rows = [], [], 0


def build_collection(
    path: Path, pipeline: Pipeline, real: list[RealSong], model: DistractorModel, size: int
) -> Build:
    """A DuckDB database of the real songs plus ``size - len(real)`` distractors."""
    for stale in (path, Path(f"{path}.wal")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(sidecar_path(path), ignore_errors=True)
    shutil.rmtree(song_sidecar_path(path), ignore_errors=True)
    start = time.perf_counter()
    store = DuckDBStore(path)
    store.write_params(pipeline.reference_params(), __version__)
    for song in real:
        store.add_song(song.info, song.fingerprints, sketch=song.sketch)
    n_distractors = max(0, size - len(real))
    with store.writing() as con:  # one write lock for the whole bulk load
        first_id = len(real) + 1
        distractor_rows = 0
        distractor_seconds = 0.0
        for songs_frame, rows_frame in _batches(model, first_id, n_distractors):
            con.execute("BEGIN TRANSACTION")
            con.register("new_songs", songs_frame)
            con.register("new_rows", rows_frame)
            con.execute('INSERT INTO fingerprints SELECT hash, song_id, "offset" FROM new_rows')
            con.execute(
                "INSERT INTO songs (song_id, name, path, content_hash, duration_s, num_hashes) "
                "SELECT song_id, name, path, content_hash, duration_s, num_hashes FROM new_songs"
            )
            con.execute("COMMIT")
            con.unregister("new_songs")
            con.unregister("new_rows")
            distractor_rows += len(rows_frame)
            distractor_seconds += float(songs_frame["duration_s"].sum())
        if n_distractors:
            # Ids were given explicitly: move the sequence past them for later add_song calls.
            con.execute(f"SELECT max(nextval('song_id_seq')) FROM range({n_distractors})")
    stats = store.stats()  # closing the write connection checkpointed
    insert_s = time.perf_counter() - start
    start = time.perf_counter()
    index = store.load_index()
    sidecar_s = time.perf_counter() - start
    sidecar = sidecar_path(path)
    sidecar_bytes = sum(f.stat().st_size for f in sidecar.iterdir()) if sidecar.exists() else 0
    del index
    song_index_s, song_index_bytes = _song_index(store)
    store.close()
    return Build(
        params=json.dumps(pipeline.reference_params(), sort_keys=True),
        songs=stats.num_songs,
        hashes=stats.num_fingerprints,
        distractor_hashes_per_s=distractor_rows / distractor_seconds if distractor_seconds else 0,
        insert_s=insert_s,
        db_bytes=stats.size_bytes,
        sidecar_s=sidecar_s,
        sidecar_bytes=sidecar_bytes,
        song_index_s=song_index_s,
        song_index_bytes=song_index_bytes,
    )


def _song_index(store: DuckDBStore) -> tuple[float, int]:
    """Open or build the song index sidecar: (seconds taken, bytes on disk)."""
    start = time.perf_counter()
    store.load_song_index()
    elapsed = time.perf_counter() - start
    folder = song_sidecar_path(store.path)
    return elapsed, sum(f.stat().st_size for f in folder.iterdir())


def refresh_song_index(db: Path, build: Build) -> Build:
    """A kept build whose song index is current (rebuilt if its format changed)."""
    store = DuckDBStore(db, read_only=True)
    try:
        seconds, size = _song_index(store)
    finally:
        store.close()
    if size == build.song_index_bytes and build.song_index_s:
        return build
    return dataclasses.replace(build, song_index_s=seconds, song_index_bytes=size)


# -- queries --------------------------------------------------------------


def make_query_set(
    corpus_dir: Path, pipeline: Pipeline, folder: Path, *, unseen_per_track: int, seed: int
) -> tuple[Path, Path]:
    """5 s clips of the real tracks (clean, laptop-mic), at the pipeline's rate.

    Cut and degraded at the corpus rate, then resampled as ``match_samples``
    would, so the timed part excludes decoding and resampling.
    """
    clips_path, meta_path = folder / "queries.npy", folder / "queries.csv"
    rate = pipeline.spectrogram.sample_rate

    def decoded(kind: str) -> Iterator[tuple[str | None, np.ndarray, int]]:
        # One track in memory at a time.
        for track in tracks(corpus_dir, set=kind):
            audio = load_audio(track.path, sample_rate=CORPUS_RATE)
            yield (track.name if kind == "reference" else None), audio.samples, CORPUS_RATE

    queries = make_queries(
        decoded("reference"), durations_s=(QUERY_SECONDS,), conditions=CONDITIONS, seed=seed
    )
    queries += make_queries(
        decoded("unseen"),
        durations_s=(QUERY_SECONDS,),
        conditions=CONDITIONS,
        n_per_song=unseen_per_track,
        seed=seed,
        source="unseen",
    )
    clips = np.stack([resample(q.clip, q.sample_rate, rate) for q in queries])
    np.save(clips_path, clips.astype(np.float32))
    pd.DataFrame(
        {
            "query_id": [q.query_id for q in queries],
            "source": [q.source for q in queries],
            "condition": [q.condition for q in queries],
            "truth": [q.song_name for q in queries],
            "start_s": [q.start_s for q in queries],
        }
    ).to_csv(meta_path, index=False)
    return clips_path, meta_path


@dataclass(frozen=True)
class QueryMode:
    """How a query process looks up and votes.

    Written ``all`` (the pipeline as it is: the ``default`` preset's stop-list
    ``matcher__max_postings`` and vote prefilter ``matcher__prefilter_songs``),
    ``exact`` (every row, every song counted: neither), or ``key=value``
    settings joined by ``+``, each replacing the preset's:

    - ``budget=N``: a row budget, ``HashIndex.lookup(max_rows=N)``; a bare
      number means the same (the old ``--max-rows N``);
    - ``cap=N``: a stop-list, query hashes stored more than ``N`` times are
      skipped (``matcher__max_postings``); ``cap=none`` looks every hash up;
    - ``stop=F``: the same with ``N`` a fraction ``F`` of the songs stored
      (``stop=0.25``: hashes with more rows than a quarter of the songs);
    - ``songs=N``: the vote prefilter, only the rows of the ``N`` most promising
      songs are counted (``matcher__prefilter_songs``); ``songs=none`` counts
      every song;
    - ``short=K``: a two-stage match, every row counted for the ``K`` songs
      with the tallest windows on the rows of rarer hashes
      (``matcher__shortlist_songs``; ``short=none``: one stage);
    - ``srows=N``: the row budget of the shortlist's first stage
      (``matcher__shortlist_rows``);
    - ``verify=N``: the peak-level check on the ``N`` best candidates
      (``verifier__candidates``; the default checks 10, only when the hashes
      leave a query unsure; ``verify=0`` answers from the hashes alone, the
      ``hash-only`` preset).

    Attributes
    ----------
    max_rows : int or None
    matcher : tuple of (str, int or None)
        ``matcher__`` parameters set by the mode.
    stop_fraction : float or None
    verify : int or None
        ``verifier__candidates`` (None: the preset's, off in ``default``).
    """

    max_rows: int | None = None
    matcher: tuple[tuple[str, int | None], ...] = ()
    stop_fraction: float | None = None
    verify: int | None = None

    def pipeline(self, pipeline: Pipeline, n_songs: int) -> Pipeline:
        """``pipeline`` with this mode's matcher settings, for a collection of ``n_songs``."""
        params: dict[str, Any] = {f"matcher__{name}": value for name, value in self.matcher}
        if self.stop_fraction is not None:
            params["matcher__max_postings"] = max(1, round(self.stop_fraction * n_songs))
        if params.get("matcher__max_postings") is not None:
            # A single-stage stop-list: no shortlist (they exclude each other).
            params.setdefault("matcher__shortlist_songs", None)
        if self.verify is not None:
            params["verifier__candidates"] = self.verify
        return pipeline.with_params(**params)

    @classmethod
    def parse(cls, text: str) -> QueryMode:
        """The mode written ``text`` (see the class docstring)."""
        if text == "all":
            return cls()
        if text == "exact":
            return cls(
                matcher=(
                    ("max_postings", None),
                    ("prefilter_songs", None),
                    ("shortlist_songs", None),
                )
            )
        if text.isdigit():
            return cls(max_rows=int(text))
        names = {
            "cap": "max_postings",
            "songs": "prefilter_songs",
            "short": "shortlist_songs",
            "srows": "shortlist_rows",
        }
        matcher: list[tuple[str, int | None]] = []
        settings: dict[str, Any] = {}
        for part in text.split("+"):
            key, _, value = part.partition("=")
            if key == "stop":
                settings["stop_fraction"] = float(value)
            elif key == "budget" and value.isdigit():
                settings["max_rows"] = int(value)
            elif key == "verify" and value.isdigit():
                settings["verify"] = int(value)
            elif key in names and (value.isdigit() or value == "none"):
                matcher.append((names[key], None if value == "none" else int(value)))
            else:
                raise ValueError(f"unknown query mode {part!r} in {text!r}")
        return cls(matcher=tuple(matcher), **settings)


class TimedStore:
    """A store that times its lookups and counts the rows they return."""

    def __init__(self, store: DuckDBStore, index: HashIndex, max_rows: int | None) -> None:
        self.store = store
        self.index = index
        self.max_rows = max_rows
        self.lookup_s = 0.0
        self.rows = 0
        self.song_rows = 0

    def reset(self) -> None:
        """Start timing a new query."""
        self.lookup_s = 0.0
        self.rows = 0
        self.song_rows = 0
        self.vote_s = 0.0

    def timed_votes(self) -> None:
        """Time the matcher's vote counting and ranking (the functions ``Matcher`` calls)."""
        self.vote_s = 0.0
        for name in ("song_windows", "score_windows"):
            function = getattr(matcher_module, name)

            def timed(*args: Any, _function: Any = function, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return _function(*args, **kwargs)
                finally:
                    self.vote_s += time.perf_counter() - start

            setattr(matcher_module, name, timed)

    def __getattr__(self, name: str) -> Any:
        # Everything but lookups (params, songs, a song's fingerprints) is the store's.
        return getattr(self.store, name)

    def lookup(
        self, hashes: np.ndarray, *, max_postings: int | None = None, max_rows: int | None = None
    ) -> Lookup:
        start = time.perf_counter()
        budget = max_rows if self.max_rows is None else self.max_rows
        found = self.index.lookup(hashes, max_rows=budget, max_postings=max_postings)
        self.lookup_s += time.perf_counter() - start
        self.rows += len(found)
        return found

    def lookup_songs(self, hashes: np.ndarray, song_ids: np.ndarray) -> Lookup:
        start = time.perf_counter()
        found = self.store.lookup_songs(hashes, song_ids)
        self.lookup_s += time.perf_counter() - start
        self.song_rows += len(found)
        return found

    def close(self) -> None:
        self.store.close()


def resident_mb() -> dict[str, float]:
    """Resident memory now (MB): anonymous (the process's own) and file-backed.

    File-backed pages are mostly the mapped index: page cache, shared with
    other processes and given back to the kernel under memory pressure.
    """
    found: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                found[f"{key[3:].lower()}_rss_end_mb"] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return found


def peak_memory_mb() -> float:
    """Peak resident memory of this process (MB).

    ``VmHWM`` rather than ``ru_maxrss``, which a process started by another
    inherits from it across ``exec``.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_queries(
    db: Path,
    clips_path: Path,
    meta_path: Path,
    *,
    pipeline: Pipeline,
    mode: QueryMode,
    budget_s: float,
    seed: int,
) -> dict[str, Any]:
    """Load the index and recognise the clips (run in a fresh process)."""
    start = time.perf_counter()
    store = DuckDBStore(db, read_only=True)
    index = store.load_index()
    load_s = time.perf_counter() - start
    pipeline = mode.pipeline(pipeline, len(store.songs()))
    timed = TimedStore(store, index, mode.max_rows)
    timed.timed_votes()
    djv = Dejavu(store=timed, pipeline=pipeline)
    djv._songs()
    meta = pd.read_csv(meta_path, keep_default_na=False)
    clips = np.load(clips_path, mmap_mode="r")
    order = np.random.default_rng(seed).permutation(len(meta))
    rate = djv.pipeline.spectrogram.sample_rate
    for i in order[:3]:  # warm-up on 1 s: first calls, index pages
        djv.match_samples(np.array(clips[i][:rate]))
    rows = []
    out_of_memory = 0
    resident_peak: dict[str, float] = {}
    began = time.perf_counter()
    for i in order:
        if time.perf_counter() - began > budget_s:
            break
        clip = np.array(clips[i])
        timed.reset()
        try:
            result = djv.match_samples(clip)
        except MemoryError:
            out_of_memory += 1
            continue
        fingerprint_start = time.perf_counter()
        djv.pipeline.fingerprint_query(clip)
        fingerprint_s = time.perf_counter() - fingerprint_start
        for key, value in resident_mb().items():
            peak_key = key.replace("_end_", "_peak_")
            resident_peak[peak_key] = max(value, resident_peak.get(peak_key, 0.0))
        record = meta.iloc[i]
        truth = record["truth"] or None
        correct = result.is_match and result.song_name == truth
        rows.append(
            {
                "source": record["source"],
                "condition": record["condition"],
                "correct": bool(correct),
                "offset_correct": bool(
                    correct
                    and result.offset_seconds is not None
                    and abs(result.offset_seconds - float(record["start_s"])) <= OFFSET_TOLERANCE_S
                ),
                "stolen": bool(
                    result.is_match and (result.song_name or "").startswith(DISTRACTOR_PREFIX)
                ),
                "false_match": bool(truth is None and result.is_match),
                "match_ms": result.match_time_s * 1e3,
                "fingerprint_ms": fingerprint_s * 1e3,
                "lookup_ms": timed.lookup_s * 1e3,
                "vote_ms": timed.vote_s * 1e3,
                "rows": timed.rows,
                "song_rows": timed.song_rows,
                "input_hashes": result.input_hashes,
            }
        )
    table = pd.DataFrame(rows)
    peak_mb = peak_memory_mb()
    resident = resident_mb()
    reference = table[table.source == "reference"]
    unseen = table[table.source == "unseen"]
    match_ms = table["match_ms"].to_numpy()
    vote_ms = table["vote_ms"].to_numpy()
    rest_ms = match_ms - table["fingerprint_ms"].to_numpy() - table["lookup_ms"].to_numpy()
    summary: dict[str, Any] = {
        "max_postings": pipeline.matcher.max_postings,
        "prefilter_songs": pipeline.matcher.prefilter_songs,
        "shortlist_songs": pipeline.matcher.shortlist_songs,
        "shortlist_rows": pipeline.matcher.shortlist_rows,
        "index_load_s": load_s,
        "index_bytes": index.nbytes,
        "peak_rss_mb": peak_mb,
        **resident,
        **resident_peak,
        "queries": len(table),
        "queries_planned": len(meta),
        "queries_out_of_memory": out_of_memory,
        "match_median_ms": float(np.median(match_ms)),
        "match_p95_ms": float(np.percentile(match_ms, 95)),
        "fingerprint_median_ms": float(table["fingerprint_ms"].median()),
        "lookup_median_ms": float(table["lookup_ms"].median()),
        "vote_median_ms": float(np.median(vote_ms)),
        "other_median_ms": float(np.median(rest_ms - vote_ms)),
        "rows_per_query_median": float(table["rows"].median()),
        "song_rows_per_query_median": float(table["song_rows"].median()),
        "query_hashes_median": float(table["input_hashes"].median()),
        "false_matches": int(unseen["false_match"].sum()),
        "unseen_queries": len(unseen),
        "stolen_by_distractor": int(reference["stolen"].sum()),
    }
    for condition in CONDITIONS:
        part = reference[reference.condition == condition]
        summary[f"{condition}_queries"] = len(part)
        summary[f"{condition}_accuracy_pct"] = (
            100 * float(part["correct"].mean()) if len(part) else float("nan")
        )
        summary[f"{condition}_offset_ok_pct"] = (
            100 * float(part["offset_correct"].mean()) if len(part) else float("nan")
        )
    djv.close()
    return summary


def legacy_load(db: Path) -> dict[str, Any]:
    """Time and memory of the unpatched ``load_index``: one sorted fetch of every row."""
    start = time.perf_counter()
    store = DuckDBStore(db, read_only=True)
    with store.connection() as con:
        result = con.execute(
            'SELECT hash, song_id, "offset" FROM fingerprints ORDER BY hash'
        ).fetchnumpy()
    index = HashIndex(
        np.asarray(result["hash"], dtype=np.uint32),
        np.asarray(result["song_id"], dtype=np.int32),
        np.asarray(result["offset"], dtype=np.int32),
        assume_sorted=True,
    )
    seconds = time.perf_counter() - start
    del result, index
    store.close()
    return {"legacy_load_s": seconds, "legacy_load_peak_mb": peak_memory_mb()}


def in_child(*arguments: str) -> dict[str, Any]:
    """Run this script with ``arguments`` in a fresh interpreter; its JSON answer.

    A fresh process has its own peak memory, and nothing paged in by the
    parent or an earlier size.
    """
    command = [sys.executable, __file__, *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child process failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- main -----------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    p.add_argument("--corpus", choices=("small", "full"), default="full")
    p.add_argument("--workdir", type=Path, help="keep databases here (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="reuse databases in --workdir if present")
    p.add_argument("--unseen-per-track", type=int, default=4, help="5 s clips per unseen track")
    p.add_argument("--budget-s", type=float, default=240.0, help="query time per size and mode (s)")
    p.add_argument(
        "--modes",
        "--max-rows",
        dest="modes",
        nargs="+",
        default=["all"],
        help="query modes: 'all', 'exact', or budget=N, cap=N, stop=F, songs=N, joined by '+'",
    )
    p.add_argument(
        "--legacy-max-size",
        type=int,
        default=1000,
        help="time the unpatched full sorted fetch for collections up to this size",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS / "scale.csv")
    p.add_argument(
        "--memory-guard-gb",
        type=float,
        default=14.0,
        help="address-space limit of a query process (GB; mapped index included)",
    )
    p.add_argument("--query-child", nargs=3, help=argparse.SUPPRESS)
    p.add_argument("--legacy-child", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.query_child:
        # A guard for a shared machine: a query that would need more memory
        # fails with MemoryError (counted) instead of pushing others out.
        limit = int(args.memory_guard_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        db, clips, meta = (Path(a) for a in args.query_child)
        # The parent's parameters, whatever presets.py says by now.
        params = json.loads(meta.with_suffix(".params.json").read_text())
        summary = run_queries(
            db,
            clips,
            meta,
            pipeline=get_preset("default").with_params(**params),
            mode=QueryMode.parse(args.modes[0]),
            budget_s=args.budget_s,
            seed=args.seed,
        )
        print(json.dumps(summary))
        return
    if args.legacy_child:
        print(json.dumps(legacy_load(args.legacy_child)))
        return

    pipeline = get_preset("default")
    corpus_dir = default_corpus_dir(args.corpus)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dejavu-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    real, fingerprint_s = fingerprint_reference(corpus_dir, pipeline, workdir)
    real_hashes = sum(len(s.fingerprints) for s in real)
    real_seconds = sum(s.info.duration_s for s in real)
    print(
        f"{len(real)} reference tracks: {real_hashes:,} hashes, "
        f"{real_hashes / real_seconds:.0f} a second, fingerprinted in {fingerprint_s:.1f} s"
    )
    model = DistractorModel.from_real(real, pipeline, seed=args.seed)
    clips_path, meta_path = make_query_set(
        corpus_dir, pipeline, workdir, unseen_per_track=args.unseen_per_track, seed=args.seed
    )
    meta_path.with_suffix(".params.json").write_text(json.dumps(pipeline.get_params(), default=str))
    rows = []
    for size in args.sizes:
        db = workdir / f"scale-{size}.duckdb"
        build_file = workdir / f"scale-{size}.build.json"
        params = json.dumps(pipeline.reference_params(), sort_keys=True)
        kept = json.loads(build_file.read_text()) if build_file.exists() else {}
        if args.keep and db.exists() and kept.get("params") == params:
            build = refresh_song_index(db, Build(**kept))
            build_file.write_text(json.dumps(vars(build)))
        else:
            build = build_collection(db, pipeline, real, model, size)
            build_file.write_text(json.dumps(vars(build)))
        print(
            f"{size:>6} songs: {build.hashes:,} hashes, {build.db_bytes / 1e6:,.0f} MB, "
            f"built in {build.insert_s:.0f} s + index {build.sidecar_s:.0f} s "
            f"(distractors {build.distractor_hashes_per_s:.0f} hashes a second)",
            flush=True,
        )
        legacy: dict[str, Any] = {"legacy_load_s": None, "legacy_load_peak_mb": None}
        if size <= args.legacy_max_size:
            legacy = in_child("--legacy-child", str(db))
        for mode in args.modes:
            summary = in_child(
                "--query-child",
                str(db),
                str(clips_path),
                str(meta_path),
                "--modes",
                mode,
                "--budget-s",
                str(args.budget_s),
                "--memory-guard-gb",
                str(args.memory_guard_gb),
                "--seed",
                str(args.seed),
            )
            rows.append(
                {
                    "songs": build.songs,
                    "mode": mode,
                    "hashes": build.hashes,
                    "db_bytes": build.db_bytes,
                    "db_bytes_per_track": build.db_bytes / build.songs,
                    "sidecar_bytes": build.sidecar_bytes,
                    # Fingerprinting the real tracks is part of every build.
                    "build_s": fingerprint_s + build.insert_s,
                    "sidecar_build_s": build.sidecar_s,
                    "song_index_bytes": build.song_index_bytes,
                    "song_index_build_s": build.song_index_s,
                    "real_hashes_per_s": real_hashes / real_seconds,
                    "distractor_hashes_per_s": build.distractor_hashes_per_s,
                    **summary,
                    **legacy,
                    **provenance(pipeline.get_params(), manifest_hash(corpus_dir)),
                }
            )
            print(pd.Series(rows[-1]).drop(["params"]).to_string(), flush=True)
        if not args.keep:
            for stale in (db, Path(f"{db}.wal")):
                stale.unlink(missing_ok=True)
            shutil.rmtree(sidecar_path(db), ignore_errors=True)
            shutil.rmtree(song_sidecar_path(db), ignore_errors=True)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.4g")
    shown = {
        "songs": "songs",
        "mode": "mode",
        "db_bytes_per_track": "db B/track",
        "build_s": "build s",
        "sidecar_build_s": "index build s",
        "peak_rss_mb": "peak RSS MB",
        "anon_rss_peak_mb": "anon peak MB",
        "file_rss_end_mb": "mapped MB at end",
        "index_load_s": "index load s",
        "legacy_load_s": "full fetch s",
        "match_median_ms": "median ms",
        "match_p95_ms": "p95 ms",
        "fingerprint_median_ms": "fp ms",
        "lookup_median_ms": "lookup ms",
        "vote_median_ms": "vote ms",
        "other_median_ms": "other ms",
        "rows_per_query_median": "rows/query",
        "song_rows_per_query_median": "stage-2 rows",
        "clean_accuracy_pct": "clean %",
        "laptop-mic_accuracy_pct": "laptop-mic %",
        "stolen_by_distractor": "stolen",
        "false_matches": "false",
        "queries": "queries",
        "queries_out_of_memory": "OOM",
    }
    print()
    print(table[list(shown)].rename(columns=shown).to_string(index=False, float_format="%.4g"))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
