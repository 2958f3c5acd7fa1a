"""Spectrogram scale and peak picking: every peak is a local maximum above the threshold."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import scipy.ndimage

from dejavu_lab.core.peaks import PeakPicker, find_peaks, find_peaks_in_power
from dejavu_lab.core.spectrogram import (
    FLOOR_DB,
    LogSpectrogram,
    Spectrogram,
    frame_count,
    log_spectrogram,
    power_spectrogram,
    power_to_db,
)
from dejavu_lab.exceptions import ParameterError
from dejavu_lab.studies.synth import synth_song


def test_sine_peaks_at_its_bin_and_frames_count() -> None:
    rate, n_fft, hop = 8000, 512, 128
    t = np.arange(rate) / rate
    spec = log_spectrogram(
        np.sin(2 * np.pi * 1000 * t).astype(np.float32),
        sample_rate=rate,
        window_size=n_fft,
        hop_length=hop,
    )
    assert spec.values_db.shape == (
        n_fft // 2 + 1,
        frame_count(rate, window_size=512, hop_length=128),
    )
    assert spec.values_db.shape[1] == 1 + (rate - n_fft) // hop
    loudest = np.argmax(spec.values_db, axis=0)
    np.testing.assert_array_equal(loudest, round(1000 * n_fft / rate))
    np.testing.assert_allclose(spec.frequencies_hz()[loudest[0]], 1000.0)


def test_db_scale_matches_dejavu_int16_psd() -> None:
    """A full-scale sine's PSD peak in Dejavu's units (mlab.specgram on int16)."""
    rate, n_fft = 44100, 4096
    freq = 43 * rate / n_fft  # exactly on a bin
    t = np.arange(rate) / rate
    spec = log_spectrogram(
        np.sin(2 * np.pi * freq * t).astype(np.float32),
        sample_rate=rate,
        window_size=n_fft,
        hop_length=2048,
    )
    window = np.hanning(n_fft + 1)[:-1]
    # |X|^2 of a sine of amplitude A on a bin is (A * sum(w) / 2)^2; PSD scaling by hand:
    expected = 2 * (32768 * window.sum() / 2) ** 2 / (rate * np.sum(window**2))
    np.testing.assert_allclose(spec.values_db[43, 5], 10 * np.log10(expected), atol=0.05)


def test_band_limits_keep_absolute_bins() -> None:
    samples = synth_song(1, 3.0, 11025)
    full = log_spectrogram(samples, sample_rate=11025, window_size=1024, hop_length=256)
    band = log_spectrogram(
        samples, sample_rate=11025, window_size=1024, hop_length=256, fmin_hz=150.0, fmax_hz=5000.0
    )
    assert band.first_bin == 14
    np.testing.assert_allclose(band.values_db, full.values_db[14 : 14 + band.values_db.shape[0]])
    assert band.frequencies_hz()[-1] <= 5000.0


@pytest.mark.parametrize(
    ("neighborhood_freq", "neighborhood_time", "amp_min_db", "footprint"),
    list(itertools.product([1, 4, 12], [2, 8], [-20.0, 30.0], ["rect", "diamond"])),
)
def test_every_peak_is_a_local_maximum_above_threshold(
    neighborhood_freq: int, neighborhood_time: int, amp_min_db: float, footprint: str
) -> None:
    samples = synth_song(7, 4.0, 11025)
    spec = log_spectrogram(samples, sample_rate=11025, window_size=1024, hop_length=256)
    peaks = find_peaks(
        spec,
        neighborhood_freq=neighborhood_freq,
        neighborhood_time=neighborhood_time,
        amp_min_db=amp_min_db,
        footprint=footprint,
    )
    assert len(peaks) > 0
    values = spec.values_db
    assert np.all(peaks.amp_db > amp_min_db)
    np.testing.assert_array_equal(peaks.amp_db, values[peaks.bin, peaks.frame])
    for f, t in zip(peaks.bin, peaks.frame, strict=True):
        lo_f, hi_f = max(0, f - neighborhood_freq), f + neighborhood_freq + 1
        lo_t, hi_t = max(0, t - neighborhood_time), t + neighborhood_time + 1
        window = values[lo_f:hi_f, lo_t:hi_t]
        if footprint == "rect":
            assert values[f, t] >= window.max()
        else:
            df = np.abs(np.arange(lo_f, min(hi_f, values.shape[0])) - f)[:, None]
            dt = np.abs(np.arange(lo_t, min(hi_t, values.shape[1])) - t)[None, :]
            inside = df / neighborhood_freq + dt / neighborhood_time <= 1 + 1e-9
            assert values[f, t] >= window[inside].max()
    # ...and nothing was missed: the brute-force mask finds the same set.
    size = (2 * neighborhood_freq + 1, 2 * neighborhood_time + 1)
    if footprint == "rect":
        brute = scipy.ndimage.maximum_filter(values, size=size, mode="constant", cval=-np.inf)
        expected = np.argwhere((brute == values) & (values > amp_min_db))
        assert len(expected) == len(peaks)
    order = np.lexsort((peaks.bin, peaks.frame))
    np.testing.assert_array_equal(order, np.arange(len(peaks)))  # time-sorted


def test_density_cap_keeps_the_strongest_per_second() -> None:
    samples = synth_song(3, 6.0, 11025)
    spec = log_spectrogram(samples, sample_rate=11025, window_size=1024, hop_length=256)
    free = find_peaks(spec, neighborhood_freq=3, neighborhood_time=3, amp_min_db=-50.0)
    capped = find_peaks(
        spec, neighborhood_freq=3, neighborhood_time=3, amp_min_db=-50.0, peaks_per_second=10
    )
    frames_per_block = round(1 / spec.frame_seconds)
    blocks = capped.frame // frames_per_block
    assert np.bincount(blocks).max() <= 10
    assert len(capped) < len(free)
    # each kept peak is at least as strong as every dropped peak of its block
    kept = set(zip(capped.frame.tolist(), capped.bin.tolist(), strict=True))
    for block in np.unique(blocks):
        in_block = free.frame // frames_per_block == block
        dropped = [
            a
            for f, b, a in zip(
                free.frame[in_block], free.bin[in_block], free.amp_db[in_block], strict=True
            )
            if (f, b) not in kept
        ]
        if dropped:
            assert capped.amp_db[blocks == block].min() >= max(dropped)


def test_query_density_only_changes_queries() -> None:
    spec = log_spectrogram(
        synth_song(2, 5.0, 11025), sample_rate=11025, window_size=1024, hop_length=256
    )
    picker = PeakPicker(
        neighborhood_freq=3,
        neighborhood_time=3,
        amp_min_db=-50.0,
        peaks_per_second=8.0,
        query_density=3.0,
    )
    assert len(picker(spec, query=True)) > len(picker(spec))


def test_empty_and_short_input() -> None:
    spec = Spectrogram()(np.zeros(100, np.float32))
    assert isinstance(spec, LogSpectrogram) and spec.n_frames == 0
    assert len(PeakPicker()(spec)) == 0
    silence = Spectrogram()(np.zeros(11025, np.float32))
    assert len(PeakPicker(amp_min_db=-50.0)(silence)) == 0


@pytest.mark.parametrize("stage", [Spectrogram, PeakPicker])
def test_bad_parameters_are_refused_by_name(stage: type) -> None:
    for name, constraint in stage._constraints.items():
        for bad in constraint.invalid_examples():
            with pytest.raises(ParameterError, match=name):
                stage(**{name: bad})


def test_hop_longer_than_window_is_refused() -> None:
    with pytest.raises(ParameterError, match="hop_length"):
        Spectrogram(window_size=512, hop_length=1024)


def test_db_never_decreases_as_the_power_grows() -> None:
    # find_peaks_in_power rests on it. Runs of consecutive float32 powers
    # (every representable value there) at random places, and a sorted sample
    # of the whole positive range; the full sweep of all 2**31 took 30 s.
    rng = np.random.default_rng(0)
    starts = rng.integers(0, 0x7F800000 - (1 << 16), 64)
    runs = [np.arange(s, s + (1 << 16), dtype=np.uint32) for s in starts]
    spread = np.sort(rng.integers(0, 0x7F800000, 1 << 20).astype(np.uint32))
    for bits in [*runs, spread, np.arange(0, 1 << 16, dtype=np.uint32)]:
        db = power_to_db(bits.view(np.float32))
        assert np.all(np.diff(db) >= 0)
    assert power_to_db(np.zeros(1, np.float32))[0] == FLOOR_DB


@pytest.mark.parametrize(
    ("neighborhood_freq", "neighborhood_time", "footprint", "density", "levels"),
    [
        (5, 5, "rect", 160.0, None),
        (1, 2, "rect", None, None),
        (12, 8, "diamond", None, None),
        (4, 3, "rect", 30.0, 7),  # powers on a coarse grid: many exact ties
        (3, 6, "diamond", None, 5),
    ],
)
def test_peaks_from_the_power_are_those_from_the_db(
    neighborhood_freq: int,
    neighborhood_time: int,
    footprint: str,
    density: float | None,
    levels: int | None,
) -> None:
    samples = synth_song(11, 6.0, 11025)
    samples[11025:22050] = 0.0  # a second of silence: the floor
    power = power_spectrogram(
        samples,
        sample_rate=11025,
        window_size=2048,
        hop_length=256,
        fmin_hz=150.0,
        fmax_hz=5000.0,
    )
    if levels is not None:
        # Few distinct values, then a factor of at most 1 + 2**-20 for some of
        # them: points a float32 step or two apart in power, often equal in dB.
        by_frame = np.ascontiguousarray(power.power.T)
        rounded = np.exp2(np.round(np.log2(by_frame + 1e-30) * levels / 8) * 8 / levels)
        rng = np.random.default_rng(1)
        nudge = 1 + rng.integers(0, 3, by_frame.shape) * np.float32(2**-22)
        by_frame = (rounded * nudge).astype(np.float32)
        by_frame[:, 200:220] = 0.0
        power = dataclasses.replace(power, power=by_frame.T)
    spec = LogSpectrogram(
        power_to_db(power.power.T).T,
        power.sample_rate,
        power.hop_length,
        power.window_size,
        power.first_bin,
    )
    for amp_min_db in (-100.0, -20.0, 40.0):
        options = {
            "neighborhood_freq": neighborhood_freq,
            "neighborhood_time": neighborhood_time,
            "amp_min_db": amp_min_db,
            "footprint": footprint,
            "peaks_per_second": density,
        }
        expected = find_peaks(spec, **options)  # type: ignore[arg-type]
        found = find_peaks_in_power(power, **options)  # type: ignore[arg-type]
        assert len(expected) > 0
        for name in ("frame", "bin", "amp_db"):
            np.testing.assert_array_equal(getattr(found, name), getattr(expected, name))
            assert getattr(found, name).dtype == getattr(expected, name).dtype
        assert (found.n_frames, found.frame_seconds) == (expected.n_frames, expected.frame_seconds)


def test_log_spectrogram_is_the_db_of_the_power_spectrogram() -> None:
    samples = synth_song(4, 3.0, 11025)
    stage = Spectrogram(window_size=2048, hop_length=256, fmin_hz=150.0, fmax_hz=5000.0)
    spec, power = stage(samples), stage.power(samples)
    np.testing.assert_array_equal(spec.values_db, power_to_db(power.power))
    assert (spec.first_bin, spec.n_frames) == (power.first_bin, power.n_frames)
    picker = PeakPicker(neighborhood_freq=5, neighborhood_time=5, amp_min_db=-20.0)
    for query in (False, True):
        np.testing.assert_array_equal(
            picker(spec, query=query).frame, picker.from_power(power, query=query).frame
        )
    empty = stage.power(np.zeros(100, np.float32))
    assert empty.power.shape == stage(np.zeros(100, np.float32)).values_db.shape
