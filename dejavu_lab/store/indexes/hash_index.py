"""The in-memory hash index: the distinct hashes, each with its run of rows.

Rows ``(hash, song_id, offset)`` are sorted by hash, then song and offset. The
index keeps each distinct hash value once (``keys``) with the first row of its
run (``starts``), and for every row only song id and offset, packed into one
uint32 when they fit: 4 bytes a row. A lookup binary-searches the keys (a few
MB even for 10,000 songs, since music uses a few million hash values) and
gathers the runs. The 908 million rows of 10,000 four-minute songs take 3.6 GB.

*Common* hashes, those with more than ``common_postings`` rows, can be laid out
after all the others (``keys`` is then two sorted segments). A query that skips
them (a stop-list, ``lookup(max_postings=...)`` at most that) never touches
their pages: the part of a mapped sidecar that becomes resident in a query
process shrinks by their share of the rows (a quarter at 10,000 songs with a
stop-list of a quarter of the songs), while an exact lookup still finds them.

An index can be written to a *sidecar*, a directory of ``.npy`` files next to
the database, and opened memory-mapped: opening is instant, pages are read as
queries touch them, and several processes share them through the page cache.
A sidecar records the signature of the rows it was built from (song count,
ids, hashes, parameters: whatever the store chooses); :meth:`HashIndex.open`
returns None for a sidecar whose signature differs from the store's, and the
store rebuilds it from its table with an :class:`IndexWriter`, streaming
sorted chunks so that the rows are never held twice.

The row packing is :mod:`~dejavu_lab.store.indexes.layout`'s, the cutting of sorted rows
into runs :mod:`~dejavu_lab.store.indexes.index_writer`'s, and the stop-list and row budget
:mod:`~dejavu_lab.store.indexes.selection`'s; their names import from here too.

>>> import numpy as np
>>> index = HashIndex(
...     np.array([7, 3, 7], np.uint32), np.array([1, 2, 2], np.int32), np.array([5, 0, 9], np.int32)
... )
>>> found = index.lookup(np.array([7, 4], np.uint32))
>>> found.query_index.tolist(), found.song_id.tolist(), found.offset.tolist()
([0, 0], [1, 2], [5, 9])
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ...core.matching import Lookup
from ._files import META, canonical, publish
from .index_writer import RunWriter
from .layout import IndexLayout
from .selection import skip_common, within_budget

__all__ = [
    "RESIDENT_BUDGET",
    "SIDECAR_FORMAT",
    "HashIndex",
    "IndexLayout",
    "IndexWriter",
    "sidecar_path",
    "sidecar_signature",
    "skip_common",
    "within_budget",
]

#: Version of the sidecar layout; a sidecar of another version is rebuilt.
#: (1: a prefix table over per-row hash residuals, 5 bytes a row.)
SIDECAR_FORMAT = 2
_PAGE = mmap.PAGESIZE
#: Bytes of a mapped index's rows that lookups may make resident in a query
#: process before :meth:`HashIndex.release` drops them (None: never drop).
#: Without it, a long-running process over a 10,000-song index ends up with
#: most of the 3.7 GB sidecar resident; with it, the resident share stays
#: near this budget at the cost of refaulting pages from the page cache.
#: 1.25 GB keeps a 10,000-song query process near 1.6 GB resident (2 GB
#: target); 768 MB kept it at 1.2 GB, its queries 5 % slower (pages mapped again).
RESIDENT_BUDGET: int | None = 1280 << 20
#: Largest bucket table of the keys (:meth:`HashIndex.ranges`): 2**22 buckets.
_MAX_BUCKET_BITS = 22


def _file_resident_bytes() -> int:
    """This process's resident memory backed by files (``/proc/self/statm``; 0 if unknown).

    The mapped sidecars' pages and the libraries'; read in a few microseconds.
    """
    try:
        with open("/proc/self/statm", "rb") as handle:
            fields = handle.read().split()
    except OSError:
        return 0
    return int(fields[2]) * _PAGE if len(fields) > 2 else 0


class HashIndex:
    """Fingerprint rows sorted by hash, behind the table of distinct hashes.

    Parameters
    ----------
    hashes : np.ndarray, shape (n,), uint32
    song_ids : np.ndarray, shape (n,), int32
    offsets : np.ndarray, shape (n,), int32
    assume_sorted : bool
        The rows already come sorted by hash (ties in any order): skip sorting.
    common_postings : int, optional
        Store the runs of more rows than this last (see the module docstring).

    Attributes
    ----------
    keys : np.ndarray, shape (k,), uint32
        The distinct hashes: sorted, or two sorted segments (the last
        ``layout.n_common_keys`` are the common ones).
    starts : np.ndarray, shape (k + 1,)
        First row of each key's run, then the number of rows.
    postings : tuple of np.ndarray, shape (n,)
        ``(packed,)`` or ``(song_ids, offsets)``, see :class:`IndexLayout`.
    max_postings : int or None
        The default stop-list of :meth:`lookup`.
    """

    def __init__(
        self,
        hashes: np.ndarray,
        song_ids: np.ndarray,
        offsets: np.ndarray,
        *,
        assume_sorted: bool = False,
        common_postings: int | None = None,
    ) -> None:
        hashes = np.asarray(hashes, dtype=np.uint32)
        song_ids = np.asarray(song_ids, dtype=np.int32)
        offsets = np.asarray(offsets, dtype=np.int32)
        layout = IndexLayout.for_rows(hashes, song_ids, offsets, common_postings=common_postings)
        if layout.offset_bits is not None:
            packed = layout.pack(song_ids, offsets)
            if not assume_sorted:
                # One uint64 sort orders by (hash, song, offset): much faster than lexsort.
                key = (hashes.astype(np.uint64) << np.uint64(32)) | packed
                key.sort()
                hashes = (key >> np.uint64(32)).astype(np.uint32)
                packed = key.astype(np.uint32)
            postings: tuple[np.ndarray, ...] = (packed,)
        else:
            if not assume_sorted:
                order = np.lexsort((offsets, song_ids, hashes))
                hashes, song_ids, offsets = hashes[order], song_ids[order], offsets[order]
            postings = (song_ids, offsets)
        writer = IndexWriter(layout, None)
        writer.write_columns(hashes, postings)
        built = writer.finish({})
        self._init(built.layout, built.keys, built.starts, built.postings)

    def _init(
        self,
        layout: IndexLayout,
        keys: np.ndarray,
        starts: np.ndarray,
        postings: tuple[np.ndarray, ...],
    ) -> None:
        self.layout = layout
        self.keys = keys
        self.starts = starts
        self.postings = postings
        self.max_postings: int | None = None
        self.resident_budget = RESIDENT_BUDGET
        self._touched = 0
        self._bucket_table: tuple[int, np.ndarray] | None = None

    @classmethod
    def _from_parts(
        cls,
        layout: IndexLayout,
        keys: np.ndarray,
        starts: np.ndarray,
        postings: tuple[np.ndarray, ...],
    ) -> HashIndex:
        index = cls.__new__(cls)
        index._init(layout, keys, starts, postings)
        return index

    def __len__(self) -> int:
        return self.layout.n_rows

    def __repr__(self) -> str:
        return (
            f"HashIndex({len(self):,} rows, {self.layout.n_keys:,} distinct hashes, "
            f"{self.layout.bytes_per_row} bytes a row)"
        )

    @property
    def nbytes(self) -> int:
        """Bytes held by the index arrays (mapped or in memory)."""
        return int(self.keys.nbytes + self.starts.nbytes + sum(p.nbytes for p in self.postings))

    # -- lookups --------------------------------------------------------

    def ranges(self, query_hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and one-past-last row of each query hash (int64 arrays).

        ``stop - start`` is the number of stored rows with that hash (its
        posting-list length).
        """
        query = np.asarray(query_hashes, dtype=np.uint32)
        n_keys, n_common = self.layout.n_keys, self.layout.n_common_keys
        if n_keys and len(query):
            from ...core._kernels.hash_index import find_runs

            shift, buckets = self._buckets()
            return find_runs(  # type: ignore[no-any-return]
                np.asarray(self.keys),
                np.asarray(self.starts),
                n_keys - n_common,
                buckets,
                shift,
                query,
            )
        return self._searched_ranges(query)

    def _buckets(self) -> tuple[int, np.ndarray]:
        """The bucket table of the keys' first segment (built on first use), and its shift.

        About one bucket a key, at most 2**22 (32 MB): a lookup's search of the
        keys starts in its hash's bucket
        (:func:`~dejavu_lab.core._kernels.hash_index.find_runs`).
        """
        if self._bucket_table is None:
            from ...core._kernels.hash_index import key_buckets

            n_plain = self.layout.n_keys - self.layout.n_common_keys
            bits = min(_MAX_BUCKET_BITS, max(1, n_plain.bit_length()))
            shift = 32 - bits
            self._bucket_table = (shift, key_buckets(np.asarray(self.keys[:n_plain]), shift))
        return self._bucket_table

    def _searched_ranges(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`ranges` by binary searches of each segment (the reference of the buckets)."""
        first = np.zeros(len(query), np.int64)
        last = np.zeros(len(query), np.int64)
        n_keys, n_common = self.layout.n_keys, self.layout.n_common_keys
        # Sorted needles: each binary search starts where the last ended, and
        # the keys' pages are read in order.
        order = np.argsort(query)
        sorted_query = query[order]
        position = np.empty(len(query), np.int64)
        for begin, end in ((0, n_keys - n_common), (n_keys - n_common, n_keys)):
            if begin == end or len(query) == 0:
                continue
            segment = self.keys[begin:end]
            position[order] = np.searchsorted(segment, sorted_query)
            position[position == end - begin] = 0
            found = np.flatnonzero(segment[position] == query)
            key = position[found] + begin
            first[found] = self.starts[key]
            last[found] = self.starts[key + 1]
        return first, last

    def lookup(
        self,
        query_hashes: np.ndarray,
        *,
        max_rows: int | None = None,
        max_postings: int | None = None,
    ) -> Lookup:
        """Every row whose hash equals one of ``query_hashes``.

        Parameters
        ----------
        query_hashes : np.ndarray, shape (q,), uint32
        max_rows : int, optional
            Budget of rows: the query hashes are taken rarest first (shortest
            posting list, then position) while their rows fit in it; the
            commonest are skipped. None (the default) returns every row. What
            a budget costs in accuracy: ``docs/benchmarks.md``.
        max_postings : int, optional
            Stop-list: skip the query hashes stored more than ``max_postings``
            times. Default: the index's attribute ``max_postings`` (None: none
            skipped). What it removes: ``docs/stores.md``.

        Returns
        -------
        Lookup
            ``query_index`` refers to positions in ``query_hashes``; rows come
            grouped by query position, each group in index order (by song, then
            offset, unless built with ``assume_sorted`` from rows whose ties
            were in another order).
        """
        first, last = self.ranges(query_hashes)
        counts = last - first
        if max_postings is None:
            max_postings = self.max_postings
        if max_postings is not None:
            counts[counts > max_postings] = 0
        if max_rows is not None:
            counts = counts * within_budget(counts, max_rows)
        total = int(counts.sum())
        if total == 0:
            return Lookup.empty()
        self._note_touched(total, int(np.count_nonzero(counts)))
        if self.layout.offset_bits is not None:
            from ...core._kernels.hash_index import gather_runs

            packed = np.asarray(self.postings[0])
            return Lookup(*gather_runs(packed, first, counts, self.layout.offset_bits))
        query_index = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        # Row r of the output gathers first[q] + (r - first output row of q).
        out_start = np.cumsum(counts) - counts
        rows = np.repeat(first - out_start, counts)
        rows += np.arange(total, dtype=np.int64)
        song_id, offset = self._postings(rows)
        return Lookup(query_index, song_id, offset)

    def _note_touched(self, n_rows: int, n_runs: int) -> None:
        """Count the mapped pages a gather may have made resident; release past the budget.

        A gather reads its runs' rows (``bytes_per_row`` each) and at least one
        page a run. Once that adds up to ``resident_budget`` bytes, or the
        process's file-backed resident memory exceeds it, the mapped row files'
        pages are dropped from this process (:meth:`release`). The count alone
        is not enough: the kernel maps a whole folio of the page cache (16 to
        64 kB, more with large folios) around each touched page, and a
        10,000-song process counted 0.8 GB while it held 2.2 GB of the index.
        """
        if self.resident_budget is None or self._row_bytes() <= self.resident_budget:
            return  # all the rows fit the budget: nothing to drop (no statm read)
        self._touched += n_rows * self.layout.bytes_per_row + n_runs * _PAGE
        if self._touched > self.resident_budget or (_file_resident_bytes() > self.resident_budget):
            self.release()

    def _row_bytes(self) -> int:
        """Bytes of the row files (what :meth:`release` drops)."""
        return int(sum(column.nbytes for column in self.postings))

    def release(self) -> None:
        """Drop the mapped row files' pages from this process's resident memory.

        ``madvise(MADV_DONTNEED)`` on a read-only file mapping unmaps the
        pages from this process only: they stay in the page cache, shared with
        other processes, and the next gather maps them again (a minor fault,
        no read from disk unless the system evicted them). An in-memory index
        has nothing to release.
        """
        self._touched = 0
        for column in self.postings:
            handle = getattr(column, "_mmap", None)
            if handle is not None and hasattr(handle, "madvise"):
                handle.madvise(mmap.MADV_DONTNEED)

    def _postings(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Song ids and offsets (int32) of rows."""
        bits = self.layout.offset_bits
        if bits is None:
            return (
                np.asarray(self.postings[0][rows], dtype=np.int32),
                np.asarray(self.postings[1][rows], dtype=np.int32),
            )
        packed = np.asarray(self.postings[0][rows])
        # Both fields are below 2**31: reinterpreting the uint32 results is exact.
        song_id = (packed >> np.uint32(bits)).view(np.int32)
        packed &= np.uint32((1 << bits) - 1)
        return song_id, packed.view(np.int32)

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every row as ``(hashes uint32, song_ids int32, offsets int32)``, sorted."""
        starts = np.asarray(self.starts, dtype=np.int64)
        order = np.argsort(self.keys, kind="stable")
        lengths = (starts[1:] - starts[:-1])[order]
        out_start = np.cumsum(lengths) - lengths
        rows = np.repeat(starts[:-1][order] - out_start, lengths)
        rows += np.arange(self.layout.n_rows, dtype=np.int64)
        hashes = np.repeat(np.asarray(self.keys, dtype=np.uint32)[order], lengths)
        song_id, offset = self._postings(rows)
        return hashes, song_id, offset

    # -- sidecar --------------------------------------------------------

    def save(self, directory: str | os.PathLike[str], signature: Mapping[str, Any]) -> None:
        """Write the index to a sidecar directory (replacing any there)."""
        writer = IndexWriter(self.layout, directory)
        writer.write_parts(self.keys, self.starts, self.postings)
        writer.finish(signature)

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        signature: Mapping[str, Any],
        *,
        mmap: bool = True,
    ) -> HashIndex | None:
        """Open a sidecar, or None if it is missing, unreadable or stale.

        Parameters
        ----------
        directory : path
            The sidecar written by :class:`IndexWriter` or :meth:`save`.
        signature : mapping
            What the store holds now; a sidecar built from anything else is stale.
        mmap : bool
            Map the arrays (instant, shared page cache) rather than read them.
        """
        folder = Path(directory)
        try:
            meta = json.loads((folder / META).read_text())
        except (OSError, ValueError):
            return None
        if meta.get("format") != SIDECAR_FORMAT or meta.get("signature") != canonical(signature):
            return None
        layout = IndexLayout(**meta["layout"])
        mode: Literal["r"] | None = "r" if mmap else None
        try:
            keys = np.load(folder / "keys.npy", mmap_mode=mode)
            starts = np.load(folder / "starts.npy", mmap_mode=mode)
            names = ("packed",) if layout.offset_bits is not None else ("song_ids", "offsets")
            postings = tuple(np.load(folder / f"{name}.npy", mmap_mode=mode) for name in names)
        except (OSError, ValueError):
            return None
        if (
            len(keys) != layout.n_keys
            or len(starts) != layout.n_keys + 1
            or any(len(p) != layout.n_rows for p in postings)
        ):
            return None
        return cls._from_parts(layout, keys, starts, postings)


def sidecar_path(database: str | os.PathLike[str]) -> Path:
    """Where the sidecar of a database file lives: ``<database>.index``."""
    return Path(os.fspath(database) + ".index")


def sidecar_signature(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The signature a sidecar was built with (None if there is none)."""
    try:
        meta = json.loads((Path(directory) / META).read_text())
    except (OSError, ValueError):
        return None
    signature = meta.get("signature")
    return dict(signature) if isinstance(signature, dict) else None


class IndexWriter(RunWriter):
    """Build an index from rows streamed in hash order, in memory or into a sidecar.

    Parameters
    ----------
    layout : IndexLayout
        From :meth:`IndexLayout.plan <dejavu_lab.store.indexes.layout.IndexLayout.plan>`
        over the rows to come (a store gets the extremes from one aggregate query).
    directory : path, optional
        Sidecar to write. The row files are appended to sequentially in a
        temporary directory beside it (no writable memory map, so the pages
        written count as page cache, not as this process's memory) and
        renamed into place by :meth:`finish`; the distinct hashes and their
        starts (a few MB) are kept in memory until then, and the runs of
        common hashes (``layout.common_postings``) are spilled to a file of
        their own, appended at the end. None builds in memory.

    Notes
    -----
    Use: ``writer.write(hashes, song_ids, offsets)`` for each chunk of
    ``SELECT hash, song_id, "offset" ... ORDER BY hash, song_id, "offset"``,
    then ``index = writer.finish(signature)``. The other methods (``write``,
    ``write_columns``, ``write_parts``, ``abort``) are those of
    :class:`~dejavu_lab.store.indexes.index_writer.RunWriter`.
    """

    def finish(self, signature: Mapping[str, Any]) -> HashIndex:
        """Complete the index; a sidecar is closed, then renamed into place.

        Raises
        ------
        ValueError
            If fewer rows were written than the layout announced.
        """
        layout, keys, starts, arrays = self._finish_arrays()
        if self.directory is None:
            return HashIndex._from_parts(layout, keys, starts, arrays)
        assert self._temporary is not None
        np.save(self._temporary / "keys.npy", keys)
        np.save(self._temporary / "starts.npy", starts)
        meta = {"format": SIDECAR_FORMAT, "layout": asdict(layout)}
        return publish(self._temporary, self.directory, meta, signature, HashIndex.open)
