"""Parameter sweeps: heatmaps, lines, peak rates and the storage-accuracy Pareto front."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.ticker import EngFormatter, NullFormatter

from ._drawing import (
    _annotate_cells,
    _axes,
    _finish,
    _line_with_band,
    _log_ticks,
    _percent_axis,
    _require_columns,
    _require_one_row_each,
)
from .labels import axis_label


def pareto_front_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which points are on the Pareto front of "small ``x``, large ``y``".

    A point is on the front when no other point has ``x`` at most as large and
    ``y`` at least as large, and is strictly better in one of the two.
    Identical points are all on the front; points with a NaN are not.

    Parameters
    ----------
    x : np.ndarray, shape (n,)
        The cost to minimise (e.g. bytes per track).
    y : np.ndarray, shape (n,)
        The score to maximise (e.g. accuracy %).

    Returns
    -------
    np.ndarray, shape (n,), bool

    Examples
    --------
    >>> pareto_front_mask(np.array([1, 2, 3, 2]), np.array([50, 80, 90, 70])).tolist()
    [True, True, True, False]
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of one length, got shapes {x.shape} and {y.shape}")
    mask = np.zeros(len(x), dtype=bool)
    valid = np.isfinite(x) & np.isfinite(y)
    if not valid.any():
        return mask
    xv, yv = x[valid], y[valid]
    unique_x, group = np.unique(xv, return_inverse=True)
    group_best = np.full(len(unique_x), -np.inf)
    np.maximum.at(group_best, group, yv)
    # Best y among strictly cheaper points: the running max of the groups before.
    cheaper_best = np.concatenate(([-np.inf], np.maximum.accumulate(group_best)[:-1]))
    mask[valid] = (yv == group_best[group]) & (yv > cheaper_best[group])
    return mask


def _format_value(value: object) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:g}"
    return str(value)


def sweep_heatmap(
    table: pd.DataFrame,
    *,
    x: str = "hasher__fan_value",
    y: str = "peaks__amp_min_db",
    value: str = "accuracy_pct",
    ax: Axes | None = None,
    fmt: str = ".0f",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
) -> Axes:
    """A grid of one metric over two swept parameters, each cell annotated.

    Parameters
    ----------
    table : pd.DataFrame
        Sweep rows, one per (``x``, ``y``) pair (filter other parameters first).
    x, y : str
        Columns of the parameters on the horizontal and vertical axes.
    value : str
        Column shown as colour and text; it labels the colorbar.
    ax : Axes, optional
    fmt : str
        Format spec of the cell text.
    cmap : str
    vmin, vmax : float, optional
        Colour limits (the data's range when None).
    title : str, optional

    Returns
    -------
    Axes

    Raises
    ------
    ValueError
        When a (``x``, ``y``) pair occurs in more than one row.
    """
    _require_columns(table, [x, y, value], "sweep_heatmap")
    _require_one_row_each(table, [x, y], "sweep_heatmap")
    ax = _axes(ax, (7.0, 5.0))
    grid = table.pivot(index=y, columns=x, values=value).sort_index().sort_index(axis=1)
    values = grid.to_numpy(dtype=float)
    norm = Normalize(
        vmin=float(np.nanmin(values)) if vmin is None else vmin,
        vmax=float(np.nanmax(values)) if vmax is None else vmax,
    )
    image = ax.imshow(values, origin="lower", aspect="auto", cmap=cmap, norm=norm)
    fontsize = 9 if values.shape[1] <= 10 else 7
    _annotate_cells(
        ax, values, lambda row, column, cell: format(cell, fmt), plt.get_cmap(cmap), norm, fontsize
    )
    ax.set_xticks(np.arange(values.shape[1]), [f"{label:g}" for label in grid.columns])
    ax.set_yticks(np.arange(values.shape[0]), [f"{label:g}" for label in grid.index])
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    ax.figure.colorbar(image, ax=ax, label=axis_label(value), pad=0.02)
    return _finish(ax, title)


def sweep_lines(
    table: pd.DataFrame,
    *,
    x: str = "hasher__fan_value",
    y: str = "accuracy_pct",
    hue: str = "peaks__amp_min_db",
    ax: Axes | None = None,
    log_x: bool = True,
    title: str | None = None,
) -> Axes:
    """One metric of a sweep against one parameter, a line per value of another.

    Parameters
    ----------
    table : pd.DataFrame
        Sweep rows, one per (``x``, ``hue``) pair (filter other parameters first).
    x, hue : str
        Parameters on the horizontal axis and across the lines; a missing
        ``hue`` value (NaN, e.g. no cap) is labelled "none".
    y : str
        Column on the vertical axis. A percentage column named
        ``<measure>_pct<rest>`` is shaded between ``<measure>_low_pct<rest>``
        and ``<measure>_high_pct<rest>`` where the table has them (the 95 %
        Wilson interval of :func:`dejavu_lab.studies.sweep`), on a 0-100 %
        axis; other columns get an axis from 0.
    ax : Axes, optional
    log_x : bool
        Logarithmic ``x`` axis (fan values 1-30 spread evenly), ticked at the
        swept values.
    title : str, optional

    Returns
    -------
    Axes
    """
    _require_columns(table, [x, y, hue], "sweep_lines")
    _require_one_row_each(table, [x, hue], "sweep_lines")
    ax = _axes(ax)
    measure, pct, rest = y.partition("_pct")
    band = (f"{measure}_low_pct{rest}", f"{measure}_high_pct{rest}") if pct else None
    for value in sorted(pd.unique(table[hue]), key=lambda v: (pd.isna(v), v)):
        rows = table[table[hue].isna()] if pd.isna(value) else table[table[hue] == value]
        name = hue.rpartition("__")[2]
        _line_with_band(
            ax,
            rows.sort_values(x),
            x=x,
            y=y,
            band=band,
            label=f"{name} = {'none' if pd.isna(value) else _format_value(value)}",
            linewidth=1.6,
            markersize=4,
        )
    if log_x:
        ax.set_xscale("log")
    values = np.unique(table[x].to_numpy(dtype=float))
    if len(values) <= 12:
        ax.set_xticks(values, [f"{value:g}" for value in values])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    if band is not None and set(band) <= set(table.columns):
        _percent_axis(ax)
    else:
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return _finish(ax, title)


def peak_rates(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Peaks per second against the amplitude threshold, a line per per-second cap.

    Parameters
    ----------
    table : pd.DataFrame
        :func:`dejavu_lab.studies.sweeps.peak_rates`: columns
        ``peaks__amp_min_db``, ``peaks__peaks_per_second`` (NaN: no cap) and
        ``peaks_per_second``.
    ax : Axes, optional
    title : str, optional

    Returns
    -------
    Axes
    """
    columns = ["peaks__amp_min_db", "peaks__peaks_per_second", "peaks_per_second"]
    _require_columns(table, columns, "peak_rates")
    ax = _axes(ax)
    caps = table["peaks__peaks_per_second"]
    for cap in sorted(pd.unique(caps), key=lambda v: (not pd.isna(v), v)):
        rows = table[caps.isna()] if pd.isna(cap) else table[caps == cap]
        rows = rows.sort_values("peaks__amp_min_db")
        ax.plot(
            rows["peaks__amp_min_db"].to_numpy(dtype=float),
            rows["peaks_per_second"].to_numpy(dtype=float),
            marker="o",
            markersize=3,
            linewidth=2.2 if pd.isna(cap) else 1.4,
            color="black" if pd.isna(cap) else None,
            label="no cap" if pd.isna(cap) else f"cap {cap:g}/s",
        )
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_log_ticks(lambda value: f"{value:g}"))
    ax.yaxis.set_minor_formatter(_log_ticks(lambda value: f"{value:g}"))
    ax.set_xlabel(axis_label("peaks__amp_min_db"))
    ax.set_ylabel(axis_label("peaks_per_second"))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    return _finish(ax, title)


def pareto(
    table: pd.DataFrame,
    *,
    x: str = "bytes_per_track",
    y: str = "accuracy_pct",
    label_columns: Sequence[str] = (),
    ax: Axes | None = None,
    front: bool = True,
    log_x: bool = False,
    title: str | None = None,
) -> Axes:
    """Storage against accuracy of sweep settings, with the Pareto front highlighted.

    Parameters
    ----------
    table : pd.DataFrame
        Sweep rows with columns ``x`` (cost, smaller is better), ``y`` (score,
        larger is better) and ``label_columns``.
    x, y : str
    label_columns : sequence of str
        Columns whose values label each front point, e.g.
        ``("hasher__fan_value", "peaks__amp_min_db")`` labels a point
        ``"(8, -20)"`` and names ``(fan_value, amp_min_db)`` in the legend.
    ax : Axes, optional
    front : bool
        Highlight the points of :func:`pareto_front_mask` and join them in a
        staircase (what each storage budget can reach).
    log_x : bool
        Logarithmic cost axis.
    title : str, optional

    Returns
    -------
    Axes
    """
    _require_columns(table, [x, y, *label_columns], "pareto")
    ax = _axes(ax)
    cost = table[x].to_numpy(dtype=float)
    score = table[y].to_numpy(dtype=float)
    ax.scatter(cost, score, s=22, color="C0", alpha=0.6, label=f"settings ({len(table)})")
    if front and len(table):
        on_front = pareto_front_mask(cost, score)
        order = np.argsort(cost[on_front], kind="stable")
        front_cost, front_score = cost[on_front][order], score[on_front][order]
        ax.plot(
            front_cost,
            front_score,
            drawstyle="steps-post",
            color="C3",
            linewidth=1.5,
            zorder=3,
        )
        names = ", ".join(column.rpartition("__")[2] for column in label_columns)
        ax.scatter(
            front_cost,
            front_score,
            s=40,
            color="C3",
            edgecolors="black",
            linewidths=0.6,
            label=f"Pareto front ({int(on_front.sum())})" + (f": ({names})" if names else ""),
            zorder=4,
        )
        if label_columns:
            rows = table[on_front].iloc[order]
            last = len(rows) - 1
            for rank, ((_, row), px, py) in enumerate(
                zip(rows.iterrows(), front_cost, front_score, strict=True)
            ):
                values = ", ".join(_format_value(row[column]) for column in label_columns)
                # The costliest point sits at the right edge: label it on its left.
                ax.annotate(
                    f"({values})",
                    (px, py),
                    xytext=(-6, -11) if rank == last else (5, -11),
                    textcoords="offset points",
                    ha="right" if rank == last else "left",
                    fontsize=8,
                    color="C3",
                    clip_on=True,
                    in_layout=False,
                )
    if log_x:
        ax.set_xscale("log")
    if "bytes" in x:
        bytes_formatter = EngFormatter(unit="B")
        if log_x:
            log_formatter = _log_ticks(lambda value: bytes_formatter(value))
            ax.xaxis.set_major_formatter(log_formatter)
            ax.xaxis.set_minor_formatter(log_formatter)
        else:
            ax.xaxis.set_major_formatter(bytes_formatter)
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    return _finish(ax, title)
