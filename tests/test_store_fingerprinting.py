"""DuckDB store, fingerprinting runs, bad input, kills and locks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SONG_RATE, duckdb_held_by_another_process

from dejavu_lab import Dejavu
from dejavu_lab.core.hashing import Fingerprints
from dejavu_lab.core.matching import Lookup
from dejavu_lab.exceptions import (
    AudioError,
    IncompatibleStoreError,
    ParameterError,
    StoreLockedError,
)
from dejavu_lab.store import DuckDBStore, DuplicateSongError, SongInfo, open_store
from dejavu_lab.studies.synth import synth_song, write_synth_songs

REPO = Path(__file__).resolve().parents[1]


def _fingerprints(rng: np.random.Generator, n: int = 500) -> Fingerprints:
    return Fingerprints(
        rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32),
        np.sort(rng.integers(0, 3000, n)).astype(np.int32),
    )


def test_store_round_trip_and_lookups_agree(rng: np.random.Generator) -> None:
    store = DuckDBStore(":memory:")
    songs = {}
    for k in range(3):
        fp = _fingerprints(rng)
        song_id = store.add_song(SongInfo(f"song {k}", f"/x/{k}.mp3", f"hash{k}", 60.0), fp)
        songs[song_id] = fp
    assert store.stats().num_songs == 3 and store.stats().num_fingerprints == 1500
    back = store.song_fingerprints(1)
    original = songs[1]
    order = np.lexsort((original.hashes, original.offsets))
    np.testing.assert_array_equal(back.hashes, original.hashes[order])
    query = np.concatenate(
        [songs[2].hashes[:50], rng.integers(0, 2**32, 20, dtype=np.uint64).astype(np.uint32)]
    )
    memory, sql = store.lookup(query), store.lookup_sql(query)

    def as_set(lk: Lookup) -> list[tuple[int, int, int]]:
        rows = zip(lk.query_index.tolist(), lk.song_id.tolist(), lk.offset.tolist(), strict=True)
        return sorted(rows)

    assert as_set(memory) == as_set(sql)
    assert len(memory) >= 50
    with pytest.raises(DuplicateSongError):
        store.add_song(SongInfo("copy", "/y.mp3", "hash1", 60.0), _fingerprints(rng))
    assert store.stats().num_songs == 3  # nothing half-stored by the refused insert


def test_names_with_quotes_and_non_ascii_are_verbatim(tmp_path: Path) -> None:
    name = 'Björk\'s "Jóga" — 東京; DROP TABLE songs; --\\n'
    path = tmp_path / "weird 'name' ü.wav"
    sf.write(path, synth_song(42, 8.0, SONG_RATE), SONG_RATE)
    djv = Dejavu({"database": str(tmp_path / "db.duckdb")})
    song_id = djv.fingerprint_file(path, song_name=name)
    djv.close()
    store = open_store(tmp_path / "db.duckdb")
    (song,) = store.songs()
    assert song.song_id == song_id and song.name == name and song.path == str(path)
    store.close()


def test_a_file_named_relative_is_stored_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sf.write(tmp_path / "song.wav", synth_song(43, 6.0, SONG_RATE), SONG_RATE)
    monkeypatch.chdir(tmp_path)
    djv = Dejavu({"database": ":memory:"})
    djv.fingerprint_file("song.wav")
    (song,) = djv.db.songs()
    assert song.path == str(tmp_path.resolve() / "song.wav")
    monkeypatch.chdir(REPO)  # the backfill finds the file from anywhere
    assert djv.add_missing_sketches(progress=False, nprocesses=1).failed == []


def test_bad_files_get_clear_errors_and_the_rest_is_fingerprinted(tmp_path: Path) -> None:
    music = tmp_path / "music"
    write_synth_songs(music, [1, 2], duration_s=10.0)
    (music / "empty.wav").write_bytes(b"")
    (music / "notes.ogg").write_text("these are not audio samples\n" * 20)
    (music / "corrupt.mp3").write_bytes(np.random.default_rng(1).bytes(5000))
    sf.write(music / "short.wav", synth_song(3, 0.3, SONG_RATE), SONG_RATE)
    truncated = music / "truncated.flac"
    sf.write(truncated, synth_song(4, 5.0, SONG_RATE), SONG_RATE)
    truncated.write_bytes(truncated.read_bytes()[:300])
    djv = Dejavu({"database": ":memory:"})
    report = djv.fingerprint_directory(music, None, 1, progress=False)
    assert len(report.added) == 2
    reasons = {Path(path).name: reason for path, reason in report.failed}
    assert set(reasons) == {"empty.wav", "notes.ogg", "corrupt.mp3", "short.wav", "truncated.flac"}
    assert "empty" in reasons["empty.wav"]
    assert "too short" in reasons["short.wav"]
    assert "not decodable" in reasons["notes.ogg"] or "corrupt" in reasons["notes.ogg"]
    assert "short.wav" in report.summary()
    with pytest.raises(AudioError, match=r"missing\.wav"):
        djv.fingerprint_file(tmp_path / "missing.wav")
    with pytest.raises(AudioError, match=r"empty\.wav.*empty"):
        djv.fingerprint_file(music / "empty.wav")
    assert djv.db.stats().num_songs == 2


def test_renamed_copies_are_skipped_and_new_songs_added_later(tmp_path: Path) -> None:
    music = tmp_path / "music"
    (first,) = write_synth_songs(music, [5], duration_s=10.0)
    (music / "renamed copy.wav").write_bytes(first.read_bytes())
    djv = Dejavu({"database": str(tmp_path / "db.duckdb")})
    report = djv.fingerprint_directory(music, [".wav"], 1, progress=False)
    assert len(report.added) == 1 and len(report.skipped) == 1
    write_synth_songs(music, [6], duration_s=10.0)
    again = djv.fingerprint_directory(music, [".wav"], 1, progress=False)
    assert [Path(p).name for p, _ in again.added] == ["synth_006.wav"]
    assert len(again.skipped) == 2
    assert djv.db.stats().num_songs == 2


def test_other_parameters_are_refused(tmp_path: Path) -> None:
    db = str(tmp_path / "db.duckdb")
    music = tmp_path / "music"
    write_synth_songs(music, [7], duration_s=6.0)
    with Dejavu({"database": db}) as djv:
        djv.fingerprint_directory(music, [".wav"], 1, progress=False)
    with pytest.raises(IncompatibleStoreError, match="hasher__fan_value"):
        Dejavu({"database": db, "pipeline": {"hasher__fan_value": 3}})
    # query-only and matcher parameters may differ
    with Dejavu(
        {"database": db, "pipeline": {"matcher__min_aligned": 3, "peaks__query_density": 1.0}}
    ) as djv:
        assert djv.pipeline.matcher.min_aligned == 3
    # without a pipeline, the database's own parameters are used
    with Dejavu({"database": db}) as djv:
        assert djv.pipeline.reference_params() == djv.db.read_params()["params"]
    with pytest.raises(ParameterError, match="unknown config key"):
        Dejavu({"databse": db})
    with pytest.raises(ParameterError, match="peaks__amp_minimum"):
        Dejavu({"database": ":memory:", "pipeline": {"peaks__amp_minimum": 3}})


def test_a_database_held_by_another_process_is_waited_for_then_a_clear_error(
    tmp_path: Path,
) -> None:
    db = tmp_path / "held.duckdb"
    with Dejavu({"database": str(db)}) as djv:
        djv.fingerprint_file(write_synth_songs(tmp_path / "m", [8], duration_s=6.0)[0])
    started = time.monotonic()
    with (
        duckdb_held_by_another_process(db),
        pytest.raises(StoreLockedError, match=rf"{db.name} is in use by another process.*0.5 s"),
    ):
        Dejavu({"database": {"type": "duckdb", "path": str(db), "lock_timeout": 0.5}})
    assert time.monotonic() - started >= 0.5  # it waited before giving up
    with Dejavu({"database": str(db)}) as djv:
        assert djv.db.stats().num_songs == 1  # nothing lost
    with pytest.raises(ParameterError, match="lock_timeout"):
        DuckDBStore(db, lock_timeout=-1)


_CHILD = textwrap.dedent(
    """
    import logging, sys
    from dejavu_lab import Dejavu
    from dejavu_lab.fingerprinting import writing
    writing.WRITE_EVERY_S = 0.05  # one process: killed between and inside batches
    logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format="%(message)s")
    djv = Dejavu({"database": sys.argv[1]})
    djv.fingerprint_directory(sys.argv[2], [".wav"], int(sys.argv[3]), progress=False)
    print("finished", flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_sigkill_mid_run_then_rerun_loses_nothing_and_repeats_nothing(
    tmp_path: Path, jobs: int
) -> None:
    music = tmp_path / "music"
    write_synth_songs(music, range(20, 36), duration_s=20.0)
    killed_db, clean_db = str(tmp_path / "killed.duckdb"), str(tmp_path / "clean.duckdb")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, killed_db, str(music), str(jobs)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    stored = 0
    assert child.stdout is not None
    deadline = time.monotonic() + 120
    while stored < 4 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        stored += line.startswith("stored song")
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    assert stored >= 4, "the child finished or failed before it could be killed"
    with Dejavu({"database": killed_db}) as djv:
        partial = djv.db.stats().num_songs
        assert 4 <= partial < 16
        djv.fingerprint_directory(music, [".wav"], jobs, progress=False)
        killed = {s.content_hash: (s.name, s.num_hashes) for s in djv.db.songs()}
        assert len(djv.db.songs()) == 16  # each song exactly once
        assert djv.db.stats().num_fingerprints == sum(n for _, n in killed.values())
    with Dejavu({"database": clean_db}) as djv:
        djv.fingerprint_directory(music, [".wav"], 1, progress=False)
        clean = {s.content_hash: (s.name, s.num_hashes) for s in djv.db.songs()}
    assert killed == clean


def test_one_process_writes_its_songs_in_batches_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dejavu_lab.fingerprinting import writing

    music = tmp_path / "music"
    write_synth_songs(music, range(40, 46), duration_s=6.0)
    connect = DuckDBStore._connect
    songs, writes = {}, {}
    for gather_s in (0.0, 1e9):  # a write per song; one write for all
        opened: list[bool] = []

        def counting(self: DuckDBStore, *, write: bool, opened: list[bool] = opened) -> object:
            opened.append(write)
            return connect(self, write=write)

        monkeypatch.setattr(writing, "WRITE_EVERY_S", gather_s)
        with Dejavu({"database": str(tmp_path / f"{gather_s:g}.duckdb")}) as djv:
            monkeypatch.setattr(DuckDBStore, "_connect", counting)
            report = djv.fingerprint_directory(music, [".wav"], 1, progress=False)
            monkeypatch.setattr(DuckDBStore, "_connect", connect)
            assert len(report.added) == 6 and not report.failed
            songs[gather_s] = {s.content_hash: s.num_hashes for s in djv.db.songs()}
        writes[gather_s] = opened.count(True)
    assert writes[0.0] - writes[1e9] == 5  # six song connections became one
    assert songs[0.0] == songs[1e9] and len(songs[1e9]) == 6
    samples, rate = sf.read(music / "synth_042.wav", dtype="float32")
    clip = tmp_path / "clip.wav"
    sf.write(clip, samples[rate : 4 * rate], rate)  # 1 s to 4 s
    with Dejavu({"database": str(tmp_path / "1e+09.duckdb")}) as djv:
        answer = djv.match_file(clip)
    assert answer.song_name == "synth_042"
    assert answer.offset_seconds == pytest.approx(1.0, abs=0.1)


def test_too_long_and_directory_inputs_are_refused_by_name(tmp_path: Path) -> None:
    from dejavu_lab.core.audio import load_audio

    (path,) = write_synth_songs(tmp_path, [9], duration_s=6.0)
    with pytest.raises(AudioError, match=r"synth_009\.wav: too long: 6 s > the limit of 2 s"):
        load_audio(path, sample_rate=11025, max_duration_s=2.0)
    with pytest.raises(AudioError, match="is a directory"):
        load_audio(tmp_path, sample_rate=11025)
    assert load_audio(path, sample_rate=11025).duration_s == pytest.approx(6.0)
