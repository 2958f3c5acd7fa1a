"""The peak probe (an exploration): contrast, scores per offset, and the planted song and offset."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SONG_RATE, UNSEEN_SEEDS, add_noise

from dejavu_lab.core.presets import get_preset
from dejavu_lab.core.probe import PEAKNESS, contrast_map, probe_check, probe_scores
from dejavu_lab.core.verify import PeakSet
from dejavu_lab.studies.synth import synth_song


def test_contrast_of_a_flat_spectrogram_is_zero_and_a_bright_cell_stands_out() -> None:
    values = np.full((40, 30), -20.0, dtype=np.float32)
    assert np.allclose(contrast_map(values), 0.0)
    values[20, 10] = 10.0
    contrast = contrast_map(values, time_reach=1, freq_reach=1, level_bins=8)
    # Within +-1 frame and +-1 bin of the bright cell the neighbourhood maximum is 10 dB,
    # the frame's local level (17 bins, one of them bright) 30 / 17 dB above -20 dB.
    assert contrast[20, 10] == pytest.approx(30.0 - 30.0 / 17, abs=1e-4)
    assert contrast[21, 11] == pytest.approx(30.0, abs=1e-4)  # the next frame's level is flat
    assert contrast[23, 10] < 0 and contrast[20, 13] == pytest.approx(0.0)


def test_contrast_levels_and_row_normalisation(rng: np.random.Generator) -> None:
    values = rng.normal(size=(40, 30)).astype(np.float32)
    values[20, 10] = 10.0
    # Against the neighbourhood maximum: 0 where the cell is that maximum, below elsewhere.
    near_max = contrast_map(values, time_reach=0, freq_reach=0, level="neighbourhood-max")
    assert near_max[20, 10] == 0.0 and near_max[21, 10] < -5 and near_max.max() == 0.0
    # Against the same bin over +-5 frames: the bright cell rises 10 * 10 / 11 dB above it.
    onset = contrast_map(values, time_reach=0, freq_reach=0, level="bin-mean", level_frames=5)
    row_mean = (values[20, 5:16].sum()) / 11
    assert onset[20, 10] == pytest.approx(10.0 - row_mean, abs=1e-4)
    rows = contrast_map(values, normalise_rows=True)
    assert np.allclose(rows.mean(axis=1), 0.0, atol=1e-5)
    assert np.allclose(rows.std(axis=1), 1.0, atol=1e-4)
    flat = contrast_map(np.zeros((5, 8)), normalise_rows=True)
    assert np.all(flat == 0.0)  # a constant row stays 0, not NaN


def test_contrast_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="2-D"):
        contrast_map(np.zeros(5))
    with pytest.raises(ValueError, match="level_bins"):
        contrast_map(np.zeros((4, 4)), level_bins=0)
    with pytest.raises(ValueError, match="level must be one of"):
        contrast_map(np.zeros((4, 4)), level="median")


@pytest.mark.parametrize("seed", range(4))
def test_probe_scores_equal_a_loop_over_offsets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    contrast = rng.normal(size=(30, 20)).astype(np.float32)
    reference = PeakSet.from_arrays(rng.integers(0, 120, 150), rng.integers(0, 40, 150))
    offsets = np.arange(-10, 110)
    sums, counts = probe_scores(contrast, reference, offsets, first_bin=5)
    for i, offset in enumerate(offsets):
        under = (reference.frame >= offset) & (reference.frame < offset + 20)
        under &= (reference.bin >= 5) & (reference.bin < 35)
        want = contrast[reference.bin[under] - 5, reference.frame[under] - offset]
        assert counts[i] == under.sum()
        assert sums[i] == pytest.approx(float(want.sum()), abs=1e-3)


def _song_and_clip(
    seed: int, start_s: float, seconds: float, snr_db: float, rng: np.random.Generator
) -> tuple[PeakSet, np.ndarray, object]:
    pipeline = get_preset("default")
    rate = pipeline.spectrogram.sample_rate
    song = synth_song(seed, 30.0, SONG_RATE)
    from dejavu_lab.core.audio import resample

    song = resample(song, SONG_RATE, rate)
    peaks = pipeline.find_peaks(song)
    reference = PeakSet.from_arrays(peaks.frame, peaks.bin)
    hop = pipeline.spectrogram.hop_length
    start = round(start_s * rate / hop) * hop
    clip = add_noise(song[start : start + round(seconds * rate)], snr_db, rng)
    return reference, clip, pipeline


#: The contrasts measured in experiments/peak_probe.py: the first, and the one folded into ``r``.
CONTRASTS = [{}, PEAKNESS]


@pytest.mark.parametrize("kwargs", CONTRASTS)
def test_the_probe_finds_the_planted_offset_in_a_noisy_clip(
    rng: np.random.Generator, kwargs: dict
) -> None:
    # 10 dB SNR: at 0 dB the row-normalised contrast gives only z 2.5 on these songs of
    # sustained tones (a held tone's row is flattened by the normalisation), the plain one 5.9.
    reference, clip, pipeline = _song_and_clip(3, 11.0, 1.5, 10.0, rng)
    spectrogram = pipeline.spectrogram(clip)  # type: ignore[attr-defined]
    contrast = contrast_map(spectrogram.values_db, **kwargs)
    frame_s = spectrogram.frame_seconds
    planted = round(11.0 / frame_s)
    # The candidate's offset is 2 frames off: the search finds the planted one.
    check = probe_check(
        contrast, reference, planted + 2, first_bin=spectrogram.first_bin, search_frames=2
    )
    assert check.offset_frames == planted
    assert check.z > 4
    # The same clip against other songs' peaks at the same offset: no excess.
    for other in UNSEEN_SEEDS[:3]:
        wrong, _, _ = _song_and_clip(other, 11.0, 1.5, 10.0, rng)
        found = probe_check(contrast, wrong, planted, first_bin=spectrogram.first_bin)
        assert found.z < check.z / 2


def test_too_few_peaks_give_no_evidence() -> None:
    contrast = np.ones((10, 10), dtype=np.float32)
    check = probe_check(contrast, PeakSet.from_arrays(np.array([500]), np.array([3])), 0)
    assert check.z == 0.0 and check.reference_peaks == 0
