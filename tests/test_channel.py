"""Degradation channels: lengths, levels, SNRs, room decay, band limits, seeds, errors."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from dejavu_lab.exceptions import AudioError, ParameterError
from dejavu_lab.studies import channel
from dejavu_lab.studies.channel import (
    CONDITIONS,
    NOISE_KINDS,
    BandLimit,
    Channel,
    Clip,
    Gain,
    Mp3,
    Noise,
    PitchShift,
    RandomPitchShift,
    RandomSpeed,
    RandomTimeStretch,
    Reverb,
    Speed,
    TimeStretch,
    draw_change,
    get_condition,
)

RATE = 11025


def music_like(sample_rate: int, duration_s: float, seed: int = 0) -> np.ndarray:
    """Tones with slow level changes plus a little noise, peak about 0.7, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(duration_s * sample_rate)) / sample_rate
    x = np.zeros_like(t)
    for freq_hz, level in [(220.0, 0.25), (440.0, 0.2), (1250.0, 0.12), (2900.0, 0.06)]:
        swell = 1.0 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t + rng.uniform(0, 6))
        x += level * swell / 1.5 * np.sin(2 * np.pi * freq_hz * t + rng.uniform(0, 6))
    x += 0.03 * rng.standard_normal(len(t))
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    return music_like(RATE, 2.0)


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    clean64 = clean.astype(np.float64)
    noise = noisy.astype(np.float64) - clean64
    return float(10 * np.log10(np.mean(clean64**2) / np.mean(noise**2)))


def tone_level_db(x: np.ndarray, sample_rate: int, freq_hz: float) -> float:
    """Level of one sinusoid by projection, after the filter's onset transient."""
    steady = x[sample_rate // 4 :].astype(np.float64)
    t = np.arange(len(steady)) / sample_rate
    basis = np.exp(-2j * np.pi * freq_hz * t)
    return float(20 * np.log10(2 * np.abs(np.mean(steady * basis))))


def schroeder_rt60_s(ir: np.ndarray, sample_rate: int) -> float:
    """RT60 from the -5 to -35 dB slope of the Schroeder energy decay curve (T30)."""
    energy = np.cumsum(ir[::-1].astype(np.float64) ** 2)[::-1]
    decay_db = 10 * np.log10(energy / energy[0])
    first, last = np.argmax(decay_db <= -5.0), np.argmax(decay_db <= -35.0)
    t = np.arange(len(ir)) / sample_rate
    slope_db_per_s = np.polyfit(t[first:last], decay_db[first:last], 1)[0]
    return float(-60.0 / slope_db_per_s)


STAGES: list[Any] = [
    BandLimit(low_hz=150.0, high_hz=8000.0),
    BandLimit(low_hz=300.0),
    BandLimit(high_hz=3400.0, order=2),
    Reverb(rt60_s=0.4),
    Reverb(rt60_s=0.1, direct_to_reverb_db=10.0),
    *[Noise(snr_db=5.0, kind=kind) for kind in NOISE_KINDS],
    Gain(db=-6.0),
    Clip(limit=0.5),
    Mp3(bitrate_kbps=64),
    Mp3(bitrate_kbps=32),
    Speed(factor=1.03),
    Speed(factor=0.95),
    PitchShift(semitones=1.0),
    PitchShift(semitones=-0.5),
    TimeStretch(rate=1.05),
    TimeStretch(rate=0.9),
    RandomSpeed(),
    RandomPitchShift(),
    RandomTimeStretch(),
    Channel(stages=(Gain(db=3.0), Noise(snr_db=20.0)), name="nested"),
]


@pytest.mark.parametrize("stage", STAGES, ids=repr)
@pytest.mark.parametrize("sample_rate", [8000, 22050])
def test_every_stage_keeps_length_dtype_and_finiteness(stage: Any, sample_rate: int) -> None:
    x = music_like(sample_rate, 1.3)
    y = stage.apply(x, sample_rate, np.random.default_rng(1))
    assert y.shape == x.shape
    assert y.dtype == np.float32
    assert np.all(np.isfinite(y))
    assert np.any(y != 0)


@pytest.mark.parametrize("name", sorted(CONDITIONS))
@pytest.mark.parametrize("sample_rate", [8000, 11025, 16000, 44100])
def test_every_condition_keeps_length_dtype_and_finiteness(name: str, sample_rate: int) -> None:
    x = music_like(sample_rate, 1.5)
    y = get_condition(name).apply(x, sample_rate, 3)
    assert y.shape == x.shape
    assert y.dtype == np.float32
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y)) <= 1.0
    assert np.std(y) > 0.01


@pytest.mark.parametrize("name", sorted(CONDITIONS))
def test_conditions_accept_empty_and_very_short_input(name: str) -> None:
    assert get_condition(name).apply(np.zeros(0, np.float32), RATE, 0).shape == (0,)
    short = get_condition(name).apply(music_like(RATE, 0.01), RATE, 0)
    assert short.shape == (round(0.01 * RATE),)
    assert np.all(np.isfinite(short))


def test_clean_condition_is_identity(music: np.ndarray) -> None:
    np.testing.assert_array_equal(get_condition("clean").apply(music, RATE, 5), music)


@pytest.mark.parametrize("kind", NOISE_KINDS)
@pytest.mark.parametrize("target_db", [-10.0, 0.0, 5.0, 10.0, 30.0])
def test_noise_hits_the_requested_snr(music: np.ndarray, kind: str, target_db: float) -> None:
    noisy = Noise(snr_db=target_db, kind=kind).apply(music, RATE, np.random.default_rng(4))
    assert abs(snr_db(music, noisy) - target_db) < 0.5


def test_noise_snr_is_relative_to_the_input_of_the_stage() -> None:
    quiet = 0.01 * music_like(RATE, 1.0)
    noisy = Noise(snr_db=0.0, kind="pink").apply(quiet, RATE, np.random.default_rng(0))
    assert abs(snr_db(quiet, noisy)) < 0.5
    assert np.std(noisy) < 0.05


def test_silent_input_stays_silent() -> None:
    silence = np.zeros(RATE, np.float32)
    out = Noise(snr_db=0.0, kind="white").apply(silence, RATE, np.random.default_rng(0))
    np.testing.assert_array_equal(out, silence)


def test_pink_noise_falls_3_db_per_octave() -> None:
    pink = channel.pink_noise(2**18, RATE, np.random.default_rng(0))
    freqs, psd = signal.welch(pink, fs=RATE, nperseg=4096)
    band = (freqs > 100) & (freqs < 4000)
    slope = np.polyfit(np.log2(freqs[band]), 10 * np.log10(psd[band]), 1)[0]
    assert -3.5 < slope < -2.5


def test_hum_is_harmonic_in_the_voice_range() -> None:
    hum = channel.hum_noise(4 * RATE, RATE, np.random.default_rng(2))
    freqs, psd = signal.welch(hum, fs=RATE, nperseg=4096)
    assert 100 < freqs[np.argmax(psd)] < 600
    assert np.sum(psd[freqs > 4500]) < 1e-3 * np.sum(psd)


@pytest.mark.parametrize("make_babble", ["espeak", "synthetic"])
def test_babble_is_speech_band_and_modulated(make_babble: str) -> None:
    rng = np.random.default_rng(3)
    if make_babble == "espeak":
        if shutil.which(channel.ESPEAK_EXECUTABLE) is None:
            pytest.skip("espeak-ng is not installed")
        babble = channel.babble_noise(4 * RATE, RATE, rng, n_talkers=4)
    else:
        babble = channel.synthetic_babble(4 * RATE, RATE, rng, n_talkers=4)
    freqs, psd = signal.welch(babble, fs=RATE, nperseg=2048)
    in_speech_band = np.sum(psd[(freqs > 100) & (freqs < 4000)]) / np.sum(psd)
    assert in_speech_band > 0.8
    # Syllables: the short-time level varies much more than for steady noise.
    frames = babble[: len(babble) // 441 * 441].reshape(-1, 441)
    level_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    assert np.std(level_db) > 2.0


def test_babble_falls_back_to_synthetic_speech_without_espeak(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, music: np.ndarray
) -> None:
    monkeypatch.setattr(channel.babble, "ESPEAK_EXECUTABLE", "no-such-espeak-ng-program")
    with caplog.at_level(logging.WARNING, logger="dejavu_lab.studies.channel"):
        assert channel.babble_source() == "synthetic"
        noisy = Noise(snr_db=5.0, kind="babble").apply(music, RATE, np.random.default_rng(0))
    assert "no-such-espeak-ng-program" in caplog.text
    assert np.all(np.isfinite(noisy))
    assert abs(snr_db(music, noisy) - 5.0) < 0.5


def test_reverb_decay_follows_rt60() -> None:
    sample_rate = 8000
    impulse = np.zeros(2 * sample_rate, np.float32)
    impulse[0] = 1.0
    measured = []
    for rt60_s in (0.2, 0.4, 0.8):
        ir = Reverb(rt60_s=rt60_s).apply(impulse, sample_rate, np.random.default_rng(0))
        measured.append(schroeder_rt60_s(ir, sample_rate))
        assert measured[-1] == pytest.approx(rt60_s, rel=0.2)
    assert measured == sorted(measured)


def test_synthetic_room_has_unit_energy_and_the_requested_direct_ratio() -> None:
    ir = channel.synthetic_room_ir(
        RATE, rt60_s=0.5, direct_to_reverb_db=-3.0, rng=np.random.default_rng(0)
    )
    assert np.sum(ir**2) == pytest.approx(1.0)
    assert 10 * np.log10(ir[0] ** 2 / np.sum(ir[1:] ** 2)) == pytest.approx(-3.0)


def test_measured_impulse_response_is_resampled_and_aligned(tmp_path: Path) -> None:
    file_rate, rt60_s = 16000, 0.5
    ir = channel.synthetic_room_ir(
        file_rate, rt60_s=rt60_s, direct_to_reverb_db=0.0, rng=np.random.default_rng(1)
    )
    path = tmp_path / "room.wav"
    # 20 ms of silence before the direct sound, as in a measured response.
    sf.write(path, np.concatenate([np.zeros(320), 0.5 * ir]), file_rate, subtype="FLOAT")
    stage = Reverb(ir_path=str(path))
    impulse = np.zeros(RATE, np.float32)
    impulse[0] = 1.0
    response = stage.apply(impulse, RATE, np.random.default_rng(0))
    assert np.argmax(np.abs(response)) <= 1
    assert schroeder_rt60_s(response, RATE) == pytest.approx(rt60_s, rel=0.2)


def test_missing_impulse_response_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not found"):
        Reverb(ir_path=str(tmp_path / "nowhere.wav"))


BANDS = [
    # (low_hz, high_hz, sample_rate, tones in band, tones out of band)
    (150.0, 8000.0, 22050, [500.0, 3000.0], [40.0, 10500.0]),
    (300.0, 3400.0, 16000, [1000.0], [80.0, 7000.0]),
    (100.0, 7000.0, 44100, [1000.0, 4000.0], [25.0, 15000.0]),
]


@pytest.mark.parametrize(("low_hz", "high_hz", "sample_rate", "inside", "outside"), BANDS)
def test_band_limit_passes_the_band_and_stops_the_rest(
    low_hz: float, high_hz: float, sample_rate: int, inside: list[float], outside: list[float]
) -> None:
    t = np.arange(sample_rate) / sample_rate
    stage = BandLimit(low_hz=low_hz, high_hz=high_hz)
    for freq_hz in inside + outside:
        tone = (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
        change_db = tone_level_db(
            stage.apply(tone, sample_rate, np.random.default_rng(0)), sample_rate, freq_hz
        ) - tone_level_db(tone, sample_rate, freq_hz)
        if freq_hz in inside:
            assert abs(change_db) < 1.0, freq_hz
        else:
            assert change_db < -20.0, freq_hz


def test_band_limit_above_nyquist_is_skipped_but_high_pass_must_fit() -> None:
    x = music_like(8000, 0.5)
    np.testing.assert_allclose(
        BandLimit(high_hz=8000.0).apply(x, 8000, np.random.default_rng(0)), x
    )
    with pytest.raises(ParameterError, match="Nyquist"):
        BandLimit(low_hz=5000.0).apply(x, 8000, np.random.default_rng(0))


def test_gain_and_clip(music: np.ndarray) -> None:
    louder = Gain(db=20.0).apply(music, RATE, np.random.default_rng(0))
    np.testing.assert_allclose(louder, 10 * music, rtol=1e-6)
    clipped = Clip().apply(louder, RATE, np.random.default_rng(0))
    assert np.max(np.abs(clipped)) == 1.0
    np.testing.assert_array_equal(clipped, np.clip(louder, -1, 1))


def lag_samples(reference: np.ndarray, delayed: np.ndarray) -> int:
    correlation = signal.correlate(delayed, reference, mode="full", method="fft")
    return int(np.argmax(correlation)) - (len(reference) - 1)


@pytest.mark.parametrize(
    ("sample_rate", "bitrate_kbps"),
    [(44100, 64), (22050, 32), (16000, 32), (11025, 64), (6000, 24)],
)
def test_mp3_round_trip_is_aligned_and_close(sample_rate: int, bitrate_kbps: int) -> None:
    x = music_like(sample_rate, 1.5, seed=5)
    y = Mp3(bitrate_kbps=bitrate_kbps).apply(x, sample_rate, np.random.default_rng(0))
    assert y.shape == x.shape
    assert lag_samples(x, y) == 0
    assert snr_db(x, y) > 8.0


def test_mp3_falls_back_to_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")

    def broken(*args: object) -> np.ndarray:
        raise RuntimeError("no MPEG support in this libsndfile")

    monkeypatch.setattr(channel.codec, "_mp3_via_soundfile", broken)
    x = music_like(44100, 1.0, seed=6)
    y = Mp3(bitrate_kbps=64).apply(x, 44100, np.random.default_rng(0))
    assert y.shape == x.shape
    assert lag_samples(x, y) == 0
    assert snr_db(x, y) > 8.0


def test_speed_shifts_pitch_and_keeps_length() -> None:
    t = np.arange(2 * RATE) / RATE
    tone = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    faster = Speed(factor=1.02).apply(tone, RATE, np.random.default_rng(0))
    assert faster.shape == tone.shape
    spectrum = np.abs(np.fft.rfft(faster[: len(faster) * 9 // 10] * np.hanning(len(t) * 9 // 10)))
    peak_hz = np.argmax(spectrum) * RATE / (len(t) * 9 // 10)
    assert peak_hz == pytest.approx(1020.0, abs=2.0)


def tone_burst(freq_hz: float, *, start_s: float = 0.3, stop_s: float = 1.3) -> np.ndarray:
    """A 2 s clip: silence, a tone from ``start_s`` to ``stop_s`` (10 ms ramps), silence."""
    t = np.arange(2 * RATE) / RATE
    envelope = np.clip(np.minimum(t - start_s, stop_s - t) / 0.01, 0.0, 1.0)
    return (0.5 * envelope * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def burst_span_s(x: np.ndarray) -> tuple[float, float]:
    """First and last 10 ms frame within 20 dB of the loudest: where the tone sounds (s)."""
    frame = RATE // 100
    rms = np.sqrt(np.mean(x[: len(x) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms > rms.max() / 10)
    return loud[0] * frame / RATE, (loud[-1] + 1) * frame / RATE


def main_frequency_hz(x: np.ndarray) -> float:
    """Frequency of the strongest spectral peak, to a fraction of a bin (zero-padded FFT)."""
    n = 8 * len(x)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    return float(np.argmax(spectrum) * RATE / n)


@pytest.mark.parametrize("semitones", [-2.0, -0.5, 1.0])
def test_pitch_shift_moves_the_frequency_by_the_ratio_and_keeps_duration(
    semitones: float,
) -> None:
    burst = tone_burst(1000.0)
    shifted = PitchShift(semitones=semitones).apply(burst, RATE, np.random.default_rng(0))
    assert shifted.shape == burst.shape
    assert main_frequency_hz(shifted) == pytest.approx(1000.0 * 2 ** (semitones / 12), rel=2e-3)
    # The phase vocoder's 186 ms window smears the edges a little; a varispeed
    # by the same ratio would move the end by 0.1 to 0.2 s.
    start, stop = burst_span_s(shifted)
    assert start == pytest.approx(0.3, abs=0.03) and stop == pytest.approx(1.3, abs=0.08)


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_time_stretch_changes_duration_and_keeps_pitch(rate: float) -> None:
    burst = tone_burst(1000.0)
    stretched = TimeStretch(rate=rate).apply(burst, RATE, np.random.default_rng(0))
    assert stretched.shape == burst.shape
    assert main_frequency_hz(stretched) == pytest.approx(1000.0, rel=2e-3)
    start, stop = burst_span_s(stretched)
    assert start == pytest.approx(0.3 / rate, abs=0.03)
    assert stop - start == pytest.approx(1.0 / rate, abs=0.08)


@pytest.mark.parametrize("factor", [0.9, 1.25])
def test_varispeed_changes_duration_and_pitch_together(factor: float) -> None:
    burst = tone_burst(1000.0)
    played = Speed(factor=factor).apply(burst, RATE, np.random.default_rng(0))
    assert played.shape == burst.shape
    assert main_frequency_hz(played) == pytest.approx(1000.0 * factor, rel=2e-3)
    start, stop = burst_span_s(played)
    assert start == pytest.approx(0.3 / factor, abs=0.02)
    assert stop - start == pytest.approx(1.0 / factor, abs=0.02)


def test_drawn_changes_are_uniform_on_both_sides_of_no_change() -> None:
    rng = np.random.default_rng(4)
    changes = np.array([draw_change(rng, low=0.01, high=0.05) for _ in range(4000)])
    assert np.all((np.abs(changes) >= 0.01) & (np.abs(changes) <= 0.05))
    assert np.mean(changes > 0) == pytest.approx(0.5, abs=0.03)
    assert np.mean(np.abs(changes)) == pytest.approx(0.03, abs=0.001)
    # Uniform sizes: each fifth of [0.01, 0.05] holds about a fifth of the draws.
    counts = np.histogram(np.abs(changes), bins=5, range=(0.01, 0.05))[0]
    assert np.all(np.abs(counts / len(changes) - 0.2) < 0.03)


@pytest.mark.parametrize(
    ("stage", "expected_hz"),
    [
        (RandomSpeed(), (950.0, 990.0, 1010.0, 1050.0)),
        (
            RandomPitchShift(),
            (
                1000 * 2 ** (-1 / 12),
                1000 * 2 ** (-0.5 / 12),
                1000 * 2 ** (0.5 / 12),
                1000 * 2 ** (1 / 12),
            ),
        ),
        (RandomTimeStretch(), (999.0, 1001.0, 999.0, 1001.0)),
    ],
    ids=repr,
)
def test_random_changes_are_seeded_and_drawn_in_their_range(
    stage: Any, expected_hz: tuple[float, float, float, float]
) -> None:
    burst = tone_burst(1000.0)
    channel_ = Channel(stages=(stage,), name="changed")
    first = channel_.apply(burst, RATE, 21)
    np.testing.assert_array_equal(channel_.apply(burst, RATE, 21), first)
    outputs = [channel_.apply(burst, RATE, seed) for seed in range(6)]
    assert len({out.tobytes() for out in outputs}) == 6
    low_down, high_down, low_up, high_up = expected_hz
    for out in outputs:
        freq = main_frequency_hz(out)
        assert low_down - 1 <= freq <= high_down + 1 or low_up - 1 <= freq <= high_up + 1, freq


RANDOM_CONDITIONS = [
    "laptop-mic",
    "noisy-pub",
    "phone-speaker",
    "varispeed-laptop-mic",
    "pitch-shift-laptop-mic",
    "time-stretch-laptop-mic",
]


@pytest.mark.parametrize("name", sorted(CONDITIONS))
def test_same_seed_gives_identical_output(music: np.ndarray, name: str) -> None:
    condition = get_condition(name)
    first = condition.apply(music, RATE, 11)
    np.testing.assert_array_equal(condition.apply(music, RATE, 11), first)
    seed_sequence = np.random.SeedSequence(11)
    np.testing.assert_array_equal(condition.apply(music, RATE, seed_sequence), first)
    np.testing.assert_array_equal(condition.apply(music, RATE, seed_sequence), first)
    np.testing.assert_array_equal(
        condition.apply(music, RATE, np.random.default_rng(3)),
        condition.apply(music, RATE, np.random.default_rng(3)),
    )


@pytest.mark.parametrize("name", RANDOM_CONDITIONS)
def test_different_seeds_give_different_output(music: np.ndarray, name: str) -> None:
    condition = get_condition(name)
    assert not np.array_equal(condition.apply(music, RATE, 1), condition.apply(music, RATE, 2))


def test_appending_a_stage_keeps_earlier_randomness(music: np.ndarray) -> None:
    base = Channel(stages=(Reverb(rt60_s=0.3), Noise(snr_db=5.0, kind="pink")), name="base")
    louder = base + Gain(db=20.0) + Noise(snr_db=40.0)
    assert louder.name == "base+Gain+Noise"
    base_out = base.apply(music, RATE, 9)
    gained = Channel(stages=(*base.stages, Gain(db=20.0)), name="g").apply(music, RATE, 9)
    np.testing.assert_allclose(gained, 10 * base_out, rtol=1e-5, atol=1e-6)
    noisy = louder.apply(music, RATE, 9)
    assert snr_db(10 * base_out, noisy) == pytest.approx(40.0, abs=0.5)


def test_channels_compose_and_describe_themselves() -> None:
    mic = Channel(stages=(BandLimit(low_hz=100.0, high_hz=7000.0),), name="mic")
    room = Channel(stages=(Reverb(rt60_s=0.5),), name="room")
    both = room + mic
    assert both.name == "room+mic"
    assert both.stages == (Reverb(rt60_s=0.5), BandLimit(low_hz=100.0, high_hz=7000.0))
    assert room.then(Gain(db=1.0), name="room-gain").name == "room-gain"
    assert room.then(mic).stages == (room.stages[0], mic)
    assert hash(both) == hash(room + mic)
    from_list = Channel(stages=[Gain(db=1.0)], name="list")  # type: ignore[arg-type]
    assert from_list.stages == (Gain(db=1.0),)
    described = both.describe()
    assert described["name"] == "room+mic"
    assert described["stages"] == [
        {"stage": "Reverb", "rt60_s": 0.5, "ir_path": None, "direct_to_reverb_db": 0.0},
        {"stage": "BandLimit", "low_hz": 100.0, "high_hz": 7000.0, "order": 4},
    ]


def test_named_conditions_contain_what_they_promise() -> None:
    laptop = get_condition("laptop-mic").stages
    assert BandLimit(low_hz=150.0, high_hz=8000.0, order=4) in laptop
    assert Reverb(rt60_s=0.4, direct_to_reverb_db=0.0) in laptop
    assert Noise(snr_db=5.0, kind="babble") in laptop
    assert get_condition("mp3-64k").stages == (Mp3(bitrate_kbps=64),)
    phone = get_condition("phone-speaker").stages
    assert Mp3(bitrate_kbps=64) in phone and Noise(snr_db=10.0, kind="pink") in phone
    assert BandLimit(low_hz=300.0, high_hz=3400.0, order=4) in phone
    assert get_condition("clean").stages == ()
    assert all(name == c.name for name, c in CONDITIONS.items())


def test_noisy_pub_total_noise_equals_the_music_power() -> None:
    pub = get_condition("noisy-pub")
    pink, babble = (stage for stage in pub.stages if isinstance(stage, Noise))
    music = 1.0
    pink_power = music / 10 ** (pink.snr_db / 10)
    babble_power = (music + pink_power) / 10 ** (babble.snr_db / 10)
    assert 10 * np.log10(music / (pink_power + babble_power)) == pytest.approx(0.0, abs=1e-9)


def test_unknown_condition_lists_the_valid_names() -> None:
    with pytest.raises(ParameterError, match="no-such-room") as error:
        get_condition("no-such-room")
    for name in CONDITIONS:
        assert name in str(error.value)


VALID_KWARGS: dict[type, dict[str, Any]] = {
    BandLimit: {"low_hz": 100.0, "high_hz": 7000.0},
    Reverb: {"rt60_s": 0.4},
    Noise: {"snr_db": 10.0, "kind": "pink"},
    Gain: {"db": 0.0},
    Clip: {},
    Mp3: {"bitrate_kbps": 64},
    Speed: {"factor": 1.0},
    PitchShift: {"semitones": 0.0},
    TimeStretch: {"rate": 1.0},
    RandomSpeed: {},
    RandomPitchShift: {},
    RandomTimeStretch: {},
    Channel: {"stages": (), "name": "ok"},
}
BAD_PARAMETERS = [
    pytest.param(cls, name, bad, id=f"{cls.__name__}.{name}={bad!r}")
    for cls in VALID_KWARGS
    for name, constraint in cls._constraints.items()  # type: ignore[attr-defined]
    for bad in constraint.invalid_examples()
]


@pytest.mark.parametrize(("cls", "name", "bad"), BAD_PARAMETERS)
def test_invalid_parameters_are_refused(cls: type, name: str, bad: Any) -> None:
    cls(**VALID_KWARGS[cls])  # the baseline is valid
    with pytest.raises(ParameterError, match=name):
        cls(**{**VALID_KWARGS[cls], name: bad})


def test_every_stage_field_has_a_constraint() -> None:
    for cls in VALID_KWARGS:
        names = {f.name for f in dataclasses.fields(cls)} - {"stages"}
        assert names == set(cls._constraints), cls  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: BandLimit(low_hz=3000.0, high_hz=300.0), "low_hz"),
        (lambda: Reverb(), "exactly one"),
        (lambda: Reverb(rt60_s=0.4, ir_path="room.wav"), "exactly one"),
        (lambda: Channel(stages=(np.zeros(3),), name="x"), "apply"),  # type: ignore[arg-type]
        (lambda: Channel(stages=(), name=""), "name"),
        (lambda: Noise(snr_db=5.0, kind="Pink"), "kind"),
        (lambda: Noise(snr_db=5.0, knd="pink"), "knd"),  # type: ignore[call-arg]
        (lambda: RandomSpeed(min_change=0.05, max_change=0.01), "RandomSpeed"),
        (lambda: RandomPitchShift(min_semitones=2.0, max_semitones=1.0), "RandomPitchShift"),
    ],
)
def test_inconsistent_parameters_are_refused(make: Any, match: str) -> None:
    with pytest.raises((ParameterError, TypeError), match=match):
        make()


@pytest.mark.parametrize(
    ("samples", "sample_rate", "seed", "match"),
    [
        (np.zeros((2, 100), np.float32), RATE, 0, "1-D"),
        (np.full(100, np.nan, np.float32), RATE, 0, "NaN"),
        (np.zeros(100, np.float32), 0, 0, "sample_rate"),
        (np.zeros(100, np.float32), 44100.0, 0, "sample_rate"),
        (np.zeros(100, np.float32), RATE, -1, "seed"),
        (np.zeros(100, np.float32), RATE, "7", "seed"),
    ],
)
def test_bad_inputs_are_refused(
    samples: np.ndarray, sample_rate: Any, seed: Any, match: str
) -> None:
    with pytest.raises(ParameterError, match=match):
        get_condition("laptop-mic").apply(samples, sample_rate, seed)
