"""The robustness study on a synthetic corpus, and the Wilson interval it reports."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dejavu_lab.core.presets import get_preset
from dejavu_lab.exceptions import ParameterError
from dejavu_lab.studies import build_database, plots, synthetic_corpus
from dejavu_lab.studies.channel import Mp3, PitchShift, Speed, TimeStretch
from dejavu_lab.studies.intervals import wilson_interval
from dejavu_lab.studies.robustness import (
    ROBUSTNESS_COLUMNS,
    false_match_summary,
    robustness,
    robustness_grid,
)


def test_wilson_interval_matches_the_closed_form_and_covers() -> None:
    low, high = wilson_interval([0, 5, 20], [20, 20, 20])
    # Closed form at k = 0: upper bound z^2 / (n + z^2).
    z = stats.norm.ppf(0.975)
    assert low[0] == 0.0 and high[0] == pytest.approx(z**2 / (20 + z**2))
    assert low[1] < 0.25 < high[1] and high[2] == pytest.approx(1.0) and low[2] < 1.0
    assert low[1] == pytest.approx(0.1119, abs=1e-4) and high[1] == pytest.approx(0.4687, abs=1e-4)
    # Coverage: across many binomial draws at p = 0.9, n = 45, about 95 % of intervals hold p.
    rng = np.random.default_rng(0)
    k = rng.binomial(45, 0.9, size=20000)
    lo, hi = wilson_interval(k, 45)
    assert np.mean((lo <= 0.9) & (hi >= 0.9)) == pytest.approx(0.95, abs=0.02)
    assert np.all(np.isnan(wilson_interval(0, 0)))
    with pytest.raises(ParameterError, match="confidence"):
        wilson_interval(1, 2, confidence=1.5)
    with pytest.raises(ParameterError, match="between"):
        wilson_interval(3, 2)


def test_grid_builds_one_named_channel_per_point() -> None:
    grid = robustness_grid(
        snr_db=(0.0,), speeds=(0.97, 1.0), semitones=(1.0,), stretches=(1.05,), bitrates_kbps=(64,)
    )
    assert [(p.axis, p.value) for p in grid] == [
        ("snr_db", 0.0),
        ("speed", 0.97),
        ("speed", 1.0),
        ("pitch_semitones", 1.0),
        ("stretch", 1.05),
        ("mp3_kbps", 64.0),
    ]
    assert grid[1].channel.name == "speed=0.97" and grid[1].channel.stages[0] == Speed(factor=0.97)
    assert grid[3].channel.stages[0] == PitchShift(semitones=1.0)
    assert grid[4].channel.stages[0] == TimeStretch(rate=1.05)
    assert grid[5].channel.stages[0] == Mp3(bitrate_kbps=64)
    with pytest.raises(ParameterError, match="empty"):
        robustness_grid(snr_db=(), speeds=(), semitones=(), stretches=(), bitrates_kbps=())


@pytest.mark.slow
def test_robustness_rows_for_every_preset_and_point() -> None:
    corpus = synthetic_corpus(5, 2, duration_s=30.0)
    databases = {
        preset: build_database(get_preset(preset), corpus)[0] for preset in ("default", "hash-only")
    }
    grid = robustness_grid(
        snr_db=(20.0,), speeds=(1.0, 1.1), semitones=(), stretches=(1.0,), bitrates_kbps=()
    )
    table = robustness(
        databases, corpus, grid=grid, seconds=5.0, n_per_unseen=2, seed=3, progress=False
    )
    assert tuple(table.columns) == ROBUSTNESS_COLUMNS
    assert table.preset.tolist() == ["default"] * 4 + ["hash-only"] * 4
    assert table.condition.tolist()[:4] == ["snr_db=20", "speed=1", "speed=1.1", "stretch=1"]
    assert (table.total == 5).all() and (table.unseen_total == 4).all()
    assert (table.accuracy_low_pct <= table.accuracy_pct).all()
    assert (table.accuracy_pct <= table.accuracy_high_pct).all()
    default = table[table.preset == "default"].set_index("condition")
    # Undegraded apart from a quiet microphone, every synthetic song is named at its offset.
    assert default.loc["speed=1", "accuracy_pct"] == 100.0
    assert default.loc["speed=1", "offset_correct_pct"] == 100.0
    assert (table.false_matches == 0).all()
    pooled = false_match_summary(table)
    assert pooled.set_index(["preset", "axis"]).loc[("default", "speed"), "unseen_total"] == 8
    ax = plots.robustness(table, "speed")
    assert [line.get_label() for line in ax.lines] == ["default", "hash-only"]
    ax = plots.robustness_false_matches(pooled)
    # One cell per preset and axis, reading its count of unseen clips.
    cells = [text.get_text() for text in ax.texts]
    assert len(cells) == 2 * 3
    assert all(cell.startswith("0/") and cell.endswith("0.0 %") for cell in cells)
    with pytest.raises(ValueError, match="pitch_semitones"):
        plots.robustness(table, "pitch_semitones")
    for djv in databases.values():
        djv.close()


def test_accuracy_plot_shades_the_wilson_interval() -> None:
    table = pd.DataFrame(
        {
            "condition": "clean",
            "seconds": [1.0, 2.0],
            "accuracy_pct": [80.0, 100.0],
            "accuracy_low_pct": [60.0, 90.0],
            "accuracy_high_pct": [90.0, 100.0],
        }
    )
    ax = plots.accuracy_vs_seconds(table, reference=False)
    (band,) = ax.collections
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(60.0) and ys.max() == pytest.approx(100.0)
    assert not plots.accuracy_vs_seconds(table, reference=False, intervals=False).collections
