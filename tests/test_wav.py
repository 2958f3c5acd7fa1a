"""The direct 16-bit PCM WAV reader gives exactly libsndfile's samples, or declines."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dejavu_lab.core import audio
from dejavu_lab.core.audio import load_audio
from dejavu_lab.core.wav import load_pcm16


def _write(
    path: Path, frames: np.ndarray, rate: int, subtype: str = "PCM_16", kind: str = "WAV"
) -> Path:
    sf.write(path, frames, rate, subtype=subtype, format=kind)
    return path


def _with_chunk_before_data(path: Path, name: bytes, body: bytes) -> None:
    """Insert a chunk (padded to an even length) just before the data chunk."""
    raw = path.read_bytes()
    at = raw.index(b"data")
    chunk = name + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)
    raw = raw[:at] + chunk + raw[at:]
    path.write_bytes(raw[:4] + struct.pack("<I", len(raw) - 8) + raw[8:])


@pytest.mark.parametrize("seed", range(12))
def test_pcm16_samples_equal_libsndfiles(seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    channels = 1 + seed % 3
    n = int(rng.integers(1, 20000))
    ints = rng.integers(-32768, 32768, (n, channels)).astype(np.int16)
    ints[0] = -32768  # the extremes
    ints[-1] = 32767
    rate = int(rng.choice([8000, 11025, 22050, 44100, 48000]))
    kind = "WAVEX" if seed % 2 else "WAV"  # WAVE_FORMAT_EXTENSIBLE, and the plain header
    path = _write(tmp_path / "a.wav", ints, rate, kind=kind)
    assert path.read_bytes()[20:22] == (b"\xfe\xff" if seed % 2 else b"\x01\x00")
    if seed % 3 == 1:
        _with_chunk_before_data(path, b"LIST", rng.bytes(int(rng.integers(1, 40))))
    expected, expected_rate = sf.read(path, dtype="float32", always_2d=True)
    seen = []
    loaded = load_pcm16(path, seen.append)
    if kind == "WAVEX" and sys.version_info < (3, 12):
        assert loaded is None  # wave reads WAVE_FORMAT_EXTENSIBLE from 3.12: libsndfile does
        return
    assert loaded is not None
    got, layout = loaded
    assert (layout.sample_rate, layout.n_frames, layout.channels) == (expected_rate, n, channels)
    assert seen == [layout]  # the header seen before the frames are read
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))  # bit for bit


@pytest.mark.parametrize("seed", range(4))
def test_load_audio_is_unchanged_by_the_direct_reader(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    frames = rng.normal(0, 0.2, (int(rng.integers(3000, 60000)), 1 + seed % 2))
    path = _write(tmp_path / "b.wav", frames, 44100)
    direct = load_audio(path, sample_rate=11025)
    monkeypatch.setattr(audio, "load_pcm16", lambda *_: None)
    libsndfile = load_audio(path, sample_rate=11025)
    assert np.array_equal(direct.samples.view(np.uint32), libsndfile.samples.view(np.uint32))


OTHER_FORMATS = [(s, "WAV") for s in ("PCM_24", "PCM_32", "FLOAT", "PCM_U8", "ULAW")] + [
    (s, "WAVEX") for s in ("PCM_24", "PCM_32", "FLOAT", "PCM_U8")
]


@pytest.mark.parametrize(("subtype", "kind"), OTHER_FORMATS)
def test_other_sample_formats_are_left_to_libsndfile(
    subtype: str, kind: str, tmp_path: Path
) -> None:
    path = _write(tmp_path / "c.wav", np.zeros((100, 1)), 8000, subtype, kind)
    assert load_pcm16(path) is None
    assert load_audio(path, sample_rate=8000).duration_s == pytest.approx(100 / 8000)


def test_truncated_and_foreign_files_are_declined(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.wav", np.zeros((1000, 2)), 8000)
    raw = path.read_bytes()
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(raw[:-10])  # the data chunk runs past the end
    assert load_pcm16(truncated) is None
    assert load_audio(truncated, sample_rate=8000).duration_s < 1000 / 8000  # by libsndfile
    noise = tmp_path / "noise.wav"
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    no_fmt = tmp_path / "no_fmt.wav"
    no_fmt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEdata\x04\x00\x00\x00\x00\x00\x00\x00")
    assert load_pcm16(no_fmt) is None and load_pcm16(noise) is None
    assert load_pcm16(tmp_path / "missing.wav") is None
    assert load_pcm16(path) is not None
