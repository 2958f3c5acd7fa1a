"""One contract for every store: DuckDB (memory, file), MariaDB, PostgreSQL.

Server tests run in a throwaway database (MariaDB) or schema (PostgreSQL),
dropped afterwards, and are skipped, with the reason, when the server cannot
be reached. ``DEJAVU_LAB_TEST_MYSQL`` / ``DEJAVU_LAB_TEST_POSTGRES`` point them
at other servers.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
from conftest import SONG_RATE, add_noise, lookup_rows

from dejavu_lab import Dejavu
from dejavu_lab.cli import main
from dejavu_lab.core.audio import resample
from dejavu_lab.core.hashing import Fingerprints, pack_hashes, tolerance_variants, unpack_hashes
from dejavu_lab.core.matching import Lookup, count_votes, rank_candidates
from dejavu_lab.exceptions import IncompatibleStoreError, ParameterError, StoreError
from dejavu_lab.store import DuckDBStore, DuplicateSongError, SongInfo, open_store
from dejavu_lab.store.copy import copy_store
from dejavu_lab.store.server import (
    parse_server_config,
    parse_server_url,
    summarize_votes,
)
from dejavu_lab.studies.synth import synth_song, write_synth_songs

MYSQL_URL = os.environ.get("DEJAVU_LAB_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test")
POSTGRES_URL = os.environ.get("DEJAVU_LAB_TEST_POSTGRES", "postgresql://root@127.0.0.1:5432/test")
SERVERS = ["mariadb", "postgresql"]
KINDS = ["duckdb-memory", "duckdb-file", *SERVERS]
E2E_SONGS = 5
E2E_SECONDS = 20.0


# -- throwaway server databases ---------------------------------------------


@contextmanager
def throwaway_database(kind: str) -> Iterator[str]:
    """The URL of a fresh MariaDB database or PostgreSQL schema, dropped afterwards.

    Skips the test, with the reason, if the server cannot be reached.
    """
    name = f"dejavu_test_{uuid.uuid4().hex[:12]}"
    if kind == "mariadb":
        pymysql = pytest.importorskip("pymysql")
        config = parse_server_url(MYSQL_URL)
        try:
            admin = pymysql.connect(
                host=config.host,
                port=config.port,
                user=config.user,
                password=config.password or "",
                autocommit=True,
                connect_timeout=3,
            )
        except pymysql.MySQLError as error:
            pytest.skip(f"MariaDB not reachable at {config.host}:{config.port}: {error}")
        try:
            with admin.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
            auth = (config.user or "") + (f":{quote(config.password)}" if config.password else "")
            yield f"mysql://{auth}{'@' if auth else ''}{config.host}:{config.port}/{name}"
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {name}")
            admin.close()
    else:
        psycopg = pytest.importorskip("psycopg")
        config = parse_server_url(POSTGRES_URL)
        try:
            admin = psycopg.connect(
                host=config.host,
                port=config.port,
                user=config.user,
                password=config.password,
                dbname=config.database,
                autocommit=True,
                connect_timeout=3,
            )
        except psycopg.Error as error:
            pytest.skip(f"PostgreSQL not reachable at {config.host}:{config.port}: {error}")
        try:
            sep = "&" if "?" in POSTGRES_URL else "?"
            yield f"{POSTGRES_URL}{sep}schema={name}"
        finally:
            admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
            admin.close()


@pytest.fixture(params=KINDS)
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Something open_store accepts, naming an empty database of each kind."""
    kind = request.param
    if kind == "duckdb-memory":
        yield ":memory:"
    elif kind == "duckdb-file":
        yield f"duckdb:{tmp_path / 'fingerprints.duckdb'}"
    else:
        with throwaway_database(kind) as url:
            yield url


@pytest.fixture(params=SERVERS)
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    with throwaway_database(request.param) as url:
        yield url


# -- data -----------------------------------------------------------------------


def random_fingerprints(rng: np.random.Generator, n: int, alphabet: int = 3000) -> Fingerprints:
    """Hashes drawn from a small alphabet (so they collide), spread over all 32 bits."""
    symbols = rng.integers(0, alphabet, n).astype(np.uint64)
    hashes = ((symbols * np.uint64(2654435761)) % np.uint64(1 << 32)).astype(np.uint32)
    hashes[:2] = [0, 2**32 - 1]  # the extremes of uint32 survive
    return Fingerprints(hashes, np.sort(rng.integers(0, 4000, n)).astype(np.int32))


def fill(store: Any, rng: np.random.Generator, n_songs: int = 4) -> dict[int, Fingerprints]:
    songs = {}
    for k in range(n_songs):
        fp = random_fingerprints(rng, 800 + 100 * k)
        info = SongInfo(f"song {k}", f"/music/{k}.mp3", f"content-{k}", 30.0 + k / 3)
        songs[store.add_song(info, fp)] = fp
    return songs


# -- the contract -----------------------------------------------------------------


def test_params_round_trip_and_first_writer_wins(store_spec: str) -> None:
    store = open_store(store_spec)
    assert store.read_params() is None
    params = {"hasher__fan_value": 8, "peaks__amp_min_db": -20.0, "spectrogram__window": "hann"}
    store.write_params(params, "1.2.3")
    store.write_params({"hasher__fan_value": 3}, "9.9.9")  # a later writer changes nothing
    assert store.read_params() == {"params": params, "version": "1.2.3"}
    store.close()
    if store_spec != ":memory:":
        store = open_store(store_spec)
        assert store.read_params() == {"params": params, "version": "1.2.3"}
        store.close()


def test_songs_fingerprints_and_stats(store_spec: str, rng: np.random.Generator) -> None:
    store = open_store(store_spec)
    songs = fill(store, rng)
    assert sorted(songs) == [1, 2, 3, 4]
    records = store.songs()
    assert [r.song_id for r in records] == [1, 2, 3, 4]
    for k, record in enumerate(records):
        assert (record.name, record.path, record.content_hash) == (
            f"song {k}",
            f"/music/{k}.mp3",
            f"content-{k}",
        )
        assert record.duration_s == 30.0 + k / 3  # exact: frame counts depend on it
        assert record.num_hashes == len(songs[record.song_id])
        assert record.fingerprinted_at is not None
    for song_id, original in songs.items():
        back = store.song_fingerprints(song_id)
        order = np.lexsort((original.hashes, original.offsets))
        np.testing.assert_array_equal(back.hashes, original.hashes[order])
        np.testing.assert_array_equal(back.offsets, original.offsets[order])
        assert back.hashes.dtype == np.uint32 and back.offsets.dtype == np.int32
        # A stretch [start, stop) of frames, as the verifier reads it.
        start, stop = int(np.median(original.offsets)), int(np.median(original.offsets)) + 40
        part = store.song_fingerprints(song_id, start, stop)
        inside = (original.offsets[order] >= start) & (original.offsets[order] < stop)
        assert 0 < len(part) < len(original)
        np.testing.assert_array_equal(part.hashes, original.hashes[order][inside])
        np.testing.assert_array_equal(part.offsets, original.offsets[order][inside])
    assert store.content_hashes() == {f"content-{k}" for k in range(4)}
    stats = store.stats()
    assert stats.num_songs == 4
    assert stats.num_fingerprints == sum(len(fp) for fp in songs.values())
    assert stats.audio_seconds == pytest.approx(sum(30.0 + k / 3 for k in range(4)))
    assert stats.size_bytes >= 0 if store_spec == ":memory:" else stats.size_bytes > 0
    # Free blocks are part of the file, never more than it, and never all of it.
    assert 0 <= stats.free_bytes < max(stats.size_bytes, 1)
    store.close()


def test_duplicate_content_is_refused_and_nothing_half_stored(
    store_spec: str, rng: np.random.Generator
) -> None:
    store = open_store(store_spec)
    fill(store, rng, n_songs=2)
    before = store.stats()
    intruder = Fingerprints(
        np.arange(7_000_000, 7_050_000, dtype=np.uint32), np.arange(50_000, dtype=np.int32)
    )
    with pytest.raises(DuplicateSongError) as caught:
        store.add_song(SongInfo("copy", "/elsewhere.mp3", "content-1", 99.0), intruder)
    assert caught.value.song_id == 2 and caught.value.content_hash == "content-1"
    assert store.stats() == before
    assert len(store.lookup(intruder.hashes)) == 0  # none of its hashes stayed
    assert [s.name for s in store.songs()] == ["song 0", "song 1"]
    # the store still works after the refusal
    assert store.add_song(SongInfo("new", "/new.mp3", "content-new", 5.0), intruder) == 3
    store.close()


def test_lookup_gives_exactly_duckdb_rows(store_spec: str, rng: np.random.Generator) -> None:
    store = open_store(store_spec)
    reference = DuckDBStore(":memory:")
    for k in range(5):
        fp = random_fingerprints(rng, 2000)
        info = SongInfo(f"s{k}", f"/{k}", f"c{k}", 60.0)
        assert store.add_song(info, fp) == reference.add_song(info, fp)
    query = np.concatenate(
        [
            random_fingerprints(rng, 3000).hashes,  # many hits, repeated hashes
            rng.integers(0, 2**32, 500, dtype=np.uint64).astype(np.uint32),  # mostly misses
            np.array([0, 0, 2**32 - 1], dtype=np.uint32),
        ]
    )
    expected = lookup_rows(reference.lookup_sql(query))
    assert len(expected) > 3000
    got = store.lookup(query)
    assert got.query_index.dtype == np.int64 and got.song_id.dtype == np.int32
    assert got.offset.dtype == np.int32
    assert lookup_rows(got) == expected
    assert len(store.lookup(np.zeros(0, np.uint32))) == 0
    reference.close()
    store.close()


NAMES = [
    'Björk\'s "Jóga" — 東京; DROP TABLE songs; --',
    "back\\slash \\' \\\" \\n %s %(name)s {0} ?",
    "emoji 🎵🎸👩‍🎤 and Ω≈ç√ and ﷽",
    "trailing spaces   ",
    "tab\tand\nnewline",
    "' OR '1'='1",
]


def test_weird_names_are_stored_verbatim(store_spec: str) -> None:
    store = open_store(store_spec)
    fp = Fingerprints(np.arange(10, dtype=np.uint32), np.arange(10, dtype=np.int32))
    for k, name in enumerate(NAMES):
        store.add_song(SongInfo(name, f"/músic/{name}.mp3", f"sha'{k}\\", 1.0), fp)
    records = store.songs()
    assert [r.name for r in records] == NAMES
    assert [r.path for r in records] == [f"/músic/{name}.mp3" for name in NAMES]
    assert store.content_hashes() == {f"sha'{k}\\" for k in range(len(NAMES))}
    store.close()


def _aligned_data(
    rng: np.random.Generator,
) -> tuple[list[Fingerprints], np.ndarray, np.ndarray]:
    """Songs over a small alphabet, and a query cut from song 2 (offset 300) plus noise."""
    songs = [random_fingerprints(rng, 3000, alphabet=600) for _ in range(4)]
    source = songs[1]
    window = (source.offsets >= 300) & (source.offsets < 500)
    keep = window & (rng.random(len(source)) < 0.6)
    noise = random_fingerprints(rng, 400, alphabet=600)
    hashes = np.concatenate([source.hashes[keep], noise.hashes, source.hashes[keep][:20]])
    offsets = np.concatenate(
        [source.offsets[keep] - 300, noise.offsets % 200, source.offsets[keep][:20] - 300]
    )
    return songs, hashes, offsets.astype(np.int32)


@pytest.mark.parametrize(
    ("top_n", "time_tolerance", "distinct"), [(50, 1, True), (3, 0, False), (1, 2, True)]
)
def test_in_process_summary_ranks_like_the_full_histogram(
    rng: np.random.Generator, top_n: int, time_tolerance: int, distinct: bool
) -> None:
    songs, hashes, offsets = _aligned_data(rng)
    store = DuckDBStore(":memory:")
    for k, fp in enumerate(songs):
        store.add_song(SongInfo(f"s{k}", "", f"c{k}", 90.0), fp)
    votes = count_votes(
        offsets,
        store.lookup(hashes),
        time_tolerance=time_tolerance,
        query_hashes=hashes if distinct else None,
    )
    summary = summarize_votes(votes, top_n=top_n, time_tolerance=time_tolerance)
    assert len(summary) < len(votes.song_id)
    np.testing.assert_array_equal(summary.song_id, np.unique(votes.song_id))
    frames = np.array([0, 3900, 4000, 4100, 4200])
    ranking: dict[str, Any] = dict(
        song_frames=frames, query_frames=200, time_tolerance=time_tolerance, top_k=4
    )
    full = rank_candidates(votes, **ranking)
    assert rank_candidates(summary.as_votes(), **ranking) == full
    assert full[0].song_id == 2 and round(full[0].offset_frames) == 300
    store.close()


def _moved(hashes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the hashes with dt one frame off, as peaks heard through a room."""
    f1, f2, dt = unpack_hashes(hashes)
    moved = (rng.random(len(hashes)) < 0.5) & (dt < 255)
    return pack_hashes(f1, f2, np.where(moved, dt + 1, dt))


@pytest.mark.parametrize(
    ("top_n", "time_tolerance", "distinct", "variants"),
    [
        (50, 1, True, False),
        (3, 0, False, False),
        (1, 2, True, False),
        (5, 1, True, True),
        (5, 1, False, True),
    ],
)
def test_vote_pushdown_equals_count_votes(
    server_url: str,
    rng: np.random.Generator,
    top_n: int,
    time_tolerance: int,
    distinct: bool,
    variants: bool,
) -> None:
    songs, hashes, offsets = _aligned_data(rng)
    store = open_store(server_url)
    for k, fp in enumerate(songs):
        store.add_song(SongInfo(f"s{k}", "", f"c{k}", 90.0), fp)
    if variants:  # as Dejavu looks up hashes with a dt tolerance
        hashes = _moved(hashes, rng)
        lookup_hashes, origin = tolerance_variants(hashes, freq_tolerance=0, dt_tolerance=1)
        found = store.lookup(lookup_hashes)
        lookup = Lookup(origin[found.query_index], found.song_id, found.offset)
        pushed = store.vote(
            hashes,
            offsets,
            top_n=top_n,
            time_tolerance=time_tolerance,
            distinct_hashes=distinct,
            variants=(lookup_hashes, origin),
        )
    else:
        lookup = store.lookup(hashes)
        pushed = store.vote(
            hashes, offsets, top_n=top_n, time_tolerance=time_tolerance, distinct_hashes=distinct
        )
    votes = count_votes(
        offsets, lookup, time_tolerance=time_tolerance, query_hashes=hashes if distinct else None
    )
    expected = summarize_votes(votes, top_n=top_n, time_tolerance=time_tolerance)
    for name in ("song_id", "diff", "count", "windowed"):
        np.testing.assert_array_equal(getattr(pushed.votes, name), getattr(expected.votes, name))
    np.testing.assert_array_equal(pushed.song_id, expected.song_id)
    np.testing.assert_array_equal(pushed.song_votes, expected.song_votes)
    assert len(pushed) < len(votes.song_id)  # fewer rows crossed the network
    frames = np.array([0, 3900, 4000, 4100, 4200])
    ranking: dict[str, Any] = dict(
        song_frames=frames, query_frames=200, time_tolerance=time_tolerance, top_k=4
    )
    best = rank_candidates(votes, **ranking)
    assert rank_candidates(pushed.as_votes(), **ranking) == best
    assert best[0].song_id == 2 and abs(best[0].offset_frames - 300) <= 1
    empty = store.vote(np.zeros(0, np.uint32), np.zeros(0, np.int32))
    assert len(empty) == 0 and len(empty.song_id) == 0
    with pytest.raises(ParameterError, match="top_n"):
        store.vote(hashes, offsets, top_n=0)
    store.close()


# -- configuration and errors -------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_server_configs_are_checked() -> None:
    config = parse_server_config("mariadb", {"host": "h", "user": "u", "passwd": "s3", "db": "d"})
    assert (config.kind, config.port, config.database) == ("mysql", 3306, "d")
    assert config.password == "s3"
    assert "s3" not in repr(config) and "s3" not in config.describe()
    url = parse_server_url("postgres://me:p%40ss@db.example.org:6543/music?schema=fp")
    assert (url.kind, url.host, url.port, url.user, url.password) == (
        "postgresql",
        "db.example.org",
        6543,
        "me",
        "p@ss",
    )
    assert (url.database, url.schema) == ("music", "fp")
    bad: list[tuple[str, dict[str, Any], str]] = [
        ("mysql", {"db": "d", "pasword": ""}, "unknown mysql database option"),
        ("mysql", {"db": "d", "passwd": "a", "password": "b"}, "not both"),
        ("mysql", {"db": "d", "database": "e"}, "not both"),
        ("mysql", {"host": "h"}, "needs 'db'"),
        ("mysql", {"db": "d", "schema": "s"}, "PostgreSQL option"),
        ("postgresql", {"db": "d", "port": "http"}, "port"),
        ("postgresql", {"db": "d", "port": 70000}, "port"),
        ("postgresql", {"db": "d", "connect_timeout": 0}, "connect_timeout"),
    ]
    for kind, options, message in bad:
        with pytest.raises(ParameterError, match=message):
            open_store({"type": kind, **options})
    with pytest.raises(ParameterError, match="sslmode"):
        open_store("postgresql://me@host/db?sslmode=require")
    with pytest.raises(ParameterError, match="no database"):
        open_store("mysql://root:secret@host")
    with pytest.raises(ParameterError, match=r"\*\*\*") as caught:
        parse_server_url("mysql://root:secret@host:99999/db")
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("kind", ["mysql", "postgresql"])
def test_an_unreachable_server_is_a_clear_error(kind: str) -> None:
    port = _free_port()
    config = {"type": kind, "host": "127.0.0.1", "port": port, "user": "root"}
    config |= {"db": "music", "password": "secret", "connect_timeout": 3}
    with pytest.raises(StoreError) as caught:
        open_store(config)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "'music'" in message
    assert "refused" in message.lower() and "secret" not in message
    assert caught.value.__cause__ is None  # no driver traceback chained


@pytest.mark.parametrize("kind", SERVERS)
def test_a_missing_database_is_a_clear_error(kind: str) -> None:
    with throwaway_database(kind):  # skips when the server is down
        pass
    base = parse_server_url(MYSQL_URL if kind == "mariadb" else POSTGRES_URL)
    config = {"type": base.kind, "host": base.host, "port": base.port, "user": base.user}
    with pytest.raises(StoreError, match="no_such_db_dejavu") as caught:
        open_store({**config, "db": "no_such_db_dejavu"})
    assert "does not exist" in str(caught.value) or "Unknown database" in str(caught.value)


def test_tables_of_another_program_are_refused(server_url: str) -> None:
    store = open_store(server_url)
    store.close()
    if server_url.startswith("mysql"):
        import pymysql

        config = parse_server_url(server_url)
        con = pymysql.connect(
            host=config.host, port=config.port, user=config.user, database=config.database
        )
        with con.cursor() as cursor:
            cursor.execute("DROP TABLE meta")
        con.close()
    else:
        import psycopg

        config = parse_server_url(server_url)
        with psycopg.connect(
            host=config.host, port=config.port, user=config.user, dbname=config.database
        ) as con:
            con.execute(f"DROP TABLE {config.schema}.meta")
    with pytest.raises(StoreError, match="did not create"):
        open_store(server_url)


# -- end to end: identical answers, and copies ---------------------------------


def _clips() -> list[np.ndarray]:
    rng = np.random.default_rng(606)
    clips = []
    for seed in range(E2E_SONGS):
        samples = synth_song(seed, E2E_SECONDS, SONG_RATE)
        start = int(rng.uniform(2.0, E2E_SECONDS - 6.0) * SONG_RATE)
        clips.append(add_noise(samples[start : start + 4 * SONG_RATE], 10.0, rng))
    clips.append(add_noise(synth_song(99, 4.0, SONG_RATE), 10.0, rng))  # never stored
    return clips


def _answers(djv: Dejavu) -> list[tuple[Any, ...]]:
    answers = []
    for clip in _clips():
        r = djv.match_samples(clip, SONG_RATE, top_k=3)
        answers.append(
            (
                r.song_id,
                r.song_name,
                r.offset_seconds,
                r.aligned_hashes,
                r.confidence,
                r.input_hashes,
                r.candidates,
            )
        )
    return answers


def _pushdown_agrees(djv: Dejavu) -> None:
    """What ``Dejavu._match`` would compute with the SQL vote pushdown: the same candidates."""
    pipeline, matcher = djv.pipeline, djv.pipeline.matcher
    songs = djv.db.songs()
    frames = np.zeros(max(s.song_id for s in songs) + 1, dtype=np.int64)
    for song in songs:
        frames[song.song_id] = pipeline.frames_for(song.duration_s)
    rate = pipeline.spectrogram.sample_rate
    for clip in _clips():
        samples = resample(clip, SONG_RATE, rate)
        query = pipeline.fingerprint_query(samples)
        ranking: dict[str, Any] = dict(
            song_frames=frames,
            query_frames=pipeline.frames_for(len(samples) / rate),
            time_tolerance=matcher.time_tolerance,
            top_k=3,
        )
        variants, origin = pipeline.hasher.lookup_variants(query.hashes)
        found = djv.db.lookup(variants)
        votes = count_votes(
            query.offsets,
            Lookup(origin[found.query_index], found.song_id, found.offset),
            time_tolerance=matcher.time_tolerance,
            query_hashes=query.hashes if matcher.distinct_hashes else None,
        )
        summary = djv.db.vote(
            query.hashes,
            query.offsets,
            top_n=5,
            time_tolerance=matcher.time_tolerance,
            distinct_hashes=matcher.distinct_hashes,
            variants=(variants, origin),
        )
        assert rank_candidates(summary.as_votes(), **ranking) == rank_candidates(votes, **ranking)


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Songs fingerprinted into a DuckDB file, and its answers to the clips."""
    music = tmp_path_factory.mktemp("e2e_music")
    write_synth_songs(music, range(E2E_SONGS), duration_s=E2E_SECONDS, sample_rate=SONG_RATE)
    db = tmp_path_factory.mktemp("e2e_db") / "reference.duckdb"
    with Dejavu({"database": str(db)}) as djv:
        report = djv.fingerprint_directory(music, [".wav"], 1, progress=False)
        assert len(report.added) == E2E_SONGS
        answers = _answers(djv)
    names = [a[1] for a in answers]
    assert names == [f"synth_{k:03d}" for k in range(E2E_SONGS)] + [None]
    return {"music": music, "db": db, "answers": answers}


def test_recognition_is_identical_on_every_server(server_url: str, e2e: dict[str, Any]) -> None:
    with Dejavu(store=open_store(server_url)) as djv:
        report = djv.fingerprint_directory(e2e["music"], [".wav"], 1, progress=False)
        assert len(report.added) == E2E_SONGS
        assert _answers(djv) == e2e["answers"]
        _pushdown_agrees(djv)


def _contents(store: Any) -> list[tuple[Any, ...]]:
    out = []
    for s in store.songs():
        fp = store.song_fingerprints(s.song_id)
        record = (s.song_id, s.name, s.path, s.content_hash, s.duration_s, s.num_hashes)
        out.append((*record, fp.hashes.tolist(), fp.offsets.tolist()))
    return out


def test_copy_duckdb_postgresql_mariadb_duckdb_keeps_everything(
    e2e: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with throwaway_database("postgresql") as pg, throwaway_database("mariadb") as maria:
        source = DuckDBStore(e2e["db"], read_only=True)
        original, params = _contents(source), source.read_params()
        source.close()
        assert main(["copy", "--from", f"duckdb:{e2e['db']}", "--to", pg, "-q"]) == 0
        assert f"{E2E_SONGS} songs copied" in capsys.readouterr().out
        report = copy_store(pg, maria, progress=False)
        assert (report.added, report.skipped) == (E2E_SONGS, 0)
        final = tmp_path / "final.duckdb"
        with open_store(maria) as mid, open_store(final) as last:
            assert _contents(mid) == original and mid.read_params() == params
            report = copy_store(mid, last, progress=False)
            assert report.num_hashes == sum(row[5] for row in original)
            again = copy_store(mid, last, progress=False)  # idempotent
            assert (again.added, again.skipped) == (0, E2E_SONGS)
            assert _contents(last) == original and last.read_params() == params
        with Dejavu({"database": str(final)}) as djv:
            assert _answers(djv) == e2e["answers"]


def test_copy_refuses_a_target_with_other_parameters(rng: np.random.Generator) -> None:
    source, target = DuckDBStore(":memory:"), DuckDBStore(":memory:")
    source.write_params({"hasher__fan_value": 8}, "0.1.0")
    fill(source, rng, n_songs=1)
    target.write_params({"hasher__fan_value": 3}, "0.1.0")
    with pytest.raises(IncompatibleStoreError, match="hasher__fan_value"):
        copy_store(source, target, progress=False)
    assert target.stats().num_songs == 0
    bare = DuckDBStore(":memory:")
    fill(bare, rng, n_songs=1)
    with pytest.raises(StoreError, match="no pipeline parameters"):
        copy_store(bare, DuckDBStore(":memory:"), progress=False)


def test_mysql_lookups_survive_a_cut_group_concat(rng: np.random.Generator) -> None:
    """Rows whose GROUP_CONCAT text is cut by group_concat_max_len are fetched row by row."""
    with throwaway_database("mariadb") as url:
        store, reference = open_store(url), DuckDBStore(":memory:")
        for k in range(3):
            fp = random_fingerprints(rng, 2000)
            info = SongInfo(f"s{k}", f"/{k}", f"c{k}", 60.0)
            store.add_song(info, fp)
            reference.add_song(info, fp)
        store._execute("SET SESSION group_concat_max_len = 200")
        query = random_fingerprints(rng, 1000).hashes
        assert lookup_rows(store.lookup(query)) == lookup_rows(reference.lookup_sql(query))
        back = store.song_fingerprints(2)
        np.testing.assert_array_equal(back.hashes, reference.song_fingerprints(2).hashes)
        store.close()
        reference.close()
