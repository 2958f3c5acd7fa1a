"""What the calibrated no-match rule adds to a query's time, side by side with the old rule.

The same database, the same clips (seen and unseen, clean and through the laptop
microphone), each recognised by the default preset with the calibrated rule
(``verifier__max_false_match``) and by the same preset with the earlier
thresholds (``verifier__max_false_match=None``), interleaved clip by clip so both
see the same machine load. Prints medians and p95 per rule and writes
``benchmarks/results/calibration.csv``.

nice -n 10 .venv/bin/python benchmarks/bench_calibration.py --size full
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dejavu_lab import Dejavu
from dejavu_lab.studies.accuracy import build_queries
from dejavu_lab.studies.corpus import default_corpus_dir
from dejavu_lab.studies.corpus_audio import cached_database, load_corpus_audio

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", choices=("small", "full"), default="small")
    p.add_argument("--seconds", nargs="+", type=float, default=[1.0, 5.0])
    p.add_argument("--db-folder", type=Path, default=None)
    args = p.parse_args()
    corpus = load_corpus_audio(default_corpus_dir(args.size), progress=False)
    folder = args.db_folder or Path("experiments/results") / args.size / "db"
    calibrated, _ = cached_database("default", corpus, folder)
    old = Dejavu(
        store=calibrated.db,
        pipeline=calibrated.pipeline.with_params(verifier__max_false_match=None),
    )
    queries = build_queries(corpus, seconds=args.seconds, n_per_song=1, n_per_unseen=1, seed=5)
    rows = []
    for query in queries:
        for rule, djv in (("calibrated", calibrated), ("thresholds", old)):
            start = time.perf_counter()
            answer = djv.match_samples(query.clip, query.sample_rate)
            rows.append(
                {
                    "rule": rule,
                    "seconds": query.duration_s,
                    "source": query.source,
                    "condition": query.condition,
                    "ms": 1e3 * (time.perf_counter() - start),
                    "decided_by": answer.decided_by,
                    "answer": answer.song_name,
                }
            )
    frame = pd.DataFrame(rows)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    frame["commit"] = commit
    frame["load_average"] = os.getloadavg()[0]
    RESULTS.mkdir(exist_ok=True)
    frame.to_csv(RESULTS / "calibration.csv", index=False, float_format="%.4g")
    summary = frame.groupby(["seconds", "rule"]).ms.agg(
        median="median", p95=lambda ms: float(np.percentile(ms, 95)), n="size"
    )
    print(summary.round(2).to_string())
    medians = frame.groupby(["seconds", "rule"]).ms.median().unstack()
    print((medians["calibrated"] / medians["thresholds"]).round(3).rename("ratio").to_string())
    same = (
        frame[frame.rule == "calibrated"].answer.fillna("(no match)").to_numpy()
        == frame[frame.rule == "thresholds"].answer.fillna("(no match)").to_numpy()
    )
    print(f"same answer for {same.sum()} of {len(same)} clips; load average {os.getloadavg()}")
    # The rule's own arithmetic, alone: the threshold's evidence and the answer's probability.
    null, start = calibrated.null_model, time.perf_counter()
    for i in range(2000):
        null.evidence_for(1e-3, 1.0 + i % 10)
        null.false_match_probability(1.5, 1.0 + i % 10)
    print(f"rule arithmetic: {(time.perf_counter() - start) / 2000 * 1e6:.0f} us a query")
    calibrated.close()


if __name__ == "__main__":
    main()
