"""Where fingerprinting time goes: one process over the real corpus, stage by stage.

Runs ``fingerprint_files`` (the path of ``Dejavu.fingerprint_directory``) on the
reference tracks with the ``default`` preset as it is at run time, three times:

1. in one process under ``cProfile``, to split the time between the stages by
   the cumulative time of the function doing each (content hash, header probe,
   decode, resample, mix to mono, spectrogram, peaks, hashing, storing), with
   the main sub-steps of peaks and hashing;
2. in one process without the profiler: x real time per core, decode
   included, next to decode alone (``load_audio``), the limit;
3. with two worker processes: the speed-up from 1 to 2 processes.

The machine's load average is recorded: the speed-up is only meaningful on
otherwise idle cores.

    python benchmarks/bench_fingerprint_profile.py --size full

Writes ``benchmarks/results/profile.csv`` (one row a stage, then the totals).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from dejavu_lab.core.audio import load_audio
from dejavu_lab.core.presets import get_preset
from dejavu_lab.dejavu import Dejavu
from dejavu_lab.fingerprinting import FingerprintReport
from dejavu_lab.studies.corpus import default_corpus_dir, manifest_hash, tracks
from dejavu_lab.studies.provenance import provenance

RESULTS = Path(__file__).resolve().parent / "results"

#: (stage, sub-step of, (file suffix, function name)): what each stage is.
STAGES: tuple[tuple[str, str, tuple[str, str]], ...] = (
    ("content hash (SHA-1)", "", ("dejavu_lab/core/audio.py", "content_hash")),
    ("header probe (sf.info)", "", ("soundfile.py", "info")),
    ("decode (libsndfile/mpg123)", "", ("dejavu_lab/core/audio.py", "_decode_soundfile")),
    ("resample (soxr)", "", ("soxr/__init__.py", "resample")),
    ("mix to mono", "", ("dejavu_lab/core/audio.py", "to_mono")),
    ("spectrogram (STFT, power)", "", ("dejavu_lab/core/spectrogram.py", "power_spectrogram")),
    ("peaks", "", ("dejavu_lab/core/peaks.py", "find_peaks_in_power")),
    ("  maximum filter", "peaks", ("dejavu_lab/core/peaks.py", "_rect_maximum_filter")),
    ("  strongest per second", "peaks", ("dejavu_lab/core/peaks.py", "_keep_strongest")),
    ("hashing (compiled pass)", "", ("dejavu_lab/core/hashing.py", "hash_peaks")),
    (
        "  unique (hash, offset)",
        "hashing (compiled pass)",
        ("dejavu_lab/core/hashing.py", "unique"),
    ),
    ("storing (DuckDB add_song)", "", ("dejavu_lab/store/duckdb_store.py", "add_song")),
)


def fingerprint_once(
    reference: Path, workdir: Path, label: str, nprocesses: int
) -> FingerprintReport:
    """Fingerprint the reference folder into a fresh database."""
    db = workdir / f"{label}.duckdb"
    db.unlink(missing_ok=True)
    with Dejavu({"database": str(db), "pipeline": "default"}) as djv:
        return djv.fingerprint_directory(reference, [".mp3"], nprocesses, progress=False)


def cumulative_seconds(stats: pstats.Stats) -> dict[tuple[str, str], float]:
    """Cumulative time of each profiled function, by (file, name)."""
    table: dict[tuple[str, str], float] = {}
    for (filename, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
        key = (filename.replace(os.sep, "/"), name)
        table[key] = table.get(key, 0.0) + float(row[3])
    return table


def stage_seconds(table: dict[tuple[str, str], float], suffix: str, name: str) -> float:
    return sum(
        t
        for (filename, function), t in table.items()
        if function == name and filename.endswith(suffix)
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", choices=("small", "full"), default="full")
    p.add_argument("--out", type=Path, default=RESULTS / "profile.csv")
    args = p.parse_args()
    corpus_dir = default_corpus_dir(args.size)
    reference = corpus_dir / "reference"
    listed = tracks(corpus_dir, set="reference")
    audio_seconds = sum(t.duration_s for t in listed)
    pipeline = get_preset("default")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="dejavu-profile-") as folder:
        workdir = Path(folder)
        # Warm the page cache and imports, so no run pays for them alone.
        fingerprint_once(reference, workdir, "warm", 1)

        profiler = cProfile.Profile()
        profiler.enable()
        started = time.perf_counter()
        fingerprint_once(reference, workdir, "profiled", 1)
        profiled_s = time.perf_counter() - started
        profiler.disable()
        table = cumulative_seconds(pstats.Stats(profiler))

        one = fingerprint_once(reference, workdir, "one", 1)
        started = time.perf_counter()
        for track in listed:
            load_audio(track.path, sample_rate=pipeline.spectrogram.sample_rate)
        decode_s = time.perf_counter() - started
        two = fingerprint_once(reference, workdir, "two", 2)
    load_after = os.getloadavg()[0]

    rows: list[dict[str, Any]] = []
    for stage, parent, (suffix, name) in STAGES:
        seconds = stage_seconds(table, suffix, name)
        rows.append(
            {
                "stage": stage,
                "part_of": parent,
                "seconds": seconds,
                "share_pct": 100 * seconds / profiled_s,
                "x_realtime": audio_seconds / seconds if seconds else float("inf"),
            }
        )
    top = [r for r in rows if not r["part_of"]]
    other = profiled_s - sum(r["seconds"] for r in top)
    rows.append(
        {
            "stage": "other (Python, I/O)",
            "part_of": "",
            "seconds": other,
            "share_pct": 100 * other / profiled_s,
            "x_realtime": audio_seconds / other if other > 0 else float("inf"),
        }
    )
    totals = {
        "total, profiled (1 process)": profiled_s,
        "total, 1 process": one.elapsed_s,
        "decode + resample alone (load_audio)": decode_s,
        "total, 2 processes": two.elapsed_s,
    }
    for stage, seconds in totals.items():
        rows.append(
            {
                "stage": stage,
                "part_of": "total",
                "seconds": seconds,
                "share_pct": float("nan"),
                "x_realtime": audio_seconds / seconds,
            }
        )
    frame = pd.DataFrame(rows)
    frame["audio_seconds"] = audio_seconds
    frame["tracks"] = len(listed)
    frame["load_average_before"] = load_before
    frame["load_average_after"] = load_after
    for key, value in provenance(pipeline.get_params(), manifest_hash(corpus_dir)).items():
        frame[key] = value
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False, float_format="%.4g")

    print(
        frame[["stage", "seconds", "share_pct", "x_realtime"]].to_string(
            index=False, float_format=lambda v: f"{v:,.2f}"
        )
    )
    speed_up = one.elapsed_s / two.elapsed_s
    print(
        f"\n{len(listed)} tracks, {audio_seconds / 3600:.2f} h of audio: "
        f"{audio_seconds / one.elapsed_s:.0f}x real time on one core, decode included "
        f"(decode + resample alone {audio_seconds / decode_s:.0f}x); "
        f"2 processes: {audio_seconds / two.elapsed_s:.0f}x, speed-up {speed_up:.2f} "
        f"(load average {load_before:.1f} before, {load_after:.1f} after)"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
