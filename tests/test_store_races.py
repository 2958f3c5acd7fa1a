"""Writers racing to store the same song (same content hash): one stores it, the others get
:class:`DuplicateSongError`, and nothing already stored is lost.

In one process, DuckDB lets several connections to one file write at once, each in its
own transaction: a writer that checked for the song before another committed it meets
that song's row only at its INSERT or its COMMIT. Those moments are reproduced
deterministically by letting a second store commit the song just before a given
statement of the first one's transaction. Server tests are skipped, with the reason,
when the server cannot be reached (see ``test_store_contract``).
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from test_store_contract import KINDS, _contents
from test_store_sketches import _spec_of, assert_same_sketches, sketch

from dejavu_lab.core.hashing import Fingerprints
from dejavu_lab.exceptions import StoreError
from dejavu_lab.store import DuckDBStore, DuplicateSongError, SongInfo, open_store

#: The song every writer stores.
CONTESTED = SongInfo("contested", "/music/contested.mp3", "content-contested", 60.0)


def own_fingerprints(writer: int, n: int = 500) -> Fingerprints:
    """Hashes no other writer has (a range of its own), so that a loser's rows would show."""
    start = 1_000_000 * (writer + 1)
    return Fingerprints(
        np.arange(start, start + n, dtype=np.uint32), np.arange(n, dtype=np.int32) * 3
    )


class _Interleaved:
    """A DuckDB connection that runs ``meanwhile()`` once, just before the first statement
    starting with ``before``: another writer's work, committed inside this one's transaction."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, before: str, meanwhile: Callable[[], None]
    ) -> None:
        self._con = con
        self._before = before
        self._meanwhile: Callable[[], None] | None = meanwhile

    def execute(self, query: str, parameters: Any = None) -> duckdb.DuckDBPyConnection:
        if self._meanwhile is not None and query.lstrip().startswith(self._before):
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
        if parameters is None:
            return self._con.execute(query)
        return self._con.execute(query, parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


#: Statements of a DuckDB song insert, in order; the other writer commits just before one.
#: Before the first (the duplicate check) it is seen at once; after it, only by the UNIQUE
#: key: at the INSERT of the song's row, or at the COMMIT.
MOMENTS = [
    "SELECT song_id FROM songs",
    "SELECT nextval",
    "INSERT INTO songs",
    "INSERT INTO fingerprints",
    "INSERT INTO sketches",
    "COMMIT",
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_duckdb_writer_that_loses_the_race_gets_duplicate_song_error(
    moment: str, tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fingerprints.duckdb"
    loser, winner = DuckDBStore(path), DuckDBStore(path)
    loser.add_song(
        SongInfo("first", "/music/first.mp3", "content-first", 30.0), own_fingerprints(9)
    )
    won: list[int] = []
    winner_sketch, loser_sketch = sketch(rng, 300), sketch(rng, 400)

    def winner_commits() -> None:
        won.append(winner.add_song(CONTESTED, own_fingerprints(0), sketch=winner_sketch))

    connect = loser._connect
    monkeypatch.setattr(
        loser,
        "_connect",
        lambda *, write: _Interleaved(connect(write=write), moment, winner_commits),
    )
    with pytest.raises(DuplicateSongError) as caught:
        loser.add_song(CONTESTED, own_fingerprints(1), sketch=loser_sketch)
    assert len(won) == 1  # the other writer did commit, inside the loser's transaction
    song_id = won[0]
    assert (caught.value.content_hash, caught.value.song_id) == (CONTESTED.content_hash, song_id)
    monkeypatch.undo()

    for store in (loser, winner, DuckDBStore(path, read_only=True)):
        assert [(s.song_id, s.name) for s in store.songs()] == [
            (1, "first"),
            (song_id, "contested"),
        ]
        stored = store.song_fingerprints(song_id)
        np.testing.assert_array_equal(stored.hashes, own_fingerprints(0).hashes)
        np.testing.assert_array_equal(stored.offsets, own_fingerprints(0).offsets)
        assert len(store.lookup(own_fingerprints(1).hashes)) == 0  # none of the loser's rows
        assert store.stats().num_fingerprints == 1000
        assert_same_sketches(store.song_sketches([1, 2, 3, 4]), {song_id: winner_sketch})
    # The loser's store goes on working.
    later = loser.add_song(
        SongInfo("later", "/later.mp3", "content-later", 5.0), own_fingerprints(2)
    )
    assert later > song_id and [s.name for s in loser.songs()] == ["first", "contested", "later"]
    loser.close()
    winner.close()


def test_duckdb_conflict_of_another_key_is_not_a_duplicate(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """A conflict on a key other than the content hash is raised as it is."""
    store = DuckDBStore(tmp_path / "fingerprints.duckdb")
    store.add_song(SongInfo("first", "/first.mp3", "content-first", 30.0), own_fingerprints(0))
    with store.writing() as con:  # a stray row where the next song's sketch goes
        con.execute("INSERT INTO sketches VALUES (2, ?)", [b"\x00\x00\x00\x00"])
    before = _contents(store)
    with pytest.raises(duckdb.ConstraintException) as caught:
        store.add_song(CONTESTED, own_fingerprints(1), sketch=sketch(rng, 10))
    assert not isinstance(caught.value, DuplicateSongError)
    assert _contents(store) == before
    store.close()


class _CommitConflicts:
    """A DuckDB connection whose every COMMIT fails as if another connection had just
    committed the same key (and is rolled back, as DuckDB does)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self.commits = 0

    def execute(self, query: str, parameters: Any = None) -> duckdb.DuckDBPyConnection:
        if query == "COMMIT":
            self.commits += 1
            self._con.execute("ROLLBACK")
            raise duckdb.TransactionException(
                "TransactionContext Error: Failed to commit: PRIMARY KEY or UNIQUE constraint "
                'violation: duplicate key "content-contested"'
            )
        if parameters is None:
            return self._con.execute(query)
        return self._con.execute(query, parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def test_duckdb_writer_kept_contested_gives_up_after_lock_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conflict that never resolves ends in a StoreError naming the file and the song."""
    path = tmp_path / "fingerprints.duckdb"
    store = DuckDBStore(path, lock_timeout=0.3)
    store.add_song(SongInfo("first", "/first.mp3", "content-first", 30.0), own_fingerprints(9))
    before = _contents(store)
    proxies: list[_CommitConflicts] = []
    connect = store._connect

    def conflicting(*, write: bool) -> Any:
        proxies.append(_CommitConflicts(connect(write=write)))
        return proxies[-1]

    monkeypatch.setattr(store, "_connect", conflicting)
    with pytest.raises(
        StoreError, match=r"content hash \(content-contested\) for 0\.3 s"
    ) as caught:
        store.add_song(CONTESTED, own_fingerprints(1))
    assert str(path) in str(caught.value) and CONTESTED.path in str(caught.value)
    assert isinstance(caught.value.__cause__, duckdb.TransactionException)
    assert sum(proxy.commits for proxy in proxies) > 1  # retried until the deadline
    monkeypatch.undo()
    assert _contents(store) == before
    store.close()


def _race_for_a_song(spec: str, writer: int, barrier: Any, results: Any) -> None:
    """Store the contested song when every writer is ready; put what happened."""
    try:
        with open_store(spec) as store:
            barrier.wait(timeout=60)
            try:
                results.put(("stored", writer, store.add_song(CONTESTED, own_fingerprints(writer))))
            except DuplicateSongError as error:
                results.put(("duplicate", writer, error.song_id))
    except BaseException as error:
        results.put(("error", writer, repr(error)))


@pytest.mark.parametrize("how", ["processes", "threads"])
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "duckdb-memory"])
def test_concurrent_writers_of_one_song_one_wins(kind: str, how: str, tmp_path: Path) -> None:
    """Each writer has its own store; the one that commits first stores the song."""
    n_writers = 4
    with _spec_of(kind, tmp_path) as spec:
        with open_store(spec) as store:
            store.add_song(
                SongInfo("first", "/first.mp3", "content-first", 30.0), own_fingerprints(9)
            )
        if how == "processes":
            context = multiprocessing.get_context("fork")
            barrier, results = context.Barrier(n_writers), context.Queue()
            jobs: list[Any] = [
                context.Process(target=_race_for_a_song, args=(spec, k, barrier, results))
                for k in range(n_writers)
            ]
        else:
            barrier, results = threading.Barrier(n_writers), queue.Queue()
            jobs = [
                threading.Thread(target=_race_for_a_song, args=(spec, k, barrier, results))
                for k in range(n_writers)
            ]
        for job in jobs:
            job.start()
        answers = sorted(results.get(timeout=180) for _ in range(n_writers))
        for job in jobs:
            job.join(timeout=60)
        outcomes = [answer[0] for answer in answers]
        assert sorted(outcomes) == ["duplicate"] * (n_writers - 1) + ["stored"], answers
        stored = next(answer for answer in answers if answer[0] == "stored")
        winner, song_id = stored[1], stored[2]
        assert all(answer[2] == song_id for answer in answers), answers
        with open_store(spec) as store:
            assert [s.name for s in store.songs()] == ["first", "contested"]
            np.testing.assert_array_equal(
                store.song_fingerprints(song_id).hashes, own_fingerprints(winner).hashes
            )
            for writer in range(n_writers):
                if writer != winner:
                    assert len(store.lookup(own_fingerprints(writer).hashes)) == 0
            assert len(store.lookup(own_fingerprints(9).hashes)) == 500
