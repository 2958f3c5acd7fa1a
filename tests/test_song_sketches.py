"""The song sketches sidecar (``<db>.sketches``): the same sketches as the table, no
connection a read, rebuilt when a song or a sketch is added."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest

from dejavu_lab.core.hashing import Fingerprints
from dejavu_lab.store import DuckDBStore, SongInfo, duckdb_connection
from dejavu_lab.store.indexes.song_sketches import SongSketches, sketch_sidecar_path


def songs(rng: np.random.Generator, n: int) -> list[tuple[int, np.ndarray]]:
    """``n`` songs of ascending, gapped ids with sketches of 0 to 300 frames."""
    ids = np.cumsum(rng.integers(1, 4, n))
    return [
        (int(song), rng.integers(0, 2**32, int(rng.integers(0, 300)), dtype=np.uint32))
        for song in ids
    ]


@pytest.mark.parametrize("on_disk", [False, True])
def test_reads_each_song_exactly(tmp_path: Path, on_disk: bool) -> None:
    rng = np.random.default_rng(5)
    given = songs(rng, 40)
    folder = tmp_path / "db.sketches" if on_disk else None
    lengths = [len(bits) for _, bits in given] if on_disk else None
    built = SongSketches.from_songs(given, folder, {"v": 1}, lengths=lengths)
    read = built.read([song for song, _ in reversed(given)] + [0, 10_000])
    assert sorted(read) == [song for song, _ in given]  # unknown ids are absent
    for song, bits in given:
        np.testing.assert_array_equal(read[song], bits)
        assert read[song].dtype == np.uint32
    if folder is not None:
        reopened = SongSketches.open(folder, {"v": 1})
        assert reopened is not None
        np.testing.assert_array_equal(reopened.read([given[7][0]])[given[7][0]], given[7][1])
        reopened.close()
    built.close()


def test_a_stale_or_damaged_sidecar_is_not_opened(tmp_path: Path) -> None:
    given = songs(np.random.default_rng(1), 5)
    folder = tmp_path / "db.sketches"
    lengths = [len(bits) for _, bits in given]
    SongSketches.from_songs(given, folder, {"songs": 5}, lengths=lengths).close()
    assert SongSketches.open(folder, {"songs": 6}) is None
    assert SongSketches.open(tmp_path / "elsewhere", {"songs": 5}) is None
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "format": 0}))
    assert SongSketches.open(folder, {"songs": 5}) is None
    (folder / "meta.json").write_text(json.dumps(meta))
    np.save(folder / "starts.npy", np.array([0, 1], np.int64))  # not the songs' starts
    assert SongSketches.open(folder, {"songs": 5}) is None


def test_bad_input_is_refused_and_no_sidecar_left(tmp_path: Path) -> None:
    bits = np.zeros(3, np.uint32)
    with pytest.raises(ValueError, match="ascend"):
        SongSketches.from_songs([(2, bits), (2, bits)])
    with pytest.raises(ValueError, match="song 4: sketch of 3 frames, 2 expected"):
        SongSketches.from_songs([(4, bits)], tmp_path / "db.sketches", {}, lengths=[2])
    with pytest.raises(ValueError, match="lengths"):
        SongSketches.from_songs([(4, bits)], tmp_path / "db.sketches", {})
    assert list(tmp_path.iterdir()) == []


def test_no_sketches_reads_none(tmp_path: Path) -> None:
    empty = SongSketches.from_songs([], tmp_path / "db.sketches", {}, lengths=[])
    assert empty.read([1, 2]) == {}
    reopened = SongSketches.open(tmp_path / "db.sketches", {})
    assert reopened is not None and reopened.read([1]) == {}


def _add(store: DuckDBStore, k: int, sketch: np.ndarray | None) -> int:
    rng = np.random.default_rng(k)
    fingerprints = Fingerprints(
        rng.integers(0, 2**32, 50, dtype=np.uint64).astype(np.uint32),
        rng.integers(0, 500, 50).astype(np.int32),
    ).unique()
    info = SongInfo(f"song {k}", f"/music/{k}.mp3", f"content-{k}", 60.0)
    return store.add_song(info, fingerprints, sketch=sketch)


def test_store_reads_the_sidecar_without_a_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "db.duckdb")
    rng = np.random.default_rng(3)
    writer = DuckDBStore(path)
    stored = {
        _add(writer, k, rng.integers(0, 2**32, 100 + k, dtype=np.uint32)): k for k in range(6)
    }
    _add(writer, 99, None)  # a song without a sketch
    reader = DuckDBStore(path, read_only=True)
    by_sql = DuckDBStore(path, read_only=True, index="sql")
    ids = [*stored, 7, 1_000]
    want = by_sql.song_sketches(ids)
    assert sorted(want) == sorted(stored)
    first = reader.song_sketches(ids)
    assert sketch_sidecar_path(path).is_dir()
    assert sorted(first) == sorted(want)
    for song in want:
        np.testing.assert_array_equal(first[song], want[song])
    # Once built, a read opens no connection to the file (each would cost ~20 ms).
    opened: list[str] = []
    real_connect = duckdb_connection.duckdb.connect

    def counting(*args: object, **kwargs: object) -> duckdb.DuckDBPyConnection:
        opened.append(str(args[0]))
        return real_connect(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(duckdb_connection.duckdb, "connect", counting)
    for _ in range(5):
        again = reader.song_sketches(list(stored)[:3])
        assert sorted(again) == sorted(list(stored)[:3])
    assert opened == []
    monkeypatch.undo()
    # A song and a sketch added by another store make the sidecar stale: both are read.
    new = _add(writer, 7, np.arange(5, dtype=np.uint32))
    assert writer.add_sketch(7, np.arange(9, dtype=np.uint32))
    read = reader.song_sketches([new, 7])
    assert read[new].tolist() == list(range(5))
    assert read[7].tolist() == list(range(9))
    for store in (writer, reader, by_sql):
        store.close()


def test_an_unwritable_sidecar_falls_back_to_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "db.duckdb")
    with DuckDBStore(path) as writer:
        song = _add(writer, 1, np.arange(4, dtype=np.uint32))

    def refuse(*args: object, **kwargs: object) -> SongSketches:
        raise PermissionError("read-only folder")

    monkeypatch.setattr(SongSketches, "from_songs", refuse)
    with DuckDBStore(path, read_only=True) as reader:
        assert reader.song_sketches([song])[song].tolist() == [0, 1, 2, 3]
    assert not sketch_sidecar_path(path).exists()


def test_a_database_of_before_sketches_reads_none(tmp_path: Path) -> None:
    path = str(tmp_path / "db.duckdb")
    with DuckDBStore(path) as writer:
        song = _add(writer, 1, None)
    con = duckdb.connect(path)
    con.execute("DROP TABLE sketches")
    con.close()
    with DuckDBStore(path, read_only=True) as reader:
        assert reader.song_sketches([song]) == {}
