"""Plot functions: each draws on the axes it is given, returns it, and labels units."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from collections.abc import Callable, Iterator

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, QuadMesh

from dejavu_lab.core.hashing import peak_pairs
from dejavu_lab.core.pipeline import Analysis
from dejavu_lab.core.presets import get_preset
from dejavu_lab.studies import plots
from dejavu_lab.studies.robustness import false_match_summary
from dejavu_lab.studies.synth import synth_song

EQUATION = "1.364757 * record_time - 0.034373"


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def analysis() -> Analysis:
    pipeline = get_preset("default")
    samples = synth_song(7, 4.0, pipeline.spectrogram.sample_rate)
    return pipeline.analyse(samples)


@pytest.fixture(scope="module")
def pairs(analysis: Analysis) -> tuple[np.ndarray, np.ndarray]:
    hasher = get_preset("default").hasher
    return peak_pairs(
        analysis.peaks.frame,
        analysis.peaks.bin,
        fan_value=hasher.fan_value,
        min_dt=hasher.min_dt,
        max_dt=hasher.max_dt,
        max_df=hasher.max_df,
    )


@pytest.fixture
def results() -> pd.DataFrame:
    rows = []
    for condition, accuracy in (("clean", [80.0, 100.0, 100.0]), ("mic", [40.0, 80.0, 95.0])):
        for seconds, pct in zip((1.0, 2.0, 3.0), accuracy, strict=True):
            rows.append(
                {
                    "condition": condition,
                    "seconds": seconds,
                    "correct": round(pct / 5),
                    "total": 20,
                    "accuracy_pct": pct,
                    "offset_correct_pct": pct - 5,
                    "false_match_pct": 100 - pct if condition == "mic" else 0.0,
                    "median_confidence": 3.0 + seconds,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture
def timings() -> pd.DataFrame:
    record = np.repeat([1.0, 2.0, 5.0, 10.0], 3)
    return pd.DataFrame({"record_time_s": record, "match_time_s": 0.3 * record + 0.01})


@pytest.fixture
def storage() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": ["mp3", "wav", "fingerprints (default)", "fingerprints (dejavu)"],
            "megabytes": [339.0, 1885.0, 0.85, 377.0],
        }
    )


@pytest.fixture
def sweep() -> pd.DataFrame:
    rows = []
    for fan in (5, 10, 15):
        for amp in (-20.0, 0.0):
            rows.append(
                {
                    "hasher__fan_value": fan,
                    "peaks__amp_min_db": amp,
                    "accuracy_pct": 50.0 + fan * 2 - amp,
                    "accuracy_low_pct": 40.0 + fan * 2 - amp,
                    "accuracy_high_pct": 60.0 + fan * 2 - amp,
                    "bytes_per_track": fan * 1000.0 - amp * 10,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture
def trials() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "seconds": [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0],
            "correct": [True, False, False, True, True, True, False],
        }
    )


def has_unit(label: str) -> bool:
    return "(" in label and label.endswith(")")


def legend_texts(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None
    return [text.get_text() for text in legend.get_texts()]


def colorbar_label(ax: Axes) -> str:
    """The label of the colorbar drawn next to ``ax`` (the figure's other axes)."""
    (colorbar_ax,) = [other for other in ax.figure.axes if other is not ax]
    return colorbar_ax.get_ylabel()


# -- every function: given axes are used and returned; None makes a figure ------

PLOT_NAMES = [
    "spectrogram_peaks",
    "hash_pairs",
    "offset_histogram",
    "accuracy_vs_seconds",
    "false_matches",
    "matching_time",
    "storage_bars",
    "sweep_heatmap",
    "sweep_lines",
    "pareto",
    "peak_rates",
    "trials_accuracy",
    "robustness",
    "robustness_false_matches",
    "reliability",
    "operating_characteristic",
]
#: Axes holding categories (names of kinds), which have no unit.
CATEGORY_AXES = {
    ("storage_bars", "x"),
    ("robustness_false_matches", "x"),
    ("robustness_false_matches", "y"),
}
RELIABILITY = pd.DataFrame(
    {
        "alpha": [0.001, 0.01, 0.1, 0.001, 0.01, 0.1],
        "observed_rate": [0.0, 0.02, 0.09, 0.002, 0.01, 0.12],
        "n": 500,
        "seed": [0, 0, 0, 1, 1, 1],
    }
)
OPERATING = pd.DataFrame(
    {
        "preset": ["default"] * 3 + ["dejavu"] * 3,
        "threshold": [1.0, 3.0, 5.0, 0.0, 10.0, 20.0],
        "accuracy_pct": [99.0, 95.0, 80.0, 100.0, 90.0, 60.0],
        "false_match_pct": [5.0, 0.1, 0.0, 100.0, 20.0, 1.0],
    }
)
ROBUSTNESS = pd.DataFrame(
    {
        "preset": ["default", "default", "dejavu", "dejavu"],
        "axis": "speed",
        "value": [1.0, 1.03, 1.0, 1.03],
        "accuracy_pct": [100.0, 20.0, 90.0, 0.0],
        "accuracy_low_pct": [92.0, 11.0, 79.0, 0.0],
        "accuracy_high_pct": [100.0, 34.0, 95.0, 8.0],
        "false_matches": [0, 1, 24, 24],
        "unseen_total": 24,
        "false_match_pct": [0.0, 100 / 24, 100.0, 100.0],
    }
)


PEAK_RATES = pd.DataFrame(
    {
        "peaks__amp_min_db": [-20.0, 20.0, -20.0, 20.0],
        "peaks__peaks_per_second": [np.nan, np.nan, 80.0, 80.0],
        "peaks_per_second": [300.0, 60.0, 80.0, 55.0],
    }
)


@pytest.fixture
def calls(
    analysis: Analysis,
    pairs: tuple[np.ndarray, np.ndarray],
    results: pd.DataFrame,
    timings: pd.DataFrame,
    storage: pd.DataFrame,
    sweep: pd.DataFrame,
    trials: pd.DataFrame,
) -> dict[str, Callable[[Axes | None], Axes]]:
    spec, peaks = analysis.spectrogram, analysis.peaks
    diff = np.array([0.5, 1.0, 1.5])
    return {
        "spectrogram_peaks": lambda ax: plots.spectrogram_peaks(spec, peaks, ax=ax),
        "hash_pairs": lambda ax: plots.hash_pairs(
            spec, peaks, *pairs, ax=ax, time_range_s=(1.0, 2.0)
        ),
        "offset_histogram": lambda ax: plots.offset_histogram(
            diff, np.array([1, 9, 2]), ax=ax, true_offset_s=1.0
        ),
        "accuracy_vs_seconds": lambda ax: plots.accuracy_vs_seconds(results, ax=ax),
        "false_matches": lambda ax: plots.false_matches(results, ax=ax),
        "matching_time": lambda ax: plots.matching_time(timings, 0.3, 0.01, ax=ax),
        "storage_bars": lambda ax: plots.storage_bars(storage, ax=ax),
        "sweep_heatmap": lambda ax: plots.sweep_heatmap(sweep, ax=ax),
        "sweep_lines": lambda ax: plots.sweep_lines(sweep, ax=ax),
        "pareto": lambda ax: plots.pareto(sweep, ax=ax),
        "peak_rates": lambda ax: plots.peak_rates(PEAK_RATES, ax=ax),
        "trials_accuracy": lambda ax: plots.trials_accuracy(trials, ax=ax),
        "robustness": lambda ax: plots.robustness(ROBUSTNESS, "speed", ax=ax),
        "reliability": lambda ax: plots.reliability(RELIABILITY, ax=ax),
        "operating_characteristic": lambda ax: plots.operating_characteristic(
            OPERATING, marker=1e-3, ax=ax
        ),
        "robustness_false_matches": lambda ax: plots.robustness_false_matches(
            false_match_summary(ROBUSTNESS), ax=ax
        ),
    }


def test_every_public_plot_is_covered() -> None:
    public = {name for name in plots.__all__ if callable(getattr(plots, name))}
    helpers = {"axis_label", "line_equation", "pareto_front_mask"}
    assert public - helpers == set(PLOT_NAMES)


@pytest.mark.parametrize("name", PLOT_NAMES)
def test_draws_on_the_given_axes_and_labels_units(
    name: str, calls: dict[str, Callable[[Axes | None], Axes]]
) -> None:
    figure, ax = plt.subplots()
    assert calls[name](ax) is ax
    assert ax.figure is figure
    artists = [*ax.lines, *ax.collections, *ax.images, *ax.patches, *ax.texts]
    assert artists, f"{name} drew nothing"
    labels = {"x": ax.get_xlabel(), "y": ax.get_ylabel()}
    for axis, label in labels.items():
        if (name, axis) in CATEGORY_AXES:
            continue
        assert has_unit(label), f"{name}: {axis} label {label!r} has no unit"


@pytest.mark.parametrize("name", PLOT_NAMES)
def test_creates_a_figure_without_axes(
    name: str, calls: dict[str, Callable[[Axes | None], Axes]]
) -> None:
    before = set(plt.get_fignums())
    ax = calls[name](None)
    assert isinstance(ax, Axes)
    assert set(plt.get_fignums()) - before == {ax.figure.number}  # type: ignore[union-attr]


# -- the write-up's figures -----------------------------------------------------


def test_spectrogram_peaks_image_colorbar_and_markers(analysis: Analysis) -> None:
    spec, peaks = analysis.spectrogram, analysis.peaks
    ax = plots.spectrogram_peaks(spec, peaks)
    # librosa.display.specshow draws a QuadMesh with librosa's time and Hz axes.
    image, markers = ax.collections
    assert isinstance(image, QuadMesh)
    assert image.get_array().shape == spec.values_db.shape  # type: ignore[union-attr]
    assert "dB" in colorbar_label(ax)
    assert len(markers.get_offsets()) == len(peaks)  # type: ignore[arg-type]
    assert legend_texts(ax) == [f"peaks ({len(peaks)})"]


def test_spectrogram_peaks_crops_to_the_ranges(analysis: Analysis) -> None:
    spec, peaks = analysis.spectrogram, analysis.peaks
    ax = plots.spectrogram_peaks(
        spec, peaks, time_range_s=(1.0, 2.0), max_frequency_hz=2000.0, log_frequency=True
    )
    assert ax.get_yscale() == "symlog"  # librosa's log-Hz axis
    assert any(isinstance(artist, QuadMesh) for artist in ax.collections)
    left, right = ax.get_xlim()
    assert 1.0 - spec.frame_seconds <= left and right <= 2.0 + spec.frame_seconds
    assert ax.get_ylim()[1] <= 2000.0 + spec.bin_hz
    times = peaks.frame * peaks.frame_seconds
    freqs = peaks.bin * spec.bin_hz
    inside = (times >= 1.0) & (times <= 2.0) & (freqs <= 2000.0)
    assert legend_texts(ax) == [f"peaks ({int(inside.sum())})"]


def test_hash_pairs_draws_each_pair_from_anchor_to_target(
    analysis: Analysis, pairs: tuple[np.ndarray, np.ndarray]
) -> None:
    spec, peaks = analysis.spectrogram, analysis.peaks
    anchors, targets = pairs
    window = (1.0, 2.0)
    ax = plots.hash_pairs(spec, peaks, anchors, targets, time_range_s=window, max_pairs=25)
    (lines,) = [artist for artist in ax.collections if isinstance(artist, LineCollection)]
    segments = lines.get_segments()
    anchor_times = peaks.frame[anchors] * peaks.frame_seconds
    in_window = int(((anchor_times >= window[0]) & (anchor_times <= window[1])).sum())
    assert len(segments) == min(25, in_window) > 0
    starts = {(round(float(s[0, 0]), 6), round(float(s[0, 1]), 3)) for s in segments}
    ends = {(round(float(s[1, 0]), 6), round(float(s[1, 1]), 3)) for s in segments}
    peak_points = {
        (round(float(f * peaks.frame_seconds), 6), round(float(b * spec.bin_hz), 3))
        for f, b in zip(peaks.frame, peaks.bin, strict=True)
    }
    assert starts <= peak_points and ends <= peak_points
    assert all(window[0] <= time <= window[1] for time, _ in starts)
    # The window stays the zoom even though some targets lie beyond it.
    assert ax.get_xlim()[1] <= window[1] + spec.frame_seconds
    assert "anchors" in legend_texts(ax)
    assert "dB" in colorbar_label(ax)


def test_hash_pairs_rejects_mismatched_indices(analysis: Analysis) -> None:
    with pytest.raises(ValueError, match="one shape"):
        plots.hash_pairs(analysis.spectrogram, analysis.peaks, np.arange(3), np.arange(2))


def test_offset_histogram_two_songs_on_one_axes() -> None:
    ax = plots.offset_histogram(
        np.array([-1.0, 2.0, 3.0]), np.array([1, 40, 2]), label="right song", true_offset_s=2.0
    )
    plots.offset_histogram(
        np.array([0.5, 4.0]), np.array([2, 1]), ax=ax, label="wrong song", log_y=True
    )
    assert legend_texts(ax) == ["right song", "true offset (2.00 s)", "wrong song"]
    assert ax.get_yscale() == "log"
    right, wrong = ax.lines[0], ax.lines[2]
    assert right.get_color() != wrong.get_color()
    np.testing.assert_array_equal(right.get_ydata(), [1, 40, 2])


def test_offset_histogram_rejects_mismatched_arrays() -> None:
    with pytest.raises(ValueError, match="one shape"):
        plots.offset_histogram(np.zeros(3), np.zeros(2))


def test_published_accuracy_matches_the_write_up() -> None:
    published = plots.DEJAVU_PUBLISHED_ACCURACY
    assert published["seconds"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert published["accuracy_pct"].tolist() == [60.0, 95.6, 97.8, 97.8, 100.0, 100.0]
    recomputed = (100 * published["correct"] / published["total"]).round(1)
    assert recomputed.tolist() == published["accuracy_pct"].tolist()


def test_accuracy_vs_seconds_lines_and_reference(results: pd.DataFrame) -> None:
    ax = plots.accuracy_vs_seconds(results)
    labels = legend_texts(ax)
    assert labels == ["clean (n = 20)", "mic (n = 20)", plots.PUBLISHED_LABEL]
    reference = ax.lines[2]
    assert reference.get_linestyle() == "--"
    np.testing.assert_array_equal(reference.get_ydata(), [60.0, 95.6, 97.8, 97.8, 100.0, 100.0])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [40.0, 80.0, 95.0])
    assert ax.get_ylim() == (0.0, 100.0)
    assert ax.get_xlabel() == "seconds listened (s)"
    assert ax.get_ylabel() == "accuracy (%)"


def test_accuracy_vs_seconds_other_metric_has_no_reference(results: pd.DataFrame) -> None:
    ax = plots.accuracy_vs_seconds(results, metric="median_confidence", reference=True)
    assert plots.PUBLISHED_LABEL not in legend_texts(ax)
    assert "confidence" in ax.get_ylabel()
    ax = plots.accuracy_vs_seconds(results, reference=False)
    assert len(ax.lines) == 2


def test_accuracy_vs_seconds_names_missing_columns(results: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="condition"):
        plots.accuracy_vs_seconds(results.drop(columns="condition"))


def test_false_matches_grouped_bars(results: pd.DataFrame) -> None:
    ax = plots.false_matches(results)
    assert len(ax.patches) == 2 * 3
    assert legend_texts(ax) == ["clean", "mic"]
    assert [text.get_text() for text in ax.texts] == ["0", "0", "0", "60.0", "20.0", "5.0"]
    # A missing (condition, seconds) pair gets neither height nor text.
    ax = plots.false_matches(results.iloc[1:])
    assert [text.get_text() for text in ax.texts][:3] == ["", "0", "0"]


def test_line_equation_formats_like_the_write_up() -> None:
    assert plots.line_equation(1.364757, -0.034373) == EQUATION
    assert plots.line_equation(0.3, 0.05) == "0.300000 * record_time + 0.050000"
    assert plots.line_equation(2.0, 0.0, variable="x") == "2.000000 * x + 0.000000"


def test_matching_time_legend_has_the_equation(timings: pd.DataFrame) -> None:
    ax = plots.matching_time(timings, 1.364757, -0.034373, reference=True)
    labels = legend_texts(ax)
    assert any(EQUATION in label and "least squares" in label for label in labels)
    assert any(label.startswith("Dejavu write-up") and EQUATION in label for label in labels)
    (points,) = ax.collections
    assert len(points.get_offsets()) == len(timings)  # type: ignore[arg-type]
    fitted = ax.lines[0]
    line_x = np.asarray(fitted.get_xdata(), dtype=float)
    line_y = np.asarray(fitted.get_ydata(), dtype=float)
    np.testing.assert_allclose(line_y, 1.364757 * line_x - 0.034373)


def test_storage_bars_values_on_bars(storage: pd.DataFrame) -> None:
    ax = plots.storage_bars(storage)
    assert len(ax.patches) == len(storage)
    assert ax.get_ylabel() == "storage (MB)"
    texts = [text.get_text() for text in ax.texts]
    assert texts == ["339 MB", "1,885 MB", "0.85 MB", "377 MB"]
    ax = plots.storage_bars(storage, log_scale=True, horizontal=True)
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "storage (MB)"


def test_sweep_heatmap_cells_and_colorbar(sweep: pd.DataFrame) -> None:
    ax = plots.sweep_heatmap(sweep)
    (image,) = ax.images
    assert image.get_array().shape == (2, 3)  # type: ignore[union-attr]
    assert len(ax.texts) == 6
    assert "90" in [text.get_text() for text in ax.texts]  # fan 15, amp -20: 50 + 30 + 20
    assert colorbar_label(ax) == "accuracy (%)"
    assert ax.get_ylabel() == "peaks__amp_min_db (dB)"
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["5", "10", "15"]


def test_sweep_heatmap_leaves_missing_cells_blank(sweep: pd.DataFrame) -> None:
    ax = plots.sweep_heatmap(sweep.iloc[1:], fmt=".1f")
    assert len(ax.texts) == 5


def test_sweep_heatmap_rejects_duplicate_cells(sweep: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="several rows"):
        plots.sweep_heatmap(pd.concat([sweep, sweep.iloc[:1]]))


def test_pareto_front_mask_hand_example() -> None:
    #                 A     B     C     D     E     F     G(=B)  H
    x = np.array([1.0, 2.0, 3.0, 2.0, 4.0, 1.0, 2.0, np.nan])
    y = np.array([50.0, 80.0, 90.0, 70.0, 85.0, 40.0, 80.0, 99.0])
    mask = plots.pareto_front_mask(x, y)
    assert mask.tolist() == [True, True, True, False, False, False, True, False]
    assert plots.pareto_front_mask(np.zeros(0), np.zeros(0)).tolist() == []
    with pytest.raises(ValueError, match="1-D"):
        plots.pareto_front_mask(np.zeros(3), np.zeros(2))


def test_pareto_highlights_and_labels_the_front(sweep: pd.DataFrame) -> None:
    columns = ("hasher__fan_value", "peaks__amp_min_db")
    ax = plots.pareto(sweep, label_columns=columns, log_x=True)
    mask = plots.pareto_front_mask(
        sweep["bytes_per_track"].to_numpy(), sweep["accuracy_pct"].to_numpy()
    )
    assert any(label.startswith(f"Pareto front ({mask.sum()})") for label in legend_texts(ax))
    assert len(ax.texts) == mask.sum()
    assert "(5, 0)" in [text.get_text() for text in ax.texts]
    assert ax.get_xscale() == "log"
    ax = plots.pareto(sweep, front=False)
    assert len(ax.collections) == 1 and not ax.lines


def test_trials_accuracy_counts(trials: pd.DataFrame) -> None:
    ax = plots.trials_accuracy(trials, reference=False)
    (line,) = ax.lines
    np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float), [50.0, 200 / 3])
    assert [text.get_text() for text in ax.texts] == ["2/4", "2/3"]
    assert legend_texts(ax) == ["microphone trials (n = 7)"]


def test_axis_label_units() -> None:
    assert plots.axis_label("accuracy_pct") == "accuracy (%)"
    assert plots.axis_label("peaks__amp_min_db") == "peaks__amp_min_db (dB)"
    assert plots.axis_label("hasher__fan_value") == "hasher__fan_value (targets per anchor)"
    assert plots.axis_label("latency_ms") == "latency_ms (ms)"
    assert plots.axis_label("song") == "song"


def test_sweep_lines_draw_a_line_and_its_wilson_band_per_value(sweep: pd.DataFrame) -> None:
    ax = plots.sweep_lines(sweep, x="hasher__fan_value", y="accuracy_pct", hue="peaks__amp_min_db")
    assert legend_texts(ax) == ["amp_min_db = -20", "amp_min_db = 0"]
    assert len(ax.lines) == 2 and len(ax.collections) == 2  # a band under each line
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(40.0 + 10 + 20) and band.max() == pytest.approx(
        60.0 + 30 + 20
    )
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["5", "10", "15"]
    no_band = plots.sweep_lines(sweep.drop(columns=["accuracy_low_pct"]), y="accuracy_pct")
    assert not no_band.collections
    with pytest.raises(ValueError, match="several rows"):
        plots.sweep_lines(pd.concat([sweep, sweep]))


def test_sweep_columns_of_one_condition_and_length_get_a_readable_label() -> None:
    assert plots.axis_label("accuracy_pct_laptop-mic_1s") == "accuracy, laptop-mic 1 s (%)"
    assert plots.axis_label("accuracy_pct_clean_2.5s") == "accuracy, clean 2.5 s (%)"
