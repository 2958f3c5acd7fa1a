"""The trial panel's widgets: each one's size, style and first text, and their layout.

Construction only: what the widgets do is
:class:`~dejavu_lab.live.trial_panel.TrialPanel`'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

from ..exceptions import MicrophoneError
from .devices import list_input_devices
from .trial_render import _muted, _result_box

LEVEL_FLOOR_DBFS = -60.0
"""Bottom of the input-level meter, in dBFS (quieter shows as empty)."""

_NOT_IN_DATABASE = ""
"""``truth`` value of "music not in the database" (ipywidgets cannot select None)."""
_DEFAULT_DEVICE = -1
"""``device`` value of the system default input (PortAudio indices are >= 0)."""
_WIDE = {"description_width": "initial"}


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


def device_dropdown(options: list[tuple[str, int]]) -> widgets.Dropdown:
    """The input device (value: PortAudio index, -1 for the system default)."""
    return widgets.Dropdown(
        options=options,
        value=_DEFAULT_DEVICE,
        description="Microphone",
        style=_WIDE,
        layout=widgets.Layout(width="280px"),
    )


def seconds_slider(seconds: int) -> widgets.IntSlider:
    """Seconds to record, 1 to 10, starting at ``seconds``."""
    return widgets.IntSlider(
        value=seconds,
        min=1,
        max=10,
        step=1,
        description="Seconds",
        style=_WIDE,
        layout=widgets.Layout(width="260px"),
    )


def listen_button() -> widgets.Button:
    """The *Listen* button."""
    return widgets.Button(
        description="Listen",
        button_style="primary",
        icon="microphone",
        tooltip="record, then recognise",
        layout=widgets.Layout(width="110px"),
    )


def level_meter() -> widgets.FloatProgress:
    """The input-level meter, from :data:`LEVEL_FLOOR_DBFS` to 0 dBFS."""
    return widgets.FloatProgress(
        value=LEVEL_FLOOR_DBFS,
        min=LEVEL_FLOOR_DBFS,
        max=0.0,
        description="Input",
        bar_style="info",
        style=_WIDE,
        layout=widgets.Layout(width="280px"),
    )


def level_label() -> widgets.Label:
    """The level in words, beside the meter."""
    return widgets.Label("silent", layout=widgets.Layout(width="110px"))


def status_line(message: str) -> widgets.HTML:
    """What the panel is doing, starting with ``message``."""
    return widgets.HTML(_muted(message), layout=widgets.Layout(width="360px"))


def result_area() -> widgets.HTML:
    """The answer to the last recording."""
    return widgets.HTML(
        _result_box(_muted("No recording yet.")),
        layout=widgets.Layout(width="100%"),
    )


def truth_dropdown(songs: list[str]) -> widgets.Dropdown:
    """The song really played: one of ``songs``, or ``""`` for music not in the database."""
    return widgets.Dropdown(
        options=[("(not in the database)", _NOT_IN_DATABASE), *[(n, n) for n in songs]],
        value=_NOT_IN_DATABASE,
        description="True song",
        style=_WIDE,
        layout=widgets.Layout(width="320px"),
    )


def mark_right_button() -> widgets.Button:
    """The *right* button, disabled until there is an answer."""
    return widgets.Button(
        description="right",
        button_style="success",
        icon="check",
        disabled=True,
        tooltip="the answer names the song played (or rightly says no match)",
        layout=widgets.Layout(width="90px"),
    )


def mark_wrong_button() -> widgets.Button:
    """The *wrong* button, disabled until there is an answer."""
    return widgets.Button(
        description="wrong",
        button_style="danger",
        icon="times",
        disabled=True,
        tooltip="the answer is wrong: the true song is the one chosen on the left",
        layout=widgets.Layout(width="90px"),
    )


def trials_table() -> widgets.HTML:
    """The latest trials."""
    return widgets.HTML(layout=widgets.Layout(width="460px"))


def accuracy_image() -> widgets.Image:
    """The accuracy-versus-seconds plot, as PNG."""
    return widgets.Image(format="png", layout=widgets.Layout(width="504px"))


def panel_heading(n_songs: int, database: object, trials_db: str) -> widgets.HTML:
    """The panel's heading: how many songs in which database, where trials are saved."""
    return widgets.HTML(
        "<h3 style='margin:0 0 4px 0'>Live microphone trials</h3>"
        + _muted(f"{n_songs} songs in {database}; trials saved to {trials_db}")
    )


def arrange_panel(
    heading: widgets.Widget,
    *,
    recording: Sequence[widgets.Widget],
    meter: Sequence[widgets.Widget],
    result: widgets.Widget,
    marking: Sequence[widgets.Widget],
    history: Sequence[widgets.Widget],
) -> widgets.VBox:
    """The whole panel: the heading, then one row per group of widgets, in order."""
    row = widgets.Layout(align_items="center", margin="2px 0")
    return widgets.VBox(
        [
            heading,
            widgets.HBox(list(recording), layout=row),
            widgets.HBox(list(meter), layout=row),
            result,
            widgets.HBox(list(marking), layout=row),
            widgets.HBox(
                list(history),
                layout=widgets.Layout(align_items="flex-start", margin="6px 0"),
            ),
        ],
        layout=widgets.Layout(
            border="1px solid #d0d7de", padding="10px", width="1000px", max_width="100%"
        ),
    )
