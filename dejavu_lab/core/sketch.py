"""A dense sketch of the spectrogram: band-energy difference bits (the default's sketch fold).

The peak check (:mod:`dejavu_lab.core.verify`) and the hashes see only the
peaks that survive a room and a microphone. The sketch keeps a little of
*every* frame instead: the log energy of ``n_bands`` mel bands
(:func:`band_filters`, librosa's filter bank over the spectrogram's bins), and
for each frame one bit per pair of neighbouring bands, the sign of the change
from the previous frame of their difference (:func:`sketch_bits`, after
Haitsma and Kalker's sub-fingerprints; 33 bands give 32 bits, 4 bytes a
frame, about 170 B a second at 43 frames a second). A gain or a fixed
equaliser cancels in the double difference (except in cells at the
spectrogram's dB floor); noise and reverberation flip some bits, not all.

At an offset, the score is how many of the query's bits equal the song's
(:func:`agreement`). As in the peak check, chance is measured on the same song
and the same query: the agreements at the other offsets within the background
reach give a mean and a standard deviation, and ``z`` is the best nearby
offset's agreement standardised by them (:func:`sketch_check`). Music that
only resembles the song (same key, same instruments) shares its peaks now and
then; it rarely shares the sign pattern of every frame.

Fingerprinting stores each song's sketch (:meth:`Pipeline.fingerprint_song
<dejavu_lab.core.pipeline.Pipeline.fingerprint_song>`, from the power spectrogram:
:func:`power_sketch`), and the default's rule adds ``0.1 z`` at each candidate's
offset to its evidence (``verifier__sketch_weight``, the fold).
``experiments/sketch_check.py`` measured it beside the peak check's evidence on
the study's clips; ``docs/notes/no-match-explorations.md`` (the sketch check) says what it found.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> song = rng.integers(0, 2**32, 500, dtype=np.uint32)
>>> check = sketch_check(song[200:243], song, 200, search_frames=2, background_frames=172)
>>> check.offset_frames, round(check.agreement, 2), check.z > 10
(200, 1.0, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import librosa
import numpy as np
from scipy import sparse

from ._kernels.sketch import band_energies, differing_bits
from .spectrogram import FLOOR_DB, LogSpectrogram, PowerSpectrogram

#: Bands of the default sketch: 33 give 32 difference bits, one ``uint32`` a frame.
N_BANDS = 33
#: Bits a frame holds at most (the bands' differences are packed into one ``uint32``).
MAX_BITS = 32


@lru_cache(maxsize=8)
def band_filters(
    sample_rate: int,
    window_size: int,
    first_bin: int,
    n_bins: int,
    *,
    n_bands: int = N_BANDS,
    fmin_hz: float = 150.0,
    fmax_hz: float = 5000.0,
) -> np.ndarray:
    """Mel band filters over a cropped spectrogram's bins.

    Parameters
    ----------
    sample_rate, window_size : int
        Of the spectrogram (Hz, samples).
    first_bin, n_bins : int
        The bins the spectrogram kept (``values_db`` rows ``first_bin ..``).
    n_bands : int
        Mel bands, at most ``MAX_BITS + 1``.
    fmin_hz, fmax_hz : float
        Span of the bands (Hz).

    Returns
    -------
    np.ndarray, shape (n_bands, n_bins), float32
        Each band's weights (librosa's triangular filters, unnormalised).
    """
    if not 2 <= n_bands <= MAX_BITS + 1:
        raise ValueError(f"n_bands must be 2..{MAX_BITS + 1}, got {n_bands}")
    mel = librosa.filters.mel(
        sr=sample_rate,
        n_fft=window_size,
        n_mels=n_bands,
        fmin=fmin_hz,
        fmax=fmax_hz,
        norm=None,
        htk=True,
    )
    out = np.ascontiguousarray(mel[:, first_bin : first_bin + n_bins], dtype=np.float32)
    out.setflags(write=False)
    return out


def sketch_bits(values_db: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """Each frame's band-difference bits.

    Parameters
    ----------
    values_db : np.ndarray, shape (n_bins, n_frames)
        A log spectrogram (dB), as :class:`~dejavu_lab.core.spectrogram.LogSpectrogram` holds it.
    filters : np.ndarray, shape (n_bands, n_bins)
        From :func:`band_filters`.

    Returns
    -------
    np.ndarray, shape (n_frames,), uint32
        Bit ``m`` of frame ``t`` is set when the log energy of band ``m`` less that of band
        ``m + 1`` grew from frame ``t - 1`` to ``t``. Frame 0 has no predecessor: all clear.
    """
    if values_db.shape[0] != filters.shape[1]:
        raise ValueError(
            f"values_db has {values_db.shape[0]} bins but the filters {filters.shape[1]}"
        )
    power = np.power(10.0, values_db.astype(np.float32) / 10.0, dtype=np.float32)
    return _bits_of_bands(filters @ power)


def _bits_of_bands(band_power: np.ndarray) -> np.ndarray:
    """:func:`sketch_bits` of each band's power, shape (n_bands, n_frames)."""
    energy = np.log(band_power + np.float32(1e-10))  # (n_bands, n_frames)
    across = energy[:-1] - energy[1:]
    grew = np.zeros(across.shape, dtype=bool)
    grew[:, 1:] = np.diff(across, axis=1) > 0
    weights = np.left_shift(np.uint32(1), np.arange(across.shape[0], dtype=np.uint32))
    return (grew.T.astype(np.uint32) * weights).sum(axis=1, dtype=np.uint64).astype(np.uint32)


def spectrogram_sketch(
    spectrogram: LogSpectrogram, *, fmin_hz: float = 150.0, fmax_hz: float = 5000.0
) -> np.ndarray:
    """The sketch of a log spectrogram (:func:`sketch_bits` with :func:`band_filters` over
    its bins); ``fmin_hz`` and ``fmax_hz`` as the spectrogram stage's (Hz)."""
    filters = band_filters(
        spectrogram.sample_rate,
        spectrogram.window_size,
        spectrogram.first_bin,
        spectrogram.values_db.shape[0],
        fmin_hz=fmin_hz,
        fmax_hz=fmax_hz,
    )
    return sketch_bits(spectrogram.values_db, filters)


@lru_cache(maxsize=8)
def _sparse_band_filters(
    sample_rate: int, window_size: int, first_bin: int, n_bins: int, fmin_hz: float, fmax_hz: float
) -> sparse.csr_array:
    """:func:`band_filters` in CSR form, for :func:`~dejavu_lab.core._kernels.sketch.band_energies`:
    each band covers a few bins."""
    return sparse.csr_array(
        band_filters(sample_rate, window_size, first_bin, n_bins, fmin_hz=fmin_hz, fmax_hz=fmax_hz)
    )


def power_sketch(
    spectrogram: PowerSpectrogram, *, fmin_hz: float = 150.0, fmax_hz: float = 5000.0
) -> np.ndarray:
    """The sketch of a power spectrogram: :func:`spectrogram_sketch` of its dB, without
    taking the log of every cell (floored as :func:`~dejavu_lab.core.spectrogram.power_to_db`
    floors it; a bit may differ where a double difference is within rounding of 0)."""
    power = spectrogram.power
    filters = _sparse_band_filters(
        spectrogram.sample_rate,
        spectrogram.window_size,
        spectrogram.first_bin,
        power.shape[0],
        fmin_hz,
        fmax_hz,
    )
    # The spectrogram is a transposed view of (n_frames, n_bins) rows: read them in order.
    bands = band_energies(
        np.ascontiguousarray(power.T),
        filters.indptr.astype(np.int32, copy=False),
        filters.indices.astype(np.int32, copy=False),
        filters.data.astype(np.float32, copy=False),
        np.float32(10.0 ** (FLOOR_DB / 10.0)),
    )
    return _bits_of_bands(bands)


def agreement(query: np.ndarray, song: np.ndarray, starts: np.ndarray, n_bits: int) -> np.ndarray:
    """Share of the query's bits equal to the song's, at each start frame.

    Parameters
    ----------
    query, song : np.ndarray of uint32
        Sketches (:func:`sketch_bits`); the query's frame 0 is not compared.
    starts : np.ndarray of int
        Song frames the query's frame 0 is laid on.
    n_bits : int
        Bits a frame holds (``n_bands - 1``).

    Returns
    -------
    np.ndarray of float
        NaN where the query runs off the song. The differing bits are counted by a
        compiled kernel (:func:`~dejavu_lab.core._kernels.sketch.differing_bits`).
    """
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    out = np.full(len(starts), np.nan)
    frames = len(query)
    if frames < 2:
        return out
    differing = differing_bits(
        np.ascontiguousarray(query, dtype=np.uint32),
        np.ascontiguousarray(song, dtype=np.uint32),
        starts,
    )
    inside = differing >= 0
    out[inside] = 1.0 - differing[inside] / ((frames - 1) * n_bits)
    return out


@dataclass(frozen=True)
class SketchCheck:
    """The sketch of a song checked against a query's around one offset.

    Attributes
    ----------
    offset_frames : int
        The song frame, within ``+-search_frames`` of the one asked, where the query's
        frame 0 agrees best.
    agreement : float
        Share of bits equal there (0.5 by chance, 1 for the same audio).
    background_mean, background_std : float
        Of the agreements at the background offsets.
    z : float
        ``(agreement - background_mean) / background_std``; NaN without enough background.
    """

    offset_frames: int
    agreement: float
    background_mean: float
    background_std: float
    z: float


#: Background offsets a ``z`` needs at least.
MIN_BACKGROUND = 20


def sketch_check(
    query: np.ndarray,
    song: np.ndarray,
    centre: int,
    *,
    search_frames: int = 2,
    background_frames: int = 172,
    guard_frames: int = 3,
    n_bits: int = N_BANDS - 1,
) -> SketchCheck:
    """The query's sketch against a song's around ``centre``, standardised on the same song.

    Parameters
    ----------
    query, song : np.ndarray of uint32
        Sketches (:func:`sketch_bits`).
    centre : int
        Song frame the query's frame 0 is laid on (a candidate's offset).
    search_frames : int
        Offsets tried either side of ``centre`` (frames); the best is kept.
    background_frames : int
        Offsets either side whose agreement is chance (frames; 172 is 4 s at 43 frames/s).
    guard_frames : int
        Offsets beyond ``search_frames`` left out of the background (a smeared match).
    n_bits : int
        Bits a frame holds.
    """
    shifts = np.arange(-background_frames - search_frames, background_frames + search_frames + 1)
    scores = agreement(query, song, centre + shifts, n_bits)
    near = np.abs(shifts) <= search_frames
    near_scores = np.where(near & np.isfinite(scores), scores, -np.inf)
    best = int(np.argmax(near_scores))
    background = scores[(np.abs(shifts) > search_frames + guard_frames) & np.isfinite(scores)]
    if not np.isfinite(near_scores[best]):
        return SketchCheck(centre, float("nan"), float("nan"), float("nan"), float("nan"))
    value = float(scores[best])
    if len(background) < MIN_BACKGROUND:
        return SketchCheck(
            int(centre + shifts[best]), value, float("nan"), float("nan"), float("nan")
        )
    mean, std = float(background.mean()), float(background.std())
    z = (value - mean) / std if std > 0 else float("nan")
    return SketchCheck(int(centre + shifts[best]), value, mean, std, z)


def best_offset(query: np.ndarray, song: np.ndarray, *, n_bits: int = N_BANDS - 1) -> int:
    """The song frame where the query's sketch agrees best over the whole song (-1 if the
    query is longer than the song)."""
    scores = agreement(query, song, np.arange(max(0, len(song) - len(query) + 1)), n_bits)
    if not np.isfinite(scores).any():
        return -1
    return int(np.nanargmax(scores))
