"""Figures of the Dejavu write-up and of our experiments.

Every function takes data that is already computed, draws it on ``ax`` (a new
figure when ``ax`` is None) and returns the axes. None of them computes
anything beyond formatting: no STFT, no peak picking, no fitting. Cropping to
a range, pivoting sweep rows into a grid, counting trials per duration and
:func:`pareto_front_mask` are the only data handling here.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> from dejavu_lab.studies import plots
>>> ax = plots.accuracy_vs_seconds(
...     pd.DataFrame({"condition": "clean", "seconds": [1.0, 2.0], "accuracy_pct": [80.0, 100.0]})
... )
>>> ax.get_xlabel()
'seconds listened (s)'
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence

import librosa.display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import Colormap, Normalize, PowerNorm
from matplotlib.lines import Line2D
from matplotlib.ticker import EngFormatter, FuncFormatter, MaxNLocator, NullFormatter

from ..core.peaks import Peaks
from ..core.spectrogram import LogSpectrogram

__all__ = [
    "DEJAVU_PUBLISHED_ACCURACY",
    "DEJAVU_PUBLISHED_MATCHING_TIME",
    "DEJAVU_PUBLISHED_STORAGE_MB",
    "PUBLISHED_LABEL",
    "accuracy_vs_seconds",
    "axis_label",
    "false_matches",
    "hash_pairs",
    "line_equation",
    "matching_time",
    "offset_histogram",
    "operating_characteristic",
    "pareto",
    "pareto_front_mask",
    "peak_rates",
    "reliability",
    "robustness",
    "robustness_false_matches",
    "spectrogram_peaks",
    "storage_bars",
    "sweep_heatmap",
    "sweep_lines",
    "trials_accuracy",
]

#: The write-up's laptop-microphone results (45 songs, random excerpts).
DEJAVU_PUBLISHED_ACCURACY = pd.DataFrame(
    {
        "seconds": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "correct": [27, 43, 44, 44, 45, 45],
        "total": [45, 45, 45, 45, 45, 45],
        "accuracy_pct": [60.0, 95.6, 97.8, 97.8, 100.0, 100.0],
    }
)
#: The write-up's least-squares line: ``time_to_match = slope * record_time + intercept`` (s).
DEJAVU_PUBLISHED_MATCHING_TIME = {"slope": 1.364757, "intercept": -0.034373}
#: The write-up's storage table for its 45 songs (MB).
DEJAVU_PUBLISHED_STORAGE_MB = {"mp3": 339.0, "wav": 1885.0, "fingerprints": 377.0}

PUBLISHED_LABEL = "Dejavu write-up (laptop mic)"
_FIGSIZE = (7.0, 4.5)

#: Axis labels (with units) of the column names used across the experiments.
_LABELS = {
    "seconds": "seconds listened (s)",
    "accuracy_pct": "accuracy (%)",
    "offset_correct_pct": "right song and offset (%)",
    "false_match_pct": "false matches (%)",
    "median_confidence": "median confidence (z or −log10 p)",
    "bytes_per_track": "storage per track (bytes)",
    "megabytes_per_track": "storage per track (MB)",
    "mb_per_track": "storage per track (MB)",
    "median_match_ms": "median match time (ms)",
    "peaks_per_second": "peaks per second of audio (1/s)",
    "capped_pct": "seconds where the cap binds (%)",
    "hashes_per_second": "hashes per second of audio (1/s)",
    "record_time_s": "recording time (s)",
    "match_time_s": "time to match (s)",
    "megabytes": "storage (MB)",
}
#: Units of pipeline parameters, by the name after ``stage__``.
_PARAM_UNITS = {
    "sample_rate": "Hz",
    "window_size": "samples",
    "hop_length": "samples",
    "fmin_hz": "Hz",
    "fmax_hz": "Hz",
    "query_shifts": "shifts",
    "neighborhood_freq": "bins",
    "neighborhood_time": "frames",
    "amp_min_db": "dB",
    "peaks_per_second": "peaks/s",
    "query_density": "×",
    "fan_value": "targets per anchor",
    "query_fan_value": "targets per anchor",
    "min_dt": "frames",
    "max_dt": "frames",
    "max_df": "bins",
    "time_tolerance": "frames",
    "min_aligned": "hashes",
    "min_confidence": "−log10 p",
    "min_z": "z",
    "candidates": "songs",
    "freq_tolerance": "bins",
    "background_s": "s",
    "search_frames": "frames",
}
_SUFFIX_UNITS = (
    ("_pct", "%"),
    ("_db", "dB"),
    ("_hz", "Hz"),
    ("_ms", "ms"),
    ("_s", "s"),
    ("_bytes", "bytes"),
    ("_mb", "MB"),
)


def axis_label(name: str) -> str:
    """A readable axis label, with its unit, for a column or parameter name.

    Parameters
    ----------
    name : str
        A column name (``"accuracy_pct"``) or a flat pipeline parameter
        (``"peaks__amp_min_db"``).

    Returns
    -------
    str
        E.g. ``"accuracy (%)"``, ``"peaks__amp_min_db (dB)"``; names of unknown
        unit are returned unchanged.

    Examples
    --------
    >>> axis_label("hasher__fan_value")
    'hasher__fan_value (targets per anchor)'
    """
    if name in _LABELS:
        return _LABELS[name]
    measure, _, tag = name.partition("_pct_")
    if tag and f"{measure}_pct" in _LABELS:
        # A sweep column of one condition and length, e.g. "accuracy_pct_laptop-mic_1s".
        condition, _, seconds = tag.rpartition("_")
        return _LABELS[f"{measure}_pct"].replace(" (%)", f", {condition} {seconds[:-1]} s (%)")
    parameter = name.rpartition("__")[2]
    if parameter in _PARAM_UNITS:
        return f"{name} ({_PARAM_UNITS[parameter]})"
    for suffix, unit in _SUFFIX_UNITS:
        if name.endswith(suffix):
            return f"{name} ({unit})"
    return name


def line_equation(slope: float, intercept: float, *, variable: str = "record_time") -> str:
    """A fitted line written as in the Dejavu write-up, six decimals.

    Examples
    --------
    >>> line_equation(1.364757, -0.034373)
    '1.364757 * record_time - 0.034373'
    """
    sign = "-" if intercept < 0 else "+"
    return f"{slope:.6f} * {variable} {sign} {abs(intercept):.6f}"


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


# -- helpers ------------------------------------------------------------------


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


def _conditions(table: pd.DataFrame) -> list[str]:
    """Conditions in order of first appearance."""
    return [str(condition) for condition in pd.unique(table["condition"].astype(str))]


def _percent_axis(ax: Axes) -> None:
    ax.set_ylim(0, 100)
    ax.set_yticks(np.arange(0, 101, 20))
    ax.grid(True, alpha=0.3)


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


def _format_megabytes(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f} MB"
    if value >= 1:
        return f"{value:.1f} MB"
    return f"{value:.2g} MB"


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


def _draw_spectrogram(
    ax: Axes,
    spec: LogSpectrogram,
    *,
    time_range_s: tuple[float, float] | None,
    freq_range_hz: tuple[float, float] | None,
    log_frequency: bool,
    cmap: str,
    dynamic_range_db: float,
    colorbar: bool,
) -> None:
    """Draw the (cropped) spectrogram; pixels are centred on frame start times and bin centres."""
    times = spec.times_s()
    freqs = spec.frequencies_hz()
    columns = np.ones(len(times), dtype=bool)
    rows = np.ones(len(freqs), dtype=bool)
    if time_range_s is not None:
        columns = (times >= time_range_s[0]) & (times <= time_range_s[1])
    if freq_range_hz is not None:
        rows = (freqs >= freq_range_hz[0]) & (freqs <= freq_range_hz[1])
    if log_frequency:
        rows &= freqs > 0
    values = spec.values_db[np.ix_(rows, columns)]
    times, freqs = times[columns], freqs[rows]
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    if values.size == 0:
        return
    vmax = float(values.max())
    vmin = max(float(values.min()), vmax - dynamic_range_db)
    # librosa's axes: pixels centred on the given frame times and bin centres,
    # seconds and Hz tick formatters, a log-Hz scale when asked.
    image = librosa.display.specshow(
        values,
        x_coords=times,
        y_coords=freqs,
        x_axis="s",
        y_axis="log" if log_frequency else "hz",
        ax=ax,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        shading="nearest",
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="power spectral density (dB)", pad=0.02)


def _peak_points(
    spec: LogSpectrogram, peaks: Peaks, index: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and frequencies (Hz) of peaks (all, or those at ``index``)."""
    frame, bin_ = (
        (peaks.frame, peaks.bin) if index is None else (peaks.frame[index], peaks.bin[index])
    )
    return frame * peaks.frame_seconds, bin_ * spec.bin_hz


def _in_box(
    times: np.ndarray,
    freqs: np.ndarray,
    time_range_s: tuple[float, float] | None,
    freq_range_hz: tuple[float, float] | None,
) -> np.ndarray:
    inside = np.ones(len(times), dtype=bool)
    if time_range_s is not None:
        inside &= (times >= time_range_s[0]) & (times <= time_range_s[1])
    if freq_range_hz is not None:
        inside &= (freqs >= freq_range_hz[0]) & (freqs <= freq_range_hz[1])
    return inside


# -- the write-up's figures ---------------------------------------------------


def spectrogram_peaks(
    spec: LogSpectrogram,
    peaks: Peaks | None = None,
    *,
    ax: Axes | None = None,
    log_frequency: bool = False,
    max_frequency_hz: float | None = None,
    time_range_s: tuple[float, float] | None = None,
    cmap: str = "magma",
    dynamic_range_db: float = 80.0,
    title: str | None = None,
) -> Axes:
    """A spectrogram with its peaks marked (the write-up's first figure).

    Parameters
    ----------
    spec : LogSpectrogram
        ``values_db`` of shape (n_bins, n_frames), drawn as time (s) by
        frequency (Hz); frame ``t`` is placed at its start, ``t * frame_seconds``.
    peaks : Peaks, optional
        Drawn as hollow cyan circles.
    ax : Axes, optional
        Axes to draw on; a new figure when None.
    log_frequency : bool
        Logarithmic frequency axis (rows at 0 Hz are left out).
    max_frequency_hz : float, optional
        Show frequencies up to this (Hz).
    time_range_s : (float, float), optional
        Show this time span (s).
    cmap : str
        Colormap of the dB values.
    dynamic_range_db : float
        Colours span the loudest value down to this many dB below it.
    title : str, optional

    Returns
    -------
    Axes
    """
    ax = _axes(ax, (9.0, 4.5))
    freq_range = None if max_frequency_hz is None else (-np.inf, max_frequency_hz)
    _draw_spectrogram(
        ax,
        spec,
        time_range_s=time_range_s,
        freq_range_hz=freq_range,
        log_frequency=log_frequency,
        cmap=cmap,
        dynamic_range_db=dynamic_range_db,
        colorbar=True,
    )
    if peaks is not None and len(peaks):
        times, freqs = _peak_points(spec, peaks)
        inside = _in_box(times, freqs, time_range_s, freq_range)
        if log_frequency:
            inside &= freqs > 0
        ax.scatter(
            times[inside],
            freqs[inside],
            s=18,
            facecolors="none",
            edgecolors="cyan",
            linewidths=0.9,
            label=f"peaks ({int(inside.sum())})",
        )
        ax.legend(loc="upper right", framealpha=0.8)
    return _finish(ax, title)


def hash_pairs(
    spec: LogSpectrogram,
    peaks: Peaks,
    anchors: np.ndarray,
    targets: np.ndarray,
    *,
    ax: Axes | None = None,
    time_range_s: tuple[float, float] | None = None,
    freq_range_hz: tuple[float, float] | None = None,
    max_pairs: int | None = None,
    cmap: str = "magma",
    dynamic_range_db: float = 80.0,
    title: str | None = None,
) -> Axes:
    """A zoomed spectrogram with each hash drawn as a line from anchor to target peak.

    Parameters
    ----------
    spec : LogSpectrogram
    peaks : Peaks
        Peaks of ``spec``, sorted by frame.
    anchors, targets : np.ndarray, shape (n_pairs,), int
        Indices into ``peaks`` of each pair, as returned by
        :func:`dejavu_lab.core.hashing.peak_pairs`.
    ax : Axes, optional
    time_range_s : (float, float), optional
        The zoom window (s); pairs whose anchor lies in it are drawn (lines
        to targets beyond it run off the edge). None shows everything.
    freq_range_hz : (float, float), optional
        Frequency span shown (Hz).
    max_pairs : int, optional
        Draw only the first pairs in anchor time order.
    cmap : str
    dynamic_range_db : float
        Colours span the loudest value down to this many dB below it.
    title : str, optional

    Returns
    -------
    Axes
        Anchors of drawn pairs are filled circles; each anchor's fan of lines
        has one colour.
    """
    ax = _axes(ax, (9.0, 4.5))
    anchors = np.asarray(anchors, dtype=np.intp)
    targets = np.asarray(targets, dtype=np.intp)
    if anchors.shape != targets.shape:
        raise ValueError(
            f"anchors and targets must have one shape, got {anchors.shape} and {targets.shape}"
        )
    _draw_spectrogram(
        ax,
        spec,
        time_range_s=time_range_s,
        freq_range_hz=freq_range_hz,
        log_frequency=False,
        cmap=cmap,
        dynamic_range_db=dynamic_range_db,
        colorbar=True,
    )
    window = ax.get_xlim(), ax.get_ylim()
    times, freqs = _peak_points(spec, peaks)
    shown = _in_box(times, freqs, time_range_s, freq_range_hz)
    ax.scatter(
        times[shown],
        freqs[shown],
        s=22,
        facecolors="none",
        edgecolors="cyan",
        linewidths=0.9,
        label="peaks",
        zorder=3,
    )
    order = np.lexsort((targets, anchors))
    anchors, targets = anchors[order], targets[order]
    keep = _in_box(times[anchors], freqs[anchors], time_range_s, freq_range_hz)
    anchors, targets = anchors[keep], targets[keep]
    if max_pairs is not None:
        anchors, targets = anchors[:max_pairs], targets[:max_pairs]
    if len(anchors):
        segments = np.stack(
            [
                np.column_stack([times[anchors], freqs[anchors]]),
                np.column_stack([times[targets], freqs[targets]]),
            ],
            axis=1,
        )
        # One colour per anchor, cycling, so neighbouring fans can be told apart.
        _, anchor_rank = np.unique(anchors, return_inverse=True)
        colours = plt.get_cmap("tab10")(anchor_rank % 10)
        ax.add_collection(
            LineCollection(
                list(segments),
                colors=colours,
                linewidths=1.0,
                alpha=0.85,
                label=f"hash pairs ({len(anchors)})",
                zorder=2,
            ),
            autolim=False,
        )
        unique_anchors = np.unique(anchors)
        ax.scatter(
            times[unique_anchors],
            freqs[unique_anchors],
            s=30,
            c=plt.get_cmap("tab10")(np.arange(len(unique_anchors)) % 10),
            edgecolors="white",
            linewidths=0.8,
            label="anchors",
            zorder=4,
        )
    # Lines to targets outside the window run off its edge rather than widening it.
    ax.set_xlim(*window[0])
    ax.set_ylim(*window[1])
    ax.legend(loc="upper right", framealpha=0.8)
    return _finish(ax, title)


def offset_histogram(
    votes_diff_s: np.ndarray,
    counts: np.ndarray,
    *,
    ax: Axes | None = None,
    true_offset_s: float | None = None,
    label: str | None = None,
    color: str | None = None,
    log_y: bool = False,
    title: str | None = None,
) -> Axes:
    """Votes per offset difference for one song: a true match is one tall spike.

    Call once per song on the same axes (with different ``label``) to compare
    the right song's spike with a wrong song's background.

    Parameters
    ----------
    votes_diff_s : np.ndarray, shape (n,), float
        Offset differences ``song offset - query offset`` (s), e.g.
        ``Votes.diff * frame_seconds`` for one ``song_id``.
    counts : np.ndarray, shape (n,), int
        Votes in each offset bin (``Votes.count``).
    ax : Axes, optional
    true_offset_s : float, optional
        Where the query really starts in the song (s): a dotted vertical line.
    label : str, optional
        Legend entry of this series.
    color : str, optional
        Colour of this series (next in the cycle when None).
    log_y : bool
        Logarithmic vote axis, to see the background under a tall spike.
    title : str, optional

    Returns
    -------
    Axes
    """
    ax = _axes(ax)
    diff = np.asarray(votes_diff_s, dtype=np.float64)
    votes = np.asarray(counts, dtype=np.float64)
    if diff.shape != votes.shape:
        raise ValueError(
            f"votes_diff_s and counts must have one shape, got {diff.shape} and {votes.shape}"
        )
    (markers,) = ax.plot(diff, votes, "o", markersize=3, color=color, label=label)
    ax.vlines(diff, 0, votes, colors=markers.get_color(), linewidths=1.0)
    if true_offset_s is not None:
        ax.axvline(
            true_offset_s,
            color="0.5",
            linestyle="--",
            linewidth=1.0,
            zorder=0,
            label=f"true offset ({true_offset_s:.2f} s)",
        )
    if log_y:
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.8)
        counts_formatter = _log_ticks(lambda value: f"{value:g}")
        ax.yaxis.set_major_formatter(counts_formatter)
        ax.yaxis.set_minor_formatter(counts_formatter)
    else:
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("song offset − query offset (s)")
    ax.set_ylabel("votes (matching hashes)")
    ax.grid(True, axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(loc="upper right")
    return _finish(ax, title)


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


# -- sweeps -------------------------------------------------------------------


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
        :func:`dejavu_lab.studies.sweep.peak_rates`: columns
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


def _format_value(value: object) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:g}"
    return str(value)


# -- live trials --------------------------------------------------------------


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


def reliability(table: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Reliability diagram: observed against predicted false-match rate.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``alpha`` (predicted rate), ``observed_rate`` and ``n``; one
        line per ``seed``/``condition`` where present. 95 % Wilson intervals
        as bars; the diagonal and the factor-of-2 band for reference.
    """
    from .intervals import wilson_interval

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
