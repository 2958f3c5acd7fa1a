"""Parameter sweeps: one row per setting of a grid over ``stage__param`` names.

Each setting builds a database from the decoded corpus and runs an accuracy
study on it. Spectrograms and peaks are cached by the parameters that made
them, so a grid over hasher or matcher parameters computes them once.
Rows are appended, with provenance, to a DuckDB ``results`` table.

With an ``executor`` (a Dask ``Client`` or any ``concurrent.futures``
executor), each setting is one task: a worker builds the setting's database
and runs the queries, with a stage cache of its own kept across the settings
it runs; the rows come back in the grid's order, as in the local run.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..core.audio import resample
from ..core.cache import MemoryCache
from ..core.params import check_known
from ..core.pipeline import Pipeline
from ..core.presets import get_preset
from ..fingerprinting import executor_width
from .accuracy import build_queries, evaluate_queries, summarize_accuracy
from .corpus_audio import CorpusAudio, build_database
from .provenance import provenance
from .queries import Query

#: A worker process's stage cache, kept across the settings it evaluates.
_WORKER_CACHE: MemoryCache | None = None


def grid_settings(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of a grid, in a stable order."""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def sweep(
    grid: Mapping[str, Sequence[Any]],
    corpus: CorpusAudio,
    *,
    base: Pipeline | str = "default",
    seconds: Sequence[float] = (1, 2, 3),
    conditions: Sequence[str] = ("clean", "laptop-mic"),
    n_per_song: int = 1,
    n_per_unseen: int = 4,
    seed: int = 0,
    cache: MemoryCache | None = None,
    results_db: str | os.PathLike[str] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    executor: Any = None,
) -> pd.DataFrame:
    """Evaluate every setting of ``grid``.

    Parameters
    ----------
    grid : mapping of ``stage__param`` name to values
        E.g. ``{"hasher__fan_value": [5, 10], "peaks__amp_min_db": [0, 10]}``;
        unknown names are an error.
    corpus : CorpusAudio
    base : Pipeline or preset name
        The parameters not swept.
    seconds, conditions, n_per_song, n_per_unseen, seed
        The query set (identical for every setting).
    cache : MemoryCache, optional
        Defaults to a new one; pass one to share it across sweeps.
    results_db : path, optional
        DuckDB file whose ``results`` table gets one row per setting.
    workdir : path, optional
        Where the per-setting databases are written (their size is the
        storage figure); a temporary folder by default (on each worker, with
        an executor).
    executor : Executor-like, optional
        Runs each setting as a task: a Dask ``Client``, ``client.get_executor()``
        or a ``concurrent.futures`` executor. Default: one after the other in
        this process, sharing ``cache``.

    Returns
    -------
    pandas.DataFrame
        One row per setting: the swept parameters; for each condition and
        length (tag ``<condition>_<n>s``) ``accuracy_pct_<tag>`` with its 95 %
        Wilson interval ``accuracy_low_pct_<tag>``-``accuracy_high_pct_<tag>``,
        ``correct_<tag>`` of ``total_<tag>`` clips and ``offset_correct_pct_<tag>``;
        ``false_matches`` of ``unseen_total`` unseen clips (``false_match_pct``),
        ``hashes_per_second``, ``bytes_per_track``, ``mb_per_track`` (MB),
        ``fingerprint_x_realtime``, ``median_match_ms`` and provenance columns.
    """
    pipeline = get_preset(base) if isinstance(base, str) else base
    check_known(list(grid), list(pipeline.get_params()), "the sweep grid")
    cache = cache if cache is not None else MemoryCache()
    queries = build_queries(
        corpus,
        seconds=seconds,
        conditions=conditions,
        n_per_song=n_per_song,
        n_per_unseen=n_per_unseen,
        seed=seed,
    )
    settings = grid_settings(grid)
    if executor is not None:
        rows = _sweep_tasks(executor, settings, pipeline, corpus, queries, workdir, progress)
    else:
        rows = [
            _evaluate_setting(number, setting, pipeline, corpus, queries, workdir, cache)
            for number, setting in enumerate(
                tqdm(settings, desc="sweep", unit="setting", disable=not progress)
            )
        ]
    result = pd.DataFrame(rows)
    if results_db is not None:
        append_results(result, results_db)
    return result


def _sweep_tasks(
    executor: Any,
    settings: list[dict[str, Any]],
    pipeline: Pipeline,
    corpus: CorpusAudio,
    queries: list[Query],
    workdir: str | os.PathLike[str] | None,
    progress: bool,
) -> list[dict[str, Any]]:
    """One task per setting; the corpus and queries are sent to each worker once (Dask)."""
    client = getattr(executor, "_client", executor)
    shared: tuple[Any, Any] = (corpus, queries)
    if executor_width(executor) is not None and callable(getattr(client, "scatter", None)):
        shared = (
            client.scatter(corpus, broadcast=True),
            client.scatter(queries, broadcast=True),
        )
    futures = [
        executor.submit(_evaluate_setting, number, setting, pipeline, *shared, workdir, None)
        for number, setting in enumerate(settings)
    ]
    return [
        future.result()
        for future in tqdm(futures, desc="sweep", unit="setting", disable=not progress)
    ]


def _evaluate_setting(
    number: int,
    setting: dict[str, Any],
    pipeline: Pipeline,
    corpus: CorpusAudio,
    queries: list[Query],
    workdir: str | os.PathLike[str] | None,
    cache: MemoryCache | None,
) -> dict[str, Any]:
    """One row of the sweep: build the setting's database, run the queries, summarise."""
    global _WORKER_CACHE
    if cache is None:
        if _WORKER_CACHE is None:
            # Every spectrogram of the corpus and queries, about as much memory as the decoded
            # corpus the worker holds already: a worker runs the settings of several peak
            # densities in turn, and each would otherwise analyse the corpus again.
            _WORKER_CACHE = MemoryCache({"spectrogram": len(corpus.reference) + len(queries)})
        cache = _WORKER_CACHE
    candidate = pipeline.with_params(**setting)
    with tempfile.TemporaryDirectory(prefix="dejavu-sweep-") as temporary:
        folder = Path(workdir if workdir is not None else temporary)
        folder.mkdir(parents=True, exist_ok=True)
        db_path = folder / f"setting_{number:03d}.duckdb"
        djv, build = build_database(candidate, corpus, path=db_path, cache=cache)
        started = time.perf_counter()
        per_query = evaluate_queries(djv, queries, cache=cache, progress=False)
        evaluate_seconds = time.perf_counter() - started
        djv.close()
        size = db_path.stat().st_size
        db_path.unlink(missing_ok=True)
    table = summarize_accuracy(per_query)
    row: dict[str, Any] = dict(setting)
    for record in table.itertuples():
        tag = f"{record.condition}_{record.seconds:g}s"
        row[f"accuracy_pct_{tag}"] = record.accuracy_pct
        row[f"accuracy_low_pct_{tag}"] = record.accuracy_low_pct
        row[f"accuracy_high_pct_{tag}"] = record.accuracy_high_pct
        row[f"correct_{tag}"] = record.correct
        row[f"total_{tag}"] = record.total
        row[f"offset_correct_pct_{tag}"] = record.offset_correct_pct
    unseen = per_query[per_query.source != "reference"]
    row["false_matches"] = int(unseen.false_match.sum())
    row["unseen_total"] = len(unseen)
    row["false_match_pct"] = 100.0 * unseen.false_match.mean() if len(unseen) else np.nan
    row["hashes_per_second"] = build.num_hashes / build.audio_seconds
    row["bytes_per_track"] = size / max(len(corpus.reference), 1)
    row["mb_per_track"] = row["bytes_per_track"] / 1e6
    row["fingerprint_x_realtime"] = build.speed_x_realtime
    row["median_match_ms"] = float(per_query.match_ms.median())
    row["evaluate_seconds"] = evaluate_seconds
    row.update(provenance(candidate.get_params(), corpus.manifest_hash))
    return row


def peak_rates(
    corpus: CorpusAudio,
    *,
    amp_min_db: Sequence[float],
    peaks_per_second: Sequence[float | None] = (None,),
    base: Pipeline | str = "default",
    max_tracks: int | None = None,
) -> pd.DataFrame:
    """Reference peaks per second at each amplitude threshold and per-second cap.

    What a threshold grid should span: the thresholds where the number of
    peaks changes, and the caps below the rate the threshold leaves.

    Parameters
    ----------
    corpus : CorpusAudio
    amp_min_db : sequence of float
        Thresholds (dB, the spectrogram's scale).
    peaks_per_second : sequence of float or None
        Caps of the peak picker (``None``: no cap).
    base : Pipeline or preset name
        The other parameters.
    max_tracks : int, optional
        Only the first reference tracks.

    Returns
    -------
    pandas.DataFrame
        Columns ``peaks__amp_min_db``, ``peaks__peaks_per_second`` (NaN: no
        cap), ``peaks_per_second`` (peaks found per second of audio, all
        tracks together), ``capped_pct`` (share of the picker's one-second
        blocks holding as many peaks as the cap allows: where it binds).
    """
    pipeline = get_preset(base) if isinstance(base, str) else base
    rate = pipeline.spectrogram.sample_rate
    names = list(corpus.reference)[:max_tracks]
    settings = list(itertools.product(amp_min_db, peaks_per_second))
    found = np.zeros(len(settings))
    capped_blocks = np.zeros(len(settings))
    blocks, seconds = 0, 0.0
    for name in names:
        signal = resample(corpus.reference[name], corpus.sample_rate, rate)
        spec = pipeline.spectrogram(signal)
        seconds += len(signal) / rate
        # The picker's one-second blocks: a block holding its quota is one the cap cut.
        frames_per_block = max(1, round(1.0 / spec.frame_seconds))
        n_blocks = -(-spec.n_frames // frames_per_block)
        blocks += n_blocks
        for index, (threshold, cap) in enumerate(settings):
            picker = dataclasses.replace(pipeline.peaks, amp_min_db=threshold, peaks_per_second=cap)
            peaks = picker(spec)
            found[index] += len(peaks.frame)
            if cap is not None:
                per_block = np.bincount(peaks.frame // frames_per_block, minlength=n_blocks)
                capped_blocks[index] += int((per_block >= max(1, round(cap))).sum())
    return pd.DataFrame(
        {
            "peaks__amp_min_db": [threshold for threshold, _ in settings],
            "peaks__peaks_per_second": [np.nan if cap is None else cap for _, cap in settings],
            "peaks_per_second": found / seconds,
            "capped_pct": [
                np.nan if cap is None else 100.0 * n / blocks
                for (_, cap), n in zip(settings, capped_blocks, strict=True)
            ],
        }
    )


def append_results(rows: pd.DataFrame, results_db: str | os.PathLike[str]) -> None:
    """Append sweep rows to the ``results`` table of a DuckDB file (columns unioned)."""
    con = duckdb.connect(str(results_db))
    try:
        con.register("new_rows", rows)
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'results'"
        ).fetchall()[0][0]
        if exists:
            have = {row[0] for row in con.execute("DESCRIBE results").fetchall()}
            for name, kind, *_ in con.execute("DESCRIBE new_rows").fetchall():
                if name not in have:
                    quoted = name.replace('"', '""')
                    con.execute(f'ALTER TABLE results ADD COLUMN "{quoted}" {kind}')
            con.execute("INSERT INTO results BY NAME SELECT * FROM new_rows")
        else:
            con.execute("CREATE TABLE results AS SELECT * FROM new_rows")
    finally:
        con.close()
