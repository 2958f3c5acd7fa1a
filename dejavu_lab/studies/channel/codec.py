"""Lossy codec: the MP3 round trip and the ``Mp3`` stage."""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr
from scipy import signal

from ...core.params import Constraint, validate_params
from ...exceptions import DejavuLabError
from ._samples import Float32Array, FloatArray, _as_mono, _fit_length, _to_float32

logger = logging.getLogger(__name__)


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
