"""Calibration: reliability of the false-match rate, accuracy against false matches."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ._drawing import (
    _axes,
    _finish,
    _percent_axis,
    _require_columns,
)


def reliability(table: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Reliability diagram: observed against predicted false-match rate.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``alpha`` (predicted rate), ``observed_rate`` and ``n``; one
        line per ``seed``/``condition`` where present. 95 % Wilson intervals
        as bars; the diagonal and the factor-of-2 band for reference.
    """
    from ..intervals import wilson_interval

    _require_columns(table, ["alpha", "observed_rate", "n"], "reliability")
    ax = _axes(ax)
    keys = [k for k in ("seed", "condition") if k in table.columns]
    groups = table.groupby(keys, sort=False) if keys else [((), table)]
    low_alpha, high_alpha = float(table.alpha.min()), float(table.alpha.max())
    line = np.array([low_alpha / 2, high_alpha * 2])
    ax.fill_between(line, line / 2, line * 2, color="0.9", label="within 2x")
    ax.plot(line, line, color="0.4", linestyle="--", linewidth=1, label="observed = predicted")
    for key, group in groups:
        values = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{k} {v}" for k, v in zip(keys, values, strict=True))
        observed = np.round(group.observed_rate.to_numpy(float) * group.n.to_numpy(float))
        low, high = wilson_interval(observed, group.n.to_numpy(float))
        rate = group.observed_rate.to_numpy(float)
        shown = np.maximum(rate, low_alpha / 4)  # 0 observed: drawn at the bottom edge
        ax.errorbar(
            group.alpha,
            shown,
            yerr=[shown - np.maximum(low, low_alpha / 4), np.maximum(high - rate, 0)],
            marker="o",
            markersize=4,
            capsize=2,
            label=label or None,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(line[0], line[1])
    ax.set_ylim(low_alpha / 4, line[1])
    ax.set_xlabel("predicted false-match rate, the threshold (fraction of clips)")
    ax.set_ylabel("observed false-match rate (fraction of unseen clips)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return _finish(ax, title)


def operating_characteristic(
    curves: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    marker: float | None = None,
    dashed: Sequence[str] = (),
) -> Axes:
    """Accuracy on known clips against false-match rate on unseen clips.

    Parameters
    ----------
    curves : pandas.DataFrame
        Columns ``preset``, ``threshold``, ``accuracy_pct``,
        ``false_match_pct`` (one query length), as
        :func:`dejavu_lab.studies.calibration.operating_characteristic` gives.
    marker : float, optional
        The default preset's ``max_false_match``: its operating point (the
        ``threshold`` of ``-log10(marker)``) is marked.
    dashed : sequence of str
        Presets drawn dashed (variants of another, for comparison).
    """
    columns = ["preset", "threshold", "accuracy_pct", "false_match_pct"]
    _require_columns(curves, columns, "operating_characteristic")
    ax = _axes(ax)
    for preset, group in curves.groupby("preset", sort=False):
        group = group.sort_values("threshold")
        ax.step(
            group.false_match_pct,
            group.accuracy_pct,
            where="post",
            label=str(preset),
            linestyle="--" if preset in dashed else "-",
        )
        if marker is not None and preset == "default":
            at = group[group.threshold >= -np.log10(marker)].iloc[0]
            ax.plot(
                at.false_match_pct,
                at.accuracy_pct,
                marker="*",
                markersize=11,
                color="black",
                linestyle="none",
                label=f"default at {marker:g}",
            )
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlim(0, 100)
    _percent_axis(ax)
    ax.set_xlabel("false matches, unseen clips (%)")
    ax.set_ylabel("right song and offset (%)")
    return _finish(ax, title)
