"""Matching time against recording time, with its least-squares line."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ._drawing import (
    _axes,
    _finish,
    _require_columns,
)
from .labels import axis_label, line_equation
from .published import DEJAVU_PUBLISHED_MATCHING_TIME


def matching_time(
    table: pd.DataFrame,
    slope: float,
    intercept: float,
    *,
    ax: Axes | None = None,
    x: str = "record_time_s",
    y: str = "match_time_s",
    reference: bool = False,
    title: str | None = None,
) -> Axes:
    """Measured matching times against recording time, with a given least-squares line.

    Parameters
    ----------
    table : pd.DataFrame
        One row a measurement (several per recording time), columns ``x`` and ``y`` (s).
    slope, intercept : float
        The fitted line ``y = slope * x + intercept``, computed by the caller;
        its equation is the legend entry, as the write-up prints it.
    ax : Axes, optional
    x, y : str
        Columns of recording time and time to match (s).
    reference : bool
        Also draw the write-up's line :data:`DEJAVU_PUBLISHED_MATCHING_TIME` (dashed grey).
    title : str, optional

    Returns
    -------
    Axes
    """
    _require_columns(table, [x, y], "matching_time")
    ax = _axes(ax)
    record = table[x].to_numpy(dtype=float)
    ax.scatter(
        record,
        table[y].to_numpy(dtype=float),
        s=16,
        alpha=0.5,
        label=f"measured ({len(table)} queries)",
        zorder=3,
    )
    right = float(np.nanmax(record)) if len(record) else 1.0
    line_x = np.array([0.0, right])
    ax.plot(
        line_x,
        slope * line_x + intercept,
        color="C3",
        linewidth=1.8,
        label=f"least squares: {line_equation(slope, intercept)}",
        zorder=4,
    )
    if reference:
        published = DEJAVU_PUBLISHED_MATCHING_TIME
        ax.plot(
            line_x,
            published["slope"] * line_x + published["intercept"],
            color="0.45",
            linestyle="--",
            linewidth=1.5,
            label="Dejavu write-up: " + line_equation(published["slope"], published["intercept"]),
            zorder=2,
        )
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    ax.set_xlim(left=0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left")
    return _finish(ax, title)
