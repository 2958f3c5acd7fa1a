"""The in-memory hash index: same votes as a plain SQL join, and sidecar invalidation.

Collections are small and full of repeated hashes (a few dozen values shared
by every song), so posting lists are long, neighbouring keys differ by one, and
a query hash meets many rows: the cases where a search off by one would show.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import lookup_rows

from dejavu_lab.core.hashing import Fingerprints
from dejavu_lab.core.matching import Lookup, Votes, count_votes
from dejavu_lab.store import DuckDBStore
from dejavu_lab.store.base import SongInfo
from dejavu_lab.store.indexes import hash_index
from dejavu_lab.store.indexes.hash_index import (
    HashIndex,
    IndexLayout,
    IndexWriter,
    sidecar_path,
    sidecar_signature,
    within_budget,
)

SEEDS = range(30)


def random_store(rng: np.random.Generator) -> tuple[DuckDBStore, np.ndarray]:
    """An in-memory store of a few songs drawing hashes from a small pool.

    Returns the store and the pool (stored hash values).
    """
    pool = rng.integers(0, 2**32, int(rng.integers(1, 40)), dtype=np.uint64).astype(np.uint32)
    if rng.random() < 0.5:  # neighbouring values: a search off by one finds the wrong one
        pool = (pool[:1] + np.arange(len(pool), dtype=np.uint32) * 3).astype(np.uint32)
    store = DuckDBStore(":memory:")
    for song in range(int(rng.integers(1, 8))):
        n = int(rng.integers(1, 400))
        fingerprints = Fingerprints(
            rng.choice(pool, n), rng.integers(0, int(rng.integers(1, 3000)), n).astype(np.int32)
        ).unique()
        store.add_song(SongInfo(f"s{song}", "x", f"c{song}", 60.0), fingerprints)
    return store, pool


def query(rng: np.random.Generator, pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Query hashes (stored ones, repeats, absent ones, the extremes) and offsets."""
    hashes = np.concatenate(
        [
            rng.choice(pool, int(rng.integers(0, 60))),
            rng.integers(0, 2**32, int(rng.integers(0, 10)), dtype=np.uint64).astype(np.uint32),
            np.array([0, 2**32 - 1, pool.min(), pool.max()], dtype=np.uint32),
        ]
    )
    return hashes, rng.integers(0, 200, len(hashes)).astype(np.int32)


def table_rows(store: DuckDBStore) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with store.connection() as con:
        result = con.execute('SELECT hash, song_id, "offset" FROM fingerprints').fetchnumpy()
    return (
        np.asarray(result["hash"], dtype=np.uint32),
        np.asarray(result["song_id"], dtype=np.int32),
        np.asarray(result["offset"], dtype=np.int32),
    )


def assert_same_votes(a: Votes, b: Votes) -> None:
    for name in ("song_id", "diff", "count", "windowed"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def streamed(
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    directory: Path | None,
    chunk: int,
    common_postings: int | None = None,
) -> HashIndex:
    """Build through IndexWriter from sorted chunks, as a store does."""
    hashes, song_ids, offsets = rows
    order = np.lexsort((offsets, song_ids, hashes))
    hashes, song_ids, offsets = hashes[order], song_ids[order], offsets[order]
    layout = IndexLayout.for_rows(hashes, song_ids, offsets, common_postings=common_postings)
    writer = IndexWriter(layout, directory)
    for start in range(0, len(hashes), chunk):
        end = start + chunk
        writer.write(hashes[start:end], song_ids[start:end], offsets[start:end])
    return writer.finish({"rows": len(hashes)})


@pytest.mark.parametrize("seed", SEEDS)
def test_every_index_path_votes_as_the_sql_join(seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    store, pool = random_store(rng)
    rows = table_rows(store)
    hashes, song_ids, offsets = rows
    below = int(offsets.min()) + 1  # moves the smallest offset to -1
    indexes = {
        "store": store.load_index(),
        "memory": HashIndex(*rows),
        # Negative offsets cannot be packed with the song id: stored apart.
        "unpacked": HashIndex(hashes, song_ids, offsets - below),
        "streamed": streamed(rows, None, int(rng.integers(1, 50))),
        "sidecar": streamed(rows, tmp_path / "db.index", int(rng.integers(1, 50))),
        # Common hashes stored last: two sorted key segments.
        "common last": HashIndex(*rows, common_postings=int(rng.integers(0, 20))),
        "common last, sidecar": streamed(
            rows, tmp_path / "common.index", int(rng.integers(1, 50)), int(rng.integers(0, 20))
        ),
    }
    assert indexes["common last, sidecar"].layout.n_keys == indexes["memory"].layout.n_keys
    assert indexes["unpacked"].layout.offset_bits is None
    assert indexes["memory"].layout.offset_bits is not None
    for _ in range(5):
        query_hashes, query_offsets = query(rng, pool)
        expected = store.lookup_sql(query_hashes)
        for name, index in indexes.items():
            found = index.lookup(query_hashes)
            if name == "unpacked":  # undo the shift before comparing
                found = Lookup(found.query_index, found.song_id, found.offset + below)
            assert found.query_index.dtype == np.int64, name
            assert found.song_id.dtype == np.int32 and found.offset.dtype == np.int32, name
            assert lookup_rows(found) == lookup_rows(expected), name
            for tolerance in (0, 1, 2):
                for distinct in (None, query_hashes):
                    assert_same_votes(
                        count_votes(
                            query_offsets, found, time_tolerance=tolerance, query_hashes=distinct
                        ),
                        count_votes(
                            query_offsets, expected, time_tolerance=tolerance, query_hashes=distinct
                        ),
                    )
    store.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_rows_come_back_sorted_and_complete(seed: int) -> None:
    rng = np.random.default_rng(seed)
    store, _ = random_store(rng)
    rows = table_rows(store)
    index = HashIndex(*rows, common_postings=int(rng.integers(0, 10)) if seed % 2 else None)
    assert index.layout.n_keys == len(np.unique(rows[0]))
    got = index.rows()
    expected = sorted(zip(*(r.tolist() for r in rows), strict=True))
    assert list(zip(*(g.tolist() for g in got), strict=True)) == expected
    store.close()


def test_empty_index_and_empty_query() -> None:
    empty = np.zeros(0, np.uint32)
    index = HashIndex(empty, empty.astype(np.int32), empty.astype(np.int32))
    assert len(index) == 0
    assert len(index.lookup(np.array([1, 2], np.uint32))) == 0
    full = HashIndex(np.array([5], np.uint32), np.array([1], np.int32), np.array([0], np.int32))
    assert len(full.lookup(empty)) == 0


def test_row_budget_keeps_the_rarest_query_hashes() -> None:
    # Hash 1 is in 1 row, hash 2 in 2, hash 3 in 3.
    index = HashIndex(
        np.array([1, 2, 2, 3, 3, 3], np.uint32),
        np.arange(1, 7, dtype=np.int32),
        np.zeros(6, np.int32),
    )
    query_hashes = np.array([3, 1, 2, 9], np.uint32)
    assert lookup_rows(index.lookup(query_hashes, max_rows=100)) == lookup_rows(
        index.lookup(query_hashes)
    )
    kept = index.lookup(query_hashes, max_rows=4)
    assert sorted(set(kept.query_index.tolist())) == [1, 2]  # hashes 1 and 2: 3 rows
    assert len(index.lookup(query_hashes, max_rows=0)) == 0
    keep = within_budget(np.array([5, 1, 1, 3]), 5)
    assert keep.tolist() == [False, True, True, True]


def test_layout_packs_when_it_fits() -> None:
    plan = dict(n_rows=10, min_song_id=1, min_offset=0)
    packed = IndexLayout.plan(**plan, max_song_id=10_000, max_offset=30_000)
    assert packed.offset_bits == 15 and packed.bytes_per_row == 4
    assert IndexLayout.plan(**plan, max_song_id=2**20, max_offset=2**20).offset_bits is None
    negative = {**plan, "min_offset": -1}
    assert IndexLayout.plan(**negative, max_song_id=3, max_offset=5).offset_bits is None
    big = IndexLayout.plan(**{**plan, "n_rows": 2**33}, max_song_id=3, max_offset=5)
    assert big.starts_dtype == np.int64 and packed.starts_dtype == np.uint32


def test_common_hashes_are_stored_last() -> None:
    # Hash 1 is in 1 row, hash 2 in 2, hash 3 in 3, hash 4 in 1.
    hashes = np.array([1, 2, 2, 3, 3, 3, 4], np.uint32)
    index = HashIndex(
        hashes, np.arange(1, 8, dtype=np.int32), np.zeros(7, np.int32), common_postings=1
    )
    assert index.keys.tolist() == [1, 4, 2, 3]
    assert index.layout.n_common_keys == 2
    assert (
        index.postings[0].tolist()
        == index.layout.pack(np.array([1, 7, 2, 3, 4, 5, 6]), np.zeros(7)).tolist()
    )
    first, last = index.ranges(np.array([3, 4, 2, 9, 0], np.uint32))
    assert (last - first).tolist() == [3, 1, 2, 0, 0]
    assert index.rows()[0].tolist() == hashes.tolist()


def test_stop_list_skips_the_commonest_query_hashes() -> None:
    # Hash 1 is in 1 row, hash 2 in 2, hash 3 in 3.
    index = HashIndex(
        np.array([1, 2, 2, 3, 3, 3], np.uint32),
        np.arange(1, 7, dtype=np.int32),
        np.zeros(6, np.int32),
    )
    query_hashes = np.array([3, 1, 2, 9, 3], np.uint32)
    assert lookup_rows(index.lookup(query_hashes, max_postings=3)) == lookup_rows(
        index.lookup(query_hashes)
    )
    kept = index.lookup(query_hashes, max_postings=2)
    assert sorted(kept.query_index.tolist()) == [1, 2, 2]
    assert len(index.lookup(query_hashes, max_postings=0)) == 0
    index.max_postings = 1  # the default of lookup
    assert index.lookup(query_hashes).query_index.tolist() == [1]
    assert len(index.lookup(query_hashes, max_postings=3)) == 9


# -- sidecar invalidation ---------------------------------------------------


def small_index(seed: int = 0) -> HashIndex:
    rng = np.random.default_rng(seed)
    n = 500
    return HashIndex(
        rng.integers(0, 50, n).astype(np.uint32),
        rng.integers(1, 5, n).astype(np.int32),
        rng.integers(0, 100, n).astype(np.int32),
    )


def test_sidecar_opens_only_with_its_signature(tmp_path: Path) -> None:
    folder = sidecar_path(tmp_path / "fingerprints.duckdb")
    assert folder.name == "fingerprints.duckdb.index"
    assert HashIndex.open(folder, {"songs": 4}) is None  # missing
    index = small_index()
    index.save(folder, {"songs": 4, "params": {"fan": (1, 2)}})
    assert sidecar_signature(folder) == {"songs": 4, "params": {"fan": [1, 2]}}
    opened = HashIndex.open(folder, {"songs": 4, "params": {"fan": (1, 2)}})
    assert opened is not None
    assert isinstance(opened.postings[0], np.memmap)
    for a, b in zip(index.rows(), opened.rows(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert HashIndex.open(folder, {"songs": 5, "params": {"fan": (1, 2)}}) is None
    assert HashIndex.open(folder, {"songs": 4}) is None
    in_memory = HashIndex.open(folder, {"songs": 4, "params": {"fan": [1, 2]}}, mmap=False)
    assert in_memory is not None and not isinstance(in_memory.postings[0], np.memmap)


def test_rebuilt_sidecar_replaces_a_stale_one(tmp_path: Path) -> None:
    folder = tmp_path / "db.index"
    small_index(0).save(folder, {"generation": 1})
    old = HashIndex.open(folder, {"generation": 1})
    assert old is not None
    new = small_index(1)
    new.save(folder, {"generation": 2})
    assert HashIndex.open(folder, {"generation": 1}) is None
    reopened = HashIndex.open(folder, {"generation": 2})
    assert reopened is not None
    np.testing.assert_array_equal(reopened.rows()[0], new.rows()[0])
    # A reader that mapped the old files still reads them whole.
    np.testing.assert_array_equal(old.rows()[0], small_index(0).rows()[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db.index"]


@pytest.mark.parametrize("damage", ["meta", "format", "truncated", "keys", "missing"])
def test_damaged_sidecar_is_not_used(tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "db.index"
    small_index().save(folder, {"generation": 1})
    meta = folder / "meta.json"
    if damage == "meta":
        meta.write_text("{not json")
    elif damage == "format":
        content = json.loads(meta.read_text())
        content["format"] += 1
        meta.write_text(json.dumps(content))
    elif damage == "truncated":
        data = (folder / "packed.npy").read_bytes()
        (folder / "packed.npy").write_bytes(data[: len(data) // 2])
    elif damage == "keys":
        data = (folder / "keys.npy").read_bytes()
        (folder / "keys.npy").write_bytes(data[: len(data) // 2])
    else:
        (folder / "packed.npy").unlink()
    assert HashIndex.open(folder, {"generation": 1}) is None


def test_writer_refuses_bad_streams_and_leaves_the_sidecar(tmp_path: Path) -> None:
    folder = tmp_path / "db.index"
    small_index().save(folder, {"generation": 1})
    hashes = np.array([1, 2, 3, 4], np.uint32)
    ones = np.ones(4, np.int32)
    layout = IndexLayout.for_rows(hashes, ones, ones)
    writer = IndexWriter(layout, folder)
    with pytest.raises(ValueError, match="sorted"):
        writer.write(hashes[::-1], ones, ones)
    writer.write(hashes[2:], ones[2:], ones[2:])
    with pytest.raises(ValueError, match="sorted"):
        writer.write(hashes[:2], ones[:2], ones[:2])  # goes back
    with pytest.raises(ValueError, match="planned"):
        writer.finish({"generation": 2})
    writer.abort()
    with pytest.raises(ValueError, match="planned"):
        too_many = IndexWriter(layout, None)
        too_many.write(np.arange(5, dtype=np.uint32), np.ones(5, np.int32), np.ones(5, np.int32))
    # The old sidecar is intact and nothing else is left behind.
    assert HashIndex.open(folder, {"generation": 1}) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db.index"]


def signature_of(store: DuckDBStore) -> dict[str, Any]:
    signature: dict[str, Any] = store.index_signature()  # type: ignore[attr-defined]
    return signature


def test_store_sidecar_follows_the_songs(tmp_path: Path) -> None:
    """The store's own sidecar (``DuckDBStore.index_signature``, once patched in)."""
    if not hasattr(DuckDBStore, "index_signature"):
        pytest.skip("DuckDBStore does not write an index sidecar yet")
    path = tmp_path / "fingerprints.duckdb"
    rng = np.random.default_rng(3)

    def song(name: str) -> tuple[SongInfo, Fingerprints]:
        hashes = rng.integers(0, 30, 300).astype(np.uint32)
        offsets = rng.integers(0, 500, 300).astype(np.int32)
        return SongInfo(name, "x", name, 30.0), Fingerprints(hashes, offsets).unique()

    query_hashes = np.arange(30, dtype=np.uint32)
    with DuckDBStore(path) as store:
        store.add_song(*song("a"))
        first = store.load_index()
        assert lookup_rows(first.lookup(query_hashes)) == lookup_rows(
            store.lookup_sql(query_hashes)
        )
    assert sidecar_path(path).is_dir()
    with DuckDBStore(path, read_only=True) as store:
        assert HashIndex.open(sidecar_path(path), signature_of(store)) is not None
    with DuckDBStore(path) as store:
        store.add_song(*song("b"))  # the sidecar is now stale
        assert HashIndex.open(sidecar_path(path), signature_of(store)) is None
        index = store.load_index()
        assert lookup_rows(index.lookup(query_hashes)) == lookup_rows(
            store.lookup_sql(query_hashes)
        )
        assert HashIndex.open(sidecar_path(path), signature_of(store)) is not None


def _mapped_kb(array: np.ndarray) -> int:
    """Resident kB of the mapping holding ``array`` (from /proc/self/smaps)."""
    address, inside = array.ctypes.data, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and len(fields) >= 5:  # a mapping's header line
            low, high = (int(part, 16) for part in fields[0].split("-"))
            inside = low <= address < high
        elif inside and fields[0] == "Rss:":
            return int(fields[1])
    return 0


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc")
def test_resident_budget_drops_mapped_pages_and_keeps_answers(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 2_000_000  # 8 MB of packed rows
    hashes = rng.integers(0, 50_000, n).astype(np.uint32)
    index = HashIndex(hashes, rng.integers(0, 1000, n), rng.integers(0, 20_000, n))
    folder = tmp_path / "db.index"
    index.save(folder, {"generation": 1})
    unbounded = HashIndex.open(folder, {"generation": 1})
    bounded = HashIndex.open(folder, {"generation": 1})
    assert unbounded is not None and bounded is not None
    unbounded.resident_budget = None
    bounded.resident_budget = 1 << 20
    # Each chunk's rows are one twentieth of the file, contiguous.
    chunks = np.array_split(np.arange(50_000, dtype=np.uint32), 20)
    for at in rng.permutation(len(chunks)):
        chunk = rng.permutation(chunks[at])
        want = index.lookup(chunk)
        for opened in (unbounded, bounded):
            got = opened.lookup(chunk)
            for a, b in zip(
                (got.query_index, got.song_id, got.offset),
                (want.query_index, want.song_id, want.offset),
                strict=True,
            ):
                np.testing.assert_array_equal(a, b)
    # The unbounded mapping holds (nearly) all 8 MB of rows; the bounded one at
    # most its budget and the pages of the last gather (read ahead 64 kB).
    assert _mapped_kb(unbounded.postings[0]) > 7 * 1024
    assert _mapped_kb(bounded.postings[0]) <= 1024 + 8 * 1024 // 20 + 2 * 64


def test_an_index_within_its_budget_keeps_its_pages_and_reads_no_statm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(1)
    n = 2_000_000  # 8 MB of packed rows, within a 64 MB budget
    hashes = rng.integers(0, 50_000, n).astype(np.uint32)
    index = HashIndex(hashes, rng.integers(0, 1000, n), rng.integers(0, 20_000, n))
    folder = tmp_path / "db.index"
    index.save(folder, {"generation": 1})
    opened = HashIndex.open(folder, {"generation": 1})
    assert opened is not None
    opened.resident_budget = 64 << 20

    def refused() -> int:
        raise AssertionError("statm read for an index within its budget")

    monkeypatch.setattr(hash_index, "_file_resident_bytes", refused)
    for chunk in np.array_split(rng.permutation(50_000).astype(np.uint32), 40):
        want = index.lookup(chunk)
        got = opened.lookup(chunk)
        np.testing.assert_array_equal(got.offset, want.offset)
        np.testing.assert_array_equal(got.song_id, want.song_id)
    # Every lookup's run pages counted ~1 GB: yet nothing was dropped.
    assert _mapped_kb(opened.postings[0]) > 7 * 1024


@pytest.mark.parametrize("seed", range(12))
def test_bucket_search_finds_the_runs_of_the_binary_search(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 20000))
    # Hashes spread over all 32 bits, or packed into a few buckets; some common.
    high = 1 << 32 if seed % 2 else int(rng.integers(1, 5000))
    hashes = rng.integers(0, high, n, dtype=np.uint64).astype(np.uint32)
    hashes[: n // 4] = hashes[0]  # one very common hash
    index = HashIndex(
        hashes,
        rng.integers(0, 300, n).astype(np.int32),
        rng.integers(0, 9000, n).astype(np.int32),
        common_postings=int(rng.integers(0, 6)) if seed % 3 else None,
    )
    query = np.concatenate(
        [
            rng.choice(hashes, 3000),  # stored
            rng.integers(0, 1 << 32, 3000, dtype=np.uint64).astype(np.uint32),  # mostly not
            np.array([0, 0xFFFFFFFF, hashes.min(), hashes.max()], np.uint32),
        ]
    )
    for got, want in zip(index.ranges(query), index._searched_ranges(query), strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert index.layout.n_common_keys > 0 or seed % 3 == 0 or n < 8
