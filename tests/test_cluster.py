"""Fingerprinting, studies and sweeps on a real Dask cluster (a LocalCluster of 2 processes).

The cluster's answers must be the local run's: the same songs and hashes in
the database, the same sweep table. Skipped, with the reason, where
``dask.distributed`` is not installed or PostgreSQL cannot be reached.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_store_contract import throwaway_database

from dejavu_lab import Dejavu
from dejavu_lab.store import open_store
from dejavu_lab.studies import synthetic_corpus
from dejavu_lab.studies.accuracy import build_queries, evaluate_queries
from dejavu_lab.studies.corpus_audio import build_database
from dejavu_lab.studies.sweeps import sweep
from dejavu_lab.studies.synth import write_synth_songs

distributed = pytest.importorskip(
    "distributed", reason="needs dask[distributed] (the cluster extra)"
)

N_SONGS = 8
SONG_SECONDS = 6.0
#: Columns of a sweep row that measure time or say when: they differ between any two runs.
TIMING_COLUMNS = {
    "fingerprint_x_realtime",
    "median_match_ms",
    "evaluate_seconds",
    "created_at",
}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",
    )
    with cluster, distributed.Client(cluster) as dask_client:
        yield dask_client


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cluster-music")
    write_synth_songs(folder, range(40, 40 + N_SONGS), duration_s=SONG_SECONDS)
    return folder


def _contents(store: Any) -> dict[str, tuple[int, int]]:
    """Song name -> (hashes its row says, hash rows actually stored): what a run left."""
    out = {}
    for song in store.songs():
        rows = len(store.song_fingerprints(song.song_id))
        out[song.name] = (song.num_hashes, rows)
    return out


def test_a_cluster_fingerprints_into_postgresql_as_a_local_run_does(
    client: Any, music: Path
) -> None:
    with throwaway_database("postgresql") as local_url, throwaway_database("postgresql") as url:
        with Dejavu({"database": local_url}) as djv:
            local = djv.fingerprint_directory(music, [".wav"], 1, progress=False)
        with Dejavu({"database": url}) as djv:
            report = djv.fingerprint_directory(music, [".wav"], progress=False, executor=client)
            with open_store(local_url) as reference:
                expected = _contents(reference)
            assert len(expected) == N_SONGS and not local.failed
            assert _contents(djv.db) == expected
            assert len(report.added) == N_SONGS and report.num_hashes == local.num_hashes
            # Run again: every file is skipped by its content hash, nothing is added.
            again = djv.fingerprint_directory(
                music, [".wav"], progress=False, executor=client.get_executor()
            )
            assert not again.added and len(again.skipped) == N_SONGS
            assert _contents(djv.db) == expected


def test_a_cluster_fingerprints_into_duckdb_through_the_driver(
    client: Any, music: Path, tmp_path: Path
) -> None:
    with Dejavu({"database": str(tmp_path / "local.duckdb")}) as djv:
        djv.fingerprint_directory(music, [".wav"], 1, progress=False)
        expected = _contents(djv.db)
    with Dejavu({"database": str(tmp_path / "cluster.duckdb")}) as djv:
        report = djv.fingerprint_directory(
            music, [".wav"], progress=False, executor=client.get_executor()
        )
        assert len(report.added) == N_SONGS
        assert _contents(djv.db) == expected


class _KillFirstAttempts:
    """An executor that SIGKILLs the worker running the first attempt of some files.

    The worker dies right after storing the song and before answering, the
    worst moment: the scheduler runs the task again on a (restarted) worker.
    """

    def __init__(self, client: Any, victims: set[str], marks: Path) -> None:
        self.client, self.victims, self.marks = client, victims, marks

    def submit(self, function: Any, job: Any) -> Any:
        return self.client.submit(
            _die_after_first_attempt, function, job, self.victims, str(self.marks), pure=False
        )


def _die_after_first_attempt(function: Any, job: Any, victims: set[str], marks: str) -> Any:
    result = function(job)
    mark = Path(marks) / Path(job[0]).name
    if Path(job[0]).name in victims and not mark.exists():
        mark.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return result


def test_a_worker_killed_mid_run_leaves_every_song_exactly_once(
    client: Any, music: Path, tmp_path: Path
) -> None:
    files = sorted(music.glob("*.wav"))
    victims = {files[1].name, files[4].name}
    marks = tmp_path / "marks"
    marks.mkdir()
    executor = _KillFirstAttempts(client, victims, marks)
    with throwaway_database("postgresql") as url, Dejavu({"database": url}) as djv:
        report = djv.fingerprint_directory(music, [".wav"], progress=False, executor=executor)
        assert sorted(p.name for p in marks.iterdir()) == sorted(victims)  # they did die
        names = [song.name for song in djv.db.songs()]
        assert sorted(names) == sorted(f.stem for f in files)  # every song, once
        assert not report.failed
        # The retried victims (and any result lost with a dead worker's memory) found
        # their song stored: reported skipped, not added twice.
        skipped = {Path(path).name for path, _ in report.skipped}
        added = {Path(path).name for path, _ in report.added}
        assert victims <= skipped and not added & skipped
        assert added | skipped == {f.name for f in files}
        counts = {song.name: song.num_hashes for song in djv.db.songs()}
        for song in djv.db.songs():  # no stray rows of a half-stored attempt
            assert len(djv.db.song_fingerprints(song.song_id)) == counts[song.name]


@pytest.fixture(scope="module")
def small_corpus():  # type: ignore[no-untyped-def]
    return synthetic_corpus(4, 1, duration_s=12.0)


def test_a_sweep_on_the_cluster_returns_the_local_table(client: Any, small_corpus) -> None:  # type: ignore[no-untyped-def]
    grid = {"hasher__fan_value": [3, 6], "peaks__amp_min_db": [5.0, 15.0]}
    options: dict[str, Any] = {
        "seconds": (1.5,),
        "conditions": ("clean", "laptop-mic"),
        "n_per_unseen": 2,
        "progress": False,
    }
    local = sweep(grid, small_corpus, **options)
    remote = sweep(grid, small_corpus, executor=client, **options)
    assert len(local) == 4
    keep = [c for c in local.columns if c not in TIMING_COLUMNS]
    assert list(remote.columns) == list(local.columns)
    pd.testing.assert_frame_equal(remote[keep], local[keep])
    # Something was measured: the clean queries find their songs.
    assert (local["accuracy_pct_clean_1.5s"] > 50).all()


def test_queries_recognised_on_the_cluster_give_the_local_rows(
    client: Any, small_corpus, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    djv, _ = build_database(
        Dejavu(store=open_store(":memory:")).pipeline, small_corpus, path=tmp_path / "q.duckdb"
    )
    queries = build_queries(small_corpus, seconds=(2,), conditions=("clean",), n_per_unseen=1)
    local = evaluate_queries(djv, queries, progress=False)
    remote = evaluate_queries(djv, queries, progress=False, executor=client)
    columns = [c for c in local.columns if c != "match_ms"]
    pd.testing.assert_frame_equal(remote[columns], local[columns])
    assert local.offset_correct[local.source == "reference"].all()
    djv.close()
