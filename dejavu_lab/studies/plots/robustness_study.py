"""The robustness study: accuracy along each axis, false matches per preset and axis."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm

from ._drawing import (
    _annotate_cells,
    _axes,
    _finish,
    _line_with_band,
    _percent_axis,
    _require_columns,
    _require_one_row_each,
)
from .labels import axis_label

#: Axis labels of the robustness study's axes (see :mod:`dejavu_lab.studies.robustness`).
_ROBUSTNESS_AXIS_LABELS = {
    "snr_db": "babble SNR at the microphone (dB)",
    "speed": "speed factor, tempo and pitch (×)",
    "pitch_semitones": "pitch shift (semitones)",
    "stretch": "time-stretch rate, tempo only (×)",
    "mp3_kbps": "MP3 bit rate (kbit/s)",
}

_ROBUSTNESS_AXIS_SHORT = {
    "snr_db": "SNR",
    "speed": "speed",
    "pitch_semitones": "pitch",
    "stretch": "stretch",
    "mp3_kbps": "MP3",
}


def robustness(
    table: pd.DataFrame,
    axis: str,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Accuracy along one axis of the robustness study, one line per preset.

    Parameters
    ----------
    table : pd.DataFrame
        Rows of :func:`dejavu_lab.studies.robustness.robustness`: columns
        ``preset``, ``axis``, ``value``, ``accuracy_pct`` and, when present,
        the Wilson bounds ``accuracy_low_pct`` and ``accuracy_high_pct``
        (shaded).
    axis : str
        Which axis to draw (``"snr_db"``, ``"speed"``, ``"pitch_semitones"``,
        ``"stretch"``, ``"mp3_kbps"``).
    ax : Axes, optional
    title : str, optional

    Returns
    -------
    Axes
    """
    _require_columns(table, ["preset", "axis", "value", "accuracy_pct"], "robustness")
    rows = table[table["axis"] == axis]
    if rows.empty:
        raise ValueError(f"robustness: no rows for axis {axis!r}; it has {sorted(set(table.axis))}")
    ax = _axes(ax)
    for preset in pd.unique(rows["preset"]):
        line_rows = rows[rows["preset"] == preset].sort_values("value")
        _line_with_band(
            ax,
            line_rows,
            x="value",
            y="accuracy_pct",
            band=("accuracy_low_pct", "accuracy_high_pct"),
            label=str(preset),
            linewidth=1.6,
            markersize=4,
        )
    ax.set_xlabel(_ROBUSTNESS_AXIS_LABELS.get(axis, axis))
    ax.set_ylabel(axis_label("accuracy_pct"))
    _percent_axis(ax)
    ax.legend(loc="lower center", fontsize="small")
    return _finish(ax, title)


def robustness_false_matches(
    summary: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """False matches on unseen tracks, one cell per preset and axis of the study.

    A grid rather than bars: a preset that always answers (``dejavu``) sits at
    100 % beside presets at 0, and bars on one scale hid the small counts
    that matter. Each cell reads ``false_matches/unseen_total`` over its rate;
    the colour grows with the rate on a square-root scale, so that 1 % is
    already visible.

    Parameters
    ----------
    summary : pd.DataFrame
        :func:`dejavu_lab.studies.robustness.false_match_summary`: columns
        ``preset``, ``axis``, ``false_matches``, ``unseen_total``,
        ``false_match_pct``.
    ax : Axes, optional
    title : str, optional

    Returns
    -------
    Axes
        One text per cell with clips (presets down, axes across).
    """
    _require_columns(
        summary,
        ["preset", "axis", "false_matches", "unseen_total", "false_match_pct"],
        "robustness_false_matches",
    )
    _require_one_row_each(summary, ["preset", "axis"], "robustness_false_matches")
    ax = _axes(ax)
    table = summary.assign(preset=summary["preset"].astype(str), axis=summary["axis"].astype(str))
    axes_names = [str(a) for a in pd.unique(table["axis"])]
    presets = [str(p) for p in pd.unique(table["preset"])]

    def grid(column: str) -> np.ndarray:
        wide = table.pivot(index="preset", columns="axis", values=column)
        return wide.reindex(index=presets, columns=axes_names).to_numpy(dtype=float)

    values = grid("false_match_pct")
    found, clips = grid("false_matches"), grid("unseen_total")
    norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=100.0)
    colormap = plt.get_cmap("Reds")
    image = ax.imshow(values, aspect="auto", cmap=colormap, norm=norm)
    _annotate_cells(
        ax,
        values,
        lambda row, column, rate: (
            f"{found[row, column]:.0f}/{clips[row, column]:.0f}\n{rate:.1f} %"
        ),
        colormap,
        norm,
        7,
    )
    ax.set_xticks(
        np.arange(len(axes_names)), [_ROBUSTNESS_AXIS_SHORT.get(a, a) for a in axes_names]
    )
    ax.set_yticks(np.arange(len(presets)), presets)
    ax.set_xlabel("axis of the study (clips pooled over its points)")
    ax.set_ylabel("preset")
    ax.figure.colorbar(image, ax=ax, label=axis_label("false_match_pct"), pad=0.02)
    return _finish(ax, title)
