"""The stop-list (``Matcher.max_postings``): exactly the rows of the common hashes go.

A stop-listed lookup must equal the plain lookup minus the rows of exactly the
query hashes stored in more than ``max_postings`` rows, in the index, in
DuckDB's SQL join, on the servers, and through ``Dejavu``'s matcher.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import lookup_rows
from test_store_contract import random_fingerprints, store_spec, throwaway_database  # noqa: F401

from dejavu_lab import Dejavu
from dejavu_lab.core.matching import Lookup, Matcher
from dejavu_lab.core.presets import get_preset
from dejavu_lab.exceptions import ParameterError
from dejavu_lab.store import DuckDBStore, SongInfo, open_store
from dejavu_lab.store.indexes.hash_index import HashIndex, skip_common
from dejavu_lab.store.server import expand_lookup

SEEDS = range(30)


def random_rows(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of a few songs drawing hashes from a small, skewed pool (long posting lists)."""
    pool = rng.integers(0, 2**32, int(rng.integers(1, 40)), dtype=np.uint64).astype(np.uint32)
    weights = rng.pareto(1.0, len(pool)) + 0.01
    n = int(rng.integers(0, 2000))
    hashes = rng.choice(pool, n, p=weights / weights.sum())
    return (
        hashes,
        rng.integers(1, int(rng.integers(2, 30)), n).astype(np.int32),
        rng.integers(0, 5000, n).astype(np.int32),
    )


def query_hashes(rng: np.random.Generator, stored: np.ndarray) -> np.ndarray:
    """Stored hashes (repeated), absent ones and the extremes of uint32."""
    parts = [
        rng.integers(0, 2**32, int(rng.integers(0, 10)), dtype=np.uint64).astype(np.uint32),
        np.array([0, 2**32 - 1], dtype=np.uint32),
    ]
    if len(stored):
        parts.append(rng.choice(stored, int(rng.integers(0, 80))))
    return np.concatenate(parts)


def without_common(
    plain: Lookup, query: np.ndarray, stored: np.ndarray, max_postings: int
) -> list[tuple[int, int, int]]:
    """The plain lookup minus the rows of query hashes stored over ``max_postings`` times."""
    values, counts = np.unique(stored, return_counts=True)
    postings = dict(zip(values.tolist(), counts.tolist(), strict=True))
    common = {i for i, h in enumerate(query.tolist()) if postings.get(h, 0) > max_postings}
    return [row for row in lookup_rows(plain) if row[0] not in common]


@pytest.mark.parametrize("seed", SEEDS)
def test_stop_list_removes_exactly_the_common_hashes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    hashes, song_ids, offsets = random_rows(rng)
    query = query_hashes(rng, hashes)
    # Common hashes stored last or in hash order: the same rows either way.
    common_postings = None if rng.random() < 0.5 else int(rng.integers(0, 50))
    index = HashIndex(hashes, song_ids, offsets, common_postings=common_postings)
    plain = index.lookup(query)
    longest = int(np.unique(hashes, return_counts=True)[1].max()) if len(hashes) else 0
    for max_postings in sorted({1, 2, 3, 10, longest // 2, longest - 1, longest, 10**6} - {-1}):
        if max_postings < 1:
            continue
        expected = without_common(plain, query, hashes, max_postings)
        capped = index.lookup(query, max_postings=max_postings)
        assert lookup_rows(capped) == expected
        # Rows stay grouped by query position, in index order, as the plain lookup's.
        assert np.all(np.diff(capped.query_index) >= 0)
        assert lookup_rows(skip_common(plain, max_postings, len(query))) == expected
        fetched = expand_lookup(query, hashes, song_ids, offsets, max_postings=max_postings)
        assert lookup_rows(fetched) == expected
    assert skip_common(plain, None, len(query)) is plain
    # A cap at the longest posting list removes nothing.
    assert lookup_rows(index.lookup(query, max_postings=max(longest, 1))) == lookup_rows(plain)


@pytest.mark.parametrize("seed", range(5))
def test_duckdb_sql_join_and_index_agree_under_a_stop_list(seed: int) -> None:
    rng = np.random.default_rng(seed)
    store = DuckDBStore(":memory:")
    stored = []
    for k in range(4):
        fingerprints = random_fingerprints(rng, 1500, alphabet=200)
        store.add_song(SongInfo(f"s{k}", "x", f"c{k}", 60.0), fingerprints.unique())
        stored.append(fingerprints.unique().hashes)
    hashes = np.concatenate(stored)
    query = query_hashes(rng, hashes)
    plain = store.lookup(query)
    for max_postings in (1, 20, 40, 10**6):
        expected = without_common(plain, query, hashes, max_postings)
        assert lookup_rows(store.lookup(query, max_postings=max_postings)) == expected
        assert lookup_rows(store.lookup_sql(query, max_postings=max_postings)) == expected
    store.close()


def store_and_reference(spec: str, rng: np.random.Generator) -> tuple[Any, DuckDBStore]:
    """The store of ``spec`` and an in-memory DuckDB store, holding the same 4 random songs."""
    store = open_store(spec)
    reference = DuckDBStore(":memory:")
    for k in range(4):
        fingerprints = random_fingerprints(rng, 1200, alphabet=300)
        info = SongInfo(f"s{k}", f"/{k}", f"c{k}", 60.0)
        assert store.add_song(info, fingerprints) == reference.add_song(info, fingerprints)
    return store, reference


def test_every_store_applies_the_stop_list(store_spec: str, rng: np.random.Generator) -> None:  # noqa: F811
    store, reference = store_and_reference(store_spec, rng)
    query = np.concatenate(
        [
            random_fingerprints(rng, 500, alphabet=300).hashes,
            rng.integers(0, 2**32, 50, dtype=np.uint64).astype(np.uint32),
        ]
    )
    first, last = reference.load_index().ranges(query)
    cap = int(np.median((last - first)[last > first]))
    capped = lookup_rows(store.lookup(query, max_postings=cap))
    assert capped == lookup_rows(reference.lookup(query, max_postings=cap))
    assert 0 < len(capped) < len(store.lookup(query))
    reference.close()
    store.close()


def test_bad_matcher_parameters_are_refused_by_name() -> None:
    for name, constraint in Matcher._constraints.items():
        for bad in constraint.invalid_examples():
            with pytest.raises(ParameterError, match=name):
                Matcher(**{name: bad})
    for bad in (0, -5, 2.5, "1000", True):
        with pytest.raises(ParameterError, match="max_postings"):
            Matcher(max_postings=bad)  # type: ignore[arg-type]
        with pytest.raises(ParameterError, match="max_postings"):
            get_preset("default").with_params(matcher__max_postings=bad)
    assert Matcher(max_postings=1).max_postings == 1
    assert Matcher(max_postings=None).max_postings is None


class SpyStore:
    """A store that records the stop-list each lookup was given."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.caps: list[int | None] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def lookup(self, hashes: np.ndarray, *, max_postings: int | None = None) -> Lookup:
        self.caps.append(max_postings)
        return self.store.lookup(hashes, max_postings=max_postings)


def test_dejavu_passes_the_matchers_stop_list_to_the_store(tmp_path: Path) -> None:
    rate = 11025
    rng = np.random.default_rng(3)
    song = rng.standard_normal(rate * 20).astype(np.float32)
    store = DuckDBStore(tmp_path / "db.duckdb")
    pipeline = get_preset("default")
    store.write_params(pipeline.reference_params(), "test")
    store.add_song(SongInfo("noise", "x", "c", 20.0), pipeline.fingerprint(song))
    clip = song[5 * rate : 10 * rate]
    answers = {}
    for cap in (None, 1, 10**6):
        spy = SpyStore(store)
        matcher = Dejavu(store=spy, pipeline=pipeline.with_params(matcher__max_postings=cap))
        answers[cap] = matcher.match_samples(clip)
        assert spy.caps == [cap]
    assert answers[None].song_name == "noise" and answers[10**6].song_name == "noise"
    assert answers[None].candidates == answers[10**6].candidates
    # Every stored hash is in at least one row: a cap of 1 keeps only the unique ones.
    assert answers[1].aligned_hashes <= answers[None].aligned_hashes
    store.close()
