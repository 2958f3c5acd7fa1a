"""Calibrating the false-match probability, and the operating characteristic.

Every query is recognised once with every candidate checked and nothing
accepted (:func:`null_pipeline`), which records the largest evidence ``r`` of
each query and the candidate it belongs to. From these rows:

- :func:`calibrate` fits a null model (:mod:`dejavu_lab.core.decision.calibration`) on the
  evidence of queries that cannot match: clips of never-fingerprinted tracks, or
  decoys (:func:`decoy_songs`: the database's own music played backwards);
- :func:`reliability` compares, on other queries, the predicted false-match
  rate ``alpha`` with the observed share of unseen clips at or below it;
- :func:`operating_characteristic` gives, per query length, the accuracy on
  known clips against the false-match rate on unseen clips as the threshold
  on a score moves;
- :func:`named` replays the default's whole rule on the rows: the null's
  threshold and the channel gate, which reads each clip's bass
  (:func:`bass_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom
from tqdm.auto import tqdm

from ..core.audio import resample
from ..core.decision.bandwidth import low_band_ratio_db
from ..core.decision.calibration import NullModel, fit_null
from ..core.pipeline import Pipeline
from ..core.verify import Verifier
from ..dejavu import Dejavu
from ..fingerprinting import executor_width, ordered_results
from ..store import open_store, store_spec
from .accuracy import OFFSET_TOLERANCE_S
from .queries import Query

#: Columns of :func:`evidence_rows`.
EVIDENCE_COLUMNS = (
    "query_id",
    "source",
    "song_index",
    "condition",
    "seconds",
    "truth",
    "start_s",
    "answer",
    "offset_s",
    "evidence",
    "correct",
    "hash_answer",
    "hash_offset_s",
    "hash_confidence",
    "hash_aligned",
    "hash_correct",
)

#: Clips a worker recognises per batch at most.
BATCH_SIZE = 64

#: Predicted false-match rates at which :func:`reliability` compares.
ALPHAS = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3)


def null_pipeline(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` checking every candidate and accepting none: the evidence of each."""
    return pipeline.with_params(verifier__unsure_only=False, verifier__max_false_match=0.0)


def decoy_songs(
    songs: dict[str, np.ndarray], sample_rate: int
) -> list[tuple[None, np.ndarray, int]]:
    """Decoys of a database's own music: each song played backwards.

    Reversed music keeps its instruments, key and density of peaks but none
    of its landmarks in order, so it cannot match; its evidence is a null.
    """
    return [(None, np.ascontiguousarray(x[::-1]), sample_rate) for x in songs.values()]


def _row(query: Query, candidates: list[dict[str, Any]]) -> dict[str, Any]:
    scored = [c for c in candidates if c.get("evidence") is not None]
    best = max(scored, key=lambda c: c["evidence"]) if scored else None
    answer = best["song_name"] if best else None
    offset = best["offset_seconds"] if best else None
    correct = bool(
        best is not None
        and answer == query.song_name
        and offset is not None
        and abs(offset - query.start_s) <= OFFSET_TOLERANCE_S
    )
    # Nothing accepted: the candidates keep the hash vote's order, the hash-only answer first.
    top = candidates[0] if candidates else None
    hash_correct = bool(
        top is not None
        and top["song_name"] == query.song_name
        and abs(top["offset_seconds"] - query.start_s) <= OFFSET_TOLERANCE_S
    )
    return {
        **query.describe(),
        "answer": answer,
        "offset_s": offset,
        "evidence": float(best["evidence"]) if best else 0.0,
        "correct": correct,
        "hash_answer": top["song_name"] if top else None,
        "hash_offset_s": top["offset_seconds"] if top else None,
        "hash_confidence": top["confidence"] if top else 0.0,
        "hash_aligned": top["aligned_hashes"] if top else 0,
        "hash_correct": hash_correct,
    }


def _evidence(djv: Dejavu, queries: Sequence[Query], progress: bool) -> list[dict[str, Any]]:
    top_k = max(1, djv.pipeline.verifier.candidates)
    rows = []
    for query in tqdm(queries, desc="evidence", unit="clip", disable=not progress):
        result = djv.match_samples(query.clip, query.sample_rate, top_k=top_k)
        rows.append(_row(query, result.candidates))
    return rows


def _evidence_batch(job: tuple[Any, Pipeline, list[Query]]) -> list[dict[str, Any]]:
    spec, pipeline, queries = job
    with Dejavu(pipeline=pipeline, store=open_store(spec, read_only=True)) as djv:
        return _evidence(djv, queries, False)


def evidence_rows(
    djv: Dejavu, queries: Sequence[Query], *, progress: bool = True, executor: Any = None
) -> pd.DataFrame:
    """The largest evidence of each query, every candidate checked.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EVIDENCE_COLUMNS`: the query's truth, the candidate of
        largest evidence (``answer``, ``offset_s``), ``evidence``, and
        ``correct`` (right song, offset within 0.1 s); and the hash vote's
        best candidate (``hash_*``: the ``hash-only`` preset's answer, its
        confidence and aligned hashes, whether it is right).
    """
    pipeline = null_pipeline(djv.pipeline)
    if executor is None:
        probe = Dejavu(
            pipeline=pipeline, store=djv.db, null_model=djv.null_model, sketch_null=djv.sketch_null
        )
        return pd.DataFrame(_evidence(probe, queries, progress), columns=list(EVIDENCE_COLUMNS))
    spec = store_spec(djv.db)
    width = executor_width(executor) or 1
    # Small batches, few in flight: the clips are sent to the workers, and memory is shared.
    size = max(1, min(BATCH_SIZE, -(-len(queries) // (4 * width))))
    jobs = [(spec, pipeline, list(queries[i : i + size])) for i in range(0, len(queries), size)]
    rows = [
        row
        for batch, _ in tqdm(
            ordered_results(executor, _evidence_batch, jobs, window=2 * width),
            total=len(jobs),
            desc="evidence",
            unit="batch",
            disable=not progress,
        )
        for row in batch
    ]
    return pd.DataFrame(rows, columns=list(EVIDENCE_COLUMNS))


def calibrate(null_rows: pd.DataFrame, *, note: str = "") -> NullModel:
    """Fit the null model on the evidence of queries that cannot match.

    Parameters
    ----------
    null_rows : pandas.DataFrame
        :func:`evidence_rows` of unseen clips or decoys (``truth`` None).
    note : str
        Where they came from.
    """
    if null_rows["truth"].notna().any():
        raise ValueError("calibrate: null rows must be of music the database does not hold")
    return fit_null(
        null_rows["evidence"].to_numpy(float), null_rows["seconds"].to_numpy(float), note=note
    )


def predicted(rows: pd.DataFrame, null: NullModel) -> np.ndarray:
    """The false-match probability of each row's evidence."""
    return np.array(
        [
            null.false_match_probability(r, s)
            for r, s in zip(rows["evidence"], rows["seconds"], strict=True)
        ]
    )


def bass_rows(queries: Sequence[Query], sample_rate: int) -> pd.DataFrame:
    """Each clip's bass ratio (dB) as the recogniser measures it for the channel gate:
    :func:`~dejavu_lab.core.decision.bandwidth.low_band_ratio_db` of the clip resampled to
    ``sample_rate`` (the pipeline's, Hz).

    Returns
    -------
    pandas.DataFrame
        Columns ``query_id, condition, seconds, source, bass_db``.
    """
    rows = []
    for query in queries:
        clip = resample(query.clip, query.sample_rate, sample_rate)
        rows.append(
            {
                "query_id": query.query_id,
                "condition": query.condition,
                "seconds": query.duration_s,
                "source": query.source,
                "bass_db": low_band_ratio_db(clip, sample_rate),
            }
        )
    return pd.DataFrame(rows, columns=["query_id", "condition", "seconds", "source", "bass_db"])


def named(
    rows: pd.DataFrame,
    null: NullModel,
    verifier: Verifier,
    max_false_match: float | None = None,
) -> np.ndarray:
    """Whether the calibrated rule names the candidate of largest evidence, per row.

    The false-match probability of ``evidence`` must be at most ``max_false_match``
    (default: the verifier's), and the channel gate must not refuse it
    (:meth:`Verifier.refuses <dejavu_lab.core.verify.verifier.Verifier.refuses>`; it reads the
    ``bass_db`` column, :func:`bass_rows`, and is required when the verifier has a gate).
    """
    limit = verifier.max_false_match if max_false_match is None else max_false_match
    if limit is None:
        raise ValueError("named: the verifier has no max_false_match and none was given")
    out = predicted(rows, null) <= limit
    if verifier.full_band_db is not None:
        if "bass_db" not in rows.columns:
            raise ValueError("named: the verifier has a channel gate; rows need bass_db")
        out &= ~verifier.refuses(rows["evidence"].to_numpy(float), rows["bass_db"])
    return out


def reliability(
    unseen_rows: pd.DataFrame, null: NullModel, *, alphas: Sequence[float] = ALPHAS
) -> pd.DataFrame:
    """Predicted against observed false-match rate on clips of unseen tracks.

    For each threshold ``alpha`` the rule names a song for a clip whose
    false-match probability is at most ``alpha``: ``n * alpha`` such clips are
    expected among ``n``. ``p_value`` is the two-sided binomial test of the
    observed count against that rate.

    Returns
    -------
    pandas.DataFrame
        Columns ``alpha, n, expected, observed, observed_rate, ratio, p_value``.
    """
    probability = predicted(unseen_rows, null)
    n = len(probability)
    rows = []
    for alpha in alphas:
        observed = int(np.count_nonzero(probability <= alpha))
        expected = n * alpha
        low = binom.cdf(observed, n, alpha)
        high = binom.sf(observed - 1, n, alpha)
        rows.append(
            {
                "alpha": alpha,
                "n": n,
                "expected": expected,
                "observed": observed,
                "observed_rate": observed / n if n else np.nan,
                "ratio": observed / expected if expected else np.nan,
                "p_value": min(1.0, 2 * min(low, high)),
            }
        )
    return pd.DataFrame(rows)


def operating_characteristic(
    rows: pd.DataFrame, *, score: str, correct: str = "correct"
) -> pd.DataFrame:
    """Accuracy on known clips against false-match rate on unseen clips, per length.

    An answer counts from each threshold on ``score`` (higher is surer) up;
    every distinct score of the rows is a threshold.

    Parameters
    ----------
    rows : pandas.DataFrame
        One row per query with ``source``, ``seconds``, ``score`` and
        ``correct`` (right song and offset) columns.
    score, correct : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        Columns ``seconds, threshold, accuracy_pct, false_match_pct``.
    """
    out = []
    for seconds, group in rows.groupby("seconds", sort=True):
        known = group[group.source == "reference"]
        unseen = group[group.source != "reference"]
        thresholds = np.unique(np.concatenate([group[score].to_numpy(float), [np.inf]]))
        known_scores = np.where(known[correct], known[score], -np.inf)
        unseen_scores = unseen[score].to_numpy(float)
        for t in thresholds:
            out.append(
                {
                    "seconds": float(seconds),  # type: ignore[arg-type]
                    "threshold": float(t),
                    "accuracy_pct": 100.0 * float(np.mean(known_scores >= t)) if len(known) else 0,
                    "false_match_pct": 100.0 * float(np.mean(unseen_scores >= t))
                    if len(unseen)
                    else 0,
                }
            )
    return pd.DataFrame(out)
