"""Babble noise: several people talking, voiced by espeak-ng or synthesised."""

from __future__ import annotations

import functools
import logging
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr
from scipy import signal

from ._samples import Float32Array, FloatArray
from .transducers import band_limit

logger = logging.getLogger(__name__)

#: Program used to synthesise babble talkers; tests point it elsewhere (set it on
#: this module: the package's re-export is a copy) to exercise the synthetic fallback.
ESPEAK_EXECUTABLE = "espeak-ng"


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
