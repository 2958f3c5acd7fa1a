"""The sketch: band-difference bits, agreement, and the planted song and offset."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SONG_RATE, UNSEEN_SEEDS, add_noise

from dejavu_lab.core.audio import resample
from dejavu_lab.core.presets import get_preset
from dejavu_lab.core.sketch import (
    N_BANDS,
    agreement,
    band_filters,
    best_offset,
    sketch_bits,
    sketch_check,
    spectrogram_sketch,
)
from dejavu_lab.studies.synth import synth_song

PIPELINE = get_preset("default")
RATE = PIPELINE.spectrogram.sample_rate


def _sketch(samples: np.ndarray) -> np.ndarray:
    params = PIPELINE.spectrogram
    return spectrogram_sketch(params(samples), fmin_hz=params.fmin_hz, fmax_hz=params.fmax_hz)


def _song(seed: int, seconds: float = 30.0) -> np.ndarray:
    return resample(synth_song(seed, seconds, SONG_RATE), SONG_RATE, RATE)


def test_band_filters_cover_the_kept_bins_and_reject_bad_band_counts() -> None:
    filters = band_filters(RATE, 2048, 28, 901)
    assert filters.shape == (N_BANDS, 901) and filters.dtype == np.float32
    assert np.all(filters.sum(axis=1) > 0)  # no empty band between 150 Hz and 5 kHz
    assert not filters.flags.writeable  # cached: shared between callers
    with pytest.raises(ValueError, match="n_bands"):
        band_filters(RATE, 2048, 28, 901, n_bands=34)


def test_bits_follow_the_sign_of_the_band_difference_change() -> None:
    # Two bands of one bin each: their difference rises, falls, stays.
    filters = np.eye(2, dtype=np.float32)
    values = np.array([[0.0, 10.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    assert sketch_bits(values, filters).tolist() == [0, 1, 0, 0]
    with pytest.raises(ValueError, match="bins"):
        sketch_bits(values, np.eye(3, dtype=np.float32))


def test_a_gain_hardly_changes_the_sketch() -> None:
    song = _song(1, 10.0)
    loud, quiet = _sketch(song), _sketch(0.25 * song)
    # The gain cancels in the double difference, except in cells at the spectrogram's dB floor.
    assert np.bitwise_count(loud ^ quiet).sum() < 0.01 * 32 * len(loud)


def test_agreement_is_one_for_the_same_audio_and_a_half_by_chance(
    rng: np.random.Generator,
) -> None:
    song = rng.integers(0, 2**32, 3000, dtype=np.uint32)
    query = song[1200:1243]
    scores = agreement(query, song, np.array([1200, 5, 2990, -1]), 32)
    assert scores[0] == 1.0
    assert abs(scores[1] - 0.5) < 0.05  # 1,344 independent bits
    assert np.isnan(scores[2]) and np.isnan(scores[3])  # runs off the song
    # Frame 0 has no predecessor and is not compared.
    changed = query.copy()
    changed[0] ^= np.uint32(0xFFFFFFFF)
    assert agreement(changed, song, np.array([1200]), 32)[0] == 1.0


def test_the_sketch_finds_the_planted_offset_in_a_noisy_clip(rng: np.random.Generator) -> None:
    song = _song(3)
    hop = PIPELINE.spectrogram.hop_length
    frame_s = hop / RATE
    planted = round(11.0 / frame_s)
    # 10 dB SNR: these songs hold sustained tones, whose band differences barely change from
    # frame to frame, so noise decides many bits (z about 3 at 5 dB, 6 at 10 dB).
    clip = add_noise(song[planted * hop : planted * hop + round(1.5 * RATE)], 10.0, rng)
    query = _sketch(clip)
    stored = _sketch(song)
    # The candidate's offset is 2 frames off: the search finds the planted one.
    check = sketch_check(query, stored, planted + 2, search_frames=2)
    assert check.offset_frames == planted
    assert check.z > 4.5 and check.agreement > 0.58
    assert best_offset(query, stored) == planted
    # The same clip against other songs at the same offset: chance.
    for other in UNSEEN_SEEDS[:3]:
        wrong = sketch_check(query, _sketch(_song(other)), planted)
        assert wrong.z < 4 and wrong.agreement < 0.6


def test_without_background_there_is_no_z() -> None:
    song = np.arange(40, dtype=np.uint32)
    check = sketch_check(song[5:20], song, 5, background_frames=172)
    assert check.agreement == 1.0 and np.isnan(check.z)
    off = sketch_check(song[5:20], song, 500)
    assert np.isnan(off.agreement) and off.offset_frames == 500
    assert best_offset(np.zeros(50, np.uint32), song) == -1
