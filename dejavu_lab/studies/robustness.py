"""Robustness study: accuracy as one degradation grows, for several presets side by side.

Five axes, each a row of named channels (:func:`robustness_grid`): the laptop
microphone's babble SNR; and, in front of that microphone at 10 dB SNR, a speed
change (tempo and pitch together), a pitch shift, a time stretch and an MP3
round trip. Every preset hears the same clips (one excerpt per track and grid
point, the same start on every point of a track), and the clips of unseen
tracks measure false matches. Accuracies carry 95 % Wilson intervals
(:func:`~dejavu_lab.studies.intervals.wilson_interval`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from tqdm.auto import tqdm

from ..dejavu import Dejavu
from ..exceptions import ParameterError
from .accuracy import query_row, summarize_accuracy
from .channel import Channel, Degradation, Mp3, PitchShift, Speed, TimeStretch, laptop_mic
from .corpus_audio import CorpusAudio
from .intervals import wilson_interval
from .queries import QuerySetSpec, iter_queries

__all__ = [
    "AXES",
    "ROBUSTNESS_COLUMNS",
    "GridPoint",
    "false_match_summary",
    "robustness",
    "robustness_grid",
]

#: Axis name -> (unit, value of the undegraded point).
AXES: dict[str, tuple[str, float | None]] = {
    "snr_db": ("dB", None),
    "speed": ("factor", 1.0),
    "pitch_semitones": ("semitones", 0.0),
    "stretch": ("rate", 1.0),
    "mp3_kbps": ("kbit/s", None),
}
DEFAULT_SNR_DB = (-10.0, -5.0, 0.0, 5.0, 10.0, 15.0, 20.0)
DEFAULT_SPEEDS = (0.90, 0.95, 0.97, 0.98, 0.99, 1.0, 1.01, 1.02, 1.03, 1.05, 1.10)
DEFAULT_SEMITONES = (-2.0, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0)
DEFAULT_STRETCHES = (0.90, 0.95, 0.97, 0.99, 1.0, 1.01, 1.03, 1.05, 1.10)
DEFAULT_BITRATES_KBPS = (32, 64, 128)
#: Babble SNR (dB) of the microphone behind the speed, pitch, stretch and codec axes.
BASE_SNR_DB = 10.0

#: Columns of :func:`robustness`.
ROBUSTNESS_COLUMNS = (
    "preset",
    "axis",
    "value",
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
    "false_match_high_pct",
    "median_match_ms",
)


@dataclass(frozen=True, kw_only=True)
class GridPoint:
    """One point of the study: an axis, its value and the channel that realises it.

    Parameters
    ----------
    axis : str
        A key of :data:`AXES`.
    value : float
        Position on the axis, in the axis's unit.
    channel : Channel
        The degradation; its name labels the point in result tables.
    """

    axis: str
    value: float
    channel: Channel


def _point(axis: str, value: float, stages: tuple[Degradation, ...]) -> GridPoint:
    return GridPoint(
        axis=axis, value=float(value), channel=Channel(name=f"{axis}={value:g}", stages=stages)
    )


def robustness_grid(
    *,
    snr_db: Sequence[float] = DEFAULT_SNR_DB,
    speeds: Sequence[float] = DEFAULT_SPEEDS,
    semitones: Sequence[float] = DEFAULT_SEMITONES,
    stretches: Sequence[float] = DEFAULT_STRETCHES,
    bitrates_kbps: Sequence[int] = DEFAULT_BITRATES_KBPS,
    base_snr_db: float = BASE_SNR_DB,
) -> list[GridPoint]:
    """The study's grid: one channel per point of each axis.

    Parameters
    ----------
    snr_db : sequence of float
        Babble SNRs (dB) of the laptop microphone (``laptop_mic(snr)``).
    speeds : sequence of float
        Varispeed factors (0.5-2), then the microphone at ``base_snr_db``.
    semitones : sequence of float
        Pitch shifts (semitones, -12 to 12) at unchanged tempo, then the microphone.
    stretches : sequence of float
        Time-stretch rates (0.5-2) at unchanged pitch, then the microphone.
    bitrates_kbps : sequence of int
        MP3 bit rates (kbit/s) of the song before it is played, then the microphone.
    base_snr_db : float
        Babble SNR (dB) of the microphone behind the other axes.

    Returns
    -------
    list of GridPoint
        Axis by axis; an empty sequence leaves its axis out.
    """
    mic = laptop_mic(base_snr_db)
    grid = [_point("snr_db", snr, laptop_mic(float(snr))) for snr in snr_db]
    grid += [_point("speed", f, (Speed(factor=float(f)), *mic)) for f in speeds]
    grid += [
        _point("pitch_semitones", n, (PitchShift(semitones=float(n)), *mic)) for n in semitones
    ]
    grid += [_point("stretch", r, (TimeStretch(rate=float(r)), *mic)) for r in stretches]
    grid += [_point("mp3_kbps", b, (Mp3(bitrate_kbps=int(b)), *mic)) for b in bitrates_kbps]
    if not grid:
        raise ParameterError("robustness_grid: every axis is empty")
    return grid


def robustness(
    databases: Mapping[str, Dejavu],
    corpus: CorpusAudio,
    *,
    grid: Sequence[GridPoint] | None = None,
    seconds: float = 5.0,
    n_per_song: int = 1,
    n_per_unseen: int = 1,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Accuracy and false matches at every grid point, for every preset.

    Parameters
    ----------
    databases : mapping of str to Dejavu
        Preset name -> a database of the corpus's reference tracks built with
        that preset; every preset hears the same clips.
    corpus : CorpusAudio
    grid : sequence of GridPoint, optional
        The points; :func:`robustness_grid` by default.
    seconds : float
        Clip length (s).
    n_per_song, n_per_unseen : int
        Excerpts per reference / unseen track (0 for no unseen clips) and point.
    seed : int
        The clips and their degradations are a function of the seed.
    progress : bool
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ROBUSTNESS_COLUMNS`, one row per (preset, grid point):
        accuracy with its 95 % Wilson interval, right song and offset within
        0.1 s, false matches on unseen tracks with the interval's upper bound,
        median match time (ms).
    """
    if not databases:
        raise ParameterError("robustness: no databases given")
    points = list(grid) if grid is not None else robustness_grid()
    spec = QuerySetSpec(
        durations_s=(seconds,),
        conditions=tuple(point.channel for point in points),
        n_per_song=n_per_song,
        seed=seed,
    )
    songs = [(name, x, corpus.sample_rate) for name, x in corpus.reference.items()]
    queries = iter_queries(songs, spec)
    total = len(songs) * n_per_song * len(points)
    if n_per_unseen and corpus.unseen:
        unseen_spec = QuerySetSpec(
            durations_s=(seconds,),
            conditions=spec.conditions,
            n_per_song=n_per_unseen,
            seed=seed,
            source="unseen",
        )
        unseen = [(None, x, corpus.sample_rate) for x in corpus.unseen.values()]
        queries = itertools.chain(queries, iter_queries(unseen, unseen_spec))
        total += len(unseen) * n_per_unseen * len(points)
    rows: dict[str, list[dict[str, object]]] = {preset: [] for preset in databases}
    for query in tqdm(queries, total=total, desc="robustness", unit="clip", disable=not progress):
        for preset, djv in databases.items():
            rows[preset].append(query_row(query, djv.match_samples(query.clip, query.sample_rate)))
    where = {point.channel.name: (point.axis, point.value) for point in points}
    tables = []
    for preset, preset_rows in rows.items():
        table = summarize_accuracy(pd.DataFrame(preset_rows))
        table.insert(0, "preset", preset)
        tables.append(table)
    result = pd.concat(tables, ignore_index=True)
    result.insert(1, "axis", [where[c][0] for c in result.condition])
    result.insert(2, "value", [where[c][1] for c in result.condition])
    _, high = wilson_interval(result["false_matches"], result["unseen_total"])
    result["false_match_high_pct"] = 100.0 * high
    order = {name: i for i, name in enumerate(where)}
    result = result.sort_values(
        ["preset", "condition"],
        key=lambda s: s.map(order) if s.name == "condition" else s.map(list(databases).index),
    )
    return result.loc[:, list(ROBUSTNESS_COLUMNS)].reset_index(drop=True)


def false_match_summary(table: pd.DataFrame) -> pd.DataFrame:
    """False matches on unseen tracks pooled over each axis's points.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of :func:`robustness`.

    Returns
    -------
    pandas.DataFrame
        One row per (preset, axis): ``false_matches``, ``unseen_total``,
        ``false_match_pct`` and the upper bound of its 95 % Wilson interval,
        ``false_match_high_pct``.
    """
    pooled = (
        table.groupby(["preset", "axis"], sort=False)[["false_matches", "unseen_total"]]
        .sum()
        .reset_index()
    )
    pooled["false_match_pct"] = 100.0 * pooled.false_matches / pooled.unseen_total
    _, high = wilson_interval(pooled["false_matches"], pooled["unseen_total"])
    pooled["false_match_high_pct"] = 100.0 * high
    return pooled
