"""Composable, seeded degradations: what a laptop microphone hears of a song.

A clean excerpt (float32 mono, values in [-1, 1]) goes through a chain of
stages — loudspeaker band limits, a room, people talking, the microphone, a
lossy codec — and comes out as a query a fingerprinter has to recognise.

Each stage is a frozen keyword-only dataclass holding its parameters in
physical units (Hz, seconds, dB, kbit/s), validated at construction, with one
method ``apply(samples, sample_rate, rng)`` that returns a float32 array of the
same length at the same sample rate. The maths lives in the plain functions
below the stages (:func:`band_limit`, :func:`synthetic_room_ir`,
:func:`mix_at_snr`, ...). A :class:`Channel` applies stages in order and gives
each one its own random generator derived from one seed, so the same input
and seed always give the same output, and appending a stage does not change
what the earlier stages do. :data:`CONDITIONS` names the channels used in
experiments.

Examples
--------
>>> import numpy as np
>>> from dejavu_lab.studies.channel import get_condition
>>> sr = 8000
>>> tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)).astype(np.float32)
>>> heard = get_condition("laptop-mic").apply(tone, sr, 7)
>>> heard.shape, heard.dtype
((8000,), dtype('float32'))
"""

from __future__ import annotations

import dataclasses
import functools
import io
import logging
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, TypeAlias

import librosa
import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr
from scipy import signal

from ..core.params import Constraint, validate_params
from ..exceptions import AudioError, DejavuLabError, ParameterError

__all__ = [
    "CONDITIONS",
    "BandLimit",
    "Channel",
    "Clip",
    "Degradation",
    "Gain",
    "Mp3",
    "Noise",
    "Reverb",
    "SeedLike",
    "Speed",
    "babble_noise",
    "babble_source",
    "band_limit",
    "change_speed",
    "convolve_ir",
    "draw_change",
    "get_condition",
    "hum_noise",
    "laptop_mic",
    "load_room_ir",
    "mix_at_snr",
    "mp3_round_trip",
    "pink_noise",
    "pitch_shift",
    "synthetic_babble",
    "synthetic_room_ir",
    "time_stretch",
    "white_noise",
]

logger = logging.getLogger(__name__)

FloatArray: TypeAlias = npt.NDArray[np.float64]
Float32Array: TypeAlias = npt.NDArray[np.float32]
SeedLike: TypeAlias = int | np.random.SeedSequence | np.random.Generator
"""What :meth:`Channel.apply` accepts as its source of randomness."""

NOISE_KINDS: tuple[str, ...] = ("white", "pink", "babble", "hum")

#: Program used to synthesise babble talkers; tests point it elsewhere to
#: exercise the synthetic fallback.
ESPEAK_EXECUTABLE = "espeak-ng"


class Degradation(Protocol):
    """Anything a :class:`Channel` can apply: one stage, or another channel."""

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator, /
    ) -> Float32Array:
        """Return the degraded samples: float32, same length, same sample rate."""
        ...


# ---------------------------------------------------------------------------
# Input checks shared by every stage
# ---------------------------------------------------------------------------


def _as_mono(samples: npt.ArrayLike, sample_rate: int) -> FloatArray:
    """Check one stage input and return it as float64."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise ParameterError(f"sample_rate={sample_rate!r} is not allowed: expected an int in Hz")
    if sample_rate <= 0:
        raise ParameterError(f"sample_rate={sample_rate!r} is not allowed: expected > 0 Hz")
    array = np.asarray(samples, dtype=np.float64)
    if array.ndim != 1:
        raise ParameterError(
            f"samples of shape {array.shape} are not allowed: expected a 1-D mono array"
        )
    if not np.all(np.isfinite(array)):
        raise ParameterError("samples contain NaN or infinite values")
    return array


def _fit_length(samples: FloatArray, n_samples: int) -> FloatArray:
    """Crop or zero-pad at the end to exactly ``n_samples``."""
    if len(samples) >= n_samples:
        return samples[:n_samples]
    return np.concatenate([samples, np.zeros(n_samples - len(samples))])


def _power(samples: FloatArray) -> float:
    """Mean square of ``samples`` (0 for an empty array)."""
    return float(np.mean(samples**2)) if len(samples) else 0.0


def _to_float32(samples: FloatArray) -> Float32Array:
    return np.ascontiguousarray(samples, dtype=np.float32)


# ---------------------------------------------------------------------------
# The maths: band limits, rooms, noises, codec, speed
# ---------------------------------------------------------------------------


def band_limit(
    samples: npt.ArrayLike,
    sample_rate: int,
    *,
    low_hz: float | None,
    high_hz: float | None,
    order: int,
) -> FloatArray:
    """Band-limit like a loudspeaker or microphone: causal Butterworth filters.

    The filter is causal (``scipy.signal.sosfilt``), like a real transducer:
    it keeps the physical phase response and delays the signal by its group
    delay (about a millisecond in the pass band for the edges used in
    :data:`CONDITIONS`), which is far below a fingerprint's time resolution.

    Parameters
    ----------
    samples : array_like, shape (n_samples,)
        Mono signal.
    sample_rate : int
        Sampling rate in Hz.
    low_hz : float or None
        High-pass edge (-3 dB) in Hz; ``None`` for no high-pass.
    high_hz : float or None
        Low-pass edge (-3 dB) in Hz; ``None``, or at or above the Nyquist
        frequency, for no low-pass.
    order : int
        Butterworth order of each edge (slope of ``6 * order`` dB/octave).

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
        The filtered signal.

    Raises
    ------
    ParameterError
        If ``low_hz`` is at or above the Nyquist frequency.
    """
    x = np.asarray(samples, dtype=np.float64)
    nyquist = sample_rate / 2
    sections = []
    if low_hz is not None:
        if low_hz >= nyquist:
            raise ParameterError(
                f"low_hz={low_hz!r} is not allowed at sample_rate={sample_rate}: "
                f"expected below the Nyquist frequency {nyquist:g} Hz"
            )
        sections.append(
            signal.butter(order, low_hz, btype="highpass", fs=sample_rate, output="sos")
        )
    if high_hz is not None and high_hz < nyquist:
        sections.append(
            signal.butter(order, high_hz, btype="lowpass", fs=sample_rate, output="sos")
        )
    if not sections or len(x) == 0:
        return x.copy()
    return np.asarray(signal.sosfilt(np.concatenate(sections), x), dtype=np.float64)


# Silence between the direct sound and the first reflection of the synthetic
# room: about one metre of extra path.
_REFLECTION_DELAY_S = 0.003
# The synthetic tail lasts 1.5 * RT60, i.e. down to -90 dB.
_TAIL_LENGTH_RT60 = 1.5


def synthetic_room_ir(
    sample_rate: int,
    *,
    rt60_s: float,
    direct_to_reverb_db: float,
    rng: np.random.Generator,
) -> FloatArray:
    """Synthetic room impulse response: a direct path plus decaying noise.

    The reverberant tail is Gaussian noise whose energy falls by 60 dB in
    ``rt60_s`` (equally at all frequencies), starting 3 ms after the direct
    path and lasting ``1.5 * rt60_s``. The tail is scaled so that direct
    energy / tail energy equals ``direct_to_reverb_db``, and the whole
    response has unit energy, so a broadband signal keeps its level.

    Parameters
    ----------
    sample_rate : int
        Sampling rate in Hz.
    rt60_s : float
        Reverberation time in seconds (60 dB energy decay).
    direct_to_reverb_db : float
        Direct-to-reverberant energy ratio in dB.
    rng : numpy.random.Generator
        Source of the tail noise.

    Returns
    -------
    numpy.ndarray, shape (n_taps,), float64
        Impulse response with the direct path at index 0 and unit energy.
    """
    n_taps = max(2, math.ceil(_TAIL_LENGTH_RT60 * rt60_s * sample_rate))
    time_s = np.arange(n_taps) / sample_rate
    # Energy decays 60 dB in rt60_s, so amplitude decays 10 ** (-3 t / rt60).
    tail = rng.standard_normal(n_taps) * 10.0 ** (-3.0 * time_s / rt60_s)
    onset = min(n_taps - 1, max(1, round(_REFLECTION_DELAY_S * sample_rate)))
    tail[:onset] = 0.0
    tail_energy = float(np.sum(tail**2))
    if tail_energy > 0:
        tail *= math.sqrt(10.0 ** (-direct_to_reverb_db / 10.0) / tail_energy)
    ir = tail
    ir[0] = 1.0
    return ir / math.sqrt(float(np.sum(ir**2)))


@functools.lru_cache(maxsize=16)
def _cached_room_ir(path: str, sample_rate: int) -> FloatArray:
    try:
        data, file_rate = sf.read(path, dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioError(path, f"cannot read the impulse response: {error}") from error
    ir = data.mean(axis=1)
    if file_rate != sample_rate:
        ir = np.asarray(soxr.resample(ir, file_rate, sample_rate, quality="HQ"), dtype=np.float64)
    peak = float(np.max(np.abs(ir))) if len(ir) else 0.0
    if peak == 0.0:
        raise AudioError(path, "the impulse response is empty or silent")
    # Drop the propagation delay before the direct sound, so the reverberant
    # query stays time-aligned with the clean excerpt.
    onset = int(np.argmax(np.abs(ir) >= 0.5 * peak))
    ir = ir[onset:]
    ir = ir / math.sqrt(float(np.sum(ir**2)))
    ir.flags.writeable = False
    return ir


def load_room_ir(path: str | os.PathLike[str], sample_rate: int) -> FloatArray:
    """Read a measured room impulse response, ready for :func:`convolve_ir`.

    Channels are averaged to mono, the response is resampled to
    ``sample_rate`` with soxr, everything before the direct sound (the first
    sample reaching half the peak) is dropped, and the result is scaled to
    unit energy. Results are cached per (path, sample rate) in this process.

    Parameters
    ----------
    path : str or path-like
        Any file soundfile can read.
    sample_rate : int
        Target sampling rate in Hz.

    Returns
    -------
    numpy.ndarray, shape (n_taps,), float64
        Read-only impulse response.

    Raises
    ------
    AudioError
        If the file cannot be read or is silent.
    """
    return _cached_room_ir(os.fspath(path), int(sample_rate))


def convolve_ir(samples: npt.ArrayLike, ir: npt.ArrayLike) -> FloatArray:
    """Convolve with an impulse response and keep the first ``len(samples)``.

    The reverberant tail past the end of the excerpt is cut, as a microphone
    recording would stop with the excerpt.

    Parameters
    ----------
    samples : array_like, shape (n_samples,)
        Dry signal.
    ir : array_like, shape (n_taps,)
        Impulse response, direct path first.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
        Reverberant signal.
    """
    x = np.asarray(samples, dtype=np.float64)
    if len(x) == 0:
        return x.copy()
    wet = signal.fftconvolve(x, np.asarray(ir, dtype=np.float64), mode="full")
    return np.asarray(wet[: len(x)], dtype=np.float64)


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


# Formants (F1, F2, F3) in Hz of five vowels of an adult speaker.
_VOWEL_FORMANTS_HZ = (
    (730.0, 1090.0, 2440.0),  # a
    (530.0, 1840.0, 2480.0),  # e
    (270.0, 2290.0, 3010.0),  # i
    (570.0, 840.0, 2410.0),  # o
    (300.0, 870.0, 2240.0),  # u
)
_FORMANT_BANDWIDTH_HZ = (90.0, 110.0, 160.0)


def _synthetic_talker(n_samples: int, sample_rate: int, rng: np.random.Generator) -> FloatArray:
    """One synthetic talker: vowels on a glottal pulse train, syllable by syllable."""
    time_s = np.arange(n_samples) / sample_rate
    # Intonation: a slow random walk of +/- 2 semitones around the talker's f0.
    contour = np.cumsum(rng.standard_normal(n_samples)) / math.sqrt(sample_rate)
    contour = band_limit(contour, sample_rate, low_hz=None, high_hz=3.0, order=2)
    contour = 2.0 * contour / max(float(np.max(np.abs(contour))), 1e-9)
    f0_hz = rng.uniform(90.0, 230.0) * 2.0 ** (contour / 12.0)
    pulses = np.diff(np.floor(np.cumsum(f0_hz) / sample_rate), prepend=0.0)
    # Glottal source tilt (-12 dB/oct) and lip radiation (+6 dB/oct) net -6 dB/oct.
    source = signal.lfilter([1.0], [1.0, -0.95], pulses)
    source += 0.02 * rng.standard_normal(n_samples)  # aspiration

    # Syllables of 120-300 ms; after every 3-8 syllables a 150-500 ms pause.
    lengths: list[int] = []
    voiced: list[bool] = []
    total = 0
    until_pause = int(rng.integers(3, 9))
    while total < n_samples:
        if until_pause == 0:
            lengths.append(round(rng.uniform(0.15, 0.5) * sample_rate))
            voiced.append(False)
            until_pause = int(rng.integers(3, 9))
        else:
            lengths.append(round(rng.uniform(0.12, 0.3) * sample_rate))
            voiced.append(True)
            until_pause -= 1
        total += lengths[-1]
    length_arr = np.maximum(1, np.asarray(lengths))
    starts = np.concatenate([[0], np.cumsum(length_arr)[:-1]])
    syllable = np.repeat(np.arange(len(length_arr)), length_arr)[:n_samples]
    position = (np.arange(n_samples) - starts[syllable]) / length_arr[syllable]
    envelope = np.sin(np.pi * position) ** 2 * np.asarray(voiced, dtype=float)[syllable]
    vowel_of_syllable = rng.integers(0, len(_VOWEL_FORMANTS_HZ), len(length_arr))

    speech = np.zeros(n_samples)
    nyquist = sample_rate / 2
    for vowel, formants in enumerate(_VOWEL_FORMANTS_HZ):
        weight = envelope * (vowel_of_syllable[syllable] == vowel)
        if not np.any(weight):
            continue
        shaped = source
        for formant_hz, bandwidth_hz in zip(formants, _FORMANT_BANDWIDTH_HZ, strict=True):
            if formant_hz < 0.9 * nyquist:
                b, a = signal.iirpeak(formant_hz, formant_hz / bandwidth_hz, fs=sample_rate)
                shaped = signal.lfilter(b, a, shaped)
        speech += weight * shaped / max(float(np.std(shaped)), 1e-12)

    # Consonants: 30-60 ms bursts of high-passed noise at syllable onsets.
    burst = np.exp(
        -np.maximum(0.0, time_s - starts[syllable] / sample_rate) / rng.uniform(0.01, 0.02)
    )
    has_burst = (rng.random(len(length_arr)) < 0.6) & np.asarray(voiced)
    fricative = band_limit(
        rng.standard_normal(n_samples),
        sample_rate,
        low_hz=min(2500.0, 0.4 * sample_rate),
        high_hz=None,
        order=2,
    )
    speech += 0.5 * burst * has_burst[syllable] * fricative
    return speech


def synthetic_babble(
    n_samples: int, sample_rate: int, rng: np.random.Generator, *, n_talkers: int
) -> FloatArray:
    """Speech-like babble without a speech synthesiser.

    Each talker is a glottal pulse train (90-230 Hz, with intonation) shaped
    by the formants of a random vowel per syllable (120-300 ms, raised-cosine
    syllabic envelope, i.e. a ~4 Hz modulation), with noise bursts for
    consonants and pauses between phrases. Talkers have equal power within
    +/-3 dB and are summed. Used when espeak-ng is not installed.

    Parameters
    ----------
    n_samples : int
        Length in samples.
    sample_rate : int
        Sampling rate in Hz.
    rng : numpy.random.Generator
        Source of all choices.
    n_talkers : int
        Number of overlapping talkers.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
    """
    if n_samples == 0:
        return np.zeros(0)
    talkers = [_synthetic_talker(n_samples, sample_rate, rng) for _ in range(n_talkers)]
    return _sum_talkers(talkers, rng)


def _sum_talkers(
    talkers: Sequence[npt.NDArray[np.floating]], rng: np.random.Generator
) -> FloatArray:
    """Sum talkers at equal power, each varied by a random +/-3 dB."""
    total = np.zeros(len(talkers[0]))
    for talker in talkers:
        rms = math.sqrt(float(np.mean(np.square(talker, dtype=np.float64))))
        if rms > 0:
            total += talker * 10.0 ** (rng.uniform(-3.0, 3.0) / 20.0) / rms
    return total


_BABBLE_TEXTS = (
    (
        "I told him we would meet at the station around eight, but the train was late again, "
        "so we ended up having dinner at that small place near the river."
    ),
    (
        "Did you see the match last night? They were two goals down at half time and then "
        "somehow they came back and won it in the very last minute."
    ),
    (
        "My sister just moved to a new flat on the other side of town. It is bigger, "
        "but the rent is much higher and the neighbours are quite noisy."
    ),
    (
        "We should really book the tickets this week, otherwise the prices will go up "
        "and we will have to take the early flight on Monday morning."
    ),
    (
        "The meeting went on for three hours and nobody could agree on anything, so in the "
        "end we decided to talk about it again next Thursday."
    ),
    (
        "Honestly, I think the second album was better than the first one. The songs are "
        "shorter and the lyrics actually mean something."
    ),
    (
        "Could you pass me the menu? I am not sure whether to have the soup or the salad, "
        "and I definitely want something sweet afterwards."
    ),
    (
        "They are repairing the road outside our house, so every morning at seven there "
        "is a machine drilling right under the bedroom window."
    ),
)
# (voice, words per minute, pitch 0-99): a mix of accents, sexes and speeds.
_BABBLE_VOICES = (
    ("en-us+m1", 165, 45),
    ("en-gb+f2", 175, 60),
    ("en-us+f3", 185, 70),
    ("en-gb-scotland+m3", 150, 35),
    ("en-029+f4", 160, 55),
    ("en-us+m7", 190, 40),
    ("en-gb-x-rp+f1", 145, 65),
    ("en-us+m3", 170, 30),
)
_ESPEAK_RATE_HZ = 22050


# Texts read by each talker: enough for about 20 s of speech.
_TEXTS_PER_TALKER = 3


@functools.lru_cache(maxsize=4)
def _espeak_talkers(executable: str) -> tuple[Float32Array, ...] | None:
    """Synthesise the talker bank once per process; ``None`` if espeak-ng fails.

    Returns one float32 recording per voice at 22050 Hz (about 20 s each).
    """
    program = shutil.which(executable)
    if program is None:
        logger.warning(
            "%s not found: babble noise falls back to synthetic speech-like babble "
            "(install the espeak-ng package for real voices)",
            executable,
        )
        return None
    talkers = []
    with tempfile.TemporaryDirectory(prefix="dejavu-babble-") as folder:
        paths = [os.path.join(folder, f"talker{index}.wav") for index in range(len(_BABBLE_VOICES))]
        try:
            # All voices at once: espeak-ng is single-threaded.
            processes = []
            for index, ((voice, speed_wpm, pitch), path) in enumerate(
                zip(_BABBLE_VOICES, paths, strict=True)
            ):
                texts = [
                    _BABBLE_TEXTS[(index + k) % len(_BABBLE_TEXTS)]
                    for k in range(_TEXTS_PER_TALKER)
                ]
                command = [program, "-v", voice, "-s", str(speed_wpm), "-p", str(pitch)]
                processes.append(
                    subprocess.Popen(
                        [*command, "-w", path, " ".join(texts)],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                    )
                )
            for process in processes:
                _, stderr = process.communicate(timeout=60)
                if process.returncode != 0:
                    raise subprocess.CalledProcessError(
                        process.returncode, process.args, None, stderr
                    )
            for path in paths:
                speech, rate = sf.read(path, dtype="float32", always_2d=True)
                mono = speech.mean(axis=1)
                if rate != _ESPEAK_RATE_HZ:
                    mono = soxr.resample(mono, rate, _ESPEAK_RATE_HZ, quality="HQ")
                talkers.append(np.asarray(mono, dtype=np.float32))
        except (OSError, subprocess.SubprocessError, sf.LibsndfileError) as error:
            logger.warning(
                "%s failed (%s): babble noise falls back to synthetic speech-like babble",
                executable,
                error,
            )
            return None
    return tuple(talkers)


@functools.lru_cache(maxsize=8)
def _espeak_talkers_at(executable: str, sample_rate: int) -> tuple[Float32Array, ...] | None:
    bank = _espeak_talkers(executable)
    if bank is None:
        return None
    resampled = []
    for talker in bank:
        at_rate = np.asarray(
            soxr.resample(talker, _ESPEAK_RATE_HZ, sample_rate, quality="HQ"), dtype=np.float32
        )
        at_rate.flags.writeable = False
        resampled.append(at_rate)
    return tuple(resampled)


def babble_source() -> str:
    """Which babble :func:`babble_noise` produces here: ``"espeak-ng"`` or ``"synthetic"``.

    Record it with experiment results: the two sources give different noise.
    """
    return "synthetic" if _espeak_talkers(ESPEAK_EXECUTABLE) is None else "espeak-ng"


def babble_noise(
    n_samples: int, sample_rate: int, rng: np.random.Generator, *, n_talkers: int
) -> FloatArray:
    """Several people talking at once.

    With espeak-ng installed, eight synthetic voices (different accents,
    sexes, speeds and pitches) each read three short paragraphs (about 20 s) once per process;
    each babble then sums ``n_talkers`` distinct voices (repeating voices
    only when more than eight are asked), each from a random point of its
    recording (looping if needed) at equal power +/-3 dB. Without espeak-ng,
    :func:`synthetic_babble` is used and a warning is logged once.

    The output depends on the installed espeak-ng version; see
    :func:`babble_source`.

    Parameters
    ----------
    n_samples : int
        Length in samples.
    sample_rate : int
        Sampling rate in Hz.
    rng : numpy.random.Generator
        Source of the choice of voices, start points and levels.
    n_talkers : int
        Number of overlapping talkers.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
    """
    bank = _espeak_talkers_at(ESPEAK_EXECUTABLE, int(sample_rate))
    if bank is None:
        return synthetic_babble(n_samples, sample_rate, rng, n_talkers=n_talkers)
    if n_samples == 0:
        return np.zeros(0)
    voices = np.concatenate(
        [rng.permutation(len(bank)) for _ in range(math.ceil(n_talkers / len(bank)))]
    )[:n_talkers]
    talkers = []
    for voice in voices:
        recording = bank[int(voice)]
        start = int(rng.integers(0, len(recording)))
        talkers.append(np.take(recording, np.arange(start, start + n_samples), mode="wrap"))
    return _sum_talkers(talkers, rng)


# Sampling rates the MPEG-1/2/2.5 layer III encoder accepts, and the bitrate
# range (kbit/s) of each MPEG version.
_MP3_RATES_HZ = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
# Longest codec delay searched when realigning the decoded signal (samples).
_MP3_MAX_DELAY = 8192


def _mp3_bitrate_range(sample_rate: int) -> tuple[int, int]:
    if sample_rate >= 32000:
        return 32, 320
    if sample_rate >= 16000:
        return 8, 160
    return 8, 64


def _mp3_via_soundfile(samples: FloatArray, sample_rate: int, bitrate_kbps: int) -> FloatArray:
    low, high = _mp3_bitrate_range(sample_rate)
    # libsndfile maps compression c to bitrate int(high - c * (high - low));
    # the tiny offset keeps int() from rounding 64 down to 63.
    compression = min(1.0, max(0.0, (high - bitrate_kbps) / (high - low) - 1e-9))
    buffer = io.BytesIO()
    sf.write(
        buffer,
        samples,
        sample_rate,
        format="MP3",
        subtype="MPEG_LAYER_III",
        bitrate_mode="CONSTANT",
        compression_level=compression,
    )
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float64", always_2d=True)
    return np.asarray(decoded.mean(axis=1), dtype=np.float64)


def _mp3_via_ffmpeg(samples: FloatArray, sample_rate: int, bitrate_kbps: int) -> FloatArray:
    program = shutil.which("ffmpeg")
    if program is None:
        raise DejavuLabError(
            "MP3 round trip needs libsndfile >= 1.1 with MPEG support or ffmpeg; neither works"
        )
    raw = ["-f", "f32le", "-ac", "1", "-ar", str(sample_rate)]
    quiet = [program, "-hide_banner", "-loglevel", "error", "-nostdin"]
    try:
        encode = ["-i", "pipe:0", "-c:a", "libmp3lame", "-b:a", f"{bitrate_kbps}k"]
        encoded = subprocess.run(
            [*quiet, *raw, *encode, "-f", "mp3", "pipe:1"],
            input=samples.astype("<f4").tobytes(),
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout
        decoded = subprocess.run(
            [*quiet, "-f", "mp3", "-i", "pipe:0", *raw, "pipe:1"],
            input=encoded,
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise DejavuLabError(f"MP3 round trip through ffmpeg failed: {error}") from error
    return np.frombuffer(decoded, dtype="<f4").astype(np.float64)


def _align_decoded(decoded: FloatArray, reference: FloatArray) -> FloatArray:
    """Remove the codec delay (found by cross-correlation) and fit the length."""
    extra = min(len(decoded) - len(reference), _MP3_MAX_DELAY)
    if extra > 0:
        window = decoded[: len(reference) + extra]
        correlation = signal.fftconvolve(window, reference[::-1], mode="valid")
        decoded = decoded[int(np.argmax(correlation)) :]
    return _fit_length(decoded, len(reference))


def mp3_round_trip(samples: npt.ArrayLike, sample_rate: int, *, bitrate_kbps: int) -> FloatArray:
    """Encode to constant-bitrate MP3 and decode back, same length and alignment.

    Encoding uses libsndfile (through soundfile) and falls back to ffmpeg
    (libmp3lame) if libsndfile cannot. Sampling rates MP3 does not support are
    resampled (soxr) to the next supported rate and back. LAME snaps the
    bitrate to the nearest allowed one and caps it per MPEG version: 32-320
    kbit/s at 32-48 kHz, 8-160 at 16-24 kHz, 8-64 below. The encoder delay is
    removed by cross-correlation with the input; the output is cropped or
    zero-padded to the input length.

    Parameters
    ----------
    samples : array_like, shape (n_samples,)
        Mono signal, nominally in [-1, 1].
    sample_rate : int
        Sampling rate in Hz.
    bitrate_kbps : int
        Requested constant bitrate in kbit/s.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
        The decoded signal.

    Raises
    ------
    DejavuLabError
        If neither libsndfile nor ffmpeg can encode MP3.
    """
    x = np.asarray(samples, dtype=np.float64)
    if len(x) == 0:
        return x.copy()
    codec_rate = next((rate for rate in _MP3_RATES_HZ if rate >= sample_rate), _MP3_RATES_HZ[-1])
    at_codec_rate = x
    if codec_rate != sample_rate:
        at_codec_rate = np.asarray(soxr.resample(x, sample_rate, codec_rate, "HQ"), np.float64)
    low, high = _mp3_bitrate_range(codec_rate)
    bitrate = min(high, max(low, int(bitrate_kbps)))
    try:
        decoded = _mp3_via_soundfile(at_codec_rate, codec_rate, bitrate)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        logger.debug("libsndfile MP3 failed (%s); trying ffmpeg", error)
        decoded = _mp3_via_ffmpeg(at_codec_rate, codec_rate, bitrate)
    decoded = _align_decoded(decoded, at_codec_rate)
    if codec_rate != sample_rate:
        decoded = np.asarray(soxr.resample(decoded, codec_rate, sample_rate, "HQ"), np.float64)
    return _fit_length(decoded, len(x))


def change_speed(samples: npt.ArrayLike, sample_rate: int, *, factor: float) -> FloatArray:
    """Play faster or slower like a turntable: tempo and pitch change together.

    The signal is resampled (soxr, high quality) from ``sample_rate`` to
    ``sample_rate / factor`` and played back at ``sample_rate``, then cropped,
    or zero-padded at the end, to the input length.

    Parameters
    ----------
    samples : array_like, shape (n_samples,)
        Mono signal.
    sample_rate : int
        Sampling rate in Hz.
    factor : float
        Speed ratio: 1.02 plays 2 % faster and 34 cents higher.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
    """
    x = np.asarray(samples, dtype=np.float64)
    if len(x) == 0 or factor == 1.0:
        return x.copy()
    played = np.asarray(soxr.resample(x, sample_rate, sample_rate / factor, "HQ"), np.float64)
    return _fit_length(played, len(x))


def _phase_vocoder_fft(n_samples: int) -> int:
    """librosa's 2048-sample STFT, shortened to a power of two for a short clip."""
    return int(min(2048, 2 ** math.floor(math.log2(max(n_samples, 1)))))


def pitch_shift(samples: npt.ArrayLike, sample_rate: int, *, semitones: float) -> FloatArray:
    """Shift the pitch by ``semitones`` and keep the tempo (``librosa.effects.pitch_shift``).

    A phase-vocoder time stretch followed by a resampling (soxr, high quality):
    every frequency is multiplied by ``2 ** (semitones / 12)``, durations stay.

    Parameters
    ----------
    samples : array_like, shape (n_samples,)
        Mono signal.
    sample_rate : int
        Sampling rate in Hz.
    semitones : float
        Shift in equal-tempered semitones; positive is higher. 1 semitone is a
        frequency ratio of 1.0595.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
        Same length as the input; a clip under 16 samples is returned unchanged.
    """
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < 16 or semitones == 0.0:
        return x.copy()
    shifted = librosa.effects.pitch_shift(
        x,
        sr=sample_rate,
        n_steps=float(semitones),
        n_fft=_phase_vocoder_fft(len(x)),
        res_type="soxr_hq",
    )
    return _fit_length(np.asarray(shifted, dtype=np.float64), len(x))


def time_stretch(samples: npt.ArrayLike, sample_rate: int, *, rate: float) -> FloatArray:
    """Play faster or slower at the same pitch (``librosa.effects.time_stretch``).

    A phase vocoder: the output lasts ``len(samples) / rate`` samples; it is
    then cropped, or zero-padded at the end, to the input length.

    Parameters
    ----------
    samples : array_like, shape (n_samples,)
        Mono signal.
    sample_rate : int
        Sampling rate in Hz (checked only; the vocoder works in samples).
    rate : float
        Tempo ratio: 1.05 plays 5 % faster, every frequency unchanged.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float64
        Same length as the input; a clip under 16 samples is returned unchanged.
    """
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < 16 or rate == 1.0:
        return x.copy()
    stretched = librosa.effects.time_stretch(x, rate=float(rate), n_fft=_phase_vocoder_fft(len(x)))
    return _fit_length(np.asarray(stretched, dtype=np.float64), len(x))


def draw_change(rng: np.random.Generator, *, low: float, high: float) -> float:
    """A change of random sign and size: uniform on [-high, -low] ∪ [low, high].

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the draw (one sign, one size).
    low, high : float
        Smallest and largest size, 0 <= low <= high.

    Returns
    -------
    float
    """
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return sign * float(rng.uniform(low, high))


# ---------------------------------------------------------------------------
# Stages: frozen parameter holders around the maths
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BandLimit:
    """Loudspeaker or microphone frequency range (causal Butterworth).

    Parameters
    ----------
    low_hz : float or None
        High-pass edge in Hz; ``None`` for none.
    high_hz : float or None
        Low-pass edge in Hz; ``None`` for none. An edge at or above the
        Nyquist frequency of the signal is skipped.
    order : int
        Butterworth order of each edge.

    See Also
    --------
    band_limit : the filter itself.
    """

    low_hz: float | None = None
    high_hz: float | None = None
    order: int = 4

    _constraints: ClassVar[dict[str, Constraint]] = {
        "low_hz": Constraint(float, low=1.0, high=96000.0, allow_none=True),
        "high_hz": Constraint(float, low=1.0, high=96000.0, allow_none=True),
        "order": Constraint(int, low=1, high=12),
    }

    def __post_init__(self) -> None:
        validate_params(self)
        if self.low_hz is not None and self.high_hz is not None and self.low_hz >= self.high_hz:
            raise ParameterError(
                f"BandLimit.low_hz={self.low_hz!r} is not allowed: "
                f"expected below high_hz={self.high_hz!r}"
            )

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Filter ``samples``; ``rng`` is unused."""
        x = _as_mono(samples, sample_rate)
        return _to_float32(
            band_limit(
                x,
                sample_rate,
                low_hz=self.low_hz,
                high_hz=self.high_hz,
                order=self.order,
            )
        )


@dataclass(frozen=True, kw_only=True)
class Reverb:
    """A room: synthetic (``rt60_s``) or measured (``ir_path``) impulse response.

    Give exactly one of ``rt60_s`` and ``ir_path``. The synthetic response is
    drawn afresh from ``rng`` at each call (see :func:`synthetic_room_ir`);
    the measured one is read once per process (see :func:`load_room_ir`).
    The output is the convolution cropped to the input length.

    Parameters
    ----------
    rt60_s : float or None
        Reverberation time of the synthetic room in seconds.
    ir_path : str or None
        File holding a measured impulse response.
    direct_to_reverb_db : float
        Direct-to-reverberant energy ratio of the synthetic room in dB
        (0 dB: a loudspeaker about a metre or two away in a living room).
    """

    rt60_s: float | None = None
    ir_path: str | None = None
    direct_to_reverb_db: float = 0.0

    _constraints: ClassVar[dict[str, Constraint]] = {
        "rt60_s": Constraint(float, low=0.05, high=10.0, allow_none=True),
        "ir_path": Constraint(str, allow_none=True),
        "direct_to_reverb_db": Constraint(float, low=-30.0, high=30.0),
    }

    def __post_init__(self) -> None:
        validate_params(self)
        if (self.rt60_s is None) == (self.ir_path is None):
            raise ParameterError(
                f"Reverb(rt60_s={self.rt60_s!r}, ir_path={self.ir_path!r}) is not allowed: "
                "expected exactly one of rt60_s and ir_path"
            )
        if self.ir_path is not None and not os.path.isfile(self.ir_path):
            raise AudioError(self.ir_path, "impulse response file not found")

    def impulse_response(self, sample_rate: int, rng: np.random.Generator) -> FloatArray:
        """The impulse response :meth:`apply` convolves with, shape (n_taps,)."""
        if self.ir_path is not None:
            return load_room_ir(self.ir_path, sample_rate)
        assert self.rt60_s is not None  # guaranteed by __post_init__
        return synthetic_room_ir(
            sample_rate,
            rt60_s=self.rt60_s,
            direct_to_reverb_db=self.direct_to_reverb_db,
            rng=rng,
        )

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Convolve ``samples`` with the room response."""
        x = _as_mono(samples, sample_rate)
        return _to_float32(convolve_ir(x, self.impulse_response(sample_rate, rng)))


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
        (:func:`babble_noise`) or one person humming (:func:`hum_noise`).
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


@dataclass(frozen=True, kw_only=True)
class Gain:
    """A level change of ``db`` decibels (no clipping; see :class:`Clip`)."""

    db: float

    _constraints: ClassVar[dict[str, Constraint]] = {"db": Constraint(float, low=-60.0, high=40.0)}

    def __post_init__(self) -> None:
        validate_params(self)

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Scale ``samples``; ``rng`` is unused."""
        return _to_float32(_as_mono(samples, sample_rate) * 10.0 ** (self.db / 20.0))


@dataclass(frozen=True, kw_only=True)
class Clip:
    """Hard clipping to [-limit, limit], like a saturating converter."""

    limit: float = 1.0

    _constraints: ClassVar[dict[str, Constraint]] = {"limit": Constraint(float, low=1e-3, high=1.0)}

    def __post_init__(self) -> None:
        validate_params(self)

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Clip ``samples``; ``rng`` is unused."""
        return _to_float32(np.clip(_as_mono(samples, sample_rate), -self.limit, self.limit))


@dataclass(frozen=True, kw_only=True)
class Mp3:
    """Constant-bitrate MP3 encode/decode round trip (see :func:`mp3_round_trip`)."""

    bitrate_kbps: int = 128

    _constraints: ClassVar[dict[str, Constraint]] = {
        "bitrate_kbps": Constraint(int, low=8, high=320)
    }

    def __post_init__(self) -> None:
        validate_params(self)

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Round-trip ``samples`` through the codec; ``rng`` is unused."""
        x = _as_mono(samples, sample_rate)
        return _to_float32(mp3_round_trip(x, sample_rate, bitrate_kbps=self.bitrate_kbps))


@dataclass(frozen=True, kw_only=True)
class Speed:
    """Turntable speed change by ``factor`` (see :func:`change_speed`)."""

    factor: float

    _constraints: ClassVar[dict[str, Constraint]] = {"factor": Constraint(float, low=0.5, high=2.0)}

    def __post_init__(self) -> None:
        validate_params(self)

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Change the speed of ``samples``; ``rng`` is unused."""
        x = _as_mono(samples, sample_rate)
        return _to_float32(change_speed(x, sample_rate, factor=self.factor))


@dataclass(frozen=True, kw_only=True)
class PitchShift:
    """Pitch shift by ``semitones`` at unchanged tempo (see :func:`pitch_shift`)."""

    semitones: float

    _constraints: ClassVar[dict[str, Constraint]] = {
        "semitones": Constraint(float, low=-12.0, high=12.0)
    }

    def __post_init__(self) -> None:
        validate_params(self)

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Shift the pitch of ``samples``; ``rng`` is unused."""
        x = _as_mono(samples, sample_rate)
        return _to_float32(pitch_shift(x, sample_rate, semitones=self.semitones))


@dataclass(frozen=True, kw_only=True)
class TimeStretch:
    """Tempo change by ``rate`` at unchanged pitch (see :func:`time_stretch`)."""

    rate: float

    _constraints: ClassVar[dict[str, Constraint]] = {"rate": Constraint(float, low=0.5, high=2.0)}

    def __post_init__(self) -> None:
        validate_params(self)

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Stretch ``samples`` in time; ``rng`` is unused."""
        x = _as_mono(samples, sample_rate)
        return _to_float32(time_stretch(x, sample_rate, rate=self.rate))


#: The range of a drawn factor's distance from 1 (speed, stretch): 0 to 50 %.
_FACTOR_CHANGE_CONSTRAINTS: dict[str, Constraint] = {
    "min_change": Constraint(float, low=0.0, high=0.5),
    "max_change": Constraint(float, low=0.0, high=0.5),
}


class _RandomChange:
    """A degradation whose amount is drawn for each clip with :func:`draw_change`.

    A subclass (a frozen dataclass) names the bounds of the draw in
    :meth:`_change_range` and applies a drawn change in :meth:`_apply_change`;
    checking the bounds and drawing from the channel's ``rng`` live here once.
    """

    def _change_range(self) -> tuple[float, float]:
        raise NotImplementedError

    def _apply_change(self, x: FloatArray, sample_rate: int, change: float) -> FloatArray:
        raise NotImplementedError

    def __post_init__(self) -> None:
        validate_params(self)
        low, high = self._change_range()
        if low > high:
            raise ParameterError(
                f"{type(self).__name__}: a smallest change {low!r} above the largest {high!r} "
                "is not allowed"
            )

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator
    ) -> Float32Array:
        """Draw a change from ``rng`` and degrade ``samples`` by it."""
        low, high = self._change_range()
        change = draw_change(rng, low=low, high=high)
        return _to_float32(self._apply_change(_as_mono(samples, sample_rate), sample_rate, change))


@dataclass(frozen=True, kw_only=True)
class RandomSpeed(_RandomChange):
    """Varispeed by a factor drawn for each clip: ``1 + c``, ``c`` from :func:`draw_change`.

    The defaults draw uniformly from 0.95-0.99 and 1.01-1.05 (a DJ's or a
    radio's pitch control, a video sped up).

    Parameters
    ----------
    min_change, max_change : float
        Smallest and largest size of ``|factor - 1|``, 0 to 0.5.
    """

    min_change: float = 0.01
    max_change: float = 0.05

    _constraints: ClassVar[dict[str, Constraint]] = _FACTOR_CHANGE_CONSTRAINTS

    def _change_range(self) -> tuple[float, float]:
        return self.min_change, self.max_change

    def _apply_change(self, x: FloatArray, sample_rate: int, change: float) -> FloatArray:
        return change_speed(x, sample_rate, factor=1.0 + change)


@dataclass(frozen=True, kw_only=True)
class RandomPitchShift(_RandomChange):
    """Pitch shift by a number of semitones drawn for each clip (:func:`draw_change`).

    Parameters
    ----------
    min_semitones, max_semitones : float
        Smallest and largest size of the shift, 0 to 12 semitones, either way.
    """

    min_semitones: float = 0.5
    max_semitones: float = 1.0

    _constraints: ClassVar[dict[str, Constraint]] = {
        "min_semitones": Constraint(float, low=0.0, high=12.0),
        "max_semitones": Constraint(float, low=0.0, high=12.0),
    }

    def _change_range(self) -> tuple[float, float]:
        return self.min_semitones, self.max_semitones

    def _apply_change(self, x: FloatArray, sample_rate: int, change: float) -> FloatArray:
        return pitch_shift(x, sample_rate, semitones=change)


@dataclass(frozen=True, kw_only=True)
class RandomTimeStretch(_RandomChange):
    """Time stretch by a rate drawn for each clip: ``1 + c``, ``c`` from :func:`draw_change`.

    Parameters
    ----------
    min_change, max_change : float
        Smallest and largest size of ``|rate - 1|``, 0 to 0.5; the defaults
        draw uniformly from 0.95-1.05.
    """

    min_change: float = 0.0
    max_change: float = 0.05

    _constraints: ClassVar[dict[str, Constraint]] = _FACTOR_CHANGE_CONSTRAINTS

    def _change_range(self) -> tuple[float, float]:
        return self.min_change, self.max_change

    def _apply_change(self, x: FloatArray, sample_rate: int, change: float) -> FloatArray:
        return time_stretch(x, sample_rate, rate=1.0 + change)


# ---------------------------------------------------------------------------
# Channels
# ---------------------------------------------------------------------------


def _seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63, size=4).tolist())
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(
            f"seed={seed!r} is not allowed: expected an int >= 0, a SeedSequence or a Generator"
        )
    return np.random.SeedSequence(int(seed))


@dataclass(frozen=True, kw_only=True)
class Channel:
    """An ordered chain of degradations with a name, itself a degradation.

    Stage ``i`` draws from its own generator, child ``i`` of the seed, so
    that the output depends only on the input, the seed and the stages up to
    it: appending a stage leaves what earlier stages do unchanged.

    Parameters
    ----------
    stages : tuple of Degradation
        Applied in order; each needs ``apply(samples, sample_rate, rng)``.
    name : str
        Short identifier used in query sets and result tables.

    Examples
    --------
    >>> from dejavu_lab.studies.channel import Channel, Gain, Noise
    >>> quiet_room = Channel(stages=(Noise(snr_db=30.0, kind="pink"),), name="quiet-room")
    >>> louder = quiet_room + Gain(db=6.0)
    >>> louder.name, len(louder.stages)
    ('quiet-room+Gain', 2)
    """

    stages: tuple[Degradation, ...] = ()
    name: str = "custom"

    _constraints: ClassVar[dict[str, Constraint]] = {"name": Constraint(str)}

    def __post_init__(self) -> None:
        validate_params(self)
        if not self.name:
            raise ParameterError("Channel.name='' is not allowed: expected a non-empty str")
        if not isinstance(self.stages, (tuple, list)):
            raise ParameterError(
                f"Channel.stages={self.stages!r} is not allowed: expected a tuple of stages"
            )
        for stage in self.stages:
            if not callable(getattr(stage, "apply", None)):
                raise ParameterError(
                    f"Channel.stages contains {stage!r}, which has no apply() method"
                )
        # A list is accepted for convenience but stored as a tuple: hashable.
        object.__setattr__(self, "stages", tuple(self.stages))

    def apply(self, samples: npt.ArrayLike, sample_rate: int, seed: SeedLike) -> Float32Array:
        """Apply every stage in order.

        Parameters
        ----------
        samples : array_like, shape (n_samples,)
            Mono signal, nominally in [-1, 1].
        sample_rate : int
            Sampling rate in Hz.
        seed : int, numpy.random.SeedSequence or numpy.random.Generator
            Source of randomness. An int or a SeedSequence gives the same
            output every time; a Generator is advanced (one child spawned).

        Returns
        -------
        numpy.ndarray, shape (n_samples,), float32
            The degraded signal, same length and sample rate.
        """
        output = _to_float32(_as_mono(samples, sample_rate))
        root = _seed_sequence(seed)
        for index, stage in enumerate(self.stages):
            # Built from entropy and key, not spawn(): spawn() would mutate a
            # caller's SeedSequence and break "same seed, same output".
            child = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, index))
            output = stage.apply(output, sample_rate, np.random.default_rng(child))
        return output

    def then(self, *stages: Degradation, name: str | None = None) -> Channel:
        """A new channel with ``stages`` appended, named ``name`` if given."""
        labels = "+".join(
            stage.name if isinstance(stage, Channel) else type(stage).__name__ for stage in stages
        )
        new_name = name if name is not None else f"{self.name}+{labels}" if stages else self.name
        return Channel(stages=(*self.stages, *stages), name=new_name)

    def __add__(self, other: Degradation) -> Channel:
        """``channel + stage`` or ``channel + channel``: run ``other`` after this one."""
        if isinstance(other, Channel):
            return Channel(stages=(*self.stages, *other.stages), name=f"{self.name}+{other.name}")
        if not callable(getattr(other, "apply", None)):
            return NotImplemented
        return self.then(other)

    def describe(self) -> dict[str, object]:
        """Name and stage parameters as plain data, for experiment records."""
        described: list[object] = []
        for stage in self.stages:
            if isinstance(stage, Channel):
                described.append(stage.describe())
            elif dataclasses.is_dataclass(stage):
                params = {f.name: getattr(stage, f.name) for f in dataclasses.fields(stage)}
                described.append({"stage": type(stage).__name__, **params})
            else:
                described.append({"stage": type(stage).__name__, "repr": repr(stage)})
        return {"name": self.name, "stages": described}


# Noisy pub: pink noise and babble each at half the music power, i.e. a
# music-to-total-noise ratio of 0 dB. The babble SNR is relative to music +
# pink noise (1.5x the music power), hence 10 log10(1.5 / 0.5).
_PUB_PINK_SNR_DB = 10.0 * math.log10(2.0)
_PUB_BABBLE_SNR_DB = 10.0 * math.log10(1.5 / 0.5)

_LAPTOP_SPEAKERS = BandLimit(low_hz=150.0, high_hz=8000.0, order=4)
_LAPTOP_MIC = BandLimit(low_hz=100.0, high_hz=7000.0, order=4)


def laptop_mic(snr_db: float = 5.0) -> tuple[Degradation, ...]:
    """The stages of the ``laptop-mic`` channel with its babble at ``snr_db`` (dB).

    Speakers (150 Hz-8 kHz), a living room (RT60 0.4 s), six-talker babble,
    the microphone (100 Hz-7 kHz), -3 dB gain, clipping at full scale.
    """
    return (
        _LAPTOP_SPEAKERS,
        Reverb(rt60_s=0.4, direct_to_reverb_db=0.0),
        Noise(snr_db=snr_db, kind="babble"),
        _LAPTOP_MIC,
        Gain(db=-3.0),
        Clip(),
    )


CONDITIONS: dict[str, Channel] = {
    channel.name: channel
    for channel in (
        Channel(stages=(), name="clean"),
        Channel(name="laptop-mic", stages=laptop_mic(5.0)),
        Channel(name="laptop-mic-10db", stages=laptop_mic(10.0)),
        Channel(name="varispeed-laptop-mic", stages=(RandomSpeed(), *laptop_mic(10.0))),
        Channel(name="pitch-shift-laptop-mic", stages=(RandomPitchShift(), *laptop_mic(10.0))),
        Channel(name="time-stretch-laptop-mic", stages=(RandomTimeStretch(), *laptop_mic(10.0))),
        Channel(
            name="noisy-pub",
            stages=(
                BandLimit(low_hz=80.0, high_hz=12000.0, order=4),
                Reverb(rt60_s=0.6, direct_to_reverb_db=-3.0),
                Noise(snr_db=_PUB_PINK_SNR_DB, kind="pink"),
                Noise(snr_db=_PUB_BABBLE_SNR_DB, kind="babble", n_talkers=8),
                _LAPTOP_MIC,
                # Music plus as much noise is 3 dB louder: the recording level
                # is turned down so that it rarely clips.
                Gain(db=-6.0),
                Clip(),
            ),
        ),
        Channel(
            name="phone-speaker",
            stages=(
                Mp3(bitrate_kbps=64),
                BandLimit(low_hz=300.0, high_hz=3400.0, order=4),
                Reverb(rt60_s=0.3, direct_to_reverb_db=6.0),
                Noise(snr_db=10.0, kind="pink"),
                _LAPTOP_MIC,
                Clip(),
            ),
        ),
        Channel(name="mp3-64k", stages=(Mp3(bitrate_kbps=64),)),
        Channel(name="speed-2pct", stages=(Speed(factor=1.02),)),
    )
}
"""Named channels used in experiments.

clean
    Identity.
laptop-mic
    Laptop speakers (150 Hz-8 kHz) in a living room (RT60 0.4 s, direct =
    reverberant energy), six people talking (espeak-ng babble) at 5 dB SNR,
    laptop microphone (100 Hz-7 kHz), -3 dB gain, clipping at full scale.
laptop-mic-10db
    The same with the babble at 10 dB SNR.
varispeed-laptop-mic
    Played faster or slower (tempo and pitch together) by a factor drawn for
    each clip uniformly from 0.95-0.99 and 1.01-1.05, then ``laptop-mic-10db``.
pitch-shift-laptop-mic
    Pitch shifted by 0.5 to 1 semitone up or down (drawn for each clip) at
    unchanged tempo, then ``laptop-mic-10db``.
time-stretch-laptop-mic
    Tempo changed by a rate drawn for each clip from 0.95-1.05 at unchanged
    pitch, then ``laptop-mic-10db``.
noisy-pub
    Pub loudspeakers (80 Hz-12 kHz), reverberant room (RT60 0.6 s, reverberant
    3 dB above direct), pink noise and eight-talker babble each at half the
    music power (0 dB music-to-noise in total), laptop microphone, -6 dB
    gain, clipping.
phone-speaker
    Song streamed as 64 kbit/s MP3, played on a phone speaker (300 Hz-3.4 kHz)
    in a small room (RT60 0.3 s, direct 6 dB above reverberant), pink room
    noise at 10 dB SNR, laptop microphone, clipping.
mp3-64k
    64 kbit/s MP3 round trip only.
speed-2pct
    Played 2 % fast (tempo and pitch), like a misadjusted turntable or radio
    edit.
"""


def get_condition(name: str) -> Channel:
    """The channel of :data:`CONDITIONS` called ``name``.

    Raises
    ------
    ParameterError
        If there is no such condition; the message lists the valid names.
    """
    try:
        return CONDITIONS[name]
    except (KeyError, TypeError):
        raise ParameterError(
            f"unknown condition {name!r}: expected one of {', '.join(sorted(CONDITIONS))}"
        ) from None
