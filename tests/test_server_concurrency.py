"""Several processes writing into one MariaDB / PostgreSQL database at once.

No song twice, none lost, a song visible only once complete, and a writer
killed mid-song leaves nothing behind. Skipped, with the reason, when a
server cannot be reached.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_store_contract import SERVERS, throwaway_database

from dejavu_lab import Dejavu
from dejavu_lab.core.hashing import Fingerprints
from dejavu_lab.store import DuplicateSongError, SongInfo, open_store
from dejavu_lab.store.server import parse_server_url
from dejavu_lab.studies.synth import write_synth_songs

N_SONGS = 9
#: Each process gets 6 of the 9 songs; each song goes to two processes, and
#: processes 0 and 2 start with the same three songs.
ASSIGNMENTS = [[0, 1, 2, 3, 4, 5], [3, 4, 5, 6, 7, 8], [0, 1, 2, 6, 7, 8]]
# fork: the children inherit the imported modules and start in milliseconds.
CONTEXT = multiprocessing.get_context("fork")


@pytest.fixture(params=SERVERS)
def server_url(request: pytest.FixtureRequest) -> Any:
    with throwaway_database(request.param) as url:
        yield url


def _fingerprint_worker(url: str, files: list[str], barrier: Any, results: Any, index: int) -> None:
    try:
        barrier.wait(timeout=60)
        # Opening the store races too: the first process creates the tables.
        with Dejavu({"database": url}) as djv:
            report = djv.fingerprint_directory(files, None, 1, progress=False)
        results.put((index, report.added, report.skipped, report.failed))
    except BaseException as error:
        results.put((index, None, repr(error), None))


def _collect(processes: list[Any], results: Any) -> dict[int, tuple[Any, ...]]:
    out = {}
    for _ in processes:
        try:
            item = results.get(timeout=120)
        except queue_module.Empty:
            pytest.fail("a writer process did not report back")
        out[item[0]] = item[1:]
    for process in processes:
        process.join(timeout=30)
    return out


def _row_counts(url: str) -> dict[int, int]:
    """Hashes per song id, counted straight from the fingerprints table."""
    config = parse_server_url(url)
    if config.kind == "mysql":
        import pymysql

        con = pymysql.connect(
            host=config.host, port=config.port, user=config.user, database=config.database
        )
        with con.cursor() as cursor:
            cursor.execute("SELECT song_id, COUNT(*) FROM fingerprints GROUP BY song_id")
            counts = dict(cursor.fetchall())
        con.close()
        return {int(k): int(v) for k, v in counts.items()}
    import psycopg

    with psycopg.connect(
        host=config.host, port=config.port, user=config.user, dbname=config.database
    ) as con:
        rows = con.execute(
            f"SELECT song_id, count(*) FROM {config.schema}.fingerprints GROUP BY song_id"
        ).fetchall()
    return {int(k): int(v) for k, v in rows}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Nine songs, and what one DuckDB process stores for them."""
    music = tmp_path_factory.mktemp("concurrent_music")
    files = write_synth_songs(music, range(40, 40 + N_SONGS), duration_s=12.0)
    with Dejavu({"database": ":memory:"}) as djv:
        djv.fingerprint_directory(files, None, 1, progress=False)
        reference = {
            s.name: (s.content_hash, s.num_hashes, djv.db.song_fingerprints(s.song_id))
            for s in djv.db.songs()
        }
    assert len(reference) == N_SONGS
    return {"files": [str(f) for f in files], "reference": reference}


def test_three_processes_fingerprint_overlapping_lists(
    server_url: str, corpus: dict[str, Any]
) -> None:
    files = corpus["files"]
    barrier, results = CONTEXT.Barrier(len(ASSIGNMENTS)), CONTEXT.Queue()
    processes = [
        CONTEXT.Process(
            target=_fingerprint_worker,
            args=(server_url, [files[k] for k in songs], barrier, results, index),
        )
        for index, songs in enumerate(ASSIGNMENTS)
    ]
    for process in processes:
        process.start()
    reports = _collect(processes, results)
    added: list[str] = []
    for index, (done, skipped, failed) in sorted(reports.items()):
        assert done is not None, f"writer {index} failed: {skipped}"
        assert failed == []
        assert {reason for _, reason in skipped} <= {"already fingerprinted"}
        assert len(done) + len(skipped) == len(ASSIGNMENTS[index])
        added += [Path(path).stem for path, _ in done]
    assert sorted(added) == sorted(corpus["reference"])  # each song added exactly once

    with open_store(server_url) as store:
        songs = store.songs()
        assert sorted(s.name for s in songs) == sorted(corpus["reference"])
        for song in songs:
            content_hash, num_hashes, fingerprints = corpus["reference"][song.name]
            assert (song.content_hash, song.num_hashes) == (content_hash, num_hashes)
            back = store.song_fingerprints(song.song_id)
            np.testing.assert_array_equal(back.hashes, fingerprints.hashes)
            np.testing.assert_array_equal(back.offsets, fingerprints.offsets)
        total = sum(n for _, n, _ in corpus["reference"].values())
        assert store.stats().num_fingerprints == total
    # no orphan rows from the losers' rolled-back transactions
    assert _row_counts(server_url) == {s.song_id: s.num_hashes for s in songs}


def _same_song_worker(url: str, barrier: Any, results: Any, index: int) -> None:
    rng = np.random.default_rng(index)
    fingerprints = Fingerprints(
        rng.integers(0, 2**32, 60_000, dtype=np.uint64).astype(np.uint32),
        np.arange(60_000, dtype=np.int32),
    )
    try:
        with open_store(url) as store:
            barrier.wait(timeout=60)
            info = SongInfo(f"writer {index}", f"/{index}.wav", "the-same-content", 60.0)
            try:
                results.put((index, "added", store.add_song(info, fingerprints)))
            except DuplicateSongError as error:
                results.put((index, "duplicate", error.song_id))
    except BaseException as error:
        results.put((index, "error", repr(error)))


def test_writers_racing_for_one_song_store_it_once(server_url: str) -> None:
    open_store(server_url).close()  # tables exist: the race is on the song only
    barrier, results = CONTEXT.Barrier(3), CONTEXT.Queue()
    processes = [
        CONTEXT.Process(target=_same_song_worker, args=(server_url, barrier, results, index))
        for index in range(3)
    ]
    for process in processes:
        process.start()
    outcomes = _collect(processes, results)
    kinds = sorted(outcome for outcome, _ in outcomes.values())
    assert kinds == ["added", "duplicate", "duplicate"], outcomes
    (song_id,) = [value for outcome, value in outcomes.values() if outcome == "added"]
    assert all(value == song_id for _, value in outcomes.values())  # losers name the winner
    with open_store(server_url) as store:
        (song,) = store.songs()
        assert song.song_id == song_id and song.num_hashes == 60_000
    assert _row_counts(server_url) == {song_id: 60_000}


def _stalled_writer(url: str, started: Any) -> None:
    """Store a song, but stall for good in the middle of loading its hashes."""
    import dejavu_lab.store.server.mysql_store as mysql_store
    import dejavu_lab.store.server.postgres_store as postgres_store

    def stall(original: Any, at_call: int) -> Any:
        calls = []

        def wrapper(*args: Any) -> Any:
            calls.append(1)
            if len(calls) == at_call:
                started.set()
                time.sleep(3600)
            return original(*args)

        return wrapper

    # MySQL: once a first batch of hashes went in; PostgreSQL: before COPY.
    mysql_store._rows_literal = stall(mysql_store._rows_literal, 2)  # type: ignore[assignment]
    postgres_store.copy_rows = stall(postgres_store.copy_rows, 1)  # type: ignore[assignment]
    fingerprints = Fingerprints(
        np.arange(30_000, dtype=np.uint32) * 7, np.arange(30_000, dtype=np.int32)
    )
    with open_store(url) as store:
        store.add_song(SongInfo("stalled", "/s.wav", "stalled-content", 60.0), fingerprints)


def test_a_song_is_invisible_until_complete_and_a_killed_writer_leaves_nothing(
    server_url: str,
) -> None:
    open_store(server_url).close()
    started = CONTEXT.Event()
    writer = CONTEXT.Process(target=_stalled_writer, args=(server_url, started))
    writer.start()
    try:
        assert started.wait(timeout=60), "the writer never reached the middle of its song"
        hashes = np.arange(30_000, dtype=np.uint32) * 7
        with open_store(server_url) as reader:
            assert reader.songs() == [] and reader.content_hashes() == set()
            assert reader.stats().num_songs == 0 and reader.stats().num_fingerprints == 0
            assert len(reader.lookup(hashes)) == 0
            assert len(reader.vote(hashes, np.arange(30_000, dtype=np.int32))) == 0
        assert _row_counts(server_url) == {}
    finally:
        writer.kill()
        writer.join(timeout=30)
    with open_store(server_url) as store:  # the server rolled the dead writer back
        assert store.songs() == []
        fingerprints = Fingerprints(hashes, np.arange(30_000, dtype=np.int32))
        song_id = store.add_song(SongInfo("again", "/s.wav", "stalled-content", 60.0), fingerprints)
        assert [s.name for s in store.songs()] == ["again"]
        assert len(store.lookup(hashes)) == 30_000
    assert _row_counts(server_url) == {song_id: 30_000}
