"""What the trial panel shows, as HTML and PNG: rendering only, no widgets.

The status and result lines, the table of the latest trials, and the accuracy
against seconds listened, drawn by :func:`dejavu_lab.studies.plots.trials_accuracy`.
"""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING

import pandas as pd

from ..studies import plots

if TYPE_CHECKING:
    from ..dejavu import Recognition

_TABLE_ROWS = 8
_PLOT_SIZE_IN = (5.6, 3.4)
_PLOT_DPI = 90


def _muted(text: str) -> str:
    return f"<span style='color:#57606a'>{html.escape(text)}</span>"


def _error(text: str) -> str:
    return f"<span style='color:#cf222e'><b>error:</b> {html.escape(text)}</span>"


def _result_box(inner: str) -> str:
    return (
        "<div style='border-left:4px solid #0969da;background:#f6f8fa;padding:6px 10px;"
        f"margin:6px 0;min-height:44px;font-size:14px'>{inner}</div>"
    )


def _describe(recognition: Recognition, seconds: float, elapsed_s: float) -> str:
    time_to_match = (
        f"recorded {seconds:g} s, matched in {recognition.match_time_s * 1e3:.0f} ms "
        f"({elapsed_s:.2f} s from Listen to answer)"
    )
    if recognition.is_match:
        return (
            f"<div style='font-size:18px'><b>{html.escape(str(recognition.song_name))}</b></div>"
            f"<div>offset <b>{recognition.offset_seconds:.2f} s</b> &middot; confidence "
            f"<b>{recognition.confidence:.1f}</b> &middot; {recognition.aligned_hashes}/"
            f"{recognition.input_hashes} hashes aligned</div>"
            f"<div style='color:#57606a'>{time_to_match}</div>"
        )
    return (
        "<div style='font-size:18px'><b>no match</b></div>"
        f"<div>best bin {recognition.aligned_hashes} of {recognition.input_hashes} hashes, "
        f"confidence {recognition.confidence:.1f}</div>"
        f"<div style='color:#57606a'>{time_to_match}</div>"
    )


def _trials_html(table: pd.DataFrame) -> str:
    if table.empty:
        return "<b>Trials</b><br>" + _muted("None yet: listen, then mark the answer.")
    correct = int(table["correct"].sum())
    head = (
        f"<b>Trials</b> &middot; {correct}/{len(table)} right "
        f"({100.0 * correct / len(table):.0f} %)"
    )
    latest = table.tail(_TABLE_ROWS).iloc[::-1]
    shown = pd.DataFrame(
        {
            "time": latest["time"].dt.strftime("%H:%M:%S"),
            "s": latest["seconds"].map("{:g}".format),
            "predicted": latest["predicted"].fillna("no match"),
            "truth": latest["truth"].fillna("-"),
            "ok": latest["correct"].map({True: "\u2714", False: "\u2718"}),
            "conf.": latest["confidence"].map("{:.1f}".format),
        }
    )
    body = shown.to_html(index=False, border=0, escape=True)
    style = (
        "<style>.dejavu-trials table{border-collapse:collapse;font-size:12px}"
        ".dejavu-trials th,.dejavu-trials td{padding:2px 8px;text-align:left;"
        "border-bottom:1px solid #eaeef2;max-width:170px;overflow:hidden;"
        "text-overflow:ellipsis;white-space:nowrap}</style>"
    )
    more = "" if len(table) <= _TABLE_ROWS else _muted(f"latest {_TABLE_ROWS} of {len(table)}")
    return f"{style}<div class='dejavu-trials'>{head}{body}{more}</div>"


def _accuracy_png(table: pd.DataFrame) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=_PLOT_SIZE_IN, dpi=_PLOT_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    plots.trials_accuracy(table[["seconds", "correct"]], ax=ax, title="Accuracy vs seconds")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
