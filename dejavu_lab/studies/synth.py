"""Synthetic songs for offline tests and demos.

Each seed gives a different piece: a random melody and bass line on a scale,
chords, harmonic timbres with attack-decay envelopes, and percussive noise
bursts, so its spectrogram has the sparse, moving peaks of real music (a
steady tone would not: it hashes the same everywhere).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

_SCALE = np.array([0, 2, 3, 5, 7, 8, 10])  # natural minor, semitones


def _note(
    frequency: float, duration: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    n = max(1, int(duration * sample_rate))
    t = np.arange(n) / sample_rate
    n_harmonics = int(rng.integers(3, 8))
    amplitudes = rng.uniform(0.2, 1.0, n_harmonics) / np.arange(1, n_harmonics + 1)
    tone = np.zeros(n)
    for k, amp in enumerate(amplitudes, start=1):
        if frequency * k < sample_rate / 2 - 200:
            tone += amp * np.sin(2 * np.pi * frequency * k * t + rng.uniform(0, 2 * np.pi))
    attack = max(1, int(0.01 * sample_rate))
    envelope = np.exp(-t * rng.uniform(1.5, 6.0))
    envelope[:attack] *= np.linspace(0, 1, attack)
    return tone * envelope


def synth_song(seed: int, duration_s: float = 30.0, sample_rate: int = 22050) -> np.ndarray:
    """A seeded synthetic song.

    Parameters
    ----------
    seed : int
        Different seeds give unrelated songs.
    duration_s : float
        Length (s).
    sample_rate : int
        Hz.

    Returns
    -------
    np.ndarray, shape (round(duration_s * sample_rate),), float32
        Peak-normalised to 0.8.
    """
    rng = np.random.default_rng([seed, 1729])
    n = round(duration_s * sample_rate)
    out = np.zeros(n + sample_rate * 2)
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    beat = 60.0 / rng.uniform(80, 150)
    # melody, bass and chord voices
    for voice, (octave_low, octave_high, lengths, level) in enumerate(
        [(1, 3, (0.5, 1.0), 0.6), (0, 1, (1.0, 2.0), 0.5), (1, 2, (2.0, 4.0), 0.25)]
    ):
        position = rng.uniform(0, beat)
        while position < duration_s:
            length = beat * float(rng.choice(lengths))
            degree = int(rng.integers(0, len(_SCALE)))
            octave = int(rng.integers(octave_low, octave_high + 1))
            frequency = root * 2 ** (octave + _SCALE[degree] / 12)
            note = _note(frequency, length * 1.2, sample_rate, rng) * level
            start = int(position * sample_rate)
            out[start : start + len(note)] += note[: len(out) - start]
            if voice == 0 and rng.random() < 0.3:
                position += length / 2
            else:
                position += length
    # percussion: short filtered noise bursts on the beat
    position = 0.0
    while position < duration_s:
        length = int(0.08 * sample_rate)
        burst = rng.standard_normal(length) * np.exp(-np.arange(length) / (0.015 * sample_rate))
        start = int(position * sample_rate)
        out[start : start + length] += 0.3 * burst[: len(out) - start]
        position += beat / float(rng.choice([1, 2]))
    out = out[:n]
    peak = np.max(np.abs(out)) or 1.0
    return (0.8 * out / peak).astype(np.float32)


def write_synth_songs(
    directory: str | Path,
    seeds: range | list[int],
    *,
    duration_s: float = 30.0,
    sample_rate: int = 22050,
    prefix: str = "synth",
    extension: str = ".wav",
) -> list[Path]:
    """Write one synthetic song per seed as ``<prefix>_<seed>.<ext>``; return the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in seeds:
        path = directory / f"{prefix}_{seed:03d}{extension}"
        if not path.exists():
            sf.write(path, synth_song(seed, duration_s, sample_rate), sample_rate)
        paths.append(path)
    return paths
