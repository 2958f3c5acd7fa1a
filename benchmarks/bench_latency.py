"""Query latency: where a query's time goes, and before/after side by side.

A query here is what a user times: ``Dejavu.match_file`` on a WAV file at
44.1 kHz (decode and resampling included), in a process that has the index
loaded. Every query is timed as a whole and split into stages, by wrapping
the functions doing them:

- ``decode``: ``load_audio`` (WAV decode, resample to the pipeline's rate);
- ``stft``: ``Spectrogram.__call__`` (or ``.power``); ``peaks``:
  ``PeakPicker.__call__`` (or ``.from_power``, which takes the dB);
- ``hashing``: ``Hasher.__call__`` and ``Hasher.lookup_variants``;
- ``lookup``: the store's ``lookup`` and ``lookup_songs``;
- ``vote``: ``Matcher.__call__`` and ``Matcher.shortlist`` (counting and ranking);
- ``peak check``: ``Dejavu._verify`` (the song's stretch read included);
- ``other``: the rest (query shifts merged, answer built).

Each query's process CPU time (``cpu_ms``, ``time.process_time``) is
recorded beside its wall time: on a machine shared with other work the wall
time grows with the load, the CPU time much less (a loaded machine still
costs cache misses), so the two sides' CPU medians are the steadier ratio.

The collections are those of ``bench_scale.py`` (45 real tracks plus
distractors; ``--workdir`` and ``--keep`` as there: a kept collection is
reused, a missing one built). The queries are its clips of 5 s (45 clean
and 45 laptop-mic clips of the reference tracks, 8 of each unseen track:
442 with the corpus's 44 unseen tracks) and, for the short-query target,
laptop-mic clips of 1 s (45 reference, 4 of each unseen track: 221).

With ``--baseline DIR`` (a checkout of another commit, e.g. a ``git
worktree``), each size runs two query processes at once, this code and the
baseline's (``PYTHONPATH=DIR``), and the parent sends them the same queries
in turn, alternating which goes first: both sides see the same machine load.
Every answer (song, offset, decided_by) is compared; the differences are
printed and counted.

    python benchmarks/bench_latency.py --sizes 45 --workdir /tmp/scale --keep
    python benchmarks/bench_latency.py --baseline /tmp/base --rounds 3

Writes ``benchmarks/results/latency.csv`` (one row per size, side and query
kind) and ``latency_queries.csv`` (every query, both sides).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf

RESULTS = Path(__file__).resolve().parent / "results"
STAGES = ("decode", "stft", "peaks", "hashing", "lookup", "vote", "peak_check")
CORPUS_RATE = 44100


# -- the query files ------------------------------------------------------


def make_query_files(corpus_dir: Path, folder: Path, *, seed: int) -> pd.DataFrame:
    """WAV files of the queries (written once), and their table."""
    from dejavu_lab.core.audio import load_audio
    from dejavu_lab.studies.corpus import tracks
    from dejavu_lab.studies.queries import make_queries

    table_path = folder / "queries.csv"
    if table_path.exists():
        return pd.read_csv(table_path, keep_default_na=False)
    folder.mkdir(parents=True, exist_ok=True)

    def decoded(kind: str) -> Any:
        for track in tracks(corpus_dir, set=kind):
            audio = load_audio(track.path, sample_rate=CORPUS_RATE)
            yield (track.name if kind == "reference" else None), audio.samples, CORPUS_RATE

    sets = [
        ("reference", 5.0, ("clean", "laptop-mic"), 1),
        ("unseen", 5.0, ("clean", "laptop-mic"), 4),
        ("reference", 1.0, ("laptop-mic",), 1),
        ("unseen", 1.0, ("laptop-mic",), 4),
    ]
    rows = []
    for source, seconds, conditions, per_song in sets:
        queries = make_queries(
            decoded(source),
            durations_s=(seconds,),
            conditions=conditions,
            n_per_song=per_song,
            seed=seed,
            source=source,
        )
        for query in queries:
            path = folder / f"{query.query_id}.wav".replace("/", "_")
            sf.write(path, np.asarray(query.clip), query.sample_rate, subtype="PCM_16")
            rows.append(
                {
                    "query_id": query.query_id,
                    "path": str(path),
                    "source": source,
                    "seconds": seconds,
                    "condition": query.condition,
                    "truth": query.song_name or "",
                    "start_s": query.start_s,
                }
            )
    table = pd.DataFrame(rows)
    table.to_csv(table_path, index=False)
    return table


# -- a query process ------------------------------------------------------


class StageClock:
    """Seconds spent in each stage during one query."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)

    def reset(self) -> None:
        """Start a new query."""
        self.seconds = dict.fromkeys(STAGES, 0.0)

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        """Time ``owner.name`` (a class or module attribute) as ``stage``."""
        function = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start

        setattr(owner, name, timed)


class TimedLookups:
    """A store whose lookups are timed; everything else is the store's."""

    def __init__(self, store: Any, clock: StageClock) -> None:
        self.store = store
        self.clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def _timed(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            self.clock.seconds["lookup"] += time.perf_counter() - start

    def lookup(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed(self.store.lookup, *args, **kwargs)

    def lookup_songs(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed(self.store.lookup_songs, *args, **kwargs)


def peak_memory_mb() -> float:
    """Peak resident memory of this process (``VmHWM``, MB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def serve(db: Path, queries: Path) -> None:
    """Answer query numbers read from stdin, one JSON line each (a child process)."""
    import dejavu_lab
    from dejavu_lab import dejavu as dejavu_module
    from dejavu_lab.core.hashing import Hasher
    from dejavu_lab.core.matching import Matcher
    from dejavu_lab.core.peaks import PeakPicker
    from dejavu_lab.core.presets import get_preset
    from dejavu_lab.core.spectrogram import Spectrogram
    from dejavu_lab.store import DuckDBStore

    clock = StageClock()
    clock.wrap(dejavu_module, "load_audio", "decode")
    clock.wrap(Spectrogram, "__call__", "stft")
    clock.wrap(PeakPicker, "__call__", "peaks")
    # Peaks picked on the power spectrogram (the dB of their neighbourhoods only).
    if hasattr(Spectrogram, "power"):
        clock.wrap(Spectrogram, "power", "stft")
    if hasattr(PeakPicker, "from_power"):
        clock.wrap(PeakPicker, "from_power", "peaks")
    clock.wrap(Hasher, "__call__", "hashing")
    clock.wrap(Hasher, "lookup_variants", "hashing")
    clock.wrap(Matcher, "__call__", "vote")
    clock.wrap(Matcher, "shortlist", "vote")
    clock.wrap(dejavu_module.Dejavu, "_verify", "peak_check")
    start = time.perf_counter()
    store = DuckDBStore(db, read_only=True)
    store.load_index()
    load_s = time.perf_counter() - start
    djv = dejavu_module.Dejavu(store=TimedLookups(store, clock), pipeline=get_preset("default"))
    table = pd.read_csv(queries, keep_default_na=False)
    for path in table["path"][:3]:  # warm-up: first calls, index pages
        djv.match_file(path)
    print(json.dumps({"ready": True, "load_s": load_s, "package": dejavu_lab.__file__}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        path = table["path"][int(line)]
        clock.reset()
        cpu_start = time.process_time()
        start = time.perf_counter()
        result = djv.match_file(path)
        total = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        answer = {
            "total_ms": total * 1e3,
            "cpu_ms": cpu * 1e3,
            **{f"{stage}_ms": value * 1e3 for stage, value in clock.seconds.items()},
            "song": result.song_name,
            "offset_s": result.offset_seconds,
            "decided_by": result.decided_by,
            "rss_mb": peak_memory_mb(),
        }
        print(json.dumps(answer), flush=True)
    djv.close()


class Side:
    """A running query process of one code base."""

    def __init__(self, name: str, root: Path, db: Path, queries: Path) -> None:
        self.name = name
        env = {**os.environ, "PYTHONPATH": str(root)}
        command = [sys.executable, __file__, "--serve", str(db), str(queries)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"query process {self.name} ended early")
        return dict(json.loads(line))

    def ask(self, index: int) -> dict[str, Any]:
        """Run query ``index``; its answer and times."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{index}\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.close()
        self.process.wait()


# -- main -----------------------------------------------------------------


def commit_of(root: Path) -> str:
    """The short commit of a checkout (``+dirty`` when it has changes)."""
    from dejavu_lab.studies.provenance import git_commit

    return git_commit(root, digits=7)


def ensure_collection(workdir: Path, size: int, corpus: str, keep: bool, seed: int) -> Path:
    """The database of ``size`` songs, as ``bench_scale.py`` builds and keeps it."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_scale

    from dejavu_lab.core.presets import get_preset
    from dejavu_lab.studies.corpus import default_corpus_dir

    pipeline = get_preset("default")
    db = workdir / f"scale-{size}.duckdb"
    build_file = workdir / f"scale-{size}.build.json"
    params = json.dumps(pipeline.reference_params(), sort_keys=True)
    kept = json.loads(build_file.read_text()) if build_file.exists() else {}
    if keep and db.exists() and kept.get("params") == params:
        return db
    real, _ = bench_scale.fingerprint_reference(default_corpus_dir(corpus), pipeline, workdir)
    model = bench_scale.DistractorModel.from_real(real, pipeline, seed=seed)
    build = bench_scale.build_collection(db, pipeline, real, model, size)
    build_file.write_text(json.dumps(vars(build)))
    return db


def summarise(frame: pd.DataFrame) -> dict[str, Any]:
    """Median and 95th percentile of the total, and the median of each stage."""
    out: dict[str, Any] = {
        "queries": len(frame),
        "median_ms": float(frame["total_ms"].median()),
        "p95_ms": float(np.percentile(frame["total_ms"], 95)),
        "cpu_median_ms": float(frame["cpu_ms"].median()),
        "cpu_p95_ms": float(np.percentile(frame["cpu_ms"], 95)),
    }
    for stage in STAGES:
        out[f"{stage}_median_ms"] = float(frame[f"{stage}_ms"].median())
        out[f"{stage}_mean_ms"] = float(frame[f"{stage}_ms"].mean())
    rest = frame["total_ms"] - frame[[f"{s}_ms" for s in STAGES]].sum(axis=1)
    out["other_mean_ms"] = float(rest.mean())
    out["peak_rss_mb"] = float(frame["rss_mb"].max())
    return out


def kinds(table: pd.DataFrame, answers: pd.DataFrame) -> dict[str, pd.Series]:
    """Masks of the query kinds reported (over the rows of ``answers``)."""
    meta = table.loc[answers["query"]].reset_index(drop=True)
    five = (meta["seconds"] == 5.0).to_numpy()
    one_mic = ((meta["seconds"] == 1.0) & (meta["condition"] == "laptop-mic")).to_numpy()
    by_peaks = (answers["decided_by"] == "peaks").to_numpy()
    return {
        "5 s all": five,
        "5 s hashes decide": five & ~by_peaks,
        "5 s peak check decides": five & by_peaks,
        "1 s laptop-mic, peak check": one_mic & by_peaks,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[45, 1000, 10000])
    p.add_argument("--corpus", choices=("small", "full"), default="full")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/dejavu-scale"))
    p.add_argument("--keep", action="store_true", help="reuse collections in --workdir")
    p.add_argument("--baseline", type=Path, help="checkout of the code to compare with")
    p.add_argument("--rounds", type=int, default=1, help="times each query runs on each side")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS / "latency.csv")
    p.add_argument("--serve", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(*args.serve)
        return

    from dejavu_lab.studies.corpus import default_corpus_dir

    here = Path(__file__).resolve().parent.parent
    table = make_query_files(
        default_corpus_dir(args.corpus), args.workdir / "latency-queries", seed=args.seed
    )
    queries_csv = args.workdir / "latency-queries" / "queries.csv"
    roots: dict[str, Path] = {"new": here}
    commits = {"new": commit_of(here)}
    if args.baseline:
        roots = {"old": args.baseline.resolve(), **roots}
        commits["old"] = commit_of(args.baseline)
    rng = np.random.default_rng(args.seed)
    summary_rows, query_rows = [], []
    for size in args.sizes:
        db = ensure_collection(args.workdir, size, args.corpus, args.keep, args.seed)
        sides = {name: Side(name, root, db, queries_csv) for name, root in roots.items()}
        for name, side in sides.items():
            print(
                f"{size} songs, {name} ({commits[name]}): index loaded in "
                f"{side.hello['load_s']:.1f} s from {side.hello['package']}",
                flush=True,
            )
        answers: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
        loads = [os.getloadavg()[0]]
        for round_ in range(args.rounds):
            for turn, index in enumerate(rng.permutation(len(table))):
                if turn % 20 == 0:
                    loads.append(os.getloadavg()[0])
                names = list(sides)
                if turn % 2:
                    names.reverse()
                for name in names:
                    answer = sides[name].ask(int(index))
                    answers[name].append({"query": int(index), "round": round_, **answer})
        for side in sides.values():
            side.close()
        frames = {name: pd.DataFrame(rows) for name, rows in answers.items()}
        for name, frame in frames.items():
            # One time per query: the median of its rounds.
            per_query = frame.groupby("query", sort=True).median(numeric_only=True)
            first = frame[frame["round"] == 0].set_index("query").sort_index()
            per_query[["song", "decided_by"]] = first[["song", "decided_by"]]
            per_query = per_query.reset_index()
            for kind, mask in kinds(table, per_query).items():
                if not mask.any():
                    continue
                summary_rows.append(
                    {
                        "songs": size,
                        "side": name,
                        "commit": commits[name],
                        "kind": kind,
                        **summarise(per_query[mask]),
                        "load_min": min(loads),
                        "load_max": max(loads),
                    }
                )
            for row in per_query.to_dict("records"):
                query_rows.append({"songs": size, "side": name, **row})
        if "old" in frames:
            changed = compare(table, frames["old"], frames["new"])
            print(
                f"{size} songs: {changed} changed answers of {len(table)} queries x "
                f"{args.rounds} rounds",
                flush=True,
            )
            for row in summary_rows:
                if row["songs"] == size:
                    row["changed_answers"] = changed
    summary = pd.DataFrame(summary_rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary.to_csv(args.out, index=False, float_format="%.4g")
    pd.DataFrame(query_rows).to_csv(
        args.out.with_name(args.out.stem + "_queries.csv"), index=False, float_format="%.4g"
    )
    shown = ["songs", "side", "commit", "kind", "queries", "median_ms", "p95_ms", "cpu_median_ms"]
    shown += [f"{stage}_mean_ms" for stage in STAGES] + ["other_mean_ms", "peak_rss_mb"]
    shown += ["load_min", "load_max"]
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(summary[shown].to_string(index=False, float_format="%.2f"))
    print(f"\nwrote {args.out}")


def _same(a: Any, b: Any) -> bool:
    """Equal, or both missing (no match)."""
    return bool((pd.isna(a) and pd.isna(b)) or a == b)


def compare(table: pd.DataFrame, old: pd.DataFrame, new: pd.DataFrame) -> int:
    """Count (and print) the queries whose answer differs between the sides."""
    keys = ["query", "round"]
    both = old.merge(new, on=keys, suffixes=("_old", "_new"))
    changed = 0
    for row in both.itertuples():
        same = (
            _same(row.song_old, row.song_new)
            and row.decided_by_old == row.decided_by_new
            and _same(row.offset_s_old, row.offset_s_new)
        )
        if not same:
            changed += 1
            print(
                f"  changed: {table['query_id'][row.query]}: "
                f"{row.song_old} @ {row.offset_s_old} by {row.decided_by_old} -> "
                f"{row.song_new} @ {row.offset_s_new} by {row.decided_by_new}"
            )
    return changed


if __name__ == "__main__":
    main()
