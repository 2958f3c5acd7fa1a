"""The vote prefilter: kept songs are counted exactly, the bound is a bound, the true song stays."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import lookup_rows

from dejavu_lab.core import matching
from dejavu_lab.core.matching import (
    Lookup,
    Matcher,
    Votes,
    count_votes,
    keep_songs,
    prefilter,
    song_bounds,
)

SEEDS = range(25)


def random_votes(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, Lookup]:
    """Query hashes and offsets, and rows of many songs sharing a few hash values."""
    n_query = int(rng.integers(1, 300))
    pool = rng.integers(0, 2**32, int(rng.integers(1, 50)), dtype=np.uint64).astype(np.uint32)
    query_hashes = rng.choice(pool, n_query)
    query_offsets = rng.integers(0, 300, n_query).astype(np.int32)
    n_rows = int(rng.integers(1, 5000))
    n_songs = int(rng.integers(1, 400))
    lookup = Lookup(
        rng.integers(0, n_query, n_rows).astype(np.int64),
        rng.integers(1, n_songs + 1, n_rows).astype(np.int32),
        rng.integers(0, int(rng.integers(1, 4000)), n_rows).astype(np.int32),
    )
    return query_hashes, query_offsets, lookup


def bins_by_song(votes: Votes) -> dict[int, list[tuple[int, int, int]]]:
    found: dict[int, list[tuple[int, int, int]]] = {}
    for song, diff, count, windowed in zip(
        votes.song_id.tolist(),
        votes.diff.tolist(),
        votes.count.tolist(),
        votes.windowed.tolist(),
        strict=True,
    ):
        found.setdefault(song, []).append((diff, count, windowed))
    return found


@pytest.mark.parametrize("seed", SEEDS)
def test_bound_is_at_least_every_songs_tallest_window(seed: int) -> None:
    rng = np.random.default_rng(seed)
    query_hashes, query_offsets, lookup = random_votes(rng)
    for tolerance in (0, 1, 2, 3):
        for max_bins in (1, 64, 1 << 22):  # tiny tables force wide bins
            bounds = song_bounds(query_offsets, lookup, tolerance, max_bins=max_bins)
            assert len(bounds) == int(lookup.song_id.max()) + 1
            for distinct in (None, query_hashes):
                votes = count_votes(
                    query_offsets, lookup, time_tolerance=tolerance, query_hashes=distinct
                )
                tallest = np.zeros(len(bounds), np.int64)
                np.maximum.at(tallest, votes.song_id, votes.windowed)
                assert np.all(bounds >= tallest), (tolerance, max_bins)
                assert np.all((bounds > 0) == (np.bincount(lookup.song_id) > 0))


@pytest.mark.parametrize("seed", SEEDS)
def test_kept_songs_are_counted_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    query_hashes, query_offsets, lookup = random_votes(rng)
    for tolerance in (0, 1, 2):
        for distinct in (None, query_hashes):
            full = bins_by_song(
                count_votes(query_offsets, lookup, time_tolerance=tolerance, query_hashes=distinct)
            )
            for max_songs in (1, 5, 50, 10_000):
                kept = bins_by_song(
                    count_votes(
                        query_offsets,
                        lookup,
                        time_tolerance=tolerance,
                        query_hashes=distinct,
                        max_songs=max_songs,
                    )
                )
                assert set(kept) <= set(full)
                assert len(kept) >= min(max_songs, len(full))
                if len(full) <= max_songs:
                    assert set(kept) == set(full)
                for song, bins in kept.items():
                    assert bins == full[song]


def test_the_planted_song_survives_a_crowd_of_chance_rows() -> None:
    rng = np.random.default_rng(7)
    n_query, n_songs, true_song, start = 2000, 5000, 1234, 4321
    query_hashes = rng.integers(0, 2**32, n_query, dtype=np.uint64).astype(np.uint32)
    query_offsets = np.sort(rng.integers(0, 215, n_query)).astype(np.int32)
    # Chance rows: 300 a song, anywhere in a 10,000-frame song.
    noise = n_songs * 300
    query_index = rng.integers(0, n_query, noise)
    song_id = rng.integers(1, n_songs + 1, noise)
    offset = rng.integers(0, 10_000, noise)
    # The true song: 40 of the query hashes at the right offset, give or take a frame.
    aligned = rng.choice(n_query, 40, replace=False)
    true_offset = query_offsets[aligned] + start + rng.integers(-1, 2, 40)
    lookup = Lookup(
        np.concatenate([query_index, aligned]).astype(np.int64),
        np.concatenate([song_id, np.full(40, true_song)]).astype(np.int32),
        np.concatenate([offset, true_offset]).astype(np.int32),
    )
    full = count_votes(query_offsets, lookup, time_tolerance=1, query_hashes=query_hashes)
    kept = count_votes(
        query_offsets, lookup, time_tolerance=1, query_hashes=query_hashes, max_songs=64
    )
    assert len(np.unique(kept.song_id)) < len(np.unique(full.song_id)) // 10
    best = int(kept.song_id[np.argmax(kept.windowed)])
    assert best == true_song
    assert int(kept.windowed.max()) == int(full.windowed.max()) >= 40
    mine = kept.song_id == true_song
    assert bins_by_song(kept)[true_song] == bins_by_song(full)[true_song]
    assert abs(int(kept.diff[mine][np.argmax(kept.windowed[mine])]) - start) <= 1


def test_module_default_switches_the_prefilter_on(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    query_hashes, query_offsets, lookup = random_votes(rng)
    lookup = Lookup(lookup.query_index, np.arange(len(lookup), dtype=np.int32) + 1, lookup.offset)
    assert len(lookup) > 2
    monkeypatch.setattr(matching.prefiltering, "PREFILTER_SONGS", 2)
    votes = count_votes(query_offsets, lookup, time_tolerance=1, query_hashes=query_hashes)
    # One row a song: every bound is 1, so ties keep them all; with distinct
    # heights (two songs given 5 and 7 rows below) only those two stay.
    assert len(np.unique(votes.song_id)) == len(lookup)
    taller = Lookup(
        np.repeat(lookup.query_index[:1], len(lookup) + 10),
        np.r_[
            lookup.song_id, np.full(5 - 1, lookup.song_id[-2]), np.full(7 - 1, lookup.song_id[-1])
        ],
        np.r_[lookup.offset, np.full(4, lookup.offset[-2]), np.full(6, lookup.offset[-1])],
    )
    kept = count_votes(query_offsets, taller, time_tolerance=1)
    assert sorted(np.unique(kept.song_id).tolist()) == sorted(lookup.song_id[-2:].tolist())


def test_the_matcher_prefilter_names_the_same_song() -> None:
    rng = np.random.default_rng(11)
    n_query, n_songs, true_song, start = 1500, 3000, 777, 2000
    query_hashes = rng.integers(0, 2**32, n_query, dtype=np.uint64).astype(np.uint32)
    query_offsets = np.sort(rng.integers(0, 215, n_query)).astype(np.int32)
    noise = n_songs * 200
    aligned = rng.choice(n_query, 30, replace=False)
    lookup = Lookup(
        np.r_[rng.integers(0, n_query, noise), aligned].astype(np.int64),
        np.r_[rng.integers(1, n_songs + 1, noise), np.full(30, true_song)].astype(np.int32),
        np.r_[rng.integers(0, 8000, noise), query_offsets[aligned] + start].astype(np.int32),
    )
    song_frames = np.full(n_songs + 1, 8000)
    song_frames[0] = 0
    answers = [
        Matcher(prefilter_songs=songs)(
            query_offsets,
            lookup,
            song_frames=song_frames,
            query_frames=215,
            query_hashes=query_hashes,
        )
        for songs in (None, 32)
    ]
    for result in answers:
        assert result.is_match and result.best is not None
        assert result.best.song_id == true_song
        assert abs(result.best.offset_frames - start) <= 1
    assert answers[0].best == answers[1].best


def test_keep_songs_edge_cases() -> None:
    assert keep_songs(np.array([0, 3, 0, 2]), 2) is None
    assert keep_songs(np.array([0, 3, 1, 2]), 2).tolist() == [False, True, False, True]
    # Ties at the threshold are all kept.
    assert keep_songs(np.array([0, 3, 2, 2]), 2).tolist() == [False, True, True, True]
    with pytest.raises(ValueError, match="at least 1"):
        keep_songs(np.array([1, 2]), 0)
    empty = count_votes(np.zeros(0, np.int32), Lookup.empty(), time_tolerance=1, max_songs=3)
    assert len(empty.song_id) == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_prefilter_keeps_whole_songs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    _, query_offsets, lookup = random_votes(rng)
    for max_songs in (1, 3, 40):
        kept = prefilter(query_offsets, lookup, 1, max_songs)
        songs = np.unique(kept.song_id)
        assert len(songs) >= min(max_songs, len(np.unique(lookup.song_id)))
        mine = np.isin(lookup.song_id, songs)
        assert len(kept) == int(mine.sum())
        assert lookup_rows(kept) == lookup_rows(
            Lookup(lookup.query_index[mine], lookup.song_id[mine], lookup.offset[mine])
        )


def brute_force_votes(
    query_offsets: np.ndarray, lookup: Lookup, query_hashes: np.ndarray, tolerance: int
) -> dict[tuple[int, int], tuple[int, int]]:
    """``(song, diff) -> (distinct hashes in the bin, distinct hashes in its window)``, by sets."""
    hashes: dict[tuple[int, int], set[int]] = {}
    for q, song, offset in zip(
        lookup.query_index.tolist(), lookup.song_id.tolist(), lookup.offset.tolist(), strict=True
    ):
        hashes.setdefault((song, offset - int(query_offsets[q])), set()).add(int(query_hashes[q]))
    return {
        (song, diff): (
            len(found),
            len(
                set().union(
                    *(hashes.get((song, diff + d), set()) for d in range(-tolerance, tolerance + 1))
                )
            ),
        )
        for (song, diff), found in hashes.items()
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_distinct_hash_windows_match_a_brute_force_count(seed: int) -> None:
    rng = np.random.default_rng(seed)
    query_hashes, query_offsets, lookup = random_votes(rng)
    # Crowd the rows into few offsets so that windows overlap and hashes repeat.
    lookup = Lookup(lookup.query_index, lookup.song_id % 7 + 1, lookup.offset % 40 + 300)
    for tolerance in (0, 1, 2, 3):
        votes = count_votes(
            query_offsets, lookup, time_tolerance=tolerance, query_hashes=query_hashes
        )
        keys = list(zip(votes.song_id.tolist(), votes.diff.tolist(), strict=True))
        assert keys == sorted(keys)
        got = dict(
            zip(keys, zip(votes.count.tolist(), votes.windowed.tolist(), strict=True), strict=True)
        )
        assert got == brute_force_votes(query_offsets, lookup, query_hashes, tolerance)


@pytest.mark.parametrize("seed", SEEDS)
def test_each_songs_tallest_window_is_the_first_highest_bin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    query_hashes, query_offsets, lookup = random_votes(rng)
    lookup = Lookup(lookup.query_index, lookup.song_id % 9 + 1, lookup.offset % 60)
    votes = count_votes(query_offsets, lookup, time_tolerance=1, query_hashes=query_hashes)
    song_frames = np.full(11, 500)
    candidates = matching.rank_candidates(
        votes, song_frames=song_frames, query_frames=300, time_tolerance=1, top_k=20
    )
    assert len(candidates) == len(np.unique(votes.song_id))
    for candidate in candidates:
        mine = np.flatnonzero(votes.song_id == candidate.song_id)
        # Most votes in the window, then in the bin itself, then the earliest offset.
        order = sorted(mine, key=lambda i: (-votes.windowed[i], -votes.count[i], votes.diff[i]))
        best = order[0]
        assert candidate.aligned_hashes == votes.windowed[best]
        assert candidate.song_votes == int(votes.count[mine].sum())
        assert abs(candidate.offset_frames - votes.diff[best]) <= 1


def assert_same_windows(a: matching.SongWindows, b: matching.SongWindows) -> None:
    for name in ("song_id", "song_votes", "aligned", "offset_frames"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.parametrize("seed", SEEDS)
def test_song_windows_are_those_of_the_full_histogram(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    query_hashes, query_offsets, lookup = random_votes(rng)
    if seed % 2:  # crowded: repeated (cell, hash) pairs, overlapping windows
        lookup = Lookup(lookup.query_index, lookup.song_id % 5 + 1, lookup.offset % 30)
    for tolerance in (0, 1, 2, 3):
        for max_songs in (None, 3):
            full = count_votes(
                query_offsets,
                lookup,
                time_tolerance=tolerance,
                query_hashes=query_hashes,
                max_songs=max_songs,
            )
            expected = matching.SongWindows.of_votes(full, tolerance)
            for dense_cells in (1 << 21, 0):  # the dense table, then the fallback
                monkeypatch.setattr(matching.windows, "DENSE_CELLS", dense_cells)
                monkeypatch.setattr(
                    matching.windows, "DENSE_CELLS_PER_ROW", 8 if dense_cells else 0
                )
                got = matching.song_windows(
                    query_offsets,
                    lookup,
                    time_tolerance=tolerance,
                    query_hashes=query_hashes,
                    max_songs=max_songs,
                )
                assert_same_windows(got, expected)


def test_song_windows_of_nothing_and_of_plain_counts() -> None:
    rng = np.random.default_rng(5)
    query_hashes, query_offsets, lookup = random_votes(rng)
    empty = matching.song_windows(
        query_offsets, Lookup.empty(), time_tolerance=1, query_hashes=query_hashes
    )
    assert len(empty.song_id) == 0
    assert (
        matching.score_windows(
            empty, song_frames=np.full(5, 100), query_frames=50, time_tolerance=1, top_k=3
        )
        == []
    )
    plain = matching.song_windows(query_offsets, lookup, time_tolerance=1)
    assert_same_windows(
        plain,
        matching.SongWindows.of_votes(count_votes(query_offsets, lookup, time_tolerance=1), 1),
    )
