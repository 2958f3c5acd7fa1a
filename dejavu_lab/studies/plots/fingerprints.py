"""How fingerprinting works: a spectrogram's peaks, its hash pairs, a match's offset votes."""

from __future__ import annotations

import librosa.display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.ticker import MaxNLocator

from ...core.peaks import Peaks
from ...core.spectrogram import LogSpectrogram
from ._drawing import (
    _axes,
    _finish,
    _log_ticks,
)


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
