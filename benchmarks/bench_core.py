"""Core benchmark: fingerprinting speed, hashes, storage, match time and clean accuracy.

For each preset, on the real corpus (``make corpus`` / ``make corpus-small``):

- fingerprinting speed in x real time, one process, decode included
  (``fingerprint_directory`` on the MP3 files), with the decode share;
- hashes per audio second and database bytes per track;
- median time to match a 5 s query in-process (fingerprint + lookup + vote),
  decode reported apart;
- accuracy on clean 1-5 s clips.

    python benchmarks/bench_core.py --size full
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import soundfile as sf

from dejavu_lab import Dejavu
from dejavu_lab.core.audio import load_audio
from dejavu_lab.studies import load_corpus_audio
from dejavu_lab.studies.accuracy import build_queries, evaluate_queries, summarize_accuracy
from dejavu_lab.studies.corpus import default_corpus_dir, tracks

RESULTS = Path(__file__).resolve().parent / "results"


def decode_seconds(paths: list[Path], sample_rate: int) -> float:
    """Time to decode and resample every file once (s)."""
    started = time.perf_counter()
    for path in paths:
        load_audio(path, sample_rate=sample_rate)
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", choices=("small", "full"), default="small")
    p.add_argument("--presets", nargs="+", default=["default", "dejavu"])
    p.add_argument("--queries", type=int, default=30, help="5 s queries timed per preset")
    args = p.parse_args()
    corpus_dir = default_corpus_dir(args.size)
    reference = [t.path for t in tracks(corpus_dir, set="reference")]
    audio_seconds = sum(t.duration_s for t in tracks(corpus_dir, set="reference"))
    corpus = load_corpus_audio(corpus_dir, progress=False)
    rows = []
    with tempfile.TemporaryDirectory(prefix="dejavu-bench-") as folder:
        for preset in args.presets:
            db = Path(folder) / f"{preset}.duckdb"
            djv = Dejavu({"database": str(db), "pipeline": preset})
            rate = djv.pipeline.spectrogram.sample_rate
            decode = decode_seconds(reference, rate)
            report = djv.fingerprint_directory(
                corpus_dir / "reference", [".mp3"], 1, progress=False
            )
            stats = djv.db.stats()
            queries = build_queries(
                corpus,
                seconds=(1, 2, 3, 4, 5),
                conditions=("clean",),
                n_per_song=1,
                n_per_unseen=0,
                seed=7,
            )
            djv.db.load_index()
            per_query = evaluate_queries(djv, queries, progress=False)
            accuracy = summarize_accuracy(per_query)
            five = [q for q in queries if q.duration_s == 5][: args.queries]
            match_ms, decode_ms = [], []
            for query in five:
                clip = Path(folder) / "q.wav"
                sf.write(clip, query.clip, query.sample_rate, subtype="PCM_16")
                result = djv.match_file(clip)
                match_ms.append(result.match_time_s * 1e3)
                decode_ms.append(result.decode_time_s * 1e3)
            djv.close()
            row = {
                "preset": preset,
                "tracks": stats.num_songs,
                "audio_hours": audio_seconds / 3600,
                "fingerprint_x_realtime": audio_seconds / report.elapsed_s,
                "decode_share_pct": 100 * decode / report.elapsed_s,
                "decode_only_x_realtime": audio_seconds / decode,
                "hashes_per_second": stats.num_fingerprints / stats.audio_seconds,
                "db_bytes_per_track": stats.size_bytes / stats.num_songs,
                "bytes_per_hash": stats.size_bytes / stats.num_fingerprints,
                "median_match_ms_5s": statistics.median(match_ms),
                "median_decode_ms_5s": statistics.median(decode_ms),
            }
            for record in accuracy.itertuples():
                row[f"clean_{record.seconds:g}s_pct"] = record.accuracy_pct
            rows.append(row)
            print(pd.DataFrame([row]).T.to_string(header=False, float_format=lambda v: f"{v:,.2f}"))
    table = pd.DataFrame(rows)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"core_{args.size}.csv"
    table.to_csv(out, index=False, float_format="%.4g")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
