"""A notebook panel for live microphone trials: Dejavu's microphone study, by hand.

Play a random excerpt of a fingerprinted song over the speakers, press
*Listen*, and mark the answer *right* or *wrong* (choosing the true song when
wrong). Each trial is appended to a DuckDB ``trials`` table, so a study can
span sessions, and the accuracy-versus-seconds plot is redrawn after each one
beside the write-up's published curve.

Every widget is an attribute, so tests and notebooks can drive the panel from
Python: set ``panel.seconds.value``, ``panel.listen_button.click()`` (records
in a background thread; ``panel.wait()``), read ``panel.result.value`` or
``panel.last_recognition``, ``panel.mark_right.click()``, ``panel.trials()``.

Needs the ``notebooks`` extra (ipywidgets) and, to record, the ``mic`` extra.

Examples
--------
>>> from dejavu_lab import Dejavu
>>> from dejavu_lab.live.widgets import TrialPanel
>>> panel = TrialPanel(Dejavu({"database": "fingerprints.duckdb"}))  # doctest: +SKIP
>>> panel  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import enum
import html
import io
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ipywidgets as widgets
import numpy as np
import pandas as pd

from ..exceptions import DejavuLabError, MicrophoneError, ParameterError
from ..studies import plots
from .microphone import SILENCE_FLOOR_DBFS, MicrophoneStream, list_input_devices

if TYPE_CHECKING:
    from ..dejavu import Dejavu, Recognition

logger = logging.getLogger(__name__)

__all__ = ["LEVEL_FLOOR_DBFS", "TRIAL_COLUMNS", "Trial", "TrialLog", "TrialPanel"]

#: Columns of the ``trials`` table, in order.
TRIAL_COLUMNS = (
    "time",
    "seconds",
    "device",
    "predicted",
    "truth",
    "correct",
    "confidence",
    "offset_seconds",
    "match_time_s",
)

LEVEL_FLOOR_DBFS = -60.0
"""Bottom of the input-level meter, in dBFS (quieter shows as empty)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    "time" TIMESTAMP NOT NULL,
    seconds DOUBLE NOT NULL,
    device VARCHAR,
    predicted VARCHAR,
    truth VARCHAR,
    correct BOOLEAN NOT NULL,
    confidence DOUBLE,
    offset_seconds DOUBLE,
    match_time_s DOUBLE
)
"""
_NOT_IN_DATABASE = ""
"""``truth`` value of "music not in the database" (ipywidgets cannot select None)."""
_DEFAULT_DEVICE = -1
"""``device`` value of the system default input (PortAudio indices are >= 0)."""
_TABLE_ROWS = 8
_PLOT_SIZE_IN = (5.6, 3.4)
_PLOT_DPI = 90


class _Unset(enum.Enum):
    TOKEN = 0


@dataclass(frozen=True)
class Trial:
    """One microphone trial, a row of the ``trials`` table.

    Attributes
    ----------
    time : datetime
        When the recording ended (local time).
    seconds : float
        Seconds recorded.
    device : str or None
        Input device name.
    predicted : str or None
        Song named by the recogniser, None for "no match".
    truth : str or None
        Song that was played, None for music not in the database.
    correct : bool
        The verdict given by whoever ran the trial.
    confidence : float
        The answer's confidence (:attr:`Recognition.confidence <dejavu_lab.dejavu.Recognition>`).
    offset_seconds : float or None
        Where the recording started in the predicted song (s).
    match_time_s : float
        Fingerprinting, lookup and voting time (s), recording excluded.
    """

    time: datetime
    seconds: float
    device: str | None
    predicted: str | None
    truth: str | None
    correct: bool
    confidence: float
    offset_seconds: float | None
    match_time_s: float


class TrialLog:
    """The ``trials`` table of a DuckDB file, opened only while reading or writing.

    Opening per operation keeps the file free for other processes (another
    notebook, a script analysing the trials) between trials.

    Parameters
    ----------
    path : str or Path
        DuckDB file, created with its table if missing; ``":memory:"`` keeps
        the trials in this process only.
    """

    def __init__(self, path: str | Path = "trials.duckdb") -> None:
        self.path = str(path)
        self._memory = duckdb.connect(":memory:") if self.path == ":memory:" else None
        with self._connect() as con:
            con.execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"TrialLog({self.path!r})"

    @contextlib.contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._memory is not None:
            yield self._memory
            return
        con = duckdb.connect(self.path)
        try:
            yield con
        finally:
            con.close()

    def add(self, trial: Trial) -> None:
        """Append one trial."""
        placeholders = ", ".join("?" for _ in TRIAL_COLUMNS)
        columns = ", ".join(f'"{name}"' for name in TRIAL_COLUMNS)
        with self._connect() as con:
            con.execute(f"INSERT INTO trials ({columns}) VALUES ({placeholders})", astuple(trial))

    def table(self) -> pd.DataFrame:
        """Every trial, oldest first, with the columns of :data:`TRIAL_COLUMNS`."""
        columns = ", ".join(f'"{name}"' for name in TRIAL_COLUMNS)
        with self._connect() as con:
            return con.execute(f'SELECT {columns} FROM trials ORDER BY "time"').df()


def _device_options() -> tuple[list[tuple[str, int]], str]:
    """Dropdown options for the input devices, and why there are none if so."""
    options: list[tuple[str, int]] = [("system default", _DEFAULT_DEVICE)]
    try:
        devices = list_input_devices()
    except MicrophoneError as error:
        return options, str(error)
    options += [(f"[{d.index}] {d.name}", d.index) for d in devices]
    return options, "" if devices else "no input device found"


def _meter_value(level_dbfs: float) -> float:
    return min(0.0, max(LEVEL_FLOOR_DBFS, level_dbfs))


class TrialPanel:
    """Widgets to run and record live microphone trials.

    Parameters
    ----------
    dejavu : Dejavu
        Whose database answers, and whose songs fill the *true song* list.
    trials_db : str or Path
        DuckDB file of the ``trials`` table (see :class:`TrialLog`).
    seconds : int
        Initial recording length, in seconds (1 to 10).
    chunk_s : float
        Recording block, in seconds: the level meter moves once a block.

    Attributes
    ----------
    device : ipywidgets.Dropdown
        Input device (value: PortAudio index, -1 for the system default; see
        :attr:`selected_device`).
    seconds : ipywidgets.IntSlider
        Seconds to record, 1 to 10.
    listen_button : ipywidgets.Button
        Records in a background thread, then recognises.
    level : ipywidgets.FloatProgress
        Input level of the last block, in dBFS (-60 to 0); ``level_label`` shows it,
        then the peak block level once the recording is over.
    status : ipywidgets.HTML
        What the panel is doing, or the last error.
    result : ipywidgets.HTML
        Song, offset, confidence and time to match of the last recording.
    truth : ipywidgets.Dropdown
        The song really played (value: its name, ``""`` for music not in the
        database; see :attr:`selected_truth`).
    mark_right, mark_wrong : ipywidgets.Button
        Record the last result as a trial; *wrong* takes ``truth``.
    table : ipywidgets.HTML
        The latest trials.
    plot : ipywidgets.Image
        Accuracy against seconds listened (PNG), redrawn after every trial.
    widget : ipywidgets.VBox
        Everything, laid out; displaying the panel displays it.
    last_recognition : Recognition or None
        The last answer.
    log : TrialLog
        The trials table.
    plot_updates : int
        How many times the plot was drawn.
    """

    def __init__(
        self,
        dejavu: Dejavu,
        *,
        trials_db: str | Path = "trials.duckdb",
        seconds: int = 5,
        chunk_s: float = 0.1,
    ) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= 10:
            raise ParameterError(f"TrialPanel: seconds={seconds!r} is not allowed: expected 1-10")
        if not 0.01 <= chunk_s <= 1.0:
            raise ParameterError(
                f"TrialPanel: chunk_s={chunk_s!r} is not allowed: expected 0.01 to 1 s"
            )
        self.dejavu = dejavu
        self.chunk_s = float(chunk_s)
        self.log = TrialLog(trials_db)
        self.last_recognition: Recognition | None = None
        self.plot_updates = 0
        self._pending: Trial | None = None
        self._thread: threading.Thread | None = None
        self._peak_dbfs = SILENCE_FLOOR_DBFS
        self._lock = threading.Lock()

        wide = {"description_width": "initial"}
        options, device_problem = _device_options()
        self.device = widgets.Dropdown(
            options=options,
            value=_DEFAULT_DEVICE,
            description="Microphone",
            style=wide,
            layout=widgets.Layout(width="280px"),
        )
        self.seconds = widgets.IntSlider(
            value=seconds,
            min=1,
            max=10,
            step=1,
            description="Seconds",
            style=wide,
            layout=widgets.Layout(width="260px"),
        )
        self.listen_button = widgets.Button(
            description="Listen",
            button_style="primary",
            icon="microphone",
            tooltip="record, then recognise",
            layout=widgets.Layout(width="110px"),
        )
        self.level = widgets.FloatProgress(
            value=LEVEL_FLOOR_DBFS,
            min=LEVEL_FLOOR_DBFS,
            max=0.0,
            description="Input",
            bar_style="info",
            style=wide,
            layout=widgets.Layout(width="280px"),
        )
        self.level_label = widgets.Label("silent", layout=widgets.Layout(width="110px"))
        self.status = widgets.HTML(
            _muted(device_problem or "Play a song, then press Listen."),
            layout=widgets.Layout(width="360px"),
        )
        self.result = widgets.HTML(
            _result_box(_muted("No recording yet.")),
            layout=widgets.Layout(width="100%"),
        )
        songs = sorted(song.name for song in dejavu.db.songs())
        self.truth = widgets.Dropdown(
            options=[("(not in the database)", _NOT_IN_DATABASE), *[(n, n) for n in songs]],
            value=_NOT_IN_DATABASE,
            description="True song",
            style=wide,
            layout=widgets.Layout(width="320px"),
        )
        self.mark_right = widgets.Button(
            description="right",
            button_style="success",
            icon="check",
            disabled=True,
            tooltip="the answer names the song played (or rightly says no match)",
            layout=widgets.Layout(width="90px"),
        )
        self.mark_wrong = widgets.Button(
            description="wrong",
            button_style="danger",
            icon="times",
            disabled=True,
            tooltip="the answer is wrong: the true song is the one chosen on the left",
            layout=widgets.Layout(width="90px"),
        )
        self.table = widgets.HTML(layout=widgets.Layout(width="460px"))
        self.plot = widgets.Image(format="png", layout=widgets.Layout(width="504px"))

        self.listen_button.on_click(self._on_listen)
        self.mark_right.on_click(lambda _button: self._on_mark(True))
        self.mark_wrong.on_click(lambda _button: self._on_mark(False))

        title = widgets.HTML(
            "<h3 style='margin:0 0 4px 0'>Live microphone trials</h3>"
            + _muted(
                f"{len(songs)} songs in {getattr(dejavu.db, 'path', repr(dejavu.db))}; "
                f"trials saved to {self.log.path}"
            )
        )
        row = widgets.Layout(align_items="center", margin="2px 0")
        self.widget = widgets.VBox(
            [
                title,
                widgets.HBox([self.device, self.seconds, self.listen_button], layout=row),
                widgets.HBox([self.level, self.level_label, self.status], layout=row),
                self.result,
                widgets.HBox([self.truth, self.mark_right, self.mark_wrong], layout=row),
                widgets.HBox(
                    [self.table, self.plot],
                    layout=widgets.Layout(align_items="flex-start", margin="6px 0"),
                ),
            ],
            layout=widgets.Layout(
                border="1px solid #d0d7de", padding="10px", width="1000px", max_width="100%"
            ),
        )
        self._refresh_trials()

    # -- display --------------------------------------------------------------

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any] | None:
        return self.widget._repr_mimebundle_(include=include, exclude=exclude)

    @property
    def selected_device(self) -> int | None:
        """The chosen input device's PortAudio index, None for the system default."""
        value = int(self.device.value)
        return None if value == _DEFAULT_DEVICE else value

    @property
    def selected_truth(self) -> str | None:
        """The song chosen in *True song*, None for music not in the database."""
        return str(self.truth.value) or None

    # -- recording ------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Whether a background recording is running."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background recording; True when none is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.busy

    def listen(self) -> Recognition:
        """Record ``seconds.value`` seconds from :attr:`selected_device`, then recognise.

        Runs in the calling thread (the *Listen* button runs it in a
        background thread). Moves the level meter once a block and fills
        :attr:`result`; the answer waits for *right* or *wrong*.

        Returns
        -------
        Recognition

        Raises
        ------
        MicrophoneError
            No PyAudio/PortAudio or no such device (also shown in ``status``).
        """
        with self._lock:
            try:
                return self._record_and_recognise()
            except DejavuLabError as error:
                self.status.value = _error(str(error))
                raise
            finally:
                peak = self._peak_dbfs
                self.level.value = LEVEL_FLOOR_DBFS
                self.level_label.value = (
                    "silent" if peak <= LEVEL_FLOOR_DBFS else f"peak {peak:.0f} dBFS"
                )

    def _record_and_recognise(self) -> Recognition:
        seconds = float(self.seconds.value)
        rate = self.dejavu.pipeline.spectrogram.sample_rate
        total = round(seconds * rate)
        n_blocks = max(1, round(seconds / self.chunk_s))
        self._pending = None
        self._peak_dbfs = SILENCE_FLOOR_DBFS
        self._set_marking(enabled=False)
        self.result.value = _result_box(_muted(f"Listening for {seconds:g} s..."))
        self.status.value = _muted("opening the microphone...")
        started = time.perf_counter()
        chunks: list[np.ndarray] = []
        with MicrophoneStream(
            self.selected_device, sample_rate=rate, chunk_seconds=self.chunk_s
        ) as mic:
            device_name = mic.device.name if mic.device is not None else None
            received = 0
            for block in range(1, n_blocks + 1):
                # Block boundaries at exact sample counts: the blocks add up to ``total``.
                chunk = mic.read_chunk((total * block // n_blocks - received) / rate)
                chunks.append(chunk)
                received += chunk.size
                self._show_level(mic.level_db)
                self.status.value = _muted(f"recording {received / rate:.1f} / {seconds:g} s")
        self.status.value = _muted("recognising...")
        recognition = self.dejavu.match_samples(np.concatenate(chunks), rate)
        elapsed = time.perf_counter() - started
        self.last_recognition = recognition
        self._pending = Trial(
            time=datetime.now().replace(microsecond=0),
            seconds=seconds,
            device=device_name,
            predicted=recognition.song_name,
            truth=None,
            correct=False,
            confidence=float(recognition.confidence),
            offset_seconds=recognition.offset_seconds,
            match_time_s=float(recognition.match_time_s),
        )
        self.result.value = _result_box(_describe(recognition, seconds, elapsed))
        self.status.value = _muted("Was it right? Mark the answer.")
        self._set_marking(enabled=True)
        return recognition

    def _on_listen(self, _button: widgets.Button) -> None:
        if self.busy:
            return
        self.listen_button.disabled = True
        self._thread = threading.Thread(
            target=self._listen_in_background, name="trial-panel-listen", daemon=True
        )
        self._thread.start()

    def _listen_in_background(self) -> None:
        try:
            self.listen()
        except DejavuLabError:
            pass  # already shown in the status line
        except Exception as error:  # a widget callback's errors would vanish
            logger.exception("listening failed")
            self.status.value = _error(f"{type(error).__name__}: {error}")
        finally:
            self.listen_button.disabled = False

    def _show_level(self, level_dbfs: float) -> None:
        self._peak_dbfs = max(self._peak_dbfs, level_dbfs)
        self.level.value = _meter_value(level_dbfs)
        self.level_label.value = (
            "silent" if level_dbfs <= LEVEL_FLOOR_DBFS else f"{level_dbfs:.1f} dBFS"
        )

    # -- marking --------------------------------------------------------------

    def _set_marking(self, *, enabled: bool) -> None:
        self.mark_right.disabled = not enabled
        self.mark_wrong.disabled = not enabled

    def _on_mark(self, correct: bool) -> None:
        try:
            self.mark(correct)
        except ParameterError as error:
            self.status.value = _error(str(error))

    def mark(self, correct: bool, *, truth: str | _Unset | None = _Unset.TOKEN) -> Trial:
        """Record the last answer as a trial.

        Parameters
        ----------
        correct : bool
            The verdict. *right* means the song played is the one predicted (or,
            for "no match", music not in the database).
        truth : str or None, optional
            The song played; by default the prediction when ``correct``, else
            the *true song* dropdown.

        Returns
        -------
        Trial
            The row appended to the ``trials`` table.

        Raises
        ------
        ParameterError
            Nothing was recorded since the last mark.
        """
        pending = self._pending
        if pending is None:
            raise ParameterError("there is no answer to mark: press Listen first")
        if isinstance(truth, _Unset):
            truth = pending.predicted if correct else self.selected_truth
        if truth is not None and not isinstance(truth, str):
            raise ParameterError(f"truth={truth!r} is not allowed: expected a song name or None")
        trial = Trial(
            time=pending.time,
            seconds=pending.seconds,
            device=pending.device,
            predicted=pending.predicted,
            truth=truth,
            correct=bool(correct),
            confidence=pending.confidence,
            offset_seconds=pending.offset_seconds,
            match_time_s=pending.match_time_s,
        )
        self.log.add(trial)
        self._pending = None
        self._set_marking(enabled=False)
        self.status.value = _muted(
            f"Saved as {'right' if correct else 'wrong'}. Play another excerpt and listen."
        )
        self._refresh_trials()
        return trial

    # -- trials ---------------------------------------------------------------

    def trials(self) -> pd.DataFrame:
        """Every trial so far, oldest first (columns :data:`TRIAL_COLUMNS`)."""
        return self.log.table()

    def _refresh_trials(self) -> None:
        table = self.trials()
        self.table.value = _trials_html(table)
        self.plot.value = _accuracy_png(table)
        self.plot_updates += 1


# -- rendering ------------------------------------------------------------------


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
