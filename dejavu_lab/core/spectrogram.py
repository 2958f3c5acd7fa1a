"""Short-time Fourier transform into a log-magnitude spectrogram (dB).

The dB scale is Dejavu's: power spectral density of samples expressed in
16-bit integer units, ``10 * log10(PSD)``, so an amplitude threshold of 10 dB
means what it meant in Dejavu (``mlab.specgram`` on int16 samples).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar

import numpy as np
import scipy.fft
import scipy.signal

from .params import Constraint, validate_params

#: Scale of float samples in [-1, 1] to the int16 units Dejavu worked in.
INT16_SCALE = 32768.0
#: Value given to bins with zero power (dB); far below any useful threshold.
FLOOR_DB = -100.0
WINDOWS = ("hann", "hamming", "blackman", "boxcar")


@dataclass(frozen=True)
class LogSpectrogram:
    """A log-magnitude spectrogram.

    Attributes
    ----------
    values_db : np.ndarray, shape (n_bins, n_frames), float32
        Power spectral density in dB (re 1 int16 unit^2 / Hz) of frequency bins
        ``first_bin .. first_bin + n_bins - 1``.
    sample_rate : int
        Sample rate of the analysed signal (Hz).
    hop_length : int
        Samples between frame starts; frame ``t`` starts at sample ``t * hop_length``.
    window_size : int
        FFT length (samples); bin ``k`` is centred on ``k * sample_rate / window_size`` Hz.
    first_bin : int
        Absolute index of the first row of ``values_db``.
    """

    values_db: np.ndarray
    sample_rate: int
    hop_length: int
    window_size: int
    first_bin: int = 0

    @property
    def n_frames(self) -> int:
        """Number of time frames."""
        return int(self.values_db.shape[1])

    @property
    def frame_seconds(self) -> float:
        """Duration of one hop (s)."""
        return self.hop_length / self.sample_rate

    @property
    def bin_hz(self) -> float:
        """Width of one frequency bin (Hz)."""
        return self.sample_rate / self.window_size

    def times_s(self) -> np.ndarray:
        """Start time of each frame (s), shape (n_frames,)."""
        return np.arange(self.n_frames) * self.frame_seconds

    def frequencies_hz(self) -> np.ndarray:
        """Centre frequency of each row (Hz), shape (n_bins,)."""
        return (self.first_bin + np.arange(self.values_db.shape[0])) * self.bin_hz


@lru_cache(maxsize=16)
def _window(name: str, size: int) -> np.ndarray:
    window = scipy.signal.get_window(name, size, fftbins=True).astype(np.float32)
    window.setflags(write=False)
    return window


def frame_count(n_samples: int, *, window_size: int, hop_length: int) -> int:
    """Number of whole frames in ``n_samples`` (no padding, as Dejavu)."""
    if n_samples < window_size:
        return 0
    return 1 + (n_samples - window_size) // hop_length


def log_spectrogram(
    samples: np.ndarray,
    *,
    sample_rate: int,
    window_size: int,
    hop_length: int,
    window: str = "hann",
    fmin_hz: float = 0.0,
    fmax_hz: float | None = None,
) -> LogSpectrogram:
    """Compute the log-power spectrogram of mono samples.

    Parameters
    ----------
    samples : np.ndarray, shape (n,), float
        Mono samples in [-1, 1].
    sample_rate : int
        Hz.
    window_size : int
        FFT length in samples.
    hop_length : int
        Samples between successive frames.
    window : str
        Window function name (scipy.signal.get_window).
    fmin_hz, fmax_hz : float
        Keep only bins inside this band (Hz); ``None`` means up to Nyquist.

    Returns
    -------
    LogSpectrogram
        ``values_db`` has shape (n_bins kept, n_frames).
    """
    power = power_spectrogram(
        samples,
        sample_rate=sample_rate,
        window_size=window_size,
        hop_length=hop_length,
        window=window,
        fmin_hz=fmin_hz,
        fmax_hz=fmax_hz,
    )
    # (frames, bins) is computed; exposed as (bins, frames), as librosa does.
    values_db = power_to_db(power.power.T)
    return LogSpectrogram(values_db.T, sample_rate, hop_length, window_size, power.first_bin)


@dataclass(frozen=True)
class PowerSpectrogram:
    """A spectrogram before its log: what :func:`log_spectrogram` takes the dB of.

    Attributes
    ----------
    power : np.ndarray, shape (n_bins, n_frames), float32
        Power spectral density (int16 units^2 / Hz) of frequency bins
        ``first_bin .. first_bin + n_bins - 1``; a transposed view of a
        C-contiguous (n_frames, n_bins) array. :func:`power_to_db` of it is
        :class:`LogSpectrogram`'s ``values_db``, value for value.
    sample_rate, hop_length, window_size, first_bin : int
        As :class:`LogSpectrogram`.
    """

    power: np.ndarray
    sample_rate: int
    hop_length: int
    window_size: int
    first_bin: int = 0

    @property
    def n_frames(self) -> int:
        """Number of time frames."""
        return int(self.power.shape[1])

    @property
    def frame_seconds(self) -> float:
        """Duration of one hop (s)."""
        return self.hop_length / self.sample_rate


def power_to_db(power: np.ndarray) -> np.ndarray:
    """``10 * log10(power)`` in float32, floored at :data:`FLOOR_DB` (dB).

    Parameters
    ----------
    power : np.ndarray, float32
        Power spectral density (int16 units^2 / Hz), any shape.

    Returns
    -------
    np.ndarray, float32, the shape of ``power``
        The spectrogram's values (dB). A non-decreasing function of the power:
        peak picking can compare powers and take the log of its peaks only
        (:func:`dejavu_lab.core.peaks.find_peaks_in_power`).
    """
    out = np.empty(power.shape, dtype=np.float32)
    with np.errstate(divide="ignore"):
        np.log10(power, out=out)
    out *= np.float32(10.0)
    np.maximum(out, np.float32(FLOOR_DB), out=out)
    return out


def power_spectrogram(
    samples: np.ndarray,
    *,
    sample_rate: int,
    window_size: int,
    hop_length: int,
    window: str = "hann",
    fmin_hz: float = 0.0,
    fmax_hz: float | None = None,
) -> PowerSpectrogram:
    """The power spectral density of :func:`log_spectrogram`, before its log.

    Parameters as :func:`log_spectrogram`.

    Returns
    -------
    PowerSpectrogram
        ``power`` has shape (n_bins kept, n_frames), float32 (int16 units^2 / Hz).
    """
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    n_frames = frame_count(len(samples), window_size=window_size, hop_length=hop_length)
    n_total_bins = window_size // 2 + 1
    first_bin = int(np.ceil(fmin_hz * window_size / sample_rate))
    last_bin = n_total_bins - 1
    if fmax_hz is not None:
        last_bin = min(last_bin, int(np.floor(fmax_hz * window_size / sample_rate)))
    n_bins = max(0, last_bin - first_bin + 1)
    if n_frames == 0 or n_bins == 0:
        empty = np.zeros((n_frames, n_bins), dtype=np.float32)
        return PowerSpectrogram(empty.T, sample_rate, hop_length, window_size, first_bin)
    frames = np.lib.stride_tricks.as_strided(
        samples,
        shape=(n_frames, window_size),
        strides=(samples.strides[0] * hop_length, samples.strides[0]),
        writeable=False,
    )
    win = _window(window, window_size)
    # One-sided power spectral density in int16 units (matplotlib.mlab scaling).
    scale = 2.0 * INT16_SCALE**2 / (sample_rate * float(np.sum(win.astype(np.float64) ** 2)))
    halve_first = first_bin == 0
    halve_last = last_bin == window_size // 2 and window_size % 2 == 0
    power = np.empty((n_frames, n_bins), dtype=np.float32)
    block = max(1, _BLOCK_SAMPLES // window_size)
    windowed = np.empty((min(block, n_frames), window_size), dtype=np.float32)
    for start in range(0, n_frames, block):
        stop = min(n_frames, start + block)
        np.multiply(frames[start:stop], win, out=windowed[: stop - start])
        _power(
            scipy.fft.rfft(windowed[: stop - start], axis=1)[:, first_bin : last_bin + 1],
            scale=scale,
            halve_first=halve_first,
            halve_last=halve_last,
            out=power[start:stop],
        )
    return PowerSpectrogram(power.T, sample_rate, hop_length, window_size, first_bin)


#: Samples windowed and transformed at a time by :func:`log_spectrogram`: a
#: block's frames, spectra and powers stay in the CPU's L2 cache, which makes
#: it about three times faster than transforming a whole track at once.
_BLOCK_SAMPLES = 1 << 17


def _power(
    spectrum: np.ndarray, *, scale: float, halve_first: bool, halve_last: bool, out: np.ndarray
) -> None:
    """Write ``scale * |spectrum|**2`` into ``out`` (float32).

    Parameters
    ----------
    spectrum : np.ndarray, shape (n_frames, n_bins), complex64
        Spectra of windowed frames (int16 units once scaled).
    scale : float
        Power to power spectral density (1 / Hz).
    halve_first, halve_last : bool
        Halve the first / last column (DC and Nyquist are not doubled one-sided).
    out : np.ndarray, shape (n_frames, n_bins), float32
        Receives the values (int16 units^2 / Hz).
    """
    if spectrum.dtype == np.complex64 and out.dtype == np.float32:
        from ._kernels.spectrogram import spectral_power

        spectral_power(spectrum, np.float32(scale), out)
    else:
        _numpy_power(spectrum, scale, out)
    if halve_first:
        out[:, 0] *= 0.5
    if halve_last:
        out[:, -1] *= 0.5


def _numpy_power(spectrum: np.ndarray, scale: float, out: np.ndarray) -> None:
    """``scale * |spectrum|**2`` into ``out`` in numpy: the reference of
    :func:`~dejavu_lab.core._kernels.spectrogram.spectral_power`."""
    np.multiply(spectrum.real, spectrum.real, out=out)
    out += spectrum.imag**2
    out *= np.float32(scale)


@dataclass(frozen=True, kw_only=True)
class Spectrogram:
    """Pipeline stage: samples -> :class:`LogSpectrogram`.

    Parameters
    ----------
    sample_rate : int
        Rate audio is resampled to before analysis (Hz).
    window_size : int
        FFT length (samples).
    hop_length : int
        Samples between frames (``window_size * (1 - overlap)``).
    window : str
        Window function.
    fmin_hz, fmax_hz : float
        Band analysed (Hz); ``fmax_hz=None`` means Nyquist.
    query_shifts : int
        Query only: the query is analysed at this many sub-hop time shifts and
        their hashes pooled, so that a query whose start falls between the
        reference's frames still lines up. Does not change stored fingerprints.
    query_shift_max_s : float
        Query only: shifts are used for queries up to this long (s); longer
        ones have hashes enough and are analysed once, at half the cost.
    """

    sample_rate: int = 11025
    window_size: int = 1024
    hop_length: int = 256
    window: str = "hann"
    fmin_hz: float = 0.0
    fmax_hz: float | None = None
    query_shifts: int = field(default=1, metadata={"query_only": True})
    query_shift_max_s: float = field(default=3.0, metadata={"query_only": True})

    _constraints: ClassVar[dict[str, Constraint]] = {
        "sample_rate": Constraint(int, 4000, 192000),
        "window_size": Constraint(int, 64, 8190),
        "hop_length": Constraint(int, 16, 8190),
        "window": Constraint(str, options=WINDOWS),
        "fmin_hz": Constraint(float, 0.0, 96000.0),
        "fmax_hz": Constraint(float, 1.0, 96000.0, allow_none=True),
        "query_shifts": Constraint(int, 1, 16),
        "query_shift_max_s": Constraint(float, 0.0, 3600.0),
    }

    def __post_init__(self) -> None:
        validate_params(self)
        from ..exceptions import ParameterError

        if self.hop_length > self.window_size:
            raise ParameterError(
                f"Spectrogram.hop_length={self.hop_length} is not allowed: "
                f"expected at most window_size={self.window_size}"
            )

    @property
    def overlap(self) -> float:
        """Fraction of a window shared by successive frames."""
        return 1.0 - self.hop_length / self.window_size

    @property
    def frame_seconds(self) -> float:
        """Seconds per hop."""
        return self.hop_length / self.sample_rate

    def __call__(self, samples: np.ndarray) -> LogSpectrogram:
        return log_spectrogram(
            samples,
            sample_rate=self.sample_rate,
            window_size=self.window_size,
            hop_length=self.hop_length,
            window=self.window,
            fmin_hz=self.fmin_hz,
            fmax_hz=self.fmax_hz,
        )

    def power(self, samples: np.ndarray) -> PowerSpectrogram:
        """The power spectrogram whose dB :meth:`__call__` returns (:func:`power_spectrogram`)."""
        return power_spectrogram(
            samples,
            sample_rate=self.sample_rate,
            window_size=self.window_size,
            hop_length=self.hop_length,
            window=self.window,
            fmin_hz=self.fmin_hz,
            fmax_hz=self.fmax_hz,
        )
