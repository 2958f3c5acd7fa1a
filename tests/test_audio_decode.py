"""Decoding a block at a time gives the samples of decoding the whole file at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from dejavu_lab.core import audio
from dejavu_lab.core.audio import load_audio, to_mono


def _whole_file(path: Path, sample_rate: int) -> np.ndarray:
    """The reference: every frame read at once, its channels resampled, then mixed."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    if rate != sample_rate:
        data = np.asarray(soxr.resample(data, rate, sample_rate, quality="HQ"), np.float32)
    return to_mono(data)


BLOCK = 1000
# Lengths below, at, between and on multiples of the block (the last read is then empty).
LENGTHS = (BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK, 7 * BLOCK + 313)
CASES = [
    ("FLAC", "PCM_16", 44100, 2),
    ("WAV", "FLOAT", 48000, 1),
    ("WAV", "PCM_24", 22050, 3),
    ("FLAC", "PCM_24", 11025, 2),  # no resampling
    ("OGG", "VORBIS", 44100, 2),
]


@pytest.mark.parametrize(("container", "subtype", "rate", "channels"), CASES)
@pytest.mark.parametrize("n_frames", LENGTHS)
def test_block_decoding_is_bit_identical(
    container: str,
    subtype: str,
    rate: int,
    channels: int,
    n_frames: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(audio, "DECODE_BLOCK_FRAMES", BLOCK)
    rng = np.random.default_rng(n_frames * 7 + channels)
    frames = np.clip(rng.normal(0, 0.2, (n_frames, channels)), -1, 1)
    suffix = {"FLAC": ".flac", "WAV": ".wav", "OGG": ".ogg"}[container]
    path = tmp_path / f"song{suffix}"
    sf.write(str(path), frames, rate, subtype=subtype, format=container)
    expected = _whole_file(path, 11025)
    got = load_audio(path, sample_rate=11025).samples
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))  # bit for bit


def test_mp3_block_decoding_is_bit_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "MP3" not in sf.available_formats():
        pytest.skip("libsndfile without MP3")
    monkeypatch.setattr(audio, "DECODE_BLOCK_FRAMES", 4096)
    rng = np.random.default_rng(5)
    t = np.arange(3 * 44100) / 44100
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) + rng.normal(0, 0.05, len(t))
    path = tmp_path / "song.mp3"
    sf.write(str(path), np.stack([tone, np.roll(tone, 100)], axis=1), 44100, format="MP3")
    expected = _whole_file(path, 11025)
    got = load_audio(path, sample_rate=11025).samples
    assert got.shape == expected.shape and len(got) > 30000
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_blocks_are_not_aliased(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mono file at the target rate: each block's samples must survive the next read."""
    monkeypatch.setattr(audio, "DECODE_BLOCK_FRAMES", 100)
    ramp = (np.arange(1050) / 2048.0).astype(np.float32)
    path = tmp_path / "ramp.wav"
    sf.write(str(path), ramp, 11025, subtype="FLOAT")
    got = load_audio(path, sample_rate=11025).samples
    assert np.array_equal(got, ramp)
