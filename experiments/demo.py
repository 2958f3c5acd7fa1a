"""make demo: fingerprint a small corpus of free music, recognise noisy clips of it.

Builds nothing twice: a second run skips the songs already fingerprinted.
Falls back to synthetic songs where Debian's corpus could not be built.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from dejavu_lab import Dejavu
from dejavu_lab.studies import load_corpus_audio
from dejavu_lab.studies.accuracy import build_queries, evaluate_queries, summarize_accuracy
from dejavu_lab.studies.corpus import default_corpus_dir
from dejavu_lab.studies.corpus_audio import write_synthetic_corpus

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--db", default=str(REPO / "data" / "demo" / "fingerprints.duckdb"))
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    corpus_dir = default_corpus_dir("small")
    if not (corpus_dir / "manifest.csv").exists():
        corpus_dir = REPO / "data" / "corpus" / "synthetic"
        print(f"no free-music corpus (make corpus-small failed): synthetic songs in {corpus_dir}")
        write_synthetic_corpus(corpus_dir)
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)

    print(f"\n1. Fingerprinting {corpus_dir / 'reference'} into {args.db}")
    with Dejavu({"database": args.db}) as djv:
        report = djv.fingerprint_directory(corpus_dir / "reference", [".mp3"], args.jobs)
        print(report.summary())
        stats = djv.db.stats()
        per_song = stats.size_bytes / 1e6 / max(stats.num_songs, 1)
        print(
            f"   database: {stats.num_songs} songs, {stats.num_fingerprints:,} fingerprints, "
            f"{stats.size_bytes / 1e6:.2f} MB ({per_song:.2f} MB a song"
            + (f"; {stats.free_bytes / 1e6:.2f} MB of it free blocks" if stats.free_bytes else "")
            + ")"
        )

        print(
            "\n2. Recognising clips: clean, and through a simulated laptop microphone "
            "(speakers, a 0.4 s room, people talking at 5 dB SNR); unseen tracks must "
            "get 'no match'"
        )
        corpus = load_corpus_audio(corpus_dir, progress=False)
        queries = build_queries(
            corpus,
            seconds=(1, 2, 3, 5),
            conditions=("clean", "laptop-mic"),
            n_per_song=2,
            n_per_unseen=4,
            seed=1,
        )
        started = time.perf_counter()
        per_query = evaluate_queries(djv, queries)
        table = summarize_accuracy(per_query)
        print(f"   {len(queries)} clips in {time.perf_counter() - started:.1f} s\n")
        shown = table.drop(columns=["false_match_pct", "median_confidence"])
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
        example = per_query[(per_query.source == "reference") & per_query.correct].iloc[0]
        print(
            f"\n   e.g. {example.query_id}: '{example.answer}' at {example.offset_s:.2f} s "
            f"(truth {example.start_s:.2f} s), confidence {example.confidence:.1f}"
        )
    print(f"\nTry: .venv/bin/dejavu-lab --db {args.db} recognize CLIP.wav --json")


if __name__ == "__main__":
    main()
