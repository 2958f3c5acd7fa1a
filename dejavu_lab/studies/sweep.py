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
        One row per setting: the swept parameters, ``accuracy_pct_<condition>_<n>s``
        and ``offset_correct_pct_...`` for each condition and length,
        ``false_match_pct``, ``hashes_per_second``, ``bytes_per_track``,
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
            _WORKER_CACHE = MemoryCache()
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
        row[f"offset_correct_pct_{tag}"] = record.offset_correct_pct
    unseen = per_query[per_query.source != "reference"]
    row["false_match_pct"] = 100.0 * unseen.false_match.mean() if len(unseen) else np.nan
    row["hashes_per_second"] = build.num_hashes / build.audio_seconds
    row["bytes_per_track"] = size / max(len(corpus.reference), 1)
    row["fingerprint_x_realtime"] = build.speed_x_realtime
    row["median_match_ms"] = float(per_query.match_ms.median())
    row["evaluate_seconds"] = evaluate_seconds
    row.update(provenance(candidate.get_params(), corpus.manifest_hash))
    return row


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
