"""Speed and pitch benchmark: 5 s queries matched by "default", "speed" and "invariant".

On the full corpus's 45 reference tracks, one 5 s clip each through the
laptop-mic channel: at speed 1.0 (babble at 5 dB) and played at a speed
uniform on 0.95-0.99 or 1.01-1.05 (babble at 10 dB). The presets match every
clip alternately in one process (``"invariant"`` on its own database, the
others on the default's), so that the medians are side by side; decode and
resampling excluded (samples at the pipeline's rate).

    python benchmarks/bench_speed.py --size full [--presets default speed]
    python benchmarks/bench_speed.py --size full --presets speed \
        --variant speed-first-pass:speed__extra_finals=0

``--unseen`` adds 5 s varispeed clips of the unseen tracks (no-match answers:
what the search costs music the database does not hold). A
``--variant NAME:param=value,...`` is the ``"speed"`` preset with those
parameters, timed beside the others. Medians of wall time and of CPU time
(``time.process_time``) are reported, with the load average.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from dejavu_lab import Dejavu
from dejavu_lab.core.audio import resample
from dejavu_lab.core.presets import get_preset
from dejavu_lab.studies import load_corpus_audio
from dejavu_lab.studies.channel import CONDITIONS, Channel, Noise, change_speed
from dejavu_lab.studies.corpus import default_corpus_dir
from dejavu_lab.studies.corpus_audio import cached_database
from dejavu_lab.studies.provenance import provenance

RESULTS = Path(__file__).resolve().parent / "results"


def laptop_mic(snr_db: float) -> Channel:
    """The laptop-mic channel with its babble at ``snr_db``."""
    stages = tuple(
        dataclasses.replace(stage, snr_db=snr_db) if isinstance(stage, Noise) else stage
        for stage in CONDITIONS["laptop-mic"].stages
    )
    return Channel(stages=stages, name=f"laptop-mic-{snr_db:g}db")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", choices=("small", "full"), default="full")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--db-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench_speed")
    p.add_argument(
        "--presets",
        nargs="+",
        choices=("default", "speed", "invariant"),
        default=["default", "speed", "invariant"],
        help="presets to time (invariant builds its own database)",
    )
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:PARAMS",
        help="also time the speed preset with these parameters (name=value,...)",
    )
    p.add_argument(
        "--unseen", action="store_true", help="also time 5 s clips of unseen tracks, changed"
    )
    args = p.parse_args()
    corpus = load_corpus_audio(default_corpus_dir(args.size), progress=False)
    base, _ = cached_database("default", corpus, args.db_dir)
    presets = {}
    for preset in args.presets:
        if preset == "invariant":
            presets[preset], _ = cached_database("invariant", corpus, args.db_dir)
        elif preset == "speed":
            presets[preset] = Dejavu(store=base.db, pipeline="speed")
        else:
            presets[preset] = base
    for spec in args.variant:
        name, _, params = spec.partition(":")
        values = {}
        for item in params.split(","):
            key, value = item.split("=")
            values[key] = json.loads(value)
        presets[name] = Dejavu(store=base.db, pipeline=get_preset("speed").with_params(**values))
    rate, sr = base.pipeline.spectrogram.sample_rate, corpus.sample_rate
    rng = np.random.default_rng(args.seed)
    clips: dict[str, list[np.ndarray]] = {"speed-1.0": [], "varispeed": []}
    for index, samples in enumerate(corpus.reference.values()):
        factor = 1.0 + (1 if rng.random() < 0.5 else -1) * rng.uniform(0.01, 0.05)
        start = int(rng.integers(10 * sr, len(samples) - 7 * sr))
        plain = laptop_mic(5.0).apply(samples[start : start + 5 * sr], sr, index)
        excerpt = samples[start : start + math.ceil(5 * factor * sr) + 1]
        played = change_speed(excerpt, sr, factor=factor)[: 5 * sr]
        changed = laptop_mic(10.0).apply(played, sr, index)
        clips["speed-1.0"].append(resample(plain, sr, rate))
        clips["varispeed"].append(resample(changed, sr, rate))
    names = {condition: list(corpus.reference) for condition in clips}
    if args.unseen:
        # Music the database does not hold, played at another speed: what no-match costs.
        clips["unseen-varispeed"] = []
        for index, samples in enumerate(corpus.unseen.values()):
            factor = 1.0 + (1 if rng.random() < 0.5 else -1) * rng.uniform(0.01, 0.05)
            start = int(rng.integers(10 * sr, len(samples) - 7 * sr))
            excerpt = samples[start : start + math.ceil(5 * factor * sr) + 1]
            played = change_speed(excerpt, sr, factor=factor)[: 5 * sr]
            changed = laptop_mic(10.0).apply(played, sr, 1000 + index)
            clips["unseen-varispeed"].append(resample(changed, sr, rate))
        names["unseen-varispeed"] = [""] * len(clips["unseen-varispeed"])
    for clip in clips["speed-1.0"][:3]:  # warm the indexes
        for djv in presets.values():
            djv.match_samples(clip, rate)
    rows = []
    for condition, queries in clips.items():
        times: dict[str, list[float]] = {preset: [] for preset in presets}
        cpu: dict[str, list[float]] = {preset: [] for preset in presets}
        right: dict[str, int] = dict.fromkeys(presets, 0)
        for name, clip in zip(names[condition], queries, strict=True):
            for preset, djv in presets.items():
                started, started_cpu = time.perf_counter(), time.process_time()
                answer = djv.match_samples(clip, rate)
                times[preset].append(time.perf_counter() - started)
                cpu[preset].append(time.process_time() - started_cpu)
                # Unseen clips: "right" counts the answers that are no match.
                right[preset] += answer.song_name == (name or None)
        for preset in presets:
            rows.append(
                {
                    "condition": condition,
                    "preset": preset,
                    "median_ms": round(1e3 * statistics.median(times[preset]), 2),
                    "p90_ms": round(1e3 * float(np.percentile(times[preset], 90)), 2),
                    "cpu_median_ms": round(1e3 * statistics.median(cpu[preset]), 2),
                    "mean_ms": round(1e3 * statistics.mean(times[preset]), 2),
                    "load_average": [round(x, 2) for x in os.getloadavg()],
                    "right": right[preset],
                    "clips": len(queries),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    chosen = "" if list(presets) == ["default", "speed", "invariant"] else "_" + "-".join(presets)
    chosen += "_unseen" if args.unseen else ""
    out = RESULTS / f"speed_{args.size}{chosen}.json"
    record = provenance(
        {preset: djv.pipeline.get_params() for preset, djv in presets.items()},
        corpus.manifest_hash,
    )
    out.write_text(json.dumps({"rows": rows, **record}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
