"""Shared fixtures: seeded synthetic songs and a database fingerprinted from them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from dejavu_lab import Dejavu
from dejavu_lab.core.matching import Lookup
from dejavu_lab.studies.synth import synth_song, write_synth_songs

SONG_RATE = 22050
SONG_SECONDS = 30.0
N_SONGS = 10
#: Seeds of songs never fingerprinted (for "no match").
UNSEEN_SEEDS = range(100, 106)
#: Debian's Chromium, driven by playwright with ``executable_path`` (never ``playwright install``).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_missing() -> str:
    """Why headless Chromium cannot be driven here ("" when it can)."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found: apt-get install chromium"
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is not installed: pip install playwright"
    return ""


@pytest.fixture()
def chromium() -> Iterator[object]:
    """A headless Chromium (playwright ``Browser``) with a fresh temporary profile, closed after."""
    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20131101)


@pytest.fixture(scope="session")
def song_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("songs")
    write_synth_songs(directory, range(N_SONGS), duration_s=SONG_SECONDS, sample_rate=SONG_RATE)
    return directory


@pytest.fixture(scope="session")
def song_samples() -> dict[str, np.ndarray]:
    return {
        f"synth_{seed:03d}": synth_song(seed, SONG_SECONDS, SONG_RATE) for seed in range(N_SONGS)
    }


@pytest.fixture(scope="session")
def fingerprinted(song_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dejavu]:
    """The 10 synthetic songs fingerprinted with the default preset (DuckDB file)."""
    path = tmp_path_factory.mktemp("db") / "fingerprints.duckdb"
    djv = Dejavu({"database": {"type": "duckdb", "path": str(path)}})
    report = djv.fingerprint_directory(song_dir, [".wav"], 2, progress=False)
    assert len(report.added) == N_SONGS, report.summary()
    yield djv
    djv.close()


def add_noise(clip: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White noise at ``snr_db`` relative to the clip's power."""
    noise = rng.standard_normal(len(clip))
    noise *= np.sqrt(np.mean(clip**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return (clip + noise).astype(np.float32)


def lookup_rows(lookup: Lookup) -> list[tuple[int, int, int]]:
    """The rows of a lookup as sorted ``(query_index, song_id, offset)`` tuples."""
    return sorted(
        zip(
            lookup.query_index.tolist(),
            lookup.song_id.tolist(),
            lookup.offset.tolist(),
            strict=True,
        )
    )


@contextmanager
def duckdb_held_by_another_process(path: Path) -> Iterator[None]:
    """While inside, a child process holds a connection to the DuckDB file ``path``."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('held', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()
