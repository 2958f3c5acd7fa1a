"""Adding the sketches missing from a database fingerprinted before sketches were stored.

An "old database" is made by fingerprinting synthetic WAV files and then deleting the
sketches (or dropping their table, as a database of before has none); the backfill must
store exactly what fingerprinting would have, from the files alone, and refuse files
that are gone or are no longer the ones fingerprinted. The store-level ``add_sketch`` of
every engine is tested in ``test_store_sketches``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
import soundfile as sf
from conftest import SONG_RATE

from dejavu_lab import Dejavu
from dejavu_lab.cli import main
from dejavu_lab.core.audio import content_hash, load_audio
from dejavu_lab.core.pipeline import Pipeline
from dejavu_lab.core.presets import get_preset
from dejavu_lab.exceptions import IncompatibleStoreError
from dejavu_lab.fingerprinting import SKETCH_FRAME_TOLERANCE, add_missing_sketches
from dejavu_lab.store import DuckDBStore, SongInfo
from dejavu_lab.studies.synth import synth_song

#: Songs of the session's song directory copied for each test (their files get changed).
N_BACKFILL = 4


@pytest.fixture
def music(song_dir: Path, tmp_path: Path) -> list[Path]:
    """Copies of a few of the session's synthetic songs (30 s WAVs), free to change."""
    folder = tmp_path / "music"
    folder.mkdir()
    sources = sorted(song_dir.glob("*.wav"))[:N_BACKFILL]
    return [Path(shutil.copy(source, folder / source.name)).resolve() for source in sources]


def fingerprint(files: list[Path], database: str | Path) -> Dejavu:
    """A recogniser of ``database`` with ``files`` fingerprinted (with their sketches)."""
    djv = Dejavu({"database": {"type": "duckdb", "path": str(database)}})
    report = djv.fingerprint_directory(files, nprocesses=1, progress=False)
    assert len(report.added) == len(files), report.summary()
    return djv


def forget_sketches(store: DuckDBStore) -> None:
    """Make the database look as if fingerprinted by a version that stored no sketch."""
    with store.writing() as con:
        con.execute("DELETE FROM sketches")
    assert store.song_sketches([s.song_id for s in store.songs()]) == {}


def fingerprinted_sketch(path: str | Path, pipeline: Pipeline) -> np.ndarray:
    """The sketch fingerprinting stores for a file."""
    audio = load_audio(path, sample_rate=pipeline.spectrogram.sample_rate)
    return pipeline.fingerprint_song(audio.samples)[1]


def contents(store: Any) -> list[tuple[Any, ...]]:
    """Every song's record and hashes (all a backfill must leave as they were)."""
    out = []
    for song in store.songs():
        fingerprints = store.song_fingerprints(song.song_id)
        out.append((song, fingerprints.hashes.tolist(), fingerprints.offsets.tolist()))
    return out


def assert_sketches(store: Any, expected: dict[int, np.ndarray], all_ids: list[int]) -> None:
    """The songs of ``expected`` have exactly those sketches; the others of ``all_ids`` none."""
    got = store.song_sketches(all_ids)
    assert sorted(got) == sorted(expected)
    for song_id, values in expected.items():
        assert got[song_id].dtype == np.uint32
        np.testing.assert_array_equal(got[song_id], values)


@pytest.mark.parametrize("nprocesses", [1, 2])
def test_backfill_stores_what_fingerprinting_would_have(
    music: list[Path], tmp_path: Path, nprocesses: int
) -> None:
    djv = fingerprint(music, tmp_path / "old.duckdb")
    store = djv.db
    songs = store.songs()
    ids = [song.song_id for song in songs]
    as_fingerprinted = store.song_sketches(ids)
    expected = {s.song_id: fingerprinted_sketch(s.path, djv.pipeline) for s in songs}
    assert_sketches(store, expected, ids)  # the reference is what fingerprinting stores
    forget_sketches(store)
    before = (contents(store), store.stats().num_fingerprints)

    report = djv.add_missing_sketches(progress=False, nprocesses=nprocesses)
    assert report.failed == []
    assert report.skipped == []
    assert report.added == [(s.path, s.song_id) for s in songs]
    assert_sketches(store, as_fingerprinted, ids)
    assert (contents(store), store.stats().num_fingerprints) == before
    assert report.summary().startswith(f"sketches: {N_BACKFILL} added, 0 skipped (had one), 0 fa")

    again = djv.add_missing_sketches(progress=False, nprocesses=nprocesses)
    assert (again.added, again.failed) == ([], [])
    assert again.skipped == [(s.path, s.song_id) for s in songs]
    assert_sketches(store, as_fingerprinted, ids)
    djv.close()


def test_the_recogniser_sees_the_new_sketches_at_once(music: list[Path]) -> None:
    """In memory the store has no data version: the recogniser's cache is emptied."""
    djv = Dejavu(store=DuckDBStore(":memory:"))
    djv.fingerprint_directory(music[:2], nprocesses=1, progress=False)
    forget_sketches(djv.db)
    assert djv._song_sketches([1, 2]) == {}  # cached as "none stored"
    report = djv.add_missing_sketches(progress=False, nprocesses=1)
    assert len(report.added) == 2
    found = djv._song_sketches([1, 2])
    for song in djv.db.songs():
        np.testing.assert_array_equal(
            found[song.song_id], fingerprinted_sketch(song.path, djv.pipeline)
        )
    djv.close()


class _NoSketchReads:
    """A store whose sketches cannot be read: finding the songs without one must not."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def song_sketches(self, song_ids: list[int]) -> dict[int, np.ndarray]:
        raise AssertionError(f"read the sketches of {len(song_ids)} songs")


def test_backfill_lists_the_songs_without_a_sketch_from_ids_alone(music: list[Path]) -> None:
    djv = Dejavu(store=DuckDBStore(":memory:"))
    djv.fingerprint_directory(music[:3], nprocesses=1, progress=False)
    songs = djv.db.songs()
    kept = djv.db.song_sketches([1, 3])
    with djv.db.writing() as con:
        con.execute("DELETE FROM sketches WHERE song_id = 2")
    assert djv.db.song_ids_with_sketch() == {1, 3}

    report = add_missing_sketches(
        _NoSketchReads(djv.db), djv.pipeline, progress=False, nprocesses=1
    )
    assert report.added == [(songs[1].path, 2)]
    assert report.skipped == [(songs[0].path, 1), (songs[2].path, 3)]
    assert report.failed == []
    expected = {**kept, 2: fingerprinted_sketch(songs[1].path, djv.pipeline)}
    assert_sketches(djv.db, expected, [1, 2, 3])
    djv.close()


def test_a_missing_or_changed_file_fails_its_song_alone(music: list[Path], tmp_path: Path) -> None:
    djv = fingerprint(music, tmp_path / "old.duckdb")
    store = djv.db
    songs = store.songs()
    ids = [song.song_id for song in songs]
    forget_sketches(store)
    changed, deleted = songs[1], songs[2]
    sf.write(changed.path, synth_song(77, 30.0, SONG_RATE), SONG_RATE)  # same name, other audio
    Path(deleted.path).unlink()
    before = (contents(store), store.stats().num_fingerprints)

    report = djv.add_missing_sketches(progress=False, nprocesses=1)
    kept = [songs[0], songs[3]]
    assert report.added == [(s.path, s.song_id) for s in kept]
    assert report.skipped == []
    assert [path for path, _ in report.failed] == [changed.path, deleted.path]
    assert report.failed[0][1].startswith("file changed since it was fingerprinted")
    assert changed.content_hash in report.failed[0][1]
    assert report.failed[1][1] == "file not found"
    summary = report.summary().splitlines()
    assert summary[0].startswith("sketches: 2 added, 0 skipped (had one), 2 failed")
    assert summary[1:] == [f"  failed: {path}: {reason}" for path, reason in report.failed]
    expected = {s.song_id: fingerprinted_sketch(s.path, djv.pipeline) for s in kept}
    assert_sketches(store, expected, ids)  # the failed songs have none
    assert (contents(store), store.stats().num_fingerprints) == before

    again = djv.add_missing_sketches(progress=False, nprocesses=1)  # resumes: only failures left
    assert again.added == []
    assert again.skipped == [(s.path, s.song_id) for s in kept]
    assert again.failed == report.failed
    assert_sketches(store, expected, ids)
    djv.close()


def test_a_file_decoding_to_another_length_fails(music: list[Path]) -> None:
    """The stored duration must give the sketch's frames within SKETCH_FRAME_TOLERANCE."""
    pipeline = get_preset("default")
    hop_s = pipeline.spectrogram.hop_length / pipeline.spectrogram.sample_rate
    store = DuckDBStore(":memory:")
    store.write_params(pipeline.reference_params(), "0.1.0")
    shifts = {"two seconds short": -2.0, "a frame long": SKETCH_FRAME_TOLERANCE * hop_s}
    for (label, shift), path in zip(shifts.items(), music, strict=False):
        audio = load_audio(path, sample_rate=pipeline.spectrogram.sample_rate)
        info = SongInfo(label, str(path), content_hash(path), audio.duration_s + shift)
        store.add_song(info, pipeline.fingerprint_song(audio.samples)[0])  # no sketch
    report = add_missing_sketches(store, pipeline, progress=False, nprocesses=1)
    assert report.added == [(str(music[1]), 2)]
    assert len(report.failed) == 1 and report.failed[0][0] == str(music[0])
    frames = pipeline.frames_for(30.0)
    short = pipeline.frames_for(store.songs()[0].duration_s)
    assert f"sketch of {frames} frames, but the song stored has {short} " in report.failed[0][1]
    assert_sketches(store, {2: fingerprinted_sketch(music[1], pipeline)}, [1, 2])
    store.close()


def test_a_pipeline_of_other_parameters_is_refused(music: list[Path], tmp_path: Path) -> None:
    djv = fingerprint(music[:2], tmp_path / "old.duckdb")
    forget_sketches(djv.db)
    other = djv.pipeline.with_params(spectrogram__hop_length=128)
    with pytest.raises(IncompatibleStoreError, match="spectrogram__hop_length"):
        add_missing_sketches(djv.db, other, progress=False, nprocesses=1)
    assert djv.db.song_sketches([1, 2]) == {}
    djv.close()


# -- the command line ----------------------------------------------------------------


def test_cli_sketch_fills_an_old_database(
    music: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "old.duckdb"
    fingerprint(music[:3], database).close()
    con = duckdb.connect(str(database))  # a database of before sketches: no table at all
    con.execute("DROP TABLE sketches")
    con.close()
    assert main(["--db", str(database), "sketch", "--quiet", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sketches: 3 added, 0 skipped (had one), 0 failed in ")
    assert len(out.splitlines()) == 1
    with DuckDBStore(database, read_only=True) as store:
        songs = store.songs()
        expected = {s.song_id: fingerprinted_sketch(s.path, get_preset("default")) for s in songs}
        assert_sketches(store, expected, [s.song_id for s in songs])

    assert main(["--db", str(database), "sketch", "-q"]) == 0  # nothing left to do
    assert capsys.readouterr().out.startswith("sketches: 0 added, 3 skipped (had one), 0 failed")


def test_cli_sketch_exits_non_zero_when_a_song_fails(
    music: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "old.duckdb"
    djv = fingerprint(music[:2], database)
    forget_sketches(djv.db)
    djv.close()
    music[0].unlink()
    assert main(["--db", str(database), "sketch", "-q", "-j", "1"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("sketches: 1 added, 0 skipped (had one), 1 failed in ")
    assert lines[1:] == [f"  failed: {music[0]}: file not found"]


def test_cli_sketch_never_creates_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "missing.duckdb"
    assert main(["--db", str(database), "sketch", "-q"]) == 2
    assert f"no database at {database}" in capsys.readouterr().err
    assert not database.exists()
