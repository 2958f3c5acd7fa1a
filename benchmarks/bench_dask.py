"""Fingerprinting throughput on a Dask cluster against the local process pool.

The reference tracks of the corpus (MP3, decode included) are fingerprinted
into a new DuckDB file (the driver writes) by, in turn:

- ``local x1``: one process (``nprocesses=1``), the baseline;
- ``local pool x2``: the default process pool with 2 processes;
- ``dask x1`` and ``dask x2``: a ``LocalCluster`` of 1 or 2 worker processes
  (one thread each), through ``executor=client``;
- with ``--server URL``, also ``dask x2 -> server``: the workers write their songs
  into that PostgreSQL/MySQL database themselves.

Reported: x real time (audio seconds per wall-clock second) and efficiency
(x real time per worker over the baseline's), the median of ``--repeats``
runs, configurations interleaved. The cluster's start-up (with a warm-up
fingerprint on every worker, as this process does before the local runs) is
timed apart.

    nice -n 10 .venv/bin/python benchmarks/bench_dask.py --size full
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from dejavu_lab import Dejavu
from dejavu_lab.studies.corpus import default_corpus_dir, manifest_hash, tracks
from dejavu_lab.studies.provenance import provenance

RESULTS = Path(__file__).resolve().parent / "results"


def warm_up() -> int:
    """Fingerprint 3 s of synthetic audio: imports and first-call costs paid before timing."""
    from dejavu_lab.core.presets import get_preset
    from dejavu_lab.studies.synth import synth_song

    pipeline = get_preset("default")
    return len(pipeline.fingerprint(synth_song(0, 3.0, pipeline.spectrogram.sample_rate)))


def run_once(files: list[Path], db: Any, *, nprocesses: int, executor: Any) -> float:
    """Fingerprint ``files`` into a new database; wall-clock seconds."""
    with Dejavu({"database": db}) as djv:
        report = djv.fingerprint_directory(
            files, None, nprocesses, progress=False, executor=executor
        )
        if report.failed or len(report.added) != len(files):
            raise RuntimeError(f"the run did not store every file: {report.summary()}")
        return report.elapsed_s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", choices=("small", "full"), default="full")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--server", help="also let 2 Dask workers write into this database URL")
    args = p.parse_args()
    from dask.distributed import Client, LocalCluster

    corpus_dir = default_corpus_dir(args.size)
    reference = tracks(corpus_dir, set="reference")
    files = [t.path for t in reference]
    audio_seconds = sum(t.duration_s for t in reference)
    print(f"{len(files)} tracks, {audio_seconds / 3600:.2f} h of audio; load {os.getloadavg()}")
    warm_up()
    clusters: dict[int, tuple[Any, Any, float]] = {}
    for workers in (1, 2):
        started = time.perf_counter()
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",
        )
        client = Client(cluster)
        client.run(warm_up)  # imports and first calls on every worker, as the local runs had
        clusters[workers] = (cluster, client, time.perf_counter() - started)
    configs: dict[str, tuple[int, Callable[[Path, int], Any], Any]] = {
        "local x1": (1, lambda folder, k: str(folder / f"l1-{k}.duckdb"), None),
        "local pool x2": (2, lambda folder, k: str(folder / f"l2-{k}.duckdb"), None),
        "dask x1": (1, lambda folder, k: str(folder / f"d1-{k}.duckdb"), clusters[1][1]),
        "dask x2": (2, lambda folder, k: str(folder / f"d2-{k}.duckdb"), clusters[2][1]),
    }
    if args.server:
        configs["dask x2 -> server"] = (2, lambda folder, k: args.server, clusters[2][1])
    seconds: dict[str, list[float]] = {name: [] for name in configs}
    try:
        with tempfile.TemporaryDirectory(prefix="dejavu-bench-dask-") as folder:
            for repeat in range(args.repeats):
                for name, (workers, where, executor) in configs.items():
                    if name.endswith("server") and repeat:
                        break  # its songs are stored now: a second run would skip them all
                    elapsed = run_once(
                        files, where(Path(folder), repeat), nprocesses=workers, executor=executor
                    )
                    seconds[name].append(elapsed)
                    print(f"  {name}: {elapsed:.1f} s ({audio_seconds / elapsed:.0f}x real time)")
    finally:
        for cluster, client, _ in clusters.values():
            client.close()
            cluster.close()
    base = audio_seconds / statistics.median(seconds["local x1"])
    rows = []
    for name, (workers, _, executor) in configs.items():
        x_realtime = audio_seconds / statistics.median(seconds[name])
        rows.append(
            {
                "config": name,
                "workers": workers,
                "runs": len(seconds[name]),
                "median_s": statistics.median(seconds[name]),
                "x_realtime": x_realtime,
                "efficiency_pct": 100 * x_realtime / workers / base,
                "cluster_start_s": clusters[workers][2] if executor is not None else 0.0,
                "tracks": len(files),
                "audio_hours": audio_seconds / 3600,
                "loadavg_1min": os.getloadavg()[0],
                **provenance({"preset": "default"}, manifest_hash(corpus_dir)),
            }
        )
    table = pd.DataFrame(rows)
    shown = ["config", "workers", "median_s", "x_realtime", "efficiency_pct", "cluster_start_s"]
    print(table[shown].to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"dask_{args.size}.csv"
    table.to_csv(out, index=False, float_format="%.4g")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
