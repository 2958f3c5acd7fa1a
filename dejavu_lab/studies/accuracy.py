"""Accuracy versus seconds listened: the write-up's first study.

The write-up played ``n``-second excerpts, at least 10 s from either end of
each of 45 songs, over a laptop's speakers and recognised them from its
microphone. Here the room is simulated (:mod:`dejavu_lab.studies.channel`) and
never-fingerprinted tracks measure false matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..core.cache import MemoryCache
from ..core.pipeline import Pipeline
from ..dejavu import Dejavu, Recognition
from ..fingerprinting import executor_width, ordered_results
from ..store import open_store, store_spec
from .corpus_audio import CorpusAudio
from .intervals import wilson_interval
from .queries import Query, make_queries

#: Query batches in flight per worker of an executor.
BATCHES_PER_WORKER = 2

#: Seconds listened in the write-up's table, plus 10.
DEFAULT_SECONDS = (1, 2, 3, 4, 5, 6, 10)
DEFAULT_CONDITIONS = ("clean", "laptop-mic")
#: An answer's offset counts as right within this many seconds of the truth.
OFFSET_TOLERANCE_S = 0.1

#: Columns of :func:`evaluate_queries`.
QUERY_COLUMNS = (
    "query_id",
    "source",
    "condition",
    "seconds",
    "truth",
    "start_s",
    "answer",
    "offset_s",
    "confidence",
    "aligned_hashes",
    "input_hashes",
    "correct",
    "offset_correct",
    "false_match",
    "match_ms",
)

#: Columns of :func:`accuracy_vs_seconds`.
ACCURACY_COLUMNS = (
    "condition",
    "seconds",
    "correct",
    "total",
    "accuracy_pct",
    "accuracy_low_pct",
    "accuracy_high_pct",
    "offset_correct_pct",
    "false_matches",
    "unseen_total",
    "false_match_pct",
    "median_confidence",
    "median_match_ms",
)


def build_queries(
    corpus: CorpusAudio,
    *,
    seconds: Sequence[float] = DEFAULT_SECONDS,
    conditions: Sequence[str] = DEFAULT_CONDITIONS,
    n_per_song: int = 1,
    n_per_unseen: int = 4,
    seed: int = 0,
) -> list[Query]:
    """The query set of a study: excerpts of reference and unseen tracks."""
    reference = [(name, x, corpus.sample_rate) for name, x in corpus.reference.items()]
    unseen = [(None, x, corpus.sample_rate) for x in corpus.unseen.values()]
    queries = make_queries(
        reference, durations_s=seconds, conditions=conditions, n_per_song=n_per_song, seed=seed
    )
    if unseen and n_per_unseen:
        queries += make_queries(
            unseen,
            durations_s=seconds,
            conditions=conditions,
            n_per_song=n_per_unseen,
            seed=seed,
            source="unseen",
        )
    return queries


def query_row(query: Query, result: Recognition) -> dict[str, object]:
    """One row of :func:`evaluate_queries`: the truth of ``query`` beside its answer."""
    correct = result.is_match and result.song_name == query.song_name
    offset_ok = bool(
        correct
        and result.offset_seconds is not None
        and abs(result.offset_seconds - query.start_s) <= OFFSET_TOLERANCE_S
    )
    return {
        "query_id": query.query_id,
        "source": query.source,
        "condition": query.condition,
        "seconds": query.duration_s,
        "truth": query.song_name,
        "start_s": query.start_s,
        "answer": result.song_name,
        "offset_s": result.offset_seconds,
        "confidence": result.confidence,
        "aligned_hashes": result.aligned_hashes,
        "input_hashes": result.input_hashes,
        "correct": bool(correct),
        "offset_correct": offset_ok,
        "false_match": bool(query.song_name is None and result.is_match),
        "match_ms": result.match_time_s * 1e3,
    }


def evaluate_queries(
    djv: Dejavu,
    queries: Sequence[Query],
    *,
    cache: MemoryCache | None = None,
    progress: bool = True,
    executor: Any = None,
) -> pd.DataFrame:
    """Recognise every query; one row per query.

    Columns: ``query_id, source, condition, seconds, truth, start_s, answer,
    offset_s, confidence, aligned_hashes, input_hashes, correct, offset_correct,
    false_match, match_ms``.

    With an ``executor`` (a Dask ``Client``, ``client.get_executor()`` or a
    ``concurrent.futures`` executor), batches of queries are recognised by its
    workers, each opening the database read-only (a DuckDB file or a server
    database, not ``:memory:``); the rows are the same, in the same order.
    """
    if executor is not None:
        spec = store_spec(djv.db)
        width = executor_width(executor) or 1
        size = max(1, -(-len(queries) // (BATCHES_PER_WORKER * width)))
        batches = [
            (spec, djv.pipeline, list(queries[i : i + size])) for i in range(0, len(queries), size)
        ]
        rows = [
            row
            for batch, _ in tqdm(
                ordered_results(executor, _evaluate_batch, batches, window=len(batches)),
                total=len(batches),
                desc="recognising",
                unit="batch",
                disable=not progress,
            )
            for row in batch
        ]
        return _query_rows(rows)
    return _query_rows(_recognise(djv, queries, cache, progress))


def _recognise(
    djv: Dejavu, queries: Sequence[Query], cache: MemoryCache | None, progress: bool
) -> list[dict[str, Any]]:
    rows = []
    for query in tqdm(queries, desc="recognising", unit="clip", disable=not progress):
        result = djv.match_samples(
            query.clip, query.sample_rate, cache=cache, cache_key=query.query_id
        )
        rows.append(query_row(query, result))
    return rows


def _query_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(QUERY_COLUMNS))


def _evaluate_batch(job: tuple[Any, Pipeline, list[Query]]) -> list[dict[str, Any]]:
    """Recognise a batch of queries in a worker, from the database reopened read-only."""
    spec, pipeline, queries = job
    store = open_store(spec, read_only=True)
    with Dejavu(pipeline=pipeline, store=store) as djv:
        return _recognise(djv, queries, None, False)


def summarize_accuracy(per_query: pd.DataFrame) -> pd.DataFrame:
    """The study's table from :func:`evaluate_queries` rows.

    One row per (condition, seconds), columns :data:`ACCURACY_COLUMNS`:
    ``correct`` / ``total`` reference clips named right, ``accuracy_pct``
    with its 95 % Wilson interval ``accuracy_low_pct``-``accuracy_high_pct``,
    ``offset_correct_pct`` (right song and offset within 0.1 s),
    ``false_matches`` / ``unseen_total`` unseen clips given a song,
    ``false_match_pct``, the median confidence of the right answers and the
    median match time (ms).
    """
    rows = []
    for (condition, seconds), group in per_query.groupby(["condition", "seconds"], sort=True):
        assert isinstance(seconds, (int, float))
        reference = group[group.source == "reference"]
        unseen = group[group.source != "reference"]
        right = reference[reference.correct]
        rows.append(
            {
                "condition": condition,
                "seconds": float(seconds),
                "correct": int(reference.correct.sum()),
                "total": len(reference),
                "accuracy_pct": 100.0 * reference.correct.mean() if len(reference) else np.nan,
                "offset_correct_pct": 100.0 * reference.offset_correct.mean()
                if len(reference)
                else np.nan,
                "false_matches": int(unseen.false_match.sum()),
                "unseen_total": len(unseen),
                "false_match_pct": 100.0 * unseen.false_match.mean() if len(unseen) else np.nan,
                "median_confidence": float(right.confidence.median()) if len(right) else np.nan,
                "median_match_ms": float(group.match_ms.median()),
            }
        )
    table = pd.DataFrame(rows, columns=list(ACCURACY_COLUMNS))
    low, high = wilson_interval(table["correct"], table["total"])
    table["accuracy_low_pct"], table["accuracy_high_pct"] = 100.0 * low, 100.0 * high
    order = {name: i for i, name in enumerate(dict.fromkeys(per_query.condition))}
    return table.sort_values(
        ["condition", "seconds"],
        key=lambda s: s.map(order).fillna(s) if s.name == "condition" else s,
    ).reset_index(drop=True)


def accuracy_vs_seconds(
    djv: Dejavu,
    corpus: CorpusAudio,
    *,
    seconds: Sequence[float] = DEFAULT_SECONDS,
    conditions: Sequence[str] = DEFAULT_CONDITIONS,
    n_per_song: int = 1,
    n_per_unseen: int = 4,
    seed: int = 0,
    progress: bool = True,
    executor: Any = None,
) -> pd.DataFrame:
    """Accuracy by seconds listened and channel, with false matches on unseen music.

    Parameters
    ----------
    djv : Dejavu
        Holding the corpus's reference tracks.
    corpus : CorpusAudio
    seconds : sequence of float
        Excerpt lengths (s).
    conditions : sequence of str
        Channel names (:data:`dejavu_lab.studies.channel.CONDITIONS`).
    n_per_song, n_per_unseen : int
        Excerpts per reference / unseen track and length.
    seed : int
        The query set is a function of the seed.
    executor : Executor-like, optional
        Recognise batches of queries on its workers (:func:`evaluate_queries`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ACCURACY_COLUMNS`, one row per (condition, seconds).
    """
    queries = build_queries(
        corpus,
        seconds=seconds,
        conditions=conditions,
        n_per_song=n_per_song,
        n_per_unseen=n_per_unseen,
        seed=seed,
    )
    return summarize_accuracy(evaluate_queries(djv, queries, progress=progress, executor=executor))
