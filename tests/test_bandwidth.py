"""The bass ratio (an exploration): a full-band song keeps it, a laptop's loudspeaker loses it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import SONG_RATE

from dejavu_lab.core.audio import resample
from dejavu_lab.core.decision.bandwidth import SEGMENT, low_band_ratio_db
from dejavu_lab.studies.channel import get_condition
from dejavu_lab.studies.synth import synth_song

RATE = 11025


def _tone(frequency_hz: float, seconds: float = 1.0) -> np.ndarray:
    return np.sin(2 * np.pi * frequency_hz * np.arange(int(seconds * RATE)) / RATE)


def test_a_laptop_loudspeaker_takes_the_bass_away_from_a_song() -> None:
    t = np.arange(10 * SONG_RATE) / SONG_RATE
    bass_line = 0.3 * np.sin(2 * np.pi * (65.0 + 15.0 * np.sign(np.sin(2 * np.pi * 0.5 * t))) * t)
    song = synth_song(3, 10.0, SONG_RATE) + bass_line  # the synthetic songs' notes start higher
    heard = get_condition("laptop-mic").apply(song, SONG_RATE, 7)
    clean_db = low_band_ratio_db(resample(song, SONG_RATE, RATE), RATE)
    heard_db = low_band_ratio_db(resample(heard, SONG_RATE, RATE), RATE)
    assert heard_db < clean_db - 10.0  # the speakers' 150 Hz high-pass, 4th order
    assert heard_db < -15.0


def test_the_ratio_reads_the_two_bands_and_not_the_gain() -> None:
    bass, tone = _tone(60.0), _tone(440.0)
    assert low_band_ratio_db(bass + tone, RATE) == pytest.approx(0.0, abs=0.05)
    assert low_band_ratio_db(0.5 * bass + tone, RATE) == pytest.approx(-6.02, abs=0.05)
    assert low_band_ratio_db(1e-3 * (bass + tone), RATE) == pytest.approx(0.0, abs=0.05)
    assert low_band_ratio_db(tone, RATE) < -40.0  # the window's leakage only
    above = _tone(5300.0)  # above the reference band: in neither
    assert low_band_ratio_db(bass + tone + above, RATE) == pytest.approx(0.0, abs=0.05)


def test_silence_short_clips_and_bad_arguments() -> None:
    assert math.isnan(low_band_ratio_db(np.zeros(RATE), RATE))
    assert math.isnan(low_band_ratio_db(_tone(440.0)[: SEGMENT - 1], RATE))
    assert low_band_ratio_db(_tone(60.0)[:SEGMENT] * 0 + _tone(440.0)[:SEGMENT], RATE) < -40.0
    with pytest.raises(ValueError, match="low_hz"):
        low_band_ratio_db(_tone(440.0), RATE, low_hz=(110.0, 30.0))
    with pytest.raises(ValueError, match="reference_hz"):
        low_band_ratio_db(_tone(440.0), RATE, reference_hz=(150.0, 8000.0))
    with pytest.raises(ValueError, match="mono"):
        low_band_ratio_db(np.zeros((2, RATE)), RATE)
