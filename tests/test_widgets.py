"""The live-trials panel, driven from Python with the virtual microphone."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pytest
from conftest import SONG_RATE, UNSEEN_SEEDS

from dejavu_lab import Dejavu
from dejavu_lab.exceptions import MicrophoneError, ParameterError
from dejavu_lab.live.microphone import INSTALL_HINT
from dejavu_lab.studies.synth import synth_song

pytest.importorskip("ipywidgets", reason="the panel needs the notebooks extra (ipywidgets)")
from dejavu_lab.live.widgets import TRIAL_COLUMNS, TrialLog, TrialPanel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pulse import VirtualMicrophone, pulseaudio_available

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def virtual_mic() -> Iterator[VirtualMicrophone]:
    ok, reason = pulseaudio_available()
    if not ok:
        pytest.skip(reason)
    if importlib.util.find_spec("pyaudio") is None:
        pytest.skip(INSTALL_HINT)
    with VirtualMicrophone() as mic:
        yield mic


def test_panel_listens_marks_and_persists_trials(
    fingerprinted: Dejavu,
    song_samples: dict[str, np.ndarray],
    virtual_mic: VirtualMicrophone,
    tmp_path: Path,
) -> None:
    trials_db = tmp_path / "trials.duckdb"
    panel = TrialPanel(fingerprinted, trials_db=trials_db)
    assert panel.trials().empty and list(panel.trials().columns) == list(TRIAL_COLUMNS)
    # The system default first, then every input device; no song chosen as the truth.
    assert panel.selected_device is None and panel.device.label == "system default"
    assert len(panel.device.options) >= 2
    assert panel.selected_truth is None and panel.truth.label == "(not in the database)"
    assert "synth_005" in [label for label, _ in panel.truth.options]
    assert panel.mark_right.disabled and panel.mark_wrong.disabled
    first_plot, plots_drawn = bytes(panel.plot.value), panel.plot_updates
    assert first_plot.startswith(b"\x89PNG")
    levels: list[float] = []
    panel.level.observe(lambda change: levels.append(change["new"]), names="value")

    panel.seconds.value = 3
    virtual_mic.play(synth_song(5, 30.0, SONG_RATE)[7 * SONG_RATE :], SONG_RATE)
    try:
        panel.listen_button.click()  # records in a background thread
        assert panel.busy and panel.listen_button.disabled
        assert panel.wait(timeout=30), "listening did not finish"
    finally:
        virtual_mic.stop_playing()

    recognition = panel.last_recognition
    assert recognition is not None and recognition.song_name == "synth_005"
    assert "synth_005" in panel.result.value and "confidence" in panel.result.value
    assert "offset" in panel.result.value and " ms" in panel.result.value
    assert recognition.query_seconds == pytest.approx(3.0)
    assert recognition.offset_seconds is not None and 7.0 <= recognition.offset_seconds <= 8.0
    assert not panel.listen_button.disabled
    # The meter moved with the music (about -20 dBFS), once a 0.1 s block.
    assert len(levels) >= 25 and max(levels) > -40.0
    assert panel.level_label.value.startswith("peak ")
    assert not panel.mark_right.disabled

    panel.mark_right.click()
    table = panel.trials()
    assert list(table.columns) == list(TRIAL_COLUMNS) and len(table) == 1
    row = table.iloc[0]
    assert row["seconds"] == 3.0
    assert row["predicted"] == "synth_005" and row["truth"] == "synth_005"
    assert bool(row["correct"]) is True
    assert row["confidence"] == pytest.approx(recognition.confidence)
    assert row["match_time_s"] == pytest.approx(recognition.match_time_s)
    assert isinstance(row["device"], str) and row["device"]
    assert "synth_005" in panel.table.value and "1/1 right" in panel.table.value
    assert panel.plot_updates == plots_drawn + 1 and bytes(panel.plot.value) != first_plot
    assert panel.mark_right.disabled  # one verdict per recording
    with pytest.raises(ParameterError, match="Listen first"):
        panel.mark(True)

    # A never-fingerprinted song, marked wrong with the true song picked.
    panel.seconds.value = 2
    virtual_mic.play(synth_song(UNSEEN_SEEDS[2], 10.0, SONG_RATE), SONG_RATE)
    try:
        unseen = panel.listen()  # the synchronous variant
    finally:
        virtual_mic.stop_playing()
    assert not unseen.is_match and "no match" in panel.result.value
    panel.truth.value = "synth_001"
    panel.mark_wrong.click()
    table = panel.trials()
    assert len(table) == 2
    assert table.iloc[1]["predicted"] is None or np.isnan(table.iloc[1]["predicted"])
    assert table.iloc[1]["truth"] == "synth_001" and not bool(table.iloc[1]["correct"])
    assert "1/2 right" in panel.table.value and panel.plot_updates == plots_drawn + 2

    # Persisted: another connection, and a new panel on the same file, see both rows.
    with duckdb.connect(str(trials_db), read_only=True) as con:
        assert con.execute("SELECT count(*), sum(correct::INT) FROM trials").fetchone() == (2, 1)
    again = TrialPanel(fingerprinted, trials_db=trials_db)
    assert again.trials()[["seconds", "correct"]].to_dict("list") == {
        "seconds": [3.0, 2.0],
        "correct": [True, False],
    }
    assert "1/2 right" in again.table.value


def test_panel_shows_microphone_errors(
    fingerprinted: Dejavu, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = TrialPanel(fingerprinted, trials_db=":memory:", seconds=1)
    monkeypatch.setitem(sys.modules, "pyaudio", None)  # as if PyAudio were not installed
    with pytest.raises(MicrophoneError):
        panel.listen()
    assert "error" in panel.status.value and "dejavu-lab[mic]" in panel.status.value
    panel.listen_button.click()
    assert panel.wait(timeout=10)
    assert not panel.listen_button.disabled and "error" in panel.status.value
    assert panel.trials().empty


def test_panel_and_log_refuse_bad_values(fingerprinted: Dejavu) -> None:
    with pytest.raises(ParameterError, match="seconds"):
        TrialPanel(fingerprinted, trials_db=":memory:", seconds=11)
    with pytest.raises(ParameterError, match="chunk_s"):
        TrialPanel(fingerprinted, trials_db=":memory:", chunk_s=0.0)
    log = TrialLog(":memory:")
    assert list(log.table().columns) == list(TRIAL_COLUMNS)
