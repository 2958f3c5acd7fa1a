"""Benchmark the stores: insert throughput, match time of a 5 s query, bytes per track.

Not a test: it measures and reports. For each of DuckDB, MariaDB and
PostgreSQL (servers in a throwaway database / schema, dropped afterwards):

- **insert**: ``add_song`` of every track, one transaction each, in hashes/s;
- **match**: median time from a 5 s query's hashes to ranked candidates: the
  store's ``lookup`` then ``count_votes`` + ``rank_candidates`` in process (what
  ``Dejavu`` does); for the servers also ``vote`` (the histogram counted in SQL,
  top bins only) + ``rank_candidates``. Query fingerprinting is excluded (the
  same for every store). DuckDB is timed with its default in-memory index
  (loaded once, load time reported) and with ``index="sql"``;
- **size**: ``stats().size_bytes`` per track, after ``ANALYZE`` (MariaDB's
  information_schema figures are refreshed by statistics).

Data: the default preset stores about 190 hashes a second of music (see
``dejavu_lab.core.presets``). Tracks are drawn at that rate, each hash's anchor bin
``f1``, bin step ``f2 - f1`` and frame step ``dt`` drawn independently from
their distributions measured on synthetic songs (``dejavu_lab.studies.synth``), offsets
uniform over the track. A query is 5 s of one track: each of its hashes kept
with probability 0.3 (what survives noise), plus random hashes of the same
distribution up to the query hash rate measured on synthetic songs (query
hashes per reference hash, times 190/s).

Usage::

    python benchmarks/bench_stores.py [--tracks 100] [--track-seconds 240]
        [--queries 30] [--stores duckdb,mariadb,postgresql]

Writes ``benchmarks/results/stores.csv`` (one row per store and mode, with the
parameters and the git commit) and prints a table.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from dejavu_lab.core.hashing import Fingerprints, pack_hashes, unpack_hashes
from dejavu_lab.core.matching import count_votes, rank_candidates
from dejavu_lab.core.presets import get_preset
from dejavu_lab.store import DuckDBStore, SongInfo, open_store
from dejavu_lab.store.server import parse_server_url
from dejavu_lab.studies.synth import synth_song

REFERENCE_HASHES_PER_S = 190.0
QUERY_SECONDS = 5.0
SURVIVING = 0.3
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class HashModel:
    """Where hashes fall: distributions of f1, f2 - f1, dt, and the query hash rate."""

    f1: np.ndarray
    df: np.ndarray
    dt: np.ndarray
    query_hashes_per_s: float
    frame_s: float

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        f1 = rng.choice(self.f1, n)
        f2 = np.clip(f1 + rng.choice(self.df, n), 0, 4095)
        return pack_hashes(f1, f2, rng.choice(self.dt, n))


def measure_hash_model(n_songs: int = 6, seconds: float = 60.0) -> HashModel:
    """Fingerprint synthetic songs with the default preset and record their hashes."""
    pipeline = get_preset("default")
    rate = pipeline.spectrogram.sample_rate
    hashes, n_reference, n_query, audio_s = [], 0, 0, 0.0
    for seed in range(1000, 1000 + n_songs):
        samples = synth_song(seed, seconds, rate)
        reference = pipeline.fingerprint(samples)
        hashes.append(reference.hashes)
        n_reference += len(reference)
        n_query += len(pipeline.fingerprint_query(samples))
        audio_s += seconds
    f1, f2, dt = unpack_hashes(np.concatenate(hashes))
    return HashModel(
        f1=f1,
        df=f2 - f1,
        dt=dt,
        query_hashes_per_s=REFERENCE_HASHES_PER_S * n_query / n_reference,
        frame_s=pipeline.spectrogram.frame_seconds,
    )


def make_tracks(model: HashModel, n_tracks: int, seconds: float, seed: int) -> list[Fingerprints]:
    rng = np.random.default_rng(seed)
    n_hashes = round(seconds * REFERENCE_HASHES_PER_S)
    n_frames = int(seconds / model.frame_s)
    return [
        Fingerprints(
            model.draw(rng, n_hashes),
            np.sort(rng.integers(0, n_frames, n_hashes)).astype(np.int32),
        )
        for _ in range(n_tracks)
    ]


def make_queries(
    model: HashModel, tracks: list[Fingerprints], n_queries: int, seconds: float, seed: int
) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """(song id, start frame, hashes, offsets) of 5 s excerpts with noise hashes."""
    rng = np.random.default_rng(seed)
    span = int(QUERY_SECONDS / model.frame_s)
    n_total = round(QUERY_SECONDS * model.query_hashes_per_s)
    queries = []
    for _ in range(n_queries):
        index = int(rng.integers(len(tracks)))
        track = tracks[index]
        start = int(rng.integers(0, int(seconds / model.frame_s) - span))
        inside = (track.offsets >= start) & (track.offsets < start + span)
        keep = inside & (rng.random(len(track)) < SURVIVING)
        n_noise = max(0, n_total - int(keep.sum()))
        hashes = np.concatenate([track.hashes[keep], model.draw(rng, n_noise)])
        offsets = np.concatenate(
            [track.offsets[keep] - start, rng.integers(0, span, n_noise).astype(np.int32)]
        )
        queries.append((index + 1, start, hashes, offsets.astype(np.int32)))
    return queries


# -- stores ---------------------------------------------------------------------


@contextmanager
def throwaway(kind: str, url: str, keep: bool) -> Iterator[str]:
    """A fresh MariaDB database / PostgreSQL schema on the server at ``url``."""
    name = f"dejavu_bench_{uuid.uuid4().hex[:8]}"
    config = parse_server_url(url)
    if kind == "mariadb":
        import pymysql

        admin = pymysql.connect(
            host=config.host,
            port=config.port,
            user=config.user,
            password=config.password or "",
            autocommit=True,
        )
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        try:
            yield url.rsplit("/", 1)[0] + "/" + name
        finally:
            if not keep:
                with admin.cursor() as cursor:
                    cursor.execute(f"DROP DATABASE {name}")
            admin.close()
    else:
        import psycopg

        admin = psycopg.connect(url, autocommit=True)
        try:
            yield f"{url}{'&' if '?' in url else '?'}schema={name}"
        finally:
            if not keep:
                admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
            admin.close()


def analyze(store: Any) -> None:
    """Fresh planner statistics (and, for MariaDB, fresh information_schema sizes)."""
    if type(store).__name__ == "MySQLStore":
        store._execute("ANALYZE TABLE songs, fingerprints")
    elif type(store).__name__ == "PostgresStore":
        store._execute("VACUUM ANALYZE songs")
        store._execute("VACUUM ANALYZE fingerprints")


def median_ms(function: Callable[[Any], Any], repeats: list[Any]) -> tuple[float, list[Any]]:
    times, outputs = [], []
    for item in repeats:
        start = time.perf_counter()
        outputs.append(function(item))
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times), outputs


def bench_store(
    label: str,
    spec: str,
    tracks: list[Fingerprints],
    queries: list[tuple[int, int, np.ndarray, np.ndarray]],
    track_seconds: float,
    frame_s: float,
) -> list[dict[str, Any]]:
    pipeline = get_preset("default")
    matcher = pipeline.matcher
    store = open_store(spec)
    start = time.perf_counter()
    for k, fp in enumerate(tracks):
        store.add_song(SongInfo(f"track {k}", f"/bench/{k}.mp3", f"bench-{k}", track_seconds), fp)
    insert_s = time.perf_counter() - start
    n_hashes = sum(len(fp) for fp in tracks)
    analyze(store)
    size = store.stats().size_bytes
    frames = np.zeros(len(tracks) + 1, dtype=np.int64)
    frames[1:] = pipeline.frames_for(track_seconds)
    query_frames = int(QUERY_SECONDS / frame_s)
    ranking: dict[str, Any] = dict(
        song_frames=frames,
        query_frames=query_frames,
        time_tolerance=matcher.time_tolerance,
        top_k=1,
    )

    def in_process(query: tuple[int, int, np.ndarray, np.ndarray]) -> Any:
        _, _, hashes, offsets = query
        lookup = store.lookup(hashes)
        votes = count_votes(
            offsets, lookup, time_tolerance=matcher.time_tolerance, query_hashes=hashes
        )
        return rank_candidates(votes, **ranking), len(lookup)

    def pushdown(query: tuple[int, int, np.ndarray, np.ndarray]) -> Any:
        _, _, hashes, offsets = query
        summary = store.vote(hashes, offsets, top_n=5, time_tolerance=matcher.time_tolerance)
        return rank_candidates(summary.as_votes(), **ranking), len(summary)

    def correct(outputs: list[Any]) -> float:
        hits = sum(
            bool(c) and c[0].song_id == q[0] and abs(c[0].offset_frames - q[1]) <= 1
            for (c, _), q in zip(outputs, queries, strict=True)
        )
        return hits / len(queries)

    base = {
        "tracks": len(tracks),
        "track_seconds": track_seconds,
        "hashes": n_hashes,
        "query_hashes": round(statistics.mean(len(q[2]) for q in queries)),
        "queries": len(queries),
        "insert_hashes_per_s": round(n_hashes / insert_s),
        "bytes_per_track": round(size / len(tracks)),
    }
    rows = []
    modes: list[tuple[str, Callable[[Any], Any]]] = [("lookup + count_votes", in_process)]
    if label == "duckdb":
        load_start = time.perf_counter()
        store.load_index()
        load_s = time.perf_counter() - load_start
        modes = [(f"memory index (load {load_s:.2f} s)", in_process)]
    if hasattr(store, "vote"):
        modes.append(("SQL vote pushdown", pushdown))
    for mode, function in modes:
        median_ms(function, queries[:2])  # warm caches
        ms, outputs = median_ms(function, queries)
        rows.append(
            {
                "store": label,
                "mode": mode,
                **base,
                "match_median_ms": round(ms, 1),
                "rows_per_query": round(statistics.mean(n for _, n in outputs)),
                "accuracy": correct(outputs),
            }
        )
    if label == "duckdb":
        assert isinstance(store, DuckDBStore)
        store.index_mode = "sql"
        median_ms(in_process, queries[:2])
        ms, outputs = median_ms(in_process, queries)
        rows.append(
            {
                "store": label,
                "mode": 'index="sql" (one join a query)',
                **base,
                "match_median_ms": round(ms, 1),
                "rows_per_query": round(statistics.mean(n for _, n in outputs)),
                "accuracy": correct(outputs),
            }
        )
    store.close()
    return rows


def git_commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=100)
    parser.add_argument("--track-seconds", type=float, default=240.0)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--stores", default="duckdb,mariadb,postgresql")
    parser.add_argument("--mysql-url", default="mysql://root@127.0.0.1:3306/test")
    parser.add_argument("--postgres-url", default="postgresql://root@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the server databases")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/stores.csv")
    args = parser.parse_args(argv)

    model = measure_hash_model()
    tracks = make_tracks(model, args.tracks, args.track_seconds, seed=1)
    queries = make_queries(model, tracks, args.queries, args.track_seconds, seed=2)
    print(
        f"{args.tracks} tracks x {args.track_seconds:.0f} s, "
        f"{sum(len(t) for t in tracks):,} hashes; {args.queries} queries of "
        f"{QUERY_SECONDS:.0f} s, {statistics.mean(len(q[2]) for q in queries):.0f} hashes each",
        file=sys.stderr,
    )
    rows: list[dict[str, Any]] = []
    for label in args.stores.split(","):
        print(f"benchmarking {label} ...", file=sys.stderr)
        if label == "duckdb":
            with tempfile.TemporaryDirectory() as directory:
                spec = str(Path(directory) / "bench.duckdb")
                rows += bench_store(label, spec, tracks, queries, args.track_seconds, model.frame_s)
        else:
            url = args.mysql_url if label == "mariadb" else args.postgres_url
            with throwaway(label, url, args.keep) as spec:
                rows += bench_store(label, spec, tracks, queries, args.track_seconds, model.frame_s)

    stamp = {
        "git_commit": git_commit(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], *stamp])
        writer.writeheader()
        writer.writerows({**row, **stamp} for row in rows)

    header = (
        f"{'store':<11} {'mode':<32} {'insert hashes/s':>15} {'match ms':>9} "
        f"{'rows/query':>10} {'MB/track':>9} {'accuracy':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['store']:<11} {row['mode']:<32} {row['insert_hashes_per_s']:>15,} "
            f"{row['match_median_ms']:>9.1f} {row['rows_per_query']:>10,} "
            f"{row['bytes_per_track'] / 1e6:>9.3f} {row['accuracy']:>8.2f}"
        )
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
