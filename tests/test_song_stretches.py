"""Song stretches (rows by offset) give exactly the song index's stretches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dejavu_lab.core.hashing import Fingerprints
from dejavu_lab.store import DuckDBStore
from dejavu_lab.store.base import SongInfo
from dejavu_lab.store.indexes.song_index import SongIndex
from dejavu_lab.store.indexes.song_stretches import (
    BLOCK_FRAMES,
    SongStretches,
    stretch_sidecar_path,
)

RANGES = (
    (None, None),
    (-50, 10),
    (0, BLOCK_FRAMES),
    (BLOCK_FRAMES - 1, BLOCK_FRAMES + 1),
    (100, 5000),
    (7000, 7000),
    (9000, 8000),
    (-(2**62), 2**62),
    (5, None),
    (None, 130),
    (65530, 70000),
)


def random_song_index(rng: np.random.Generator) -> SongIndex:
    """A few songs of random rows (repeated rows, narrow or wide offsets)."""
    n = int(rng.integers(1, 3000))
    hashes = rng.integers(0, int(rng.integers(1, 2**32)), n, dtype=np.uint64).astype(np.uint32)
    song_ids = rng.integers(0, int(rng.integers(1, 8)), n).astype(np.int32)
    offsets = rng.integers(0, int(rng.choice([50, 1000, 70000])), n).astype(np.int32)
    return SongIndex.from_rows(hashes, song_ids, offsets)


@pytest.mark.parametrize("seed", range(20))
def test_stretches_equal_the_song_index_rows(seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    songs = random_song_index(rng)
    in_memory = SongStretches.from_song_index(songs)
    on_disk = SongStretches.from_song_index(songs, tmp_path / "db.stretches", {"seed": seed})
    for stretches in (in_memory, on_disk):
        for song_id in range(-1, 9):
            for start, stop in RANGES:
                want = songs.song_rows(song_id, start, stop)
                got = stretches.rows(song_id, start, stop)
                for a, b in zip(got, want, strict=True):
                    assert a.dtype == b.dtype
                    np.testing.assert_array_equal(a, b)
    on_disk.close()


@pytest.mark.parametrize("seed", range(10))
def test_stretches_read_at_once_hold_each_stretch(seed: int, tmp_path: Path) -> None:
    """blocks_of: every stretch's rows (whole blocks around it), in rows()' order."""
    rng = np.random.default_rng(seed)
    songs = random_song_index(rng)
    in_memory = SongStretches.from_song_index(songs)
    on_disk = SongStretches.from_song_index(songs, tmp_path / "db.stretches", {"seed": seed})
    picks = rng.integers(0, len(RANGES), 12)
    song_ids = rng.integers(-1, 9, len(picks))
    start = np.array([-(2**40) if RANGES[p][0] is None else RANGES[p][0] for p in picks])
    stop = np.array([2**40 if RANGES[p][1] is None else RANGES[p][1] for p in picks])
    for stretches in (in_memory, on_disk):
        hashes, offsets, bounds = stretches.blocks_of(song_ids, start, stop)
        assert hashes.dtype == np.uint32 and bounds.dtype == np.int64
        assert len(bounds) == len(picks) + 1 and bounds[-1] == len(hashes) == len(offsets)
        for i, song_id in enumerate(song_ids):
            rows = slice(bounds[i], bounds[i + 1])
            inside = (offsets[rows] >= start[i]) & (offsets[rows] < stop[i])
            want = songs.song_rows(int(song_id), int(start[i]), int(stop[i]))
            np.testing.assert_array_equal(hashes[rows][inside], want[0])
            np.testing.assert_array_equal(offsets[rows][inside], want[1])
            # At most a block of rows too many at either end.
            if bounds[i + 1] > bounds[i]:
                assert offsets[rows][0] >= max(start[i], 0) // BLOCK_FRAMES * BLOCK_FRAMES
                assert offsets[rows][-1] < -(-stop[i] // BLOCK_FRAMES) * BLOCK_FRAMES
    on_disk.close()


def test_stretch_sidecar_opens_only_with_its_signature(tmp_path: Path) -> None:
    songs = random_song_index(np.random.default_rng(0))
    folder = tmp_path / "db.stretches"
    assert SongStretches.open(folder, {"generation": 1}) is None  # missing
    SongStretches.from_song_index(songs, folder, {"generation": 1}).close()
    assert SongStretches.open(folder, {"generation": 2}) is None
    opened = SongStretches.open(folder, {"generation": 1})
    assert opened is not None and len(opened) == len(songs)
    opened.close()


def test_store_reads_stretches_beside_the_database(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "fingerprints.duckdb"
    store = DuckDBStore(path)
    for song in range(3):
        n = 2000
        fingerprints = Fingerprints(
            rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32),
            rng.integers(0, 5000, n).astype(np.int32),
        ).unique()
        store.add_song(SongInfo(f"s{song}", "x", f"c{song}", 120.0), fingerprints)
    store.load_index()
    for song_id in (1, 2, 3):
        whole = store.song_fingerprints(song_id)
        key = (whole.offsets.astype(np.int64) << 32) | whole.hashes
        assert np.all(np.diff(key) >= 0)  # by offset, then hash
        part = store.song_fingerprints(song_id, 1000, 1300)
        inside = (whole.offsets >= 1000) & (whole.offsets < 1300)
        np.testing.assert_array_equal(part.hashes, whole.hashes[inside])
        np.testing.assert_array_equal(part.offsets, whole.offsets[inside])
        # The peak check's reads of several songs at once hold the same rows.
        read = store.song_stretches([song_id, 9, song_id], [1000, 0, -5], [1300, 10, 40])
        for i, (lo, hi) in enumerate([(1000, 1300), (0, 10), (-5, 40)]):
            want = store.song_fingerprints([song_id, 9, song_id][i], lo, hi)
            got = read.fingerprints(i)
            np.testing.assert_array_equal(got.hashes, want.hashes)
            np.testing.assert_array_equal(got.offsets, want.offsets)
    assert stretch_sidecar_path(path).is_dir()
    # A new song makes the sidecar stale: it is rebuilt with the song's rows.
    store.add_song(
        SongInfo("s3", "x", "c3", 120.0),
        Fingerprints(np.array([5, 9], np.uint32), np.array([10, 20], np.int32)),
    )
    assert store.song_fingerprints(4, 0, 15).hashes.tolist() == [5]
    store.close()
