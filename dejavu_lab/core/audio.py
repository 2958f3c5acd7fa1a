"""Audio loading: decode, mix to mono, resample, and identify files by content.

WAV, FLAC, OGG/Vorbis and MP3 are decoded by libsndfile (through
``soundfile``); other containers (m4a, aac, wma, ...) through ``ffmpeg`` when it
is on the ``PATH``. Resampling uses ``soxr``, a band-limited resampler
(:data:`RESAMPLE_QUALITY`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..exceptions import AudioError
from .wav import load_pcm16

#: Extensions decoded without ffmpeg.
SOUNDFILE_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")
#: Extensions looked for by default when fingerprinting a directory.
DEFAULT_EXTENSIONS = (*SOUNDFILE_EXTENSIONS, ".m4a", ".aac", ".opus", ".wma")
#: Files longer than this are refused unless the caller allows more (seconds).
DEFAULT_MAX_DURATION_S = 3 * 3600.0
#: soxr's quality recipe for every file resampled here ("HQ": 20-bit, soxr's default).
RESAMPLE_QUALITY = "HQ"
#: Frames libsndfile decodes at a time (about 3 s at 44.1 kHz, 1 MB of stereo
#: float32): each block is resampled and mixed to mono while it is in the CPU's
#: cache, and no array of the whole file's channels is ever made.
DECODE_BLOCK_FRAMES = 1 << 17


@dataclass(frozen=True)
class Audio:
    """Decoded mono audio.

    Attributes
    ----------
    samples : np.ndarray, shape (n,), float32
        Mono samples in [-1, 1].
    sample_rate : int
        Samples per second (Hz).
    """

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate


def content_hash(path: str | os.PathLike[str], *, chunk_bytes: int = 1 << 20) -> str:
    """SHA-1 of a file's bytes, as 40 hex digits.

    A renamed or copied file has the same content hash, so it is recognised as
    already fingerprinted.
    """
    digest = hashlib.sha1()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(chunk_bytes):
                digest.update(block)
    except OSError as error:
        raise AudioError(path, f"cannot read file ({error.strerror or error})") from error
    return digest.hexdigest()


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of a (n, channels) array into float32 (n,)."""
    if samples.ndim == 1:
        return samples.astype(np.float32, copy=False)
    if samples.shape[1] == 1:
        return np.ascontiguousarray(samples[:, 0], dtype=np.float32)
    # Summing columns one at a time is several times faster than a strided mean.
    mono = samples[:, 0].astype(np.float32, copy=True)
    for channel in range(1, samples.shape[1]):
        mono += samples[:, channel]
    mono *= np.float32(1.0 / samples.shape[1])
    return mono


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Resample with soxr (band-limited); a no-op when the rates agree."""
    if source_rate == target_rate:
        return samples.astype(np.float32, copy=False)
    resampled = soxr.resample(samples, source_rate, target_rate, quality=RESAMPLE_QUALITY)
    return np.asarray(resampled, dtype=np.float32)


def _decode_soundfile(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples at ``sample_rate``, decoded by libsndfile.

    Value for value what decoding the whole file, resampling its channels with
    :func:`resample` and mixing them with :func:`to_mono` gives (soxr's stream
    yields the samples of its one-shot call, ``tests/test_audio_decode.py``),
    but a block of :data:`DECODE_BLOCK_FRAMES` at a time, so that no array of a
    song's channels is made (``docs/latency.md``).
    """
    with sf.SoundFile(str(path)) as handle:
        rate, channels = int(handle.samplerate), int(handle.channels)
        block = np.empty((DECODE_BLOCK_FRAMES, channels), dtype=np.float32)
        stream = None
        if rate != sample_rate:
            stream = soxr.ResampleStream(
                rate, sample_rate, channels, dtype="float32", quality=RESAMPLE_QUALITY
            )
        parts = []
        while True:
            frames = handle.read(DECODE_BLOCK_FRAMES, dtype="float32", always_2d=True, out=block)
            last = len(frames) < DECODE_BLOCK_FRAMES
            if stream is not None:
                frames = stream.resample_chunk(frames, last=last)
            mono = to_mono(frames)
            # ``block`` is read into again: keep a copy of what is only a view of it.
            parts.append(mono.copy() if np.shares_memory(mono, block) else mono)
            if last:
                break
    return np.concatenate(parts)


def _decode_ffmpeg(path: Path, sample_rate: int) -> tuple[np.ndarray, int]:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(
            path,
            "cannot decode this container without ffmpeg, which is not installed "
            "(apt-get install ffmpeg), and libsndfile does not read it",
        )
    command = [
        ffmpeg,
        "-nostdin",
        "-v",
        "error",
        "-i",
        str(path),
        "-f",
        "f32le",
        "-ac",
        "1",
        "-ar",
        str(sample_rate),
        "-",
    ]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        reason = message[-1] if message else f"ffmpeg exit status {result.returncode}"
        raise AudioError(path, f"not decodable audio (ffmpeg: {reason})")
    return np.frombuffer(result.stdout, dtype=np.float32)[:, None], sample_rate


def _refuse_longer(path: Path, duration_s: float, max_duration_s: float) -> None:
    if duration_s > max_duration_s:
        raise AudioError(
            path, f"too long: {duration_s:.0f} s > the limit of {max_duration_s:.0f} s"
        )


def _decode(path: Path, sample_rate: int, max_duration_s: float) -> np.ndarray:
    """Mono samples at ``sample_rate`` through libsndfile, or ffmpeg for other containers."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError):
        info = None
    if info is not None:
        _refuse_longer(path, info.duration, max_duration_s)
        try:
            return _decode_soundfile(path, sample_rate)
        except (sf.LibsndfileError, RuntimeError) as error:
            raise AudioError(path, f"corrupt audio ({error})") from error
    if path.suffix.lower() in SOUNDFILE_EXTENSIONS:
        raise AudioError(path, "not decodable audio (corrupt or not an audio file)")
    return to_mono(_decode_ffmpeg(path, sample_rate)[0])  # raises without ffmpeg


def load_audio(
    path: str | os.PathLike[str],
    *,
    sample_rate: int,
    min_duration_s: float = 0.0,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
) -> Audio:
    """Decode a file to mono float32 at ``sample_rate``.

    Parameters
    ----------
    path : str or Path
        The audio file.
    sample_rate : int
        Rate of the returned samples (Hz).
    min_duration_s, max_duration_s : float
        Files shorter or longer than these (seconds) are refused.

    Returns
    -------
    Audio

    Raises
    ------
    AudioError
        Naming the file and the reason: missing, empty, not audio / corrupt,
        unknown container without ffmpeg, too short, too long.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "no such file")
    if path.is_dir():
        raise AudioError(path, "is a directory, not an audio file")
    size = path.stat().st_size
    if size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    # A plain 16-bit PCM WAV is read by `wave`: the same samples, a sixth of the time.
    direct = None
    if path.suffix.lower() == ".wav":
        direct = load_pcm16(
            path, lambda layout: _refuse_longer(path, layout.duration_s, max_duration_s)
        )
    if direct is not None:
        data, rate = direct[0], direct[1].sample_rate
        # Resample before mixing: soxr handles channels, and fewer samples to mix.
        samples = to_mono(resample(data, rate, sample_rate))
    else:
        samples = _decode(path, sample_rate, max_duration_s)
    if len(samples) == 0:
        raise AudioError(path, "contains no audio samples")
    duration = len(samples) / sample_rate
    if duration < min_duration_s:
        raise AudioError(
            path, f"too short: {duration:.2f} s < the minimum of {min_duration_s:.2f} s"
        )
    _refuse_longer(path, duration, max_duration_s)
    if not np.all(np.isfinite(samples[:: max(1, len(samples) // 4096)])):
        raise AudioError(path, "corrupt audio (non-finite samples)")
    return Audio(samples=samples, sample_rate=sample_rate)
