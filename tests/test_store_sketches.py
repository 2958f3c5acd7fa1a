"""Each song's sketch (one uint32 a frame) in every store: DuckDB (memory, file), MariaDB,
PostgreSQL.

Server tests run in a throwaway database or schema (see ``test_store_contract``), and are
skipped, with the reason, when the server cannot be reached.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from test_store_contract import (
    KINDS,
    SERVERS,
    _contents,
    random_fingerprints,
    throwaway_database,
)

from dejavu_lab.core.hashing import Fingerprints
from dejavu_lab.exceptions import StoreError
from dejavu_lab.store import DuckDBStore, DuplicateSongError, SongInfo, open_store
from dejavu_lab.store.copy import copy_store

#: Frames of an hour of audio (about 43 a second): 620 kB, more than a MySQL BLOB holds.
HOUR_FRAMES = 155_000


@pytest.fixture(params=KINDS)
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Something open_store accepts, naming an empty database of each kind."""
    if request.param == "duckdb-memory":
        yield ":memory:"
    else:
        with _spec_of(request.param, tmp_path) as url:
            yield url


def sketch(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random frames over all 32 bits, the extremes included."""
    values = rng.integers(0, 2**32, n, dtype=np.uint32)
    values[: min(n, 3)] = [0, 2**31, 2**32 - 1][: min(n, 3)]
    return values


def info(k: int) -> SongInfo:
    return SongInfo(f"song {k}", f"/music/{k}.mp3", f"content-{k}", 60.0)


def raw_frames(store: Any, song_id: int) -> bytes:
    """The stored bytes of a song's sketch, read past the store's own decoding."""
    query = f"SELECT frames FROM sketches WHERE song_id = {int(song_id)}"
    if isinstance(store, DuckDBStore):
        with store.connection() as con:
            return bytes(con.execute(query).fetchall()[0][0])
    return bytes(store._execute(query)[0][0])


def drop_sketches_table(spec: str) -> None:
    """Make the database look like one written before sketches existed."""
    if spec.startswith("duckdb:"):
        con = duckdb.connect(spec.removeprefix("duckdb:"))
        con.execute("DROP TABLE sketches")
        con.close()
    else:
        store = open_store(spec)
        store._execute("DROP TABLE sketches")
        store.close()


def counts(store: Any) -> tuple[int, int, float]:
    """The stats that count songs (not the bytes the server's pages take)."""
    stats = store.stats()
    return stats.num_songs, stats.num_fingerprints, stats.audio_seconds


def assert_same_sketches(got: dict[int, np.ndarray], expected: dict[int, np.ndarray]) -> None:
    assert sorted(got) == sorted(expected)
    for song_id, values in expected.items():
        assert got[song_id].dtype == np.uint32 and got[song_id].ndim == 1
        np.testing.assert_array_equal(got[song_id], values)


# -- round trip -------------------------------------------------------------------


def test_sketches_round_trip_exactly(spec: str, rng: np.random.Generator) -> None:
    store = open_store(spec)
    given: dict[int, np.ndarray] = {}
    inputs: list[np.ndarray | None] = [
        sketch(rng, 10_000),  # four minutes
        None,
        sketch(rng, HOUR_FRAMES),
        sketch(rng, 1),
        np.zeros(0, np.uint32),  # a song too short for one frame
        sketch(rng, 500).astype(">u4"),  # big-endian in, the same values out
        np.arange(2**32 - 300, 2**32, dtype=np.int64),  # int64 values that fit
    ]
    for k, values in enumerate(inputs):
        song_id = store.add_song(info(k), random_fingerprints(rng, 50), sketch=values)
        assert song_id == k + 1
        if values is not None:
            given[song_id] = np.asarray(values).astype(np.uint32)
    asked = [*range(1, len(inputs) + 1), 999, 3, 3]  # an unknown id, a repeat
    assert_same_sketches(store.song_sketches(asked), given)
    assert_same_sketches(
        store.song_sketches(np.array([1, 2, 3], dtype=np.int32)),
        {
            1: given[1],
            3: given[3],
        },
    )
    assert store.song_sketches([2]) == {}  # stored with sketch=None
    assert store.song_sketches([]) == {}
    assert store.song_sketches([12345]) == {}
    # Stored as little-endian uint32, whatever the platform's byte order.
    assert raw_frames(store, 1) == given[1].astype("<u4").tobytes()
    assert raw_frames(store, 6) == given[6].astype("<u4").tobytes()
    sketches = store.song_sketches([1])
    sketches[1][0] ^= 1  # the caller's copy to change
    np.testing.assert_array_equal(store.song_sketches([1])[1], given[1])
    store.close()
    if spec != ":memory:":
        with open_store(spec) as again:
            assert_same_sketches(again.song_sketches(asked), given)


def test_a_duplicate_keeps_the_first_sketch_and_stores_none(
    spec: str, rng: np.random.Generator
) -> None:
    store = open_store(spec)
    first = sketch(rng, 2000)
    assert store.add_song(info(0), random_fingerprints(rng, 100), sketch=first) == 1
    before = (store.stats(), _contents(store))
    intruder = random_fingerprints(rng, 300)
    with pytest.raises(DuplicateSongError) as caught:
        store.add_song(info(0), intruder, sketch=sketch(rng, 3000))
    assert caught.value.song_id == 1
    assert (store.stats(), _contents(store)) == before
    assert_same_sketches(store.song_sketches([1, 2]), {1: first})
    later = sketch(rng, 100)
    assert store.add_song(info(1), random_fingerprints(rng, 100), sketch=later) == 2
    assert_same_sketches(store.song_sketches([1, 2]), {1: first, 2: later})
    store.close()


BAD_SKETCHES: list[tuple[Any, str]] = [
    (np.zeros((2, 50), np.uint32), r"1-D.*\(2, 50\)"),
    (np.array([[1]], np.uint32), r"1-D"),
    (np.array(7, np.uint32), r"1-D"),
    (np.array([1, 2, -1], np.int64), r"-1\.\.2 do not fit in uint32"),
    (np.array([0, 2**32], np.int64), r"do not fit in uint32"),
    (np.array([1.5, 2.0]), r"dtype float64"),
    (np.array([1.0, 2.0], np.float32), r"dtype float32"),
    (np.array([True, False]), r"dtype bool"),
    (np.array(["1", "2"]), r"dtype <U1"),
    ([[1, 2], [3]], r"not an array"),
]


@pytest.mark.parametrize(("bad", "problem"), BAD_SKETCHES)
def test_a_bad_sketch_is_refused_naming_the_song_and_nothing_is_stored(
    spec: str, rng: np.random.Generator, bad: Any, problem: str
) -> None:
    store = open_store(spec)
    kept = sketch(rng, 100)
    store.add_song(info(0), random_fingerprints(rng, 100), sketch=kept)
    before = (store.stats(), _contents(store), store.content_hashes())
    fingerprints = Fingerprints(
        np.arange(9_000_000, 9_000_500, dtype=np.uint32), np.arange(500, dtype=np.int32)
    )
    with pytest.raises(ValueError, match=problem) as caught:
        store.add_song(info(1), fingerprints, sketch=bad)
    assert "'song 1'" in str(caught.value) and "/music/1.mp3" in str(caught.value)
    assert (store.stats(), _contents(store), store.content_hashes()) == before
    assert len(store.lookup(fingerprints.hashes)) == 0
    assert_same_sketches(store.song_sketches([1, 2]), {1: kept})
    # Nothing of it was stored: the same song with a good sketch goes in next.
    good = sketch(rng, 50)
    assert store.add_song(info(1), fingerprints, sketch=good) == 2
    assert_same_sketches(store.song_sketches([1, 2]), {1: kept, 2: good})
    store.close()


def test_a_song_is_never_stored_without_its_sketch(spec: str, rng: np.random.Generator) -> None:
    """A sketch that cannot be stored takes the song and its hashes with it."""
    store = open_store(spec)
    store.add_song(info(0), random_fingerprints(rng, 100), sketch=sketch(rng, 10))
    orphan = np.array([5, 6, 7], np.uint32).astype("<u4").tobytes()
    # A stray row where the next song's sketch goes makes that insert fail.
    if isinstance(store, DuckDBStore):
        with store.writing() as con:
            con.execute("INSERT INTO sketches VALUES (2, ?)", [orphan])
    else:
        store._execute("INSERT INTO sketches (song_id, frames) VALUES (2, %s)", [orphan])
    before = (counts(store), _contents(store))
    fingerprints = random_fingerprints(rng, 400)
    with pytest.raises((StoreError, duckdb.Error)) as caught:
        store.add_song(info(1), fingerprints, sketch=sketch(rng, 10))
    assert not isinstance(caught.value, DuplicateSongError)  # no such song is stored
    assert (counts(store), _contents(store)) == before  # rolled-back rows may take room
    assert store.content_hashes() == {"content-0"}
    assert raw_frames(store, 2) == orphan
    store.close()


@pytest.mark.parametrize("kind", SERVERS)
def test_server_size_counts_the_sketches(kind: str, rng: np.random.Generator) -> None:
    with throwaway_database(kind) as url, open_store(url) as store:
        store.add_song(info(0), random_fingerprints(rng, 10), sketch=sketch(rng, HOUR_FRAMES))
        if kind == "mariadb":  # InnoDB refreshes its size estimate with its statistics
            store._execute("ANALYZE TABLE meta, songs, fingerprints, sketches")
        assert store.stats().size_bytes > 4 * HOUR_FRAMES


# -- databases written before sketches ----------------------------------------------


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "duckdb-memory"])
def test_a_database_of_before_sketches_opens_and_gains_them(
    kind: str, tmp_path: Path, rng: np.random.Generator
) -> None:
    with _spec_of(kind, tmp_path) as spec:
        with open_store(spec) as store:
            store.write_params({"hasher__fan_value": 8}, "0.1.0")
            old = random_fingerprints(rng, 300)
            store.add_song(info(0), old)
        drop_sketches_table(spec)
        if kind == "duckdb-file":
            path = Path(spec.removeprefix("duckdb:"))
            modified = path.stat().st_mtime_ns
            with DuckDBStore(path, read_only=True) as reader:
                assert reader.song_sketches([1]) == {}
                assert reader.song_ids_with_sketch() == set()
                assert [s.name for s in reader.songs()] == ["song 0"]
                assert len(reader.lookup(old.hashes)) >= len(old)
                assert reader.stats().num_songs == 1
            assert path.stat().st_mtime_ns == modified  # reading wrote nothing
            con = duckdb.connect(str(path), read_only=True)
            tables = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
            con.close()
            assert ("sketches",) not in tables
        with open_store(spec) as store:  # for writing: the table is added
            assert store.song_sketches([1]) == {}
            assert store.song_ids_with_sketch() == set()
            assert store.read_params() == {"params": {"hasher__fan_value": 8}, "version": "0.1.0"}
            new = sketch(rng, 4000)
            assert store.add_song(info(1), random_fingerprints(rng, 300), sketch=new) == 2
            assert_same_sketches(store.song_sketches([1, 2]), {2: new})
            assert len(store.lookup(old.hashes)) >= len(old)
        with open_store(spec) as store:
            assert_same_sketches(store.song_sketches([1, 2]), {2: new})
            assert store.song_ids_with_sketch() == {2}


def _spec_of(kind: str, tmp_path: Path) -> AbstractContextManager[str]:
    """A file or server database of ``kind``, named for the test (a server's dropped after)."""
    if kind == "duckdb-file":
        return nullcontext(f"duckdb:{tmp_path / 'fingerprints.duckdb'}")
    return throwaway_database(kind)


# -- copies -----------------------------------------------------------------------


def _source(rng: np.random.Generator) -> tuple[DuckDBStore, dict[int, np.ndarray]]:
    """Four songs, two of them with sketches."""
    source = DuckDBStore(":memory:")
    source.write_params({"hasher__fan_value": 8}, "0.1.0")
    given = {}
    for k in range(4):
        values = sketch(rng, 1000 + k) if k % 2 == 0 else None
        song_id = source.add_song(info(k), random_fingerprints(rng, 200), sketch=values)
        if values is not None:
            given[song_id] = values
    return source, given


def test_copy_carries_the_sketches(spec: str, rng: np.random.Generator) -> None:
    source, given = _source(rng)
    with open_store(spec) as target:
        report = copy_store(source, target, progress=False)
        assert (report.added, report.num_sketches) == (4, 2)
        assert _contents(target) == _contents(source)
        assert_same_sketches(target.song_sketches([1, 2, 3, 4]), given)
        again = copy_store(source, target, progress=False)  # idempotent
        assert (again.added, again.skipped, again.num_sketches) == (0, 4, 0)
        back = DuckDBStore(":memory:")
        assert copy_store(target, back, progress=False).num_sketches == 2  # and out again
        assert_same_sketches(back.song_sketches([1, 2, 3, 4]), given)
        back.close()
    source.close()


def test_copy_of_a_database_of_before_sketches(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "old.duckdb"
    with DuckDBStore(path) as old:
        old.write_params({"hasher__fan_value": 8}, "0.1.0")
        for k in range(2):
            old.add_song(info(k), random_fingerprints(rng, 200))
    drop_sketches_table(f"duckdb:{path}")
    target = DuckDBStore(":memory:")
    report = copy_store(f"duckdb:{path}", target, progress=False)  # opened read-only
    assert (report.added, report.num_sketches) == (2, 0)
    assert target.song_sketches([1, 2]) == {}
    with DuckDBStore(path, read_only=True) as reader:
        assert _contents(target) == _contents(reader)
    target.close()


# -- which songs have one ----------------------------------------------------------


def test_song_ids_with_sketch_lists_exactly_the_songs_with_one(
    spec: str, rng: np.random.Generator
) -> None:
    store = open_store(spec)
    assert store.song_ids_with_sketch() == set()
    store.add_song(info(0), random_fingerprints(rng, 100), sketch=sketch(rng, 500))
    assert store.song_ids_with_sketch() == {1}
    store.add_song(info(1), random_fingerprints(rng, 100))  # none
    store.add_song(info(2), random_fingerprints(rng, 100), sketch=np.zeros(0, np.uint32))
    store.add_song(info(3), random_fingerprints(rng, 100), sketch=None)
    assert store.song_ids_with_sketch() == {1, 3}  # an empty sketch is a sketch
    with pytest.raises(DuplicateSongError):
        store.add_song(info(1), random_fingerprints(rng, 100), sketch=sketch(rng, 10))
    with pytest.raises(ValueError, match="1-D"):
        store.add_song(info(4), random_fingerprints(rng, 100), sketch=np.zeros((2, 2), np.uint32))
    assert store.song_ids_with_sketch() == {1, 3}  # refused songs add none
    assert store.add_sketch(2, sketch(rng, 300)) is True
    assert store.song_ids_with_sketch() == {1, 2, 3}
    assert store.add_sketch(2, sketch(rng, 300)) is False
    ids = store.song_ids_with_sketch()
    assert all(type(song_id) is int for song_id in ids)
    assert ids == set(store.song_sketches([s.song_id for s in store.songs()]))
    store.close()
    if spec != ":memory:":
        with open_store(spec) as again:
            assert again.song_ids_with_sketch() == {1, 2, 3}


# -- adding a sketch later ----------------------------------------------------------


def test_add_sketch_fills_a_missing_sketch_and_never_replaces_one(
    spec: str, rng: np.random.Generator
) -> None:
    store = open_store(spec)
    had = sketch(rng, 3000)
    store.add_song(info(0), random_fingerprints(rng, 100))  # stored without a sketch
    store.add_song(info(1), random_fingerprints(rng, 100), sketch=had)
    before = (counts(store), _contents(store))
    later = sketch(rng, 2500)
    assert store.add_sketch(1, later) is True
    assert_same_sketches(store.song_sketches([1, 2]), {1: later, 2: had})
    assert raw_frames(store, 1) == later.astype("<u4").tobytes()
    assert store.add_sketch(np.int64(1), sketch(rng, 2500)) is False  # kept as it is
    assert store.add_sketch(2, sketch(rng, 3000)) is False
    assert_same_sketches(store.song_sketches([1, 2]), {1: later, 2: had})
    assert (counts(store), _contents(store)) == before  # nothing else touched
    store.close()
    if spec != ":memory:":
        with open_store(spec) as again:
            assert_same_sketches(again.song_sketches([1, 2]), {1: later, 2: had})


def test_add_sketch_to_an_unknown_song_names_it_and_stores_nothing(
    spec: str, rng: np.random.Generator
) -> None:
    store = open_store(spec)
    store.add_song(info(0), random_fingerprints(rng, 100))
    with pytest.raises(StoreError, match=r"no song 999 is stored"):
        store.add_sketch(999, sketch(rng, 10))
    assert store.song_sketches([1, 999]) == {}
    assert store.add_sketch(1, sketch(rng, 10)) is True  # the next one goes in
    store.close()


@pytest.mark.parametrize(("bad", "problem"), [*BAD_SKETCHES, (None, r"no sketch given")])
def test_add_sketch_refuses_a_bad_sketch_naming_the_song(
    spec: str, rng: np.random.Generator, bad: Any, problem: str
) -> None:
    store = open_store(spec)
    store.add_song(info(0), random_fingerprints(rng, 100))
    with pytest.raises(ValueError, match=problem) as caught:
        store.add_sketch(1, bad)
    assert str(caught.value).startswith("sketch of song 1: ")
    assert store.song_sketches([1]) == {}
    with pytest.raises(ValueError, match=r"song_id=1\.0 is not allowed"):
        store.add_sketch(1.0, sketch(rng, 10))  # type: ignore[arg-type]
    good = sketch(rng, 10)
    assert store.add_sketch(1, good) is True
    assert_same_sketches(store.song_sketches([1]), {1: good})
    store.close()


def _race_for_a_sketch(spec: str, values: np.ndarray, barrier: Any, results: Any) -> None:
    """Add song 1's sketch when every writer is ready; put the answer (or the error)."""
    try:
        with open_store(spec) as store:
            barrier.wait(timeout=60)
            results.put(store.add_sketch(1, values))
    except BaseException as error:
        results.put(repr(error))


@pytest.mark.parametrize("how", ["processes", "threads"])
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "duckdb-memory"])
def test_concurrent_writers_of_one_sketch_one_wins(
    kind: str, how: str, tmp_path: Path, rng: np.random.Generator
) -> None:
    """Each writer has its own connection; the one that commits first stores its sketch."""
    with _spec_of(kind, tmp_path) as spec:
        _race(spec, how, rng)


def _race(spec: str, how: str, rng: np.random.Generator) -> None:
    with open_store(spec) as store:
        store.add_song(info(0), random_fingerprints(rng, 100))
    writers = [sketch(rng, 1000 + k) for k in range(4)]
    if how == "processes":
        context = multiprocessing.get_context("fork")
        barrier, results = context.Barrier(len(writers)), context.Queue()
        jobs: list[Any] = [
            context.Process(target=_race_for_a_sketch, args=(spec, values, barrier, results))
            for values in writers
        ]
    else:
        barrier, results = threading.Barrier(len(writers)), queue.Queue()
        jobs = [
            threading.Thread(target=_race_for_a_sketch, args=(spec, values, barrier, results))
            for values in writers
        ]
    for job in jobs:
        job.start()
    answers = [results.get(timeout=180) for _ in writers]
    for job in jobs:
        job.join(timeout=60)
    assert sorted(answers, key=str) == [False, False, False, True], answers
    with open_store(spec) as store:
        stored = store.song_sketches([1])[1]
    assert sum(np.array_equal(stored, values) for values in writers) == 1
