"""Additive noise: mixing at an SNR, white, pink and hummed noise, the ``Noise`` stage.

Babble (people talking) is in :mod:`dejavu_lab.studies.channel.babble`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from scipy import signal

from ...core.params import Constraint, validate_params
from ...exceptions import ParameterError
from ._samples import Float32Array, FloatArray, _as_mono, _power, _to_float32
from .babble import babble_noise

NOISE_KINDS: tuple[str, ...] = ("white", "pink", "babble", "hum")


def mix_at_snr(signal_samples: npt.ArrayLike, noise: npt.ArrayLike, *, snr_db: float) -> FloatArray:
    """Add ``noise`` scaled so that signal power / noise power is ``snr_db``.

    Powers are mean squares over the whole clip. A silent signal, or silent
    noise, is returned unchanged (the ratio is undefined).

    Parameters
    ----------
    signal_samples, noise : array_like, shape (n_samples,)
        Signal and noise of the same length.
    snr_db : float
        Requested signal-to-noise ratio in dB.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
        ``signal + gain * noise``.
    """
    x = np.asarray(signal_samples, dtype=np.float64)
    n = np.asarray(noise, dtype=np.float64)
    if x.shape != n.shape:
        raise ParameterError(f"noise of shape {n.shape} does not match signal of shape {x.shape}")
    signal_power = _power(x)
    noise_power = _power(n)
    if signal_power == 0.0 or noise_power == 0.0:
        return x.copy()
    gain = math.sqrt(signal_power / (noise_power * 10.0 ** (snr_db / 10.0)))
    return x + gain * n


def white_noise(n_samples: int, rng: np.random.Generator) -> FloatArray:
    """Gaussian white noise with unit variance, shape (n_samples,)."""
    return rng.standard_normal(n_samples)


# Below this frequency pink noise is flat: a pure 1/f spectrum would put most
# of the power of a long clip into inaudible sub-bass.
_PINK_FLOOR_HZ = 20.0


def pink_noise(n_samples: int, sample_rate: int, rng: np.random.Generator) -> FloatArray:
    """Pink (1/f power) noise shaped in the frequency domain, unit variance.

    White Gaussian noise is shaped by ``1 / sqrt(f)`` in amplitude (-3 dB per
    octave) above 20 Hz, flat below, with no DC.

    Parameters
    ----------
    n_samples : int
        Length in samples.
    sample_rate : int
        Sampling rate in Hz.
    rng : numpy.random.Generator
        Source of the white noise.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
    """
    if n_samples < 2:
        return np.zeros(n_samples)
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs_hz = np.fft.rfftfreq(n_samples, d=1.0 / sample_rate)
    shaping = 1.0 / np.sqrt(np.maximum(freqs_hz, _PINK_FLOOR_HZ))
    shaping[0] = 0.0
    pink = np.fft.irfft(spectrum * shaping, n=n_samples)
    return pink / max(float(np.std(pink)), np.finfo(float).tiny)


def hum_noise(n_samples: int, sample_rate: int, rng: np.random.Generator) -> FloatArray:
    """A person humming a tune: a harmonic tone with glides and vibrato.

    The fundamental (110-260 Hz) moves between notes of a pentatonic scale
    every 0.4-0.9 s with an 80 ms portamento, plus a 5-6 Hz vibrato of
    +/-0.3 semitone. Harmonics fall as ``1 / k**2`` up to 4 kHz (a closed-mouth
    hum). Phrases of 2.5-6 s are separated by 0.3-0.8 s breaths.

    Parameters
    ----------
    n_samples : int
        Length in samples.
    sample_rate : int
        Sampling rate in Hz.
    rng : numpy.random.Generator
        Source of the tune, vibrato and phrasing.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
        Unit-variance hum (zeros if ``n_samples`` is 0).
    """
    if n_samples == 0:
        return np.zeros(0)
    duration_s = n_samples / sample_rate
    base_hz = rng.uniform(110.0, 260.0)
    scale = np.array([-5, -3, 0, 2, 4, 7, 9, 12], dtype=float)
    n_notes = math.ceil(duration_s / 0.4) + 1
    note_lengths = rng.integers(round(0.4 * sample_rate), round(0.9 * sample_rate) + 1, n_notes)
    semitones = np.repeat(rng.choice(scale, n_notes), note_lengths)[:n_samples]
    glide = math.exp(-1.0 / (0.08 * sample_rate))
    semitones = signal.lfilter([1 - glide], [1, -glide], semitones, zi=[glide * semitones[0]])[0]
    time_s = np.arange(n_samples) / sample_rate
    vibrato = 0.3 * np.sin(2 * np.pi * rng.uniform(5.0, 6.0) * time_s + rng.uniform(0, 2 * np.pi))
    f0_hz = base_hz * 2.0 ** ((semitones + vibrato) / 12.0)
    phase = 2 * np.pi * np.cumsum(f0_hz) / sample_rate
    top_hz = min(4000.0, 0.45 * sample_rate)
    hum = np.zeros(n_samples)
    for k in range(1, int(top_hz // (base_hz * 2.0 ** (13 / 12))) + 2):
        hum += np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k**2
    hum *= _phrase_envelope(n_samples, sample_rate, rng, phrase_s=(2.5, 6.0), pause_s=(0.3, 0.8))
    return hum / max(float(np.std(hum)), np.finfo(float).tiny)


def _phrase_envelope(
    n_samples: int,
    sample_rate: int,
    rng: np.random.Generator,
    *,
    phrase_s: tuple[float, float],
    pause_s: tuple[float, float],
) -> FloatArray:
    """0/1 envelope of phrases and pauses with 50 ms raised-cosine edges."""
    gate = np.zeros(n_samples)
    position = round(rng.uniform(0.0, pause_s[1]) * sample_rate) if n_samples > sample_rate else 0
    while position < n_samples:
        length = round(rng.uniform(*phrase_s) * sample_rate)
        gate[position : position + length] = 1.0
        position += length + round(rng.uniform(*pause_s) * sample_rate)
    ramp = max(1, round(0.05 * sample_rate))
    window = np.hanning(2 * ramp + 1)
    return np.asarray(np.convolve(gate, window / window.sum(), mode="same"), dtype=np.float64)


@dataclass(frozen=True, kw_only=True)
class Noise:
    """Additive noise at a signal-to-noise ratio measured over the whole clip.

    The signal power is that of this stage's input (so after earlier noise
    stages it includes their noise).

    Parameters
    ----------
    snr_db : float
        Signal-to-noise ratio in dB.
    kind : {"white", "pink", "babble", "hum"}
        White Gaussian, pink (1/f), several people talking
        (:func:`.babble_noise`) or one person humming (:func:`hum_noise`).
    n_talkers : int
        Number of talkers in babble.
    """

    snr_db: float
    kind: str = "white"
    n_talkers: int = 6

    _constraints: ClassVar[dict[str, Constraint]] = {
        "snr_db": Constraint(float, low=-30.0, high=80.0),
        "kind": Constraint(str, options=NOISE_KINDS),
        "n_talkers": Constraint(int, low=1, high=32),
    }

    def __post_init__(self) -> None:
        validate_params(self)

    def noise(self, n_samples: int, sample_rate: int, rng: np.random.Generator) -> FloatArray:
        """The unscaled noise this stage adds, shape (n_samples,)."""
        if self.kind == "white":
            return white_noise(n_samples, rng)
        if self.kind == "pink":
            return pink_noise(n_samples, sample_rate, rng)
        if self.kind == "babble":
            return babble_noise(n_samples, sample_rate, rng, n_talkers=self.n_talkers)
        return hum_noise(n_samples, sample_rate, rng)

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Add the noise at ``snr_db``; a silent input stays silent."""
        x = _as_mono(samples, sample_rate)
        return _to_float32(mix_at_snr(x, self.noise(len(x), sample_rate, rng), snr_db=self.snr_db))
