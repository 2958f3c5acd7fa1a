"""Accuracy against seconds listened: simulated queries, false matches, live microphone trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ._drawing import (
    _axes,
    _finish,
    _line_with_band,
    _percent_axis,
    _require_columns,
)
from .labels import axis_label
from .published import DEJAVU_PUBLISHED_ACCURACY, PUBLISHED_LABEL


def _conditions(table: pd.DataFrame) -> list[str]:
    """Conditions in order of first appearance."""
    return [str(condition) for condition in pd.unique(table["condition"].astype(str))]


def _seconds_ticks(ax: Axes, seconds: np.ndarray) -> None:
    unique = np.unique(seconds[np.isfinite(seconds)])
    if 0 < len(unique) <= 12:
        ax.set_xticks(unique, [f"{value:g}" for value in unique])
    if len(unique):
        ax.set_xlim(max(0.0, float(unique.min()) - 0.5), float(unique.max()) + 0.5)


def _format_percent(value: float) -> str:
    """Bar text: blank for a missing value, "0" for none, else one decimal."""
    if not np.isfinite(value):
        return ""
    return "0" if value == 0 else f"{value:.1f}"


def _plot_published_accuracy(ax: Axes) -> None:
    published = DEJAVU_PUBLISHED_ACCURACY
    ax.plot(
        published["seconds"].to_numpy(dtype=float),
        published["accuracy_pct"].to_numpy(dtype=float),
        color="0.45",
        linestyle="--",
        marker="s",
        markersize=4,
        label=PUBLISHED_LABEL,
        clip_on=False,
        zorder=2,
    )


def accuracy_vs_seconds(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    reference: bool = True,
    metric: str = "accuracy_pct",
    intervals: bool = True,
    title: str | None = None,
) -> Axes:
    """Accuracy against seconds listened, one line per condition (the write-up's accuracy plot).

    Parameters
    ----------
    table : pd.DataFrame
        Columns ``condition`` (str), ``seconds`` (float) and ``metric``; usually
        also ``correct``, ``total``, ``accuracy_pct``, ``offset_correct_pct``,
        ``false_match_pct``, ``median_confidence``. A constant ``total`` per
        condition is shown in its legend entry.
    ax : Axes, optional
    reference : bool
        Also draw :data:`DEJAVU_PUBLISHED_ACCURACY` (dashed grey), when
        ``metric`` is ``"accuracy_pct"``.
    metric : str
        Column plotted; a ``*_pct`` column gets a 0-100 % axis.
    intervals : bool
        Shade the confidence interval where the table has its bounds: columns
        ``<name>_low_pct`` and ``<name>_high_pct`` for ``metric="<name>_pct"``
        (e.g. the 95 % Wilson interval of :func:`~dejavu_lab.studies.summarize_accuracy`).
    title : str, optional

    Returns
    -------
    Axes
    """
    _require_columns(table, ["condition", "seconds", metric], "accuracy_vs_seconds")
    ax = _axes(ax)
    base = metric.removesuffix("_pct")
    low, high = f"{base}_low_pct", f"{base}_high_pct"
    for condition in _conditions(table):
        rows = table[table["condition"].astype(str) == condition].sort_values("seconds")
        label = condition
        if "total" in rows.columns and rows["total"].nunique() == 1:
            label = f"{condition} (n = {int(rows['total'].iloc[0])})"
        _line_with_band(
            ax,
            rows,
            x="seconds",
            y=metric,
            band=(low, high) if intervals else None,
            label=label,
            linewidth=1.8,
        )
    seconds = table["seconds"].to_numpy(dtype=float)
    if reference and metric == "accuracy_pct":
        _plot_published_accuracy(ax)
        seconds = np.concatenate(
            [seconds, DEJAVU_PUBLISHED_ACCURACY["seconds"].to_numpy(dtype=float)]
        )
    ax.set_xlabel(axis_label("seconds"))
    ax.set_ylabel(axis_label(metric))
    if metric.endswith("_pct"):
        _percent_axis(ax)
    else:
        ax.grid(True, alpha=0.3)
    _seconds_ticks(ax, seconds)
    ax.legend(loc="lower right")
    return _finish(ax, title)


def false_matches(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """False matches (a wrong song reported) per condition and seconds listened, as grouped bars.

    Parameters
    ----------
    table : pd.DataFrame
        Columns ``condition``, ``seconds`` and ``false_match_pct``.
    ax : Axes, optional
    title : str, optional

    Returns
    -------
    Axes
        Each bar carries its value ("0" marks a measured zero, a missing
        combination has neither bar nor text).
    """
    _require_columns(table, ["condition", "seconds", "false_match_pct"], "false_matches")
    ax = _axes(ax)
    conditions = _conditions(table)
    seconds = np.unique(table["seconds"].to_numpy(dtype=float))
    positions = np.arange(len(seconds))
    width = 0.8 / max(len(conditions), 1)
    top = 0.0
    for index, condition in enumerate(conditions):
        rows = table[table["condition"].astype(str) == condition]
        values = rows.set_index("seconds")["false_match_pct"].reindex(seconds).to_numpy(dtype=float)
        bars = ax.bar(
            positions + (index - (len(conditions) - 1) / 2) * width,
            np.nan_to_num(values),
            width=width,
            label=condition,
        )
        ax.bar_label(
            bars,
            labels=[_format_percent(value) for value in values],
            padding=2,
            fontsize=8,
        )
        top = max(top, float(np.nanmax(values, initial=0.0)))
    ax.set_xticks(positions, [f"{value:g}" for value in seconds])
    ax.set_xlabel(axis_label("seconds"))
    ax.set_ylabel(axis_label("false_match_pct"))
    ax.set_ylim(0, max(5.0, top * 1.2))
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper right")
    return _finish(ax, title)


def trials_accuracy(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    reference: bool = True,
    label: str = "microphone trials",
    title: str | None = None,
) -> Axes:
    """Accuracy of live microphone trials against seconds listened, ``correct/total`` annotated.

    Parameters
    ----------
    table : pd.DataFrame
        One row a trial: ``seconds`` (float) and ``correct`` (bool).
    ax : Axes, optional
    reference : bool
        Also draw :data:`DEJAVU_PUBLISHED_ACCURACY` (dashed grey).
    label : str
        Legend entry of the trials.
    title : str, optional

    Returns
    -------
    Axes
    """
    _require_columns(table, ["seconds", "correct"], "trials_accuracy")
    ax = _axes(ax)
    per_duration = (
        table.assign(correct=table["correct"].astype(bool))
        .groupby("seconds")["correct"]
        .agg(["sum", "count"])
        .sort_index()
    )
    seconds = per_duration.index.to_numpy(dtype=float)
    correct = per_duration["sum"].to_numpy(dtype=int)
    total = per_duration["count"].to_numpy(dtype=int)
    percent = 100.0 * correct / np.maximum(total, 1)
    ax.plot(
        seconds,
        percent,
        marker="o",
        linewidth=1.8,
        label=f"{label} (n = {int(total.sum())})",
        clip_on=False,
        zorder=3,
    )
    for second, pct, right, count in zip(seconds, percent, correct, total, strict=True):
        ax.annotate(
            f"{right}/{count}",
            (second, pct),
            xytext=(5, -13),
            textcoords="offset points",
            ha="left",
            fontsize=8,
        )
    all_seconds = seconds
    if reference:
        _plot_published_accuracy(ax)
        all_seconds = np.concatenate(
            [seconds, DEJAVU_PUBLISHED_ACCURACY["seconds"].to_numpy(dtype=float)]
        )
    ax.set_xlabel(axis_label("seconds"))
    ax.set_ylabel(axis_label("accuracy_pct"))
    _percent_axis(ax)
    _seconds_ticks(ax, all_seconds)
    ax.legend(loc="lower right")
    return _finish(ax, title)
