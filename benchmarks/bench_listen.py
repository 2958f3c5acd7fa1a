"""Benchmark continuous listening: how much faster than real time streaming runs on one core.

Not a test: it measures and reports. The write-up found matching ran at "3x
listening speed", and that real-time matching "wasn't meant to be in Python".
Here :class:`~dejavu_lab.live.streaming.StreamingRecognizer` re-fingerprints its
whole window every ``step_s`` (0.5 s) of new audio; this script times every
``process_chunk`` call on one CPU core against a database the size of the
write-up's (45 songs):

- **database**: the reference tracks of ``data/corpus/small`` when that corpus
  is built (real music), topped up with seeded synthetic 4-minute songs to
  ``--songs``; synthetic songs only with ``--synthetic`` or without the corpus.
  Fingerprinted with the ``default`` preset into an in-memory DuckDB store;
- **queries**: ``--listen-seconds`` of audio streamed in ``step_s`` chunks at
  the pipeline rate (what :func:`dejavu_lab.live.listening.listen` feeds it): a
  fingerprinted song clean, the same with white noise at 5 dB SNR, and a song
  never fingerprinted (the answer is "no match", so every step runs the whole
  window). Excerpts start 10 s in, like the write-up's study.

Per window length, it reports the time of one step (median, 95th percentile,
max), ``x_realtime = step_s / mean step time`` (how many times faster than the
audio arrives), and the audio heard before the first confirmed answer.

Usage::

    python benchmarks/bench_listen.py [--songs 45] [--song-seconds 240]
        [--windows 3,6,10] [--step 0.5] [--listen-seconds 30] [--synthetic]

Writes ``benchmarks/results/listen.csv`` (one row per window and query, with the
database size, the pipeline parameters and the git commit) and prints a table.
"""

from __future__ import annotations

import os

# One core, one thread: set before numpy (and its BLAS) is imported.
for _variable in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from dejavu_lab import Dejavu  # noqa: E402
from dejavu_lab.core.presets import get_preset  # noqa: E402
from dejavu_lab.live.streaming import StreamingRecognizer  # noqa: E402
from dejavu_lab.studies import CorpusAudio, build_database, load_corpus_audio  # noqa: E402
from dejavu_lab.studies.corpus import default_corpus_dir  # noqa: E402
from dejavu_lab.studies.provenance import provenance  # noqa: E402
from dejavu_lab.studies.synth import synth_song  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "listen.csv"
PRESET = "default"
EXCERPT_START_S = 10.0
NOISY_SNR_DB = 5.0
SEED = 20130701


def pin_to_one_core() -> str:
    """Run this process on a single CPU; return which (or why not)."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"cpu {cpu}"


def make_corpus(
    n_songs: int, song_seconds: float, rate: int, *, synthetic_only: bool
) -> tuple[CorpusAudio, dict[str, np.ndarray], str]:
    """The reference songs and the never-fingerprinted ones, all at ``rate``."""
    reference: dict[str, np.ndarray] = {}
    unseen: dict[str, np.ndarray] = {}
    source = "synthetic"
    corpus_dir = default_corpus_dir("small")
    if not synthetic_only and (corpus_dir / "manifest.csv").exists():
        real = load_corpus_audio(corpus_dir, sample_rate=rate, progress=False)
        reference.update(list(real.reference.items())[:n_songs])
        unseen.update(real.unseen)
        source = f"{len(reference)} tracks of {corpus_dir.relative_to(REPO)}"
    n_synthetic = n_songs - len(reference)
    for seed in range(n_synthetic):
        reference[f"synth_{seed:03d}"] = synth_song(seed, song_seconds, rate)
    if n_synthetic:
        source += f" + {n_synthetic} synthetic songs of {song_seconds:g} s"
    if not unseen:
        unseen["unseen_900"] = synth_song(900, song_seconds, rate)
    corpus = CorpusAudio(
        reference=reference,
        unseen=unseen,
        sample_rate=rate,
        manifest_hash=f"listen-bench-{n_songs}-{song_seconds:g}-{synthetic_only}",
    )
    return corpus, unseen, source


@dataclass(frozen=True)
class Query:
    """Audio to stream, and the song it should be recognised as (None: no match)."""

    label: str
    samples: np.ndarray
    song: str | None


def make_queries(corpus: CorpusAudio, unseen: dict[str, np.ndarray], seconds: float) -> list[Query]:
    rate = corpus.sample_rate
    begin, end = round(EXCERPT_START_S * rate), round((EXCERPT_START_S + seconds) * rate)
    name, song = next(iter(corpus.reference.items()))
    clip = song[begin:end].astype(np.float32)
    rng = np.random.default_rng(SEED)
    noise = rng.standard_normal(clip.size)
    noise *= np.sqrt(np.mean(clip**2) / np.mean(noise**2) / 10 ** (NOISY_SNR_DB / 10))
    other = next(iter(unseen.values()))
    return [
        Query("fingerprinted", clip, name),
        Query(
            f"fingerprinted + noise {NOISY_SNR_DB:g} dB SNR",
            (clip + noise).astype(np.float32),
            name,
        ),
        Query("never fingerprinted", other[begin:end].astype(np.float32), None),
    ]


def stream(
    djv: Dejavu, query: Query, *, window_s: float, step_s: float
) -> tuple[list[float], float | None, str | None]:
    """Feed the query a step at a time; return step times (s), first answer time, its song."""
    streamer = StreamingRecognizer(djv, window_s=window_s, step_s=step_s)
    rate = streamer.sample_rate
    times: list[float] = []
    first_answer_s: float | None = None
    answered: str | None = None
    received, step = 0, 1
    while received < query.samples.size:
        end = min(streamer.step_boundary(step), query.samples.size)
        chunk = query.samples[received:end]
        start = time.perf_counter()
        answer = streamer.process_chunk(chunk)
        times.append(time.perf_counter() - start)
        received, step = end, step + 1
        if answer is not None and first_answer_s is None:
            first_answer_s, answered = received / rate, answer.song_name
    return times, first_answer_s, answered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=45, help="songs in the database")
    parser.add_argument(
        "--song-seconds", type=float, default=240.0, help="length of each synthetic song (s)"
    )
    parser.add_argument(
        "--windows", default="3,6,10", help="window lengths to time, comma-separated (s)"
    )
    parser.add_argument("--step", type=float, default=0.5, help="step between recognitions (s)")
    parser.add_argument(
        "--listen-seconds", type=float, default=30.0, help="audio streamed per query (s)"
    )
    parser.add_argument("--synthetic", action="store_true", help="synthetic songs only")
    parser.add_argument("--out", type=Path, default=RESULTS, help="CSV to write")
    args = parser.parse_args(argv)

    cpu = pin_to_one_core()
    pipeline = get_preset(PRESET)
    rate = pipeline.spectrogram.sample_rate
    print(f"building a {args.songs}-song database ({PRESET} preset, {cpu})...", flush=True)
    corpus, unseen, source = make_corpus(
        args.songs, args.song_seconds, rate, synthetic_only=args.synthetic
    )
    djv, build = build_database(pipeline, corpus)
    stats = djv.db.stats()
    print(
        f"{stats.num_songs} songs ({source}), {stats.num_fingerprints:,} hashes, "
        f"{build.audio_seconds / 3600:.2f} h of audio fingerprinted in "
        f"{build.fingerprint_seconds:.1f} s",
        flush=True,
    )
    queries = make_queries(corpus, unseen, args.listen_seconds)
    djv.match_samples(queries[0].samples[: rate * 2])  # warm-up: caches, lazy imports

    rows = []
    extra = provenance(pipeline.get_params(), corpus.manifest_hash)
    for window_s in [float(w) for w in args.windows.split(",")]:
        for query in queries:
            times, first_s, answered = stream(djv, query, window_s=window_s, step_s=args.step)
            mean_s = statistics.fmean(times)
            rows.append(
                {
                    "window_s": window_s,
                    "step_s": args.step,
                    "query": query.label,
                    "steps": len(times),
                    "step_mean_ms": round(mean_s * 1e3, 3),
                    "step_median_ms": round(statistics.median(times) * 1e3, 3),
                    "step_p95_ms": round(float(np.percentile(times, 95)) * 1e3, 3),
                    "step_max_ms": round(max(times) * 1e3, 3),
                    "x_realtime": round(args.step / mean_s, 1),
                    "first_answer_s": None if first_s is None else round(first_s, 3),
                    "answer": answered,
                    "correct": answered == query.song,
                    "db_songs": stats.num_songs,
                    "db_hashes": stats.num_fingerprints,
                    "db_audio_h": round(build.audio_seconds / 3600, 3),
                    "db_source": source,
                    "cpu": cpu,
                    **extra,
                }
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    header = (
        f"{'window':>7} {'query':<34} {'median':>8} {'p95':>8} {'max':>8} "
        f"{'x real time':>11} {'answer after':>12}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        first = row["first_answer_s"]
        answer = "no answer" if first is None else f"{first:.1f} s"
        if first is not None and not row["correct"]:
            answer += " (WRONG)"
        print(
            f"{row['window_s']:>6g}s {row['query']:<34} {row['step_median_ms']:>6.1f}ms "
            f"{row['step_p95_ms']:>6.1f}ms {row['step_max_ms']:>6.1f}ms "
            f"{row['x_realtime']:>10.1f}x {answer:>12}"
        )
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
