"""Shortlist matching: stage two's song-major lookup returns exactly the join's rows.

``lookup_songs(hashes, songs)`` must equal the plain lookup (a SQL join)
restricted to ``songs``, row for row, from the in-memory song index, its
sidecar and every store; and ``Dejavu`` in two stages must name the right song
and offset, counting the shortlisted songs exactly as one stage counts them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import UNSEEN_SEEDS, lookup_rows
from test_stoplist import query_hashes, random_rows, store_and_reference
from test_store_contract import random_fingerprints, store_spec, throwaway_database  # noqa: F401

from dejavu_lab import Dejavu
from dejavu_lab.core.matching import Lookup, Matcher
from dejavu_lab.exceptions import ParameterError
from dejavu_lab.store import DuckDBStore, SongInfo, duckdb_sidecars
from dejavu_lab.store.base import restrict_songs
from dejavu_lab.store.indexes.hash_index import HashIndex, skip_common, within_budget
from dejavu_lab.store.indexes.song_index import SongIndex, SongIndexWriter, song_sidecar_path
from dejavu_lab.store.server import expand_lookup
from dejavu_lab.studies.synth import synth_song


def assert_same_lookup(found: Lookup, expected: Lookup) -> None:
    """Identical rows in identical order."""
    np.testing.assert_array_equal(found.query_index, expected.query_index)
    np.testing.assert_array_equal(found.song_id, expected.song_id)
    np.testing.assert_array_equal(found.offset, expected.offset)


@pytest.mark.parametrize("seed", range(30))
def test_song_index_returns_the_hash_index_rows_of_the_songs_asked(seed: int) -> None:
    rng = np.random.default_rng(seed)
    hashes, song_ids, offsets = random_rows(rng)
    query = query_hashes(rng, hashes)
    index = HashIndex(hashes, song_ids, offsets)
    songs = SongIndex.from_rows(hashes, song_ids, offsets)
    plain = index.lookup(query)
    present = np.unique(song_ids)
    for asked in (
        present,
        rng.choice(present, min(3, len(present)), replace=False) if len(present) else present,
        np.array([0, 10**6]),  # ids with no rows
        np.zeros(0, np.int64),
    ):
        assert_same_lookup(songs.lookup(query, asked), restrict_songs(plain, asked))


@pytest.mark.parametrize("seed", range(20))
def test_a_row_budget_keeps_the_rarest_hashes_whatever_fetched_the_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    hashes, song_ids, offsets = random_rows(rng)
    query = query_hashes(rng, hashes)
    index = HashIndex(hashes, song_ids, offsets, common_postings=int(rng.integers(0, 50)))
    plain = index.lookup(query)
    first, last = index.ranges(query)
    for budget in (0, 1, 10, len(plain) // 3, len(plain) // 2, len(plain), 10**9):
        kept = within_budget(last - first, budget)
        expected = [row for row in lookup_rows(plain) if kept[row[0]]]
        found = index.lookup(query, max_rows=budget)
        assert lookup_rows(found) == expected
        assert len(found) <= budget
        assert lookup_rows(skip_common(plain, None, len(query), max_rows=budget)) == expected
        fetched = expand_lookup(query, hashes, song_ids, offsets, max_rows=budget)
        assert lookup_rows(fetched) == expected


def test_every_store_keeps_a_row_budget(store_spec: str, rng: np.random.Generator) -> None:  # noqa: F811
    store, reference = store_and_reference(store_spec, rng)
    query = random_fingerprints(rng, 500, alphabet=300).hashes
    budget = len(reference.lookup(query)) // 3
    expected = lookup_rows(reference.lookup(query, max_rows=budget))
    assert 0 < len(expected) <= budget
    assert lookup_rows(reference.lookup_sql(query, max_rows=budget)) == expected
    assert lookup_rows(store.lookup(query, max_rows=budget)) == expected
    reference.close()
    store.close()


def test_song_index_stores_offsets_narrow_only_when_they_fit(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    for high, dtype in ((65_535, np.uint16), (65_536, np.int32)):
        store = DuckDBStore(tmp_path / f"db{high}.duckdb")
        fingerprints = random_fingerprints(rng, 600, alphabet=100)
        fingerprints.offsets[:] = np.sort(rng.integers(0, high + 1, 600)).astype(np.int32)
        fingerprints.offsets[-1] = high
        store.add_song(SongInfo("s", "/s", "c", 60.0), fingerprints)
        query, asked = fingerprints.hashes, np.array([1])
        found = lookup_rows(store.lookup_songs(query, asked))  # builds the sidecar
        assert found == lookup_rows(restrict_songs(store.lookup_sql(query), asked))
        assert max(row[2] for row in found) == high
        assert np.load(song_sidecar_path(store.path) / "offsets.npy", mmap_mode="r").dtype == dtype
        store.close()


def test_song_index_writer_refuses_rows_out_of_order() -> None:
    writer = SongIndexWriter(4)
    writer.write(np.array([5, 9], np.uint32), np.array([1, 1], np.int32), np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="sorted by song"):
        writer.write(np.array([3], np.uint32), np.array([1], np.int32), np.zeros(1, np.int32))
    with pytest.raises(ValueError, match="sorted by song"):
        writer.write(np.array([1, 0], np.uint32), np.array([2, 2], np.int32), np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="2 rows written, 4 planned"):
        writer.finish({})
    narrow = SongIndexWriter(2, offsets=np.uint16)
    with pytest.raises(ValueError, match="offsets outside"):
        narrow.write(np.array([1], np.uint32), np.array([1], np.int32), np.array([70_000]))


def test_duckdb_song_index_sidecar_matches_the_sql_join(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rng: np.random.Generator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="dejavu_lab.store.duckdb_sidecars")
    # Small chunks: songs are streamed over several chunks and a chunk holds several songs.
    monkeypatch.setattr(duckdb_sidecars, "_SONG_INDEX_CHUNK_ROWS", 1700)
    path = tmp_path / "db.duckdb"
    store = DuckDBStore(path)
    for k in range(6):
        fingerprints = random_fingerprints(rng, int(rng.integers(300, 2500)), alphabet=400)
        store.add_song(SongInfo(f"s{k}", f"/{k}", f"c{k}", 60.0), fingerprints)
    query = random_fingerprints(rng, 800, alphabet=500).hashes
    for asked in ([1, 2, 3, 4, 5, 6], [2, 5], [6], [99]):
        expected = restrict_songs(store.lookup_sql(query), np.array(asked))
        assert lookup_rows(store.lookup_songs(query, np.array(asked))) == lookup_rows(expected)
    assert song_sidecar_path(path).is_dir()
    assert any("building the song index" in r.getMessage() for r in caplog.records)
    store.close()
    # Reopened from the sidecar; a new song makes it stale and it is rebuilt.
    store = DuckDBStore(path)
    assert len(store.load_song_index()) == store.stats().num_fingerprints
    store.add_song(
        SongInfo("new", "/new", "c-new", 60.0), random_fingerprints(rng, 500, alphabet=400)
    )
    everyone = np.arange(1, 8)
    expected = restrict_songs(store.lookup_sql(query), everyone)
    assert lookup_rows(store.lookup_songs(query, everyone)) == lookup_rows(expected)
    assert 7 in store.lookup_songs(query, everyone).song_id
    store.close()


def test_every_store_looks_up_songs(store_spec: str, rng: np.random.Generator) -> None:  # noqa: F811
    store, reference = store_and_reference(store_spec, rng)
    query = random_fingerprints(rng, 500, alphabet=300).hashes
    asked = np.array([2, 4])
    found = lookup_rows(store.lookup_songs(query, asked))
    assert found == lookup_rows(restrict_songs(reference.lookup_sql(query), asked))
    assert found and {row[1] for row in found} == {2, 4}
    reference.close()
    store.close()


def test_shortlist_parameters() -> None:
    for name, bad in (("shortlist_rows", 0), ("shortlist_songs", 0), ("shortlist_min_songs", -1)):
        with pytest.raises(ParameterError, match=name):
            Matcher(**{name: bad})
    assert not Matcher(shortlist_songs=8, shortlist_min_songs=1).uses_shortlist(8)
    assert Matcher(shortlist_songs=8, shortlist_min_songs=1).uses_shortlist(9)
    assert not Matcher(shortlist_songs=8).uses_shortlist(199)
    assert Matcher(shortlist_songs=8).uses_shortlist(200)
    assert not Matcher().uses_shortlist(10**6)


class SpyStore:
    """A store that records what each stage asked for."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def lookup(
        self, hashes: np.ndarray, *, max_postings: int | None = None, max_rows: int | None = None
    ) -> Lookup:
        self.calls.append(("lookup", max_postings, max_rows))
        return self.store.lookup(hashes, max_postings=max_postings, max_rows=max_rows)

    def lookup_songs(self, hashes: np.ndarray, song_ids: np.ndarray) -> Lookup:
        self.calls.append(("lookup_songs", sorted(np.asarray(song_ids).tolist())))
        return self.store.lookup_songs(hashes, song_ids)


def test_two_stages_name_the_right_song_and_offset(
    fingerprinted: Dejavu, song_samples: dict[str, np.ndarray]
) -> None:
    one_stage = fingerprinted.pipeline
    shortlisted = one_stage.with_params(
        matcher__shortlist_songs=2, matcher__shortlist_rows=400, matcher__shortlist_min_songs=1
    )
    spy = SpyStore(fingerprinted.db)
    two_stages = Dejavu(store=spy, pipeline=shortlisted)
    rate = 22050
    for name, song in song_samples.items():
        start = 7.0
        clip = song[int(start * rate) : int((start + 3) * rate)]
        single = fingerprinted.match_samples(clip, rate, top_k=2)
        spy.calls.clear()
        double = two_stages.match_samples(clip, rate, top_k=2)
        assert double.song_name == name
        assert double.offset_seconds == pytest.approx(start, abs=0.1)
        # Stage one within its budget, stage two for two songs, the right one included.
        assert spy.calls[0] == ("lookup", None, 400)
        kind, songs = spy.calls[1]
        assert kind == "lookup_songs" and len(songs) == 2 and double.song_id in songs
        # The shortlisted songs are counted as one stage counts them; the runner-up
        # is sought among them alone, so confidence can only be higher.
        first, reference = dict(double.candidates[0]), dict(single.candidates[0])
        assert first.pop("confidence") >= reference.pop("confidence")
        assert first == reference
        assert double.aligned_hashes == single.aligned_hashes


def test_small_collections_are_matched_in_one_stage(
    fingerprinted: Dejavu, song_samples: dict[str, np.ndarray]
) -> None:
    clip = song_samples["synth_004"][5 * 22050 : 8 * 22050]
    # 10 songs: fewer than shortlist_min_songs, or no more than the shortlist.
    for settings in ({"shortlist_min_songs": 11}, {"shortlist_songs": 10}):
        spy = SpyStore(fingerprinted.db)
        params = {"shortlist_songs": 4, "shortlist_min_songs": 1, **settings}
        pipeline = fingerprinted.pipeline.with_params(
            **{f"matcher__{name}": value for name, value in params.items()}
        )
        answer = Dejavu(store=spy, pipeline=pipeline).match_samples(clip, 22050)
        assert spy.calls == [("lookup", None, None)]
        assert answer.song_name == "synth_004"


def test_a_stop_list_applies_to_stage_one_only(
    fingerprinted: Dejavu, song_samples: dict[str, np.ndarray]
) -> None:
    spy = SpyStore(fingerprinted.db)
    pipeline = fingerprinted.pipeline.with_params(
        matcher__shortlist_songs=3,
        matcher__shortlist_min_songs=1,
        matcher__shortlist_rows=10**6,
        matcher__max_postings=50,
    )
    clip = song_samples["synth_006"][4 * 22050 : 8 * 22050]
    answer = Dejavu(store=spy, pipeline=pipeline).match_samples(clip, 22050)
    assert spy.calls[0] == ("lookup", 50, 10**6)
    assert spy.calls[1][0] == "lookup_songs" and answer.song_id in spy.calls[1][1]
    assert answer.song_name == "synth_006"
    assert answer.offset_seconds == pytest.approx(4.0, abs=0.1)


def test_two_stages_stay_silent_on_silence_and_unseen_songs(fingerprinted: Dejavu) -> None:
    pipeline = fingerprinted.pipeline.with_params(
        matcher__shortlist_songs=3, matcher__shortlist_min_songs=1
    )
    two_stages = Dejavu(store=fingerprinted.db, pipeline=pipeline)
    silence = two_stages.match_samples(np.zeros(4 * 22050, np.float32), 22050)
    assert silence.song_id is None and silence.input_hashes == 0
    for seed in UNSEEN_SEEDS:
        clip = synth_song(seed, 5.0, 22050)
        answer = two_stages.match_samples(clip, 22050)
        assert answer.song_id is None, (seed, answer.candidates[:1])
