"""What the figures share: new axes, column checks, percent and log axes, shaded lines."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, Normalize
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

_FIGSIZE = (7.0, 4.5)


def _axes(ax: Axes | None, figsize: tuple[float, float] = _FIGSIZE) -> Axes:
    """``ax``, or the axes of a new figure laid out so nothing is clipped."""
    if ax is not None:
        return ax
    _, new_ax = plt.subplots(figsize=figsize, layout="constrained")
    return new_ax


def _require_columns(table: pd.DataFrame, columns: Sequence[str], function: str) -> None:
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValueError(
            f"{function}: table lacks column(s) {missing}; it has {list(table.columns)}"
        )


def _require_one_row_each(table: pd.DataFrame, columns: Sequence[str], function: str) -> None:
    """Sweep rows must be one per combination of the drawn parameters."""
    if table.duplicated(list(columns)).any():
        raise ValueError(
            f"{function}: several rows share a ({', '.join(columns)}) pair; "
            "filter the other swept parameters first"
        )


def _percent_axis(ax: Axes) -> None:
    ax.set_ylim(0, 100)
    ax.set_yticks(np.arange(0, 101, 20))
    ax.grid(True, alpha=0.3)


def _log_ticks(format_value: Callable[[float], str]) -> FuncFormatter:
    """Log-axis tick text at 1, 2, 5, 10, 20, 50, ... only, so minor ticks stay legible."""

    def label(value: float, _position: int | None = None) -> str:
        if value <= 0:
            return ""
        mantissa = value / 10 ** np.floor(np.log10(value))
        return format_value(value) if round(mantissa) in (1, 2, 5) else ""

    return FuncFormatter(label)


def _line_with_band(
    ax: Axes,
    rows: pd.DataFrame,
    *,
    x: str,
    y: str,
    band: tuple[str, str] | None,
    label: str,
    linewidth: float,
    markersize: float | None = None,
) -> Line2D:
    """A line of ``rows[y]`` over ``rows[x]``, shaded in its colour between the ``band`` columns.

    The band (e.g. a 95 % Wilson interval) is drawn only where ``rows`` has
    both of its columns.
    """
    (line,) = ax.plot(
        rows[x].to_numpy(dtype=float),
        rows[y].to_numpy(dtype=float),
        marker="o",
        markersize=markersize,
        linewidth=linewidth,
        label=label,
        clip_on=False,
        zorder=3,
    )
    if band is not None and set(band) <= set(rows.columns):
        ax.fill_between(
            rows[x].to_numpy(dtype=float),
            rows[band[0]].to_numpy(dtype=float),
            rows[band[1]].to_numpy(dtype=float),
            color=line.get_color(),
            alpha=0.18,
            linewidth=0,
            zorder=2,
        )
    return line


def _finish(ax: Axes, title: str | None) -> Axes:
    if title:
        ax.set_title(title)
    return ax


def _annotate_cells(
    ax: Axes,
    values: np.ndarray,
    label: Callable[[int, int, float], str],
    colormap: Colormap,
    norm: Normalize,
    fontsize: float,
) -> None:
    """Write ``label(row, column, value)`` on each finite cell, legibly on its colour."""
    for (row, column), cell in np.ndenumerate(values):
        if not np.isfinite(cell):
            continue
        red, green, blue, _ = colormap(norm(cell))
        luminance = 0.299 * red + 0.587 * green + 0.114 * blue
        ax.text(
            column,
            row,
            label(row, column, float(cell)),
            ha="center",
            va="center",
            fontsize=fontsize,
            color="black" if luminance > 0.5 else "white",
        )
