"""The in-memory hash index: a prefix table over compact rows sorted by hash.

Rows ``(hash, song_id, offset)`` are sorted by hash, then song and offset. The
top bits of ``hash - low`` address a table of bucket starts (a direct-address
prefix table), so a lookup jumps to the few rows sharing a query hash's prefix
and binary-searches only those: the work per query hash hardly grows with the
collection, and touches a few cache lines instead of ``log2(n)`` scattered ones.

Inside a bucket only the low ``shift`` bits of the hash are kept (the
*residual*, 1 or 2 bytes) and song id and offset are packed into one uint32
when they fit, so a row takes 5 or 6 bytes instead of 12: the 908 million
rows of 10,000 four-minute songs take 4.6 GB.

An index can be written to a *sidecar*, a directory of ``.npy`` files next to
the database, and opened memory-mapped: opening is instant, pages are read as
queries touch them, and several processes share them through the page cache.
A sidecar records the signature of the rows it was built from (song count,
ids, hashes, parameters: whatever the store chooses); :meth:`HashIndex.open`
returns None for a sidecar whose signature differs from the store's, and the
store rebuilds it from its table with an :class:`IndexWriter`, streaming
sorted chunks so that the rows are never held twice.

>>> import numpy as np
>>> index = HashIndex(
...     np.array([7, 3, 7], np.uint32), np.array([1, 2, 2], np.int32), np.array([5, 0, 9], np.int32)
... )
>>> found = index.lookup(np.array([7, 4], np.uint32))
>>> found.query_index.tolist(), found.song_id.tolist(), found.offset.tolist()
([0, 0], [1, 2], [5, 9])
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .matching import Lookup

#: Version of the sidecar layout; a sidecar of another version is rebuilt.
SIDECAR_FORMAT = 1
#: Largest prefix table (entries); 2**24 uint32 starts take 64 MB.
MAX_BUCKETS = 1 << 24
#: Rows per bucket the table aims at, before the :data:`MAX_BUCKETS` cap.
ROWS_PER_BUCKET = 4
_META = "meta.json"
_UINT32_LIMIT = 1 << 32


@dataclass(frozen=True)
class IndexLayout:
    """How rows are laid out: the prefix split of the hash and the row packing.

    Attributes
    ----------
    n_rows : int
        Rows in the index.
    low : int
        Smallest stored hash rounded down to a multiple of ``2 ** shift``.
    shift : int
        Bits of ``hash - low`` kept in the residual; the bits above address
        the prefix table.
    n_buckets : int
        Entries of the prefix table (``((max_hash - low) >> shift) + 1``).
    offset_bits : int or None
        Bits of the offset in a packed row ``song_id << offset_bits | offset``;
        None when song ids and offsets are stored apart (they do not fit 32 bits,
        or one is negative).
    """

    n_rows: int
    low: int
    shift: int
    n_buckets: int
    offset_bits: int | None

    @classmethod
    def plan(
        cls,
        *,
        n_rows: int,
        min_hash: int,
        max_hash: int,
        min_song_id: int,
        max_song_id: int,
        min_offset: int,
        max_offset: int,
        max_buckets: int | None = None,
    ) -> IndexLayout:
        """Choose the layout for rows with these extremes.

        The prefix table gets about one entry per :data:`ROWS_PER_BUCKET` rows
        (at most ``max_buckets``, default :data:`MAX_BUCKETS`) spread over the
        hash range actually used.
        """
        if n_rows == 0:
            return cls(0, 0, 0, 1, None)
        cap = max_buckets if max_buckets is not None else MAX_BUCKETS
        target = max(1, min(cap, n_rows // ROWS_PER_BUCKET))
        shift = 0
        while ((max_hash - ((min_hash >> shift) << shift)) >> shift) + 1 > target:
            shift += 1
        low = (min_hash >> shift) << shift
        offset_bits: int | None = max(1, int(max_offset).bit_length())
        song_bits = int(max_song_id).bit_length()
        if min_song_id < 0 or min_offset < 0 or song_bits + (offset_bits or 0) > 32:
            offset_bits = None
        return cls(int(n_rows), int(low), shift, ((max_hash - low) >> shift) + 1, offset_bits)

    @classmethod
    def for_rows(
        cls,
        hashes: np.ndarray,
        song_ids: np.ndarray,
        offsets: np.ndarray,
        *,
        max_buckets: int | None = None,
    ) -> IndexLayout:
        """:meth:`plan` for rows held in arrays."""
        if len(hashes) == 0:
            return cls.plan(
                n_rows=0,
                min_hash=0,
                max_hash=0,
                min_song_id=0,
                max_song_id=0,
                min_offset=0,
                max_offset=0,
            )
        return cls.plan(
            n_rows=len(hashes),
            min_hash=int(hashes.min()),
            max_hash=int(hashes.max()),
            min_song_id=int(song_ids.min()),
            max_song_id=int(song_ids.max()),
            min_offset=int(offsets.min()),
            max_offset=int(offsets.max()),
            max_buckets=max_buckets,
        )

    @property
    def residual_dtype(self) -> np.dtype:
        """The smallest unsigned integer holding ``shift`` bits."""
        if self.shift <= 8:
            return np.dtype(np.uint8)
        return np.dtype(np.uint16) if self.shift <= 16 else np.dtype(np.uint32)

    @property
    def starts_dtype(self) -> np.dtype:
        """uint32 while row numbers fit, else int64."""
        return np.dtype(np.uint32) if self.n_rows < _UINT32_LIMIT else np.dtype(np.int64)

    @property
    def bytes_per_row(self) -> int:
        """Bytes a row takes (residual plus packed or separate song id and offset)."""
        return self.residual_dtype.itemsize + (4 if self.offset_bits is not None else 8)

    def split(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bucket (int64) and residual of stored hashes."""
        key = np.asarray(hashes, dtype=np.int64) - self.low
        return key >> self.shift, (key & ((1 << self.shift) - 1)).astype(self.residual_dtype)

    def pack(self, song_ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """``song_id << offset_bits | offset`` as uint32 (packed layouts only)."""
        assert self.offset_bits is not None
        packed = np.asarray(song_ids, dtype=np.uint32) << np.uint32(self.offset_bits)
        packed |= np.asarray(offsets, dtype=np.uint32)
        return packed


class HashIndex:
    """Fingerprint rows sorted by hash, behind a prefix table.

    Parameters
    ----------
    hashes : np.ndarray, shape (n,), uint32
    song_ids : np.ndarray, shape (n,), int32
    offsets : np.ndarray, shape (n,), int32
    assume_sorted : bool
        The rows already come sorted by hash (ties in any order): skip sorting.
    max_buckets : int, optional
        Cap on the prefix table (tests use tiny tables to make big buckets).
    """

    def __init__(
        self,
        hashes: np.ndarray,
        song_ids: np.ndarray,
        offsets: np.ndarray,
        *,
        assume_sorted: bool = False,
        max_buckets: int | None = None,
    ) -> None:
        hashes = np.asarray(hashes, dtype=np.uint32)
        song_ids = np.asarray(song_ids, dtype=np.int32)
        offsets = np.asarray(offsets, dtype=np.int32)
        layout = IndexLayout.for_rows(hashes, song_ids, offsets, max_buckets=max_buckets)
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
        buckets, residuals = layout.split(hashes)
        counts = np.bincount(buckets, minlength=layout.n_buckets) if len(buckets) else None
        starts = np.zeros(layout.n_buckets + 1, dtype=layout.starts_dtype)
        if counts is not None:
            np.cumsum(counts, out=starts[1:])
        self._init(layout, starts, residuals, postings)

    def _init(
        self,
        layout: IndexLayout,
        starts: np.ndarray,
        residuals: np.ndarray,
        postings: tuple[np.ndarray, ...],
    ) -> None:
        self.layout = layout
        self.starts = starts
        self.residuals = residuals
        self.postings = postings

    @classmethod
    def _from_parts(
        cls,
        layout: IndexLayout,
        starts: np.ndarray,
        residuals: np.ndarray,
        postings: tuple[np.ndarray, ...],
    ) -> HashIndex:
        index = cls.__new__(cls)
        index._init(layout, starts, residuals, postings)
        return index

    def __len__(self) -> int:
        return self.layout.n_rows

    def __repr__(self) -> str:
        return (
            f"HashIndex({len(self):,} rows, {self.layout.n_buckets:,} buckets, "
            f"{self.layout.bytes_per_row} bytes a row)"
        )

    @property
    def nbytes(self) -> int:
        """Bytes held by the index arrays (mapped or in memory)."""
        return int(
            self.starts.nbytes + self.residuals.nbytes + sum(p.nbytes for p in self.postings)
        )

    # -- lookups --------------------------------------------------------

    def ranges(self, query_hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and one-past-last row of each query hash (int64 arrays).

        ``stop - start`` is the number of stored rows with that hash (its
        posting-list length).
        """
        query = np.asarray(query_hashes, dtype=np.uint32)
        layout = self.layout
        if len(query) == 0 or layout.n_rows == 0:
            zeros = np.zeros(len(query), np.int64)
            return zeros, zeros.copy()
        key = query.astype(np.int64) - layout.low
        bucket = key >> layout.shift
        inside = (key >= 0) & (bucket < layout.n_buckets)
        bucket = np.where(inside, bucket, 0)
        start = self.starts[bucket].astype(np.int64)
        stop = np.where(inside, self.starts[bucket + 1].astype(np.int64), start)
        residual = key & ((1 << layout.shift) - 1)
        first = _bounded_search(self.residuals, residual, start, stop, right=False)
        last = _bounded_search(self.residuals, residual, first, stop, right=True)
        return first, last

    def lookup(self, query_hashes: np.ndarray, *, max_rows: int | None = None) -> Lookup:
        """Every row whose hash equals one of ``query_hashes``.

        Parameters
        ----------
        query_hashes : np.ndarray, shape (q,), uint32
        max_rows : int, optional
            A budget of rows: the query hashes are taken rarest first (shortest
            posting list, then position) while their rows fit in it; the
            commonest are skipped. It bounds the cost of voting, but common
            hashes are also the ones noise spares: at 10,000 songs a budget of
            10^6 rows (7 % of them) cut laptop-mic accuracy from 100 % to 40 %
            (``benchmarks/bench_scale.py``). None (the default) returns every row.

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
        if max_rows is not None:
            counts = counts * within_budget(counts, max_rows)
        total = int(counts.sum())
        if total == 0:
            return Lookup.empty()
        query_index = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        # Row r of the output gathers first[q] + (r - first output row of q).
        out_start = np.cumsum(counts) - counts
        rows = np.arange(total, dtype=np.int64) + np.repeat(first - out_start, counts)
        song_id, offset = self._postings(rows)
        return Lookup(query_index, song_id, offset)

    def _postings(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Song ids and offsets (int32) of rows."""
        bits = self.layout.offset_bits
        if bits is None:
            return (
                np.asarray(self.postings[0][rows], dtype=np.int32),
                np.asarray(self.postings[1][rows], dtype=np.int32),
            )
        packed = np.asarray(self.postings[0][rows])
        song_id = (packed >> np.uint32(bits)).astype(np.int32)
        offset = (packed & np.uint32((1 << bits) - 1)).astype(np.int32)
        return song_id, offset

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every row as ``(hashes uint32, song_ids int32, offsets int32)``, sorted."""
        layout = self.layout
        counts = np.diff(self.starts.astype(np.int64)).astype(np.int64)
        buckets = np.repeat(np.arange(layout.n_buckets, dtype=np.int64), counts)
        hashes = ((buckets << layout.shift) + layout.low + self.residuals).astype(np.uint32)
        song_id, offset = self._postings(np.arange(layout.n_rows, dtype=np.int64))
        return hashes, song_id, offset

    # -- sidecar --------------------------------------------------------

    def save(self, directory: str | os.PathLike[str], signature: Mapping[str, Any]) -> None:
        """Write the index to a sidecar directory (replacing any there)."""
        writer = IndexWriter(self.layout, directory)
        writer.write_parts(self.starts, self.residuals, self.postings)
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
            meta = json.loads((folder / _META).read_text())
        except (OSError, ValueError):
            return None
        if meta.get("format") != SIDECAR_FORMAT or meta.get("signature") != _canonical(signature):
            return None
        layout = IndexLayout(**meta["layout"])
        mode: Literal["r"] | None = "r" if mmap else None
        try:
            starts = np.load(folder / "starts.npy", mmap_mode=mode)
            residuals = np.load(folder / "residuals.npy", mmap_mode=mode)
            names = ("packed",) if layout.offset_bits is not None else ("song_ids", "offsets")
            postings = tuple(np.load(folder / f"{name}.npy", mmap_mode=mode) for name in names)
        except (OSError, ValueError):
            return None
        if len(residuals) != layout.n_rows or len(starts) != layout.n_buckets + 1:
            return None
        return cls._from_parts(layout, starts, residuals, postings)


def within_budget(counts: np.ndarray, max_rows: int) -> np.ndarray:
    """Which query hashes fit a budget of rows, rarest first.

    Parameters
    ----------
    counts : np.ndarray, shape (q,), int
        Rows (posting-list length) of each query hash.
    max_rows : int
        The budget.

    Returns
    -------
    np.ndarray, shape (q,), bool
        True for the hashes whose rows, added in order of increasing count
        (ties by position), stay within ``max_rows``.
    """
    order = np.argsort(counts, kind="stable")
    keep = np.zeros(len(counts), dtype=bool)
    keep[order[np.cumsum(counts[order]) <= max_rows]] = True
    return keep


def sidecar_path(database: str | os.PathLike[str]) -> Path:
    """Where the sidecar of a database file lives: ``<database>.index``."""
    return Path(os.fspath(database) + ".index")


def sidecar_signature(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The signature a sidecar was built with (None if there is none)."""
    try:
        meta = json.loads((Path(directory) / _META).read_text())
    except (OSError, ValueError):
        return None
    signature = meta.get("signature")
    return dict(signature) if isinstance(signature, dict) else None


class IndexWriter:
    """Build an index from rows streamed in hash order, in memory or into a sidecar.

    Parameters
    ----------
    layout : IndexLayout
        From :meth:`IndexLayout.plan` over the rows to come (a store gets the
        extremes from one aggregate query).
    directory : path, optional
        Sidecar to write. Its files are appended to sequentially in a
        temporary directory beside it (no writable memory map, so the pages
        written count as page cache, not as this process's memory) and
        renamed into place by :meth:`finish`. None builds in memory.

    Example
    -------
    ``writer.write(hashes, song_ids, offsets)`` for each chunk of
    ``SELECT hash, song_id, "offset" ... ORDER BY hash, song_id, "offset"``,
    then ``index = writer.finish(signature)``.
    """

    def __init__(
        self, layout: IndexLayout, directory: str | os.PathLike[str] | None = None
    ) -> None:
        self.layout = layout
        self.directory = None if directory is None else Path(directory)
        self._temporary: Path | None = None
        names = ("packed",) if layout.offset_bits is not None else ("song_ids", "offsets")
        dtypes = (np.uint32,) if layout.offset_bits is not None else (np.int32, np.int32)
        columns: dict[str, np.dtype] = {"residuals": layout.residual_dtype}
        columns.update((name, np.dtype(dtype)) for name, dtype in zip(names, dtypes, strict=True))
        self._sinks: dict[str, _Memory | _NpyFile]
        if self.directory is not None:
            self._temporary = self.directory.with_name(
                f"{self.directory.name}.tmp-{os.getpid()}-{id(self)}"
            )
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary.mkdir(parents=True)
            self._sinks = {
                name: _NpyFile(self._temporary / f"{name}.npy", dtype, layout.n_rows)
                for name, dtype in columns.items()
            }
        else:
            self._sinks = {
                name: _Memory(np.empty(layout.n_rows, dtype)) for name, dtype in columns.items()
            }
        self._counts = np.zeros(layout.n_buckets, np.int64)
        self._starts: np.ndarray | None = None
        self._filled = 0
        self._last_hash = -1

    def write(self, hashes: np.ndarray, song_ids: np.ndarray, offsets: np.ndarray) -> None:
        """Append a chunk of rows sorted by hash (and following the previous chunk).

        Raises
        ------
        ValueError
            If the rows are out of order or more than the layout announced.
        """
        hashes = np.asarray(hashes, dtype=np.uint32)
        n = len(hashes)
        if n == 0:
            return
        if int(hashes[0]) < self._last_hash or np.any(hashes[1:] < hashes[:-1]):
            raise ValueError("IndexWriter.write: rows must come sorted by hash")
        if self._filled + n > self.layout.n_rows:
            raise ValueError(
                f"IndexWriter.write: more than the {self.layout.n_rows:,} rows planned"
            )
        buckets, residuals = self.layout.split(hashes)
        first = int(buckets[0])
        counts = np.bincount(buckets - first)
        self._counts[first : first + len(counts)] += counts
        self._sinks["residuals"].append(residuals)
        if self.layout.offset_bits is not None:
            self._sinks["packed"].append(self.layout.pack(song_ids, offsets))
        else:
            self._sinks["song_ids"].append(np.asarray(song_ids, dtype=np.int32))
            self._sinks["offsets"].append(np.asarray(offsets, dtype=np.int32))
        self._filled += n
        self._last_hash = int(hashes[-1])

    def write_parts(
        self, starts: np.ndarray, residuals: np.ndarray, postings: tuple[np.ndarray, ...]
    ) -> None:
        """Copy the arrays of an index with this layout."""
        self._starts = np.asarray(starts, dtype=self.layout.starts_dtype)
        names = [name for name in self._sinks if name != "residuals"]
        self._sinks["residuals"].append(residuals)
        for name, source in zip(names, postings, strict=True):
            self._sinks[name].append(source)
        self._filled = self.layout.n_rows

    def finish(self, signature: Mapping[str, Any]) -> HashIndex:
        """Complete the index; a sidecar is closed, then renamed into place.

        Raises
        ------
        ValueError
            If fewer rows were written than the layout announced.
        """
        layout = self.layout
        if self._filled != layout.n_rows:
            self.abort()
            raise ValueError(
                f"IndexWriter.finish: {self._filled:,} rows written, {layout.n_rows:,} planned"
            )
        starts = self._starts
        if starts is None:
            starts = np.zeros(layout.n_buckets + 1, dtype=layout.starts_dtype)
            np.cumsum(self._counts, out=starts[1:])
        arrays = [sink.close() for sink in self._sinks.values()]
        if self.directory is None:
            return HashIndex._from_parts(layout, starts, arrays[0], tuple(arrays[1:]))
        assert self._temporary is not None
        np.save(self._temporary / "starts.npy", starts)
        meta = {
            "format": SIDECAR_FORMAT,
            "signature": _canonical(signature),
            "layout": asdict(layout),
        }
        (self._temporary / _META).write_text(json.dumps(meta, indent=1))
        _replace_directory(self._temporary, self.directory)
        index = HashIndex.open(self.directory, signature)
        if index is None:  # another process replaced it with a different build
            raise OSError(f"sidecar {self.directory} changed while it was being written")
        return index

    def abort(self) -> None:
        """Give up: close and delete the files written so far (a sidecar in place stays)."""
        for sink in self._sinks.values():
            sink.discard()
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)


class _Memory:
    """An array filled from the start."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.filled = 0

    def append(self, values: np.ndarray) -> None:
        self.array[self.filled : self.filled + len(values)] = values
        self.filled += len(values)

    def close(self) -> np.ndarray:
        return self.array

    def discard(self) -> None:
        pass


class _NpyFile:
    """A 1-D ``.npy`` file of known length, written front to back."""

    def __init__(self, path: Path, dtype: Any, length: int) -> None:
        self.dtype = np.dtype(dtype)
        self.length = length
        self.filled = 0
        self.handle = open(path, "wb")  # noqa: SIM115 (closed by close())
        header = {
            "descr": np.lib.format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": (length,),
        }
        np.lib.format.write_array_header_2_0(self.handle, header)

    def append(self, values: np.ndarray) -> None:
        np.ascontiguousarray(values, dtype=self.dtype).tofile(self.handle)
        self.filled += len(values)

    def close(self) -> np.ndarray:
        self.handle.close()
        if self.filled != self.length:
            raise ValueError(f"{self.handle.name}: {self.filled} values written, {self.length} due")
        return np.zeros(0, self.dtype)  # the index is reopened from the files

    def discard(self) -> None:
        self.handle.close()


def _canonical(signature: Mapping[str, Any]) -> Any:
    """The signature as it reads back from JSON (tuples become lists, ...)."""
    return json.loads(json.dumps(dict(signature), sort_keys=True, default=str))


def _replace_directory(source: Path, target: Path) -> None:
    """Move ``source`` to ``target``, replacing an older ``target``.

    Readers that mapped the old files keep them until they close: unlinked
    files live on while mapped.
    """
    if target.exists():
        stale = target.with_name(f"{target.name}.old-{os.getpid()}")
        shutil.rmtree(stale, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            target.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        source.rename(target)
    except OSError:
        # Another process put its sidecar in place first; keep that one.
        shutil.rmtree(source, ignore_errors=True)


def _bounded_search(
    values: np.ndarray, targets: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, right: bool
) -> np.ndarray:
    """Vectorised binary search of ``targets[i]`` in ``values[lo[i]:hi[i]]`` (sorted).

    Returns, like ``np.searchsorted`` with ``side="left"`` (or ``"right"``),
    the first position in ``[lo, hi]`` whose value is ``>=`` (``>``) the target.
    Each step halves every range: ``log2`` of the largest range in steps,
    each a few array operations over the queries.
    """
    lo = lo.copy()
    hi = hi.copy()
    width = int((hi - lo).max(initial=0))
    targets = targets.astype(values.dtype)
    for _ in range(width.bit_length()):
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) >> 1
        probe = values[np.where(active, mid, 0)]
        below = (probe <= targets) if right else (probe < targets)
        go_up = active & below
        lo = np.where(go_up, mid + 1, lo)
        hi = np.where(active & ~below, mid, hi)
    return lo
