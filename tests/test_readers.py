"""Many processes on one DuckDB file: readers never need the write lock.

One process holds a ``Dejavu`` open on the file (a notebook), two others
recognise from it at the same time (the CLI, a panel) while a fourth adds a
song: every answer names the right song at the right offset, and the readers
find the new song once it is written. A second writer waits for the first
rather than failing.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dejavu_lab import Dejavu
from dejavu_lab.core.hashing import Fingerprints
from dejavu_lab.store import DuckDBStore
from dejavu_lab.store.base import SongInfo
from dejavu_lab.studies.synth import synth_song, write_synth_songs

RATE = 22050
SONG_SECONDS = 8.0
KNOWN = [60, 61, 62]
NEW = 63
#: (seed, start in s) of the clips each reader recognises, 3 s long.
CLIPS = [(60, 1.0), (61, 2.5), (62, 4.0), (60, 3.5)]
CLIP_SECONDS = 3.0
#: spawn: children start clean (no DuckDB threads or state inherited from the test).
CONTEXT = multiprocessing.get_context("spawn")


def _clip(seed: int, start_s: float) -> np.ndarray:
    song = synth_song(seed, SONG_SECONDS, RATE)
    first = round(start_s * RATE)
    return song[first : first + round(CLIP_SECONDS * RATE)]


def _answer(djv: Dejavu, seed: int, start_s: float) -> tuple[str, float, Any, Any]:
    result = djv.match_samples(_clip(seed, start_s), RATE)
    return (f"synth_{seed:03d}", start_s, result.song_name, result.offset_seconds)


def _holder(db: str, ready: Any, added: Any, results: Any) -> None:
    """A notebook: one Dejavu object, open from start to end."""
    try:
        djv = Dejavu({"database": db})
        before = [_answer(djv, seed, start) for seed, start in CLIPS[:2]]
        ready.wait(timeout=120)
        added.wait(timeout=120)
        after = [_answer(djv, NEW, 2.0)]
        results.put(("holder", before + after))
        djv.close()
    except BaseException as error:
        results.put(("holder", repr(error)))


def _reader(name: str, db: str, ready: Any, added: Any, results: Any) -> None:
    """A terminal's ``dejavu-lab recognize``: recognises while the writer writes."""
    try:
        djv = Dejavu({"database": db})
        ready.wait(timeout=120)
        answers = []
        while not added.is_set():  # at the same time as the other reader and the writer
            answers += [_answer(djv, seed, start) for seed, start in CLIPS]
        answers.append(_answer(djv, NEW, 2.0))
        results.put((name, answers))
        djv.close()
    except BaseException as error:
        results.put((name, repr(error)))


def _writer(db: str, song: str, ready: Any, added: Any, results: Any) -> None:
    try:
        djv = Dejavu({"database": db})
        ready.wait(timeout=120)
        time.sleep(0.5)  # let the readers start recognising first
        song_id = djv.fingerprint_file(song)
        added.set()
        results.put(("writer", song_id))
        djv.close()
    except BaseException as error:
        added.set()
        results.put(("writer", repr(error)))


def test_readers_and_a_writer_share_a_duckdb_file(tmp_path: Path) -> None:
    music = write_synth_songs(tmp_path / "music", KNOWN, duration_s=SONG_SECONDS)
    new_song = write_synth_songs(tmp_path / "new", [NEW], duration_s=SONG_SECONDS)[0]
    db = str(tmp_path / "fingerprints.duckdb")
    with Dejavu({"database": db}) as djv:
        for path in music:
            djv.fingerprint_file(path)
    ready = CONTEXT.Barrier(4)
    added = CONTEXT.Event()
    results = CONTEXT.Queue()
    processes = [
        CONTEXT.Process(target=_holder, args=(db, ready, added, results)),
        CONTEXT.Process(target=_reader, args=("reader 1", db, ready, added, results)),
        CONTEXT.Process(target=_reader, args=("reader 2", db, ready, added, results)),
        CONTEXT.Process(target=_writer, args=(db, str(new_song), ready, added, results)),
    ]
    for process in processes:
        process.start()
    out: dict[str, Any] = {}
    try:
        for _ in processes:
            name, value = results.get(timeout=180)
            out[name] = value
    except queue_module.Empty:
        pytest.fail(f"processes did not all report back: {sorted(out)}")
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert isinstance(out["writer"], int), out["writer"]
    for name in ("holder", "reader 1", "reader 2"):
        answers = out[name]
        assert isinstance(answers, list), f"{name}: {answers}"
        assert len(answers) >= 3, name
        for truth, start, song, offset in answers:
            assert song == truth, f"{name}: clip of {truth} at {start} s answered {song}"
            assert offset == pytest.approx(start, abs=0.1), f"{name}: {truth} at {start} s"
        assert answers[-1][0] == f"synth_{NEW:03d}"  # the new song, found after the write
    with DuckDBStore(db, read_only=True) as store:
        assert store.stats().num_songs == len(KNOWN) + 1


def test_a_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    db = tmp_path / "busy.duckdb"
    song, other = write_synth_songs(tmp_path / "music", [70, 71], duration_s=SONG_SECONDS)
    with Dejavu({"database": str(db)}) as djv:
        djv.fingerprint_file(song)
    # Another process writes for 1.5 s (holds the file read-write), then lets go.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); "
            "time.sleep(1.5); c.close()",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with Dejavu({"database": str(db)}) as djv:  # reads wait, then the write waits
            song_id = djv.fingerprint_file(other)
        waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert waited > 0.5  # it did wait for the other process ...
    with DuckDBStore(db, read_only=True) as store:  # ... and then wrote, losing nothing
        assert [s.song_id for s in store.songs()] == [1, song_id] and song_id == 2


def test_a_read_only_store_refuses_to_write(tmp_path: Path) -> None:
    db = tmp_path / "ro.duckdb"
    song = write_synth_songs(tmp_path / "music", [72], duration_s=SONG_SECONDS)[0]
    DuckDBStore(db).close()
    with (
        Dejavu(store=DuckDBStore(db, read_only=True)) as djv,
        pytest.raises(Exception, match=r"ro.duckdb was opened read-only"),
    ):
        djv.fingerprint_file(song)
    with DuckDBStore(db, read_only=True) as store:
        assert store.stats().num_songs == 0


def test_reads_in_a_pinned_block_share_one_version_check(tmp_path: Path) -> None:
    db = str(tmp_path / "pinned.duckdb")
    rng = np.random.default_rng(0)

    def add(store: DuckDBStore, name: str) -> None:
        hashes = rng.integers(0, 1 << 32, 500, dtype=np.uint64).astype(np.uint32)
        offsets = np.sort(rng.integers(0, 1000, 500)).astype(np.int32)
        store.add_song(SongInfo(name, name, name, 10.0), Fingerprints(hashes, offsets))

    with DuckDBStore(db) as writer:
        add(writer, "first")
    with DuckDBStore(db, read_only=True) as reader:
        assert [s.name for s in reader.songs()] == ["first"]
        with reader.pinned():
            version = reader.data_version()
            with DuckDBStore(db) as writer:
                add(writer, "second")  # another process writes meanwhile
            # Inside the block the reader keeps to what it read: one version.
            assert reader.data_version() == version
            assert [s.name for s in reader.songs()] == ["first"]
        # After it, the next read sees the new song.
        assert reader.data_version() != version
        assert sorted(s.name for s in reader.songs()) == ["first", "second"]
