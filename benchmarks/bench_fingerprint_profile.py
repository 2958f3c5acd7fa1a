"""Where fingerprinting time goes: one process over the real corpus, stage by stage.

Runs ``fingerprint_files`` (the path of ``Dejavu.fingerprint_directory``) on the
reference tracks with the ``default`` preset as it is at run time, three times:

1. in one process under ``cProfile``, to split the time between the stages by
   the cumulative time of the function doing each (content hash, header probe,
   decode with its block-wise resampling and mixing, spectrogram, peaks,
   hashing, storing), with the main sub-steps of decoding, peaks and hashing;
2. in one process without the profiler: x real time per core, decode
   included, next to decode alone (``load_audio``), the limit;
3. with two worker processes: the speed-up from 1 to 2 processes.

The machine's load average is recorded: the speed-up is only meaningful on
otherwise idle cores.

    python benchmarks/bench_fingerprint_profile.py --size full

Writes ``benchmarks/results/profile.csv`` (one row a stage, then the totals).

With ``--baseline DIR`` (a checkout of another commit, e.g. a ``git worktree
add --detach``) it instead compares the two code bases side by side: ``--runs
N`` runs a side, each a fresh process (``PYTHONPATH`` = this checkout or
``DIR``) that fingerprints the reference tracks in one process into a fresh
database, after a warm-up track; the sides alternate, and which goes first
alternates, so both see the same machine. A run reports its wall time and its
process CPU time (DuckDB's threads included), so x real time a core is audio
seconds / CPU seconds; and a digest of every stored (song, hash, offset) row,
which must be the same on both sides.

    python benchmarks/bench_fingerprint_profile.py --baseline /work/wt-base --runs 4 \
        --out benchmarks/results/fingerprint_ab.csv
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
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
from dejavu_lab.studies.provenance import git_commit, provenance

RESULTS = Path(__file__).resolve().parent / "results"

#: (stage, sub-step of, (file suffix, function name)): what each stage is.
STAGES: tuple[tuple[str, str, tuple[str, str]], ...] = (
    ("content hash (SHA-1)", "", ("dejavu_lab/core/audio.py", "content_hash")),
    ("header probe (sf.info)", "", ("soundfile.py", "info")),
    (
        "decode, resample, mix (blocks)",
        "",
        ("dejavu_lab/core/audio.py", "_decode_soundfile"),
    ),
    ("  read (libsndfile/mpg123)", "decode, resample, mix (blocks)", ("soundfile.py", "_cdata_io")),
    (
        "  resample (soxr stream)",
        "decode, resample, mix (blocks)",
        ("soxr/__init__.py", "resample_chunk"),
    ),
    ("  mix to mono", "decode, resample, mix (blocks)", ("dejavu_lab/core/audio.py", "to_mono")),
    ("spectrogram (STFT, power)", "", ("dejavu_lab/core/spectrogram.py", "power_spectrogram")),
    ("peaks", "", ("dejavu_lab/core/peaks.py", "find_peaks_in_power")),
    (
        "  candidates (compiled filter)",
        "peaks",
        ("dejavu_lab/core/_kernels/peaks.py", "rect_near_maxima"),
    ),
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


def cpu_seconds() -> float:
    """User + system CPU time of this process, all its threads (s)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rows_digest(db: Path) -> tuple[str, int]:
    """SHA-1 of every stored (song name, hash, offset) row, in a fixed order; and the row count."""
    import duckdb
    import numpy as np

    con = duckdb.connect(str(db), read_only=True)
    try:
        names = con.execute("SELECT song_id, name FROM songs ORDER BY name").fetchall()
        digest = hashlib.sha1()
        rows = 0
        for song_id, name in names:
            found = con.execute(
                'SELECT hash, "offset" FROM fingerprints WHERE song_id = ? ORDER BY "offset", hash',
                [song_id],
            ).fetchnumpy()
            digest.update(name.encode())
            digest.update(np.asarray(found["hash"], dtype=np.uint32).tobytes())
            digest.update(np.asarray(found["offset"], dtype=np.int32).tobytes())
            rows += len(found["hash"])
    finally:
        con.close()
    return digest.hexdigest(), rows


def child_run(reference: Path, db: Path) -> None:
    """One side's run (in its own process): warm up on a track, then time the folder."""
    import dejavu_lab
    from dejavu_lab.fingerprinting import fingerprint_path

    pipeline = get_preset("default")
    warm_up = sorted(reference.glob("*.mp3"))[0]
    fingerprint_path(warm_up, pipeline)  # imports, compiled kernels' cache, page cache
    load_before = os.getloadavg()[0]
    cpu, wall = cpu_seconds(), time.perf_counter()
    report = fingerprint_once(reference, db.parent, db.stem, 1)
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    digest, rows = rows_digest(db)
    result = {
        "package": str(Path(dejavu_lab.__file__).parent),
        "audio_seconds": report.audio_seconds,
        "tracks": len(report.added),
        "num_hashes": report.num_hashes,
        "cpu_s": cpu,
        "wall_s": wall,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "digest": digest,
        "rows": rows,
    }
    print(json.dumps(result), flush=True)


def child_split(reference: Path) -> None:
    """One side's stage split (own process): CPU seconds of each stage over every track."""
    import dejavu_lab
    from dejavu_lab.core.audio import content_hash
    from dejavu_lab.fingerprinting import MIN_SONG_SECONDS

    pipeline = get_preset("default")
    rate = pipeline.spectrogram.sample_rate
    files = sorted(reference.glob("*.mp3"))
    pipeline.fingerprint(load_audio(files[0], sample_rate=rate).samples)  # warm-up
    seconds = dict.fromkeys(SPLIT_STAGES, 0.0)
    audio_seconds = 0.0
    for path in files:
        marks = [time.process_time()]
        content_hash(path)
        marks.append(time.process_time())
        samples = load_audio(path, sample_rate=rate, min_duration_s=MIN_SONG_SECONDS).samples
        marks.append(time.process_time())
        power = pipeline.spectrogram.power(samples)
        marks.append(time.process_time())
        peaks = pipeline.peaks.from_power(power)
        marks.append(time.process_time())
        pipeline.hasher(peaks)
        marks.append(time.process_time())
        for stage, start, stop in zip(SPLIT_STAGES, marks, marks[1:], strict=False):
            seconds[stage] += stop - start
        audio_seconds += len(samples) / rate
    result = {
        "package": str(Path(dejavu_lab.__file__).parent),
        "audio_seconds": audio_seconds,
        **seconds,
    }
    print(json.dumps(result), flush=True)


#: The stages :func:`child_split` times (CPU), in order.
SPLIT_STAGES = ("content_hash", "decode_resample_mix", "stft", "peaks", "hashing")


def split_side_by_side(reference: Path, baseline: Path, runs: int, out: Path) -> None:
    """Alternate stage splits of this checkout ("new") and ``baseline`` ("old")."""
    roots = {"old": baseline.resolve(), "new": Path(__file__).resolve().parent.parent}
    commits = {side: commit_of(root) for side, root in roots.items()}
    rows: list[dict[str, Any]] = []
    for run in range(runs):
        for side in ("old", "new") if run % 2 == 0 else ("new", "old"):
            env = {**os.environ, "PYTHONPATH": str(roots[side])}
            command = [sys.executable, __file__, "--child-split", str(reference)]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if Path(result["package"]).resolve().parent != roots[side]:
                raise RuntimeError(f"{side} imported {result['package']}")
            for stage in SPLIT_STAGES:
                rows.append(
                    {
                        "run": run,
                        "side": side,
                        "commit": commits[side],
                        "stage": stage,
                        "cpu_s": result[stage],
                        "x_realtime_cpu": result["audio_seconds"] / result[stage],
                        "audio_seconds": result["audio_seconds"],
                        "load_average": os.getloadavg()[0],
                    }
                )
    frame = pd.DataFrame(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False, float_format="%.4g")
    table = frame.pivot_table(index="stage", columns="side", values="cpu_s", aggfunc="median")
    print(table.loc[list(SPLIT_STAGES), ["old", "new"]].to_string(float_format="%.2f"))
    print(f"CPU seconds, median of {runs} runs a side; wrote {out}")


def commit_of(root: Path) -> str:
    """The short commit of a checkout (``+dirty`` when it has changes)."""
    return git_commit(root, digits=7)


def side_by_side(reference: Path, baseline: Path, runs: int, out: Path) -> None:
    """Alternate runs of this checkout ("new") and ``baseline`` ("old"); write one row a run."""
    roots = {"old": baseline.resolve(), "new": Path(__file__).resolve().parent.parent}
    commits = {side: commit_of(root) for side, root in roots.items()}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="dejavu-fp-ab-") as folder:
        for run in range(runs):
            order = ("old", "new") if run % 2 == 0 else ("new", "old")
            for side in order:
                db = Path(folder) / f"{side}{run}.duckdb"
                env = {**os.environ, "PYTHONPATH": str(roots[side])}
                command = [sys.executable, __file__, "--child", str(reference), str(db)]
                done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
                result = json.loads(done.stdout.strip().splitlines()[-1])
                if Path(result["package"]).resolve().parent != roots[side]:
                    raise RuntimeError(f"{side} imported {result['package']}")
                db.unlink()
                row = {"run": run, "side": side, "commit": commits[side], **result}
                row["x_realtime_cpu"] = row["audio_seconds"] / row["cpu_s"]
                row["x_realtime_wall"] = row["audio_seconds"] / row["wall_s"]
                rows.append(row)
                print(
                    f"run {run} {side:3s} {row['x_realtime_cpu']:6.0f}x CPU "
                    f"{row['x_realtime_wall']:6.0f}x wall  load {row['load_before']:.2f}",
                    flush=True,
                )
    frame = pd.DataFrame(rows)
    frame["identical_rows"] = frame["digest"].nunique() == 1
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False, float_format="%.4g")
    for side in ("old", "new"):
        mine = frame[frame["side"] == side]
        print(
            f"{side} {commits[side]}: median {statistics.median(mine['x_realtime_cpu']):.0f}x "
            f"real time a core (CPU), {statistics.median(mine['x_realtime_wall']):.0f}x wall; "
            f"CPU {statistics.median(mine['cpu_s']):.2f} s median of {len(mine)}"
        )
    print(
        f"{int(frame['tracks'].iloc[0])} tracks, {frame['audio_seconds'].iloc[0]:.0f} s of audio, "
        f"{int(frame['rows'].iloc[0]):,} rows; stored rows identical on both sides: "
        f"{bool(frame['identical_rows'].iloc[0])}; load {frame['load_before'].min():.2f}-"
        f"{frame['load_after'].max():.2f}"
    )
    print(f"wrote {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", choices=("small", "full"), default="full")
    p.add_argument("--out", type=Path, default=RESULTS / "profile.csv")
    p.add_argument("--baseline", type=Path, help="checkout to compare with, side by side")
    p.add_argument("--runs", type=int, default=4, help="runs a side with --baseline")
    p.add_argument(
        "--split", action="store_true", help="with --baseline: CPU seconds of each stage"
    )
    p.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    p.add_argument("--child-split", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child_run(*args.child)
        return
    if args.child_split:
        child_split(args.child_split)
        return
    corpus_dir = default_corpus_dir(args.size)
    if args.baseline:
        compare = split_side_by_side if args.split else side_by_side
        compare(corpus_dir / "reference", args.baseline, args.runs, args.out)
        return
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
