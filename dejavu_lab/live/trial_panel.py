"""A notebook panel for live microphone trials: record, recognise, judge, save.

:class:`TrialPanel` holds the widgets (built by :mod:`~dejavu_lab.live.trial_layout`)
and what they do: *Listen* records in a background thread and recognises,
*right* and *wrong* append the answer to the ``trials`` table
(:mod:`~dejavu_lab.live.trials`), and the table and plot
(:mod:`~dejavu_lab.live.trial_render`) are redrawn after each trial.

Needs the ``notebooks`` extra (ipywidgets) and, to record, the ``mic`` extra.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ..exceptions import DejavuLabError, ParameterError
from .levels import SILENCE_FLOOR_DBFS
from .recording import MicrophoneStream
from .trial_layout import (
    _DEFAULT_DEVICE,
    LEVEL_FLOOR_DBFS,
    _device_options,
    _meter_value,
    accuracy_image,
    arrange_panel,
    device_dropdown,
    level_label,
    level_meter,
    listen_button,
    mark_right_button,
    mark_wrong_button,
    panel_heading,
    result_area,
    seconds_slider,
    status_line,
    trials_table,
    truth_dropdown,
)
from .trial_render import _accuracy_png, _describe, _error, _muted, _result_box, _trials_html
from .trials import Trial, TrialLog, mark_trial, unmarked_trial

if TYPE_CHECKING:
    from ..dejavu import Dejavu, Recognition

logger = logging.getLogger(__name__)


class _Unset(enum.Enum):
    TOKEN = 0


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

        options, device_problem = _device_options()
        self.device = device_dropdown(options)
        self.seconds = seconds_slider(seconds)
        self.listen_button = listen_button()
        self.level = level_meter()
        self.level_label = level_label()
        self.status = status_line(device_problem or "Play a song, then press Listen.")
        self.result = result_area()
        songs = sorted(song.name for song in dejavu.db.songs())
        self.truth = truth_dropdown(songs)
        self.mark_right = mark_right_button()
        self.mark_wrong = mark_wrong_button()
        self.table = trials_table()
        self.plot = accuracy_image()

        self.listen_button.on_click(self._on_listen)
        self.mark_right.on_click(lambda _button: self._on_mark(True))
        self.mark_wrong.on_click(lambda _button: self._on_mark(False))

        database = getattr(dejavu.db, "path", repr(dejavu.db))
        self.widget = arrange_panel(
            panel_heading(len(songs), database, self.log.path),
            recording=[self.device, self.seconds, self.listen_button],
            meter=[self.level, self.level_label, self.status],
            result=self.result,
            marking=[self.truth, self.mark_right, self.mark_wrong],
            history=[self.table, self.plot],
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
        self._pending = unmarked_trial(recognition, seconds=seconds, device=device_name)
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
        trial = mark_trial(pending, correct=correct, truth=truth)
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
        """Every trial so far, oldest first (columns :data:`~.trials.TRIAL_COLUMNS`)."""
        return self.log.table()

    def _refresh_trials(self) -> None:
        table = self.trials()
        self.table.value = _trials_html(table)
        self.plot.value = _accuracy_png(table)
        self.plot_updates += 1
