"""Decoding and encoding: the stems of a track mixed to 44.1 kHz, written as a CBR MP3."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ...exceptions import ParameterError
from ._tools import _run
from .errors import CorpusBuildError, EncoderUnavailable

SAMPLE_RATE = 44_100
MP3_BITRATE_KBPS = 192
#: Mixed stems and Vorbis overshoot can exceed full scale; such tracks are scaled
#: down to this peak so the encoder never clips. Quieter tracks are left as is.
PEAK_CEILING = 0.99


def decode_mix(stems: Sequence[Path], *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode, sum and resample the stems of one track.

    Returns
    -------
    numpy.ndarray, shape (frames, channels), float32
        At `sample_rate` Hz; mono stays mono. Scaled down to a peak of
        :data:`PEAK_CEILING` only if it would otherwise exceed full scale.
    """
    decoded = [sf.read(str(p), dtype="float32", always_2d=True) for p in stems]
    source_rate = decoded[0][1]
    if any(rate != source_rate for _, rate in decoded):
        raise CorpusBuildError(f"stems of {stems[0].parent} differ in sample rate")
    frames = max(x.shape[0] for x, _ in decoded)
    channels = max(x.shape[1] for x, _ in decoded)
    mix = np.zeros((frames, channels), dtype=np.float32)
    for samples, _ in decoded:
        mix[: samples.shape[0]] += samples  # a mono stem broadcasts to every channel
    if source_rate != sample_rate:
        mix = soxr.resample(mix, source_rate, sample_rate, quality="HQ").astype(np.float32)
    peak = float(np.max(np.abs(mix))) if mix.size else 0.0
    if peak > 1.0:
        mix *= PEAK_CEILING / peak
    return mix


def find_encoder(preferred: str = "auto") -> str:
    """``"ffmpeg"`` (with libmp3lame) or ``"lame"``, whichever is installed.

    Parameters
    ----------
    preferred : {"auto", "ffmpeg", "lame"}
        ``"auto"`` takes ffmpeg if it has libmp3lame, else lame.
    """
    if preferred not in ("auto", "ffmpeg", "lame"):
        raise ParameterError(f"encoder={preferred!r}: must be 'auto', 'ffmpeg' or 'lame'")
    if preferred in ("auto", "ffmpeg") and shutil.which("ffmpeg"):
        listing = _run(["ffmpeg", "-hide_banner", "-encoders"])
        if "libmp3lame" in listing.stdout:
            return "ffmpeg"
    if preferred in ("auto", "lame") and shutil.which("lame"):
        return "lame"
    raise EncoderUnavailable(
        f"no MP3 encoder ({'ffmpeg with libmp3lame or lame' if preferred == 'auto' else preferred}"
        "): install one, e.g. `apt-get install -y lame`"
    )


def write_mp3(samples: np.ndarray, dest: Path, *, sample_rate: int, encoder: str) -> None:
    """Encode float samples of shape (frames, channels) to a CBR MP3 at `dest`.

    The file appears only when complete (written as ``<dest>.part``, then renamed).
    """
    channels = samples.shape[1]
    partial = dest.with_name(dest.name + ".part")
    if encoder == "ffmpeg":
        # bitexact: no encoder version in the file, so the same input gives the same bytes.
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
        cmd += ["-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels), "-i", "pipe:0"]
        cmd += ["-map_metadata", "-1", "-c:a", "libmp3lame", "-b:a", f"{MP3_BITRATE_KBPS}k"]
        cmd += ["-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "mp3", str(partial)]
        payload = np.ascontiguousarray(samples, dtype="<f4").tobytes()
    elif encoder == "lame":
        mode = "m" if channels == 1 else "j"
        cmd = ["lame", "--quiet", "-r", "-s", f"{sample_rate / 1000:g}", "--bitwidth", "16"]
        cmd += ["--signed", "--little-endian", "-m", mode, "-b", str(MP3_BITRATE_KBPS)]
        cmd += ["--cbr", "--noreplaygain", "-", str(partial)]
        pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
        payload = np.ascontiguousarray(pcm).tobytes()
    else:
        raise ParameterError(f"encoder={encoder!r}: must be 'ffmpeg' or 'lame'")
    result = subprocess.run(cmd, input=payload, capture_output=True)
    if result.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        message = result.stderr.decode(errors="replace").strip()
        raise CorpusBuildError(f"{encoder} failed on {dest.name}: {message}")
    os.replace(partial, dest)
