"""Storage of audio files and fingerprint databases, as labelled bars."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, NullFormatter

from ._drawing import (
    _axes,
    _finish,
    _require_columns,
)
from .labels import axis_label


def _format_megabytes(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f} MB"
    if value >= 1:
        return f"{value:.1f} MB"
    return f"{value:.2g} MB"


def storage_bars(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    log_scale: bool = False,
    horizontal: bool = False,
    title: str | None = None,
) -> Axes:
    """Storage of each kind of data (audio files, fingerprint databases) as labelled bars.

    Parameters
    ----------
    table : pd.DataFrame
        Columns ``kind`` (e.g. ``"mp3"``, ``"wav"``, ``"fingerprints (default)"``)
        and ``megabytes``; bars in row order.
    ax : Axes, optional
    log_scale : bool
        Logarithmic storage axis (for sizes of different orders).
    horizontal : bool
        Horizontal bars, for long kind names.
    title : str, optional

    Returns
    -------
    Axes
    """
    _require_columns(table, ["kind", "megabytes"], "storage_bars")
    ax = _axes(ax, (6.5, 4.5))
    megabytes = table["megabytes"].to_numpy(dtype=float)
    kinds = table["kind"].astype(str).tolist()
    positions = np.arange(len(kinds))
    colours = [f"C{index % 10}" for index in range(len(kinds))]
    label = axis_label("megabytes")
    if horizontal:
        bars = ax.barh(positions, megabytes, color=colours, height=0.6)
        ax.set_yticks(positions, kinds)
        ax.invert_yaxis()
        ax.set_xlabel(label)
    else:
        bars = ax.bar(positions, megabytes, color=colours, width=0.6)
        ax.set_xticks(positions, [textwrap.fill(kind, 14) for kind in kinds])
        ax.set_ylabel(label)
    ax.bar_label(bars, labels=[_format_megabytes(value) for value in megabytes], padding=3)
    positive = megabytes[np.isfinite(megabytes) & (megabytes > 0)]
    top = float(positive.max()) if positive.size else 1.0
    # Head room for the value written past the end of the longest bar.
    if log_scale:
        limits = (float(positive.min()) / 3 if positive.size else 0.1, top * 4)
    else:
        limits = (0.0, top * 1.15)
    if horizontal:
        if log_scale:
            ax.set_xscale("log")
        ax.set_xlim(*limits)
    else:
        if log_scale:
            ax.set_yscale("log")
        ax.set_ylim(*limits)
    if log_scale:
        value_axis = ax.xaxis if horizontal else ax.yaxis
        value_axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        value_axis.set_minor_formatter(NullFormatter())
    ax.grid(True, axis="x" if horizontal else "y", alpha=0.3)
    return _finish(ax, title)
