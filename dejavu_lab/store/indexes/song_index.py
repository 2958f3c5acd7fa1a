"""The song-major index: each song's rows sorted by hash.

:class:`~dejavu_lab.store.indexes.hash_index.HashIndex` answers "which rows have these hashes",
which costs the rows of every song that shares a hash. A *shortlist* match
(``Matcher.shortlist_songs``) needs another question answered: "which rows of
*these few songs* have these hashes". Here each song's rows ``(hash, offset)``
are stored together, sorted by hash then offset, so the answer is one binary
search of the query hashes in each song's run: its cost grows with the songs
asked about, not with the collection.

A database file's song index lives in a sidecar directory beside it
(``<database>.songs``): ``.npy`` files and the signature of the rows they were
built from, as for the hash index. A query reads the runs of the songs it asks
about with ``pread`` rather than through a memory map, so they come from the
page cache without counting against the query process's memory (a map would
keep every song a query ever touched resident in the process).

>>> import numpy as np
>>> index = SongIndex.from_rows(
...     np.array([7, 3, 7, 7], np.uint32), np.array([1, 2, 2, 3], np.int32),
...     np.array([5, 0, 9, 4], np.int32),
... )
>>> found = index.lookup(np.array([7, 4, 3], np.uint32), np.array([2, 3]))
>>> found.query_index.tolist(), found.song_id.tolist(), found.offset.tolist()
([0, 0, 2], [2, 3, 2], [9, 4, 0])
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...core.matching import Lookup
from ._files import META, FileColumn, NpyFile, canonical, publish, scratch_beside

#: Version of the sidecar layout; a sidecar of another version is rebuilt.
#: (1: offsets always int32.)
SONG_SIDECAR_FORMAT = 2
_COLUMNS = ("hashes", "offsets")


def offset_dtype(min_offset: int, max_offset: int) -> np.dtype:
    """The narrowest type of the stored offsets: uint16 when they fit (frames).

    At the default preset's 43 frames a second, songs up to 25 minutes: 6
    bytes a row instead of 8.
    """
    if min_offset >= 0 and max_offset < 1 << 16:
        return np.dtype(np.uint16)
    return np.dtype(np.int32)


def song_sidecar_path(database: str | os.PathLike[str]) -> Path:
    """Where the song index of a database file lives: ``<database>.songs``."""
    return Path(os.fspath(database) + ".songs")


class SongIndex:
    """Fingerprint rows grouped by song, each song's sorted by hash then offset.

    Parameters
    ----------
    song_ids : np.ndarray, shape (s,), int32
        The songs with rows, ascending.
    starts : np.ndarray, shape (s + 1,), int64
        First row of each song's run, then the number of rows.
    hashes : np.ndarray or file column, shape (n,), uint32
    offsets : np.ndarray or file column, shape (n,), int32 or uint16
    """

    def __init__(
        self,
        song_ids: np.ndarray,
        starts: np.ndarray,
        hashes: np.ndarray | FileColumn,
        offsets: np.ndarray | FileColumn,
    ) -> None:
        self.song_ids = np.asarray(song_ids, dtype=np.int32)
        self.starts = np.asarray(starts, dtype=np.int64)
        self._hashes = hashes
        self._offsets = offsets

    @classmethod
    def from_rows(cls, hashes: np.ndarray, song_ids: np.ndarray, offsets: np.ndarray) -> SongIndex:
        """An in-memory index of rows in any order."""
        hashes = np.asarray(hashes, dtype=np.uint32)
        song_ids = np.asarray(song_ids, dtype=np.int32)
        offsets = np.asarray(offsets, dtype=np.int32)
        order = np.lexsort((offsets, hashes, song_ids))
        songs, first = np.unique(song_ids[order], return_index=True)
        starts = np.append(first, len(order)).astype(np.int64)
        narrow = offset_dtype(int(offsets.min(initial=0)), int(offsets.max(initial=0)))
        return cls(songs, starts, hashes[order], offsets[order].astype(narrow))

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __repr__(self) -> str:
        return f"SongIndex({len(self):,} rows, {len(self.song_ids):,} songs)"

    def _run(self, column: np.ndarray | FileColumn, start: int, stop: int) -> np.ndarray:
        if isinstance(column, FileColumn):
            return column.slice(start, stop)
        return np.asarray(column[start:stop])

    def lookup(self, query_hashes: np.ndarray, song_ids: Sequence[int] | np.ndarray) -> Lookup:
        """Every row of the given songs whose hash equals one of ``query_hashes``.

        Parameters
        ----------
        query_hashes : np.ndarray, shape (q,), uint32
            In any order, repeats allowed.
        song_ids : array of int
            The songs asked about (unknown ids have no rows).

        Returns
        -------
        Lookup
            The rows :meth:`HashIndex.lookup <dejavu_lab.store.indexes.hash_index.HashIndex.lookup>`
            returns, restricted to ``song_ids``, in the same order: grouped by
            query position, each group by song, then offset.
        """
        query = np.asarray(query_hashes, dtype=np.uint32)
        wanted = np.unique(np.asarray(song_ids, dtype=np.int64))
        if len(query) == 0 or len(wanted) == 0:
            return Lookup.empty()
        order = np.argsort(query, kind="stable")
        sorted_query = query[order]
        where = np.searchsorted(self.song_ids, wanted)
        where[where == len(self.song_ids)] = 0
        present = where[self.song_ids[where] == wanted] if len(self.song_ids) else where[:0]
        from ...core._kernels.song_index import join_sorted, stable_order

        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for position in present.tolist():
            start, stop = int(self.starts[position]), int(self.starts[position + 1])
            if start == stop:
                continue
            found, offsets = join_sorted(
                sorted_query,
                order,
                self._run(self._hashes, start, stop),
                self._run(self._offsets, start, stop),
            )
            if len(found) == 0:
                continue
            song = np.full(len(found), self.song_ids[position], dtype=np.int32)
            parts.append((found, song, offsets))
        if not parts:
            return Lookup.empty()
        query_index = np.concatenate([p[0] for p in parts]).astype(np.int64)
        # Songs were visited in ascending order, offsets ascend within a song's hash:
        # a stable sort by query position gives the hash index's order.
        rank = stable_order(query_index, len(query))
        return Lookup(
            query_index[rank],
            np.concatenate([p[1] for p in parts])[rank],
            np.concatenate([p[2] for p in parts])[rank],
        )

    def song_rows(
        self, song_id: int, start: int | None = None, stop: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One song's rows with ``start <= offset < stop``, sorted by offset then hash.

        Returns
        -------
        hashes : np.ndarray, uint32
        offsets : np.ndarray, int32
            Empty for a song without rows (or an unknown id).
        """
        where = int(np.searchsorted(self.song_ids, song_id))
        if where == len(self.song_ids) or self.song_ids[where] != song_id:
            return np.zeros(0, np.uint32), np.zeros(0, np.int32)
        from ...core._kernels.song_index import rows_in_range

        first, last = int(self.starts[where]), int(self.starts[where + 1])
        return rows_in_range(
            self._run(self._hashes, first, last),
            self._run(self._offsets, first, last),
            -(2**62) if start is None else int(start),
            2**62 if stop is None else int(stop),
        )

    # -- sidecar --------------------------------------------------------

    @classmethod
    def open(
        cls, directory: str | os.PathLike[str], signature: Mapping[str, Any]
    ) -> SongIndex | None:
        """Open a sidecar, or None if it is missing, unreadable or stale."""
        folder = Path(directory)
        try:
            meta = json.loads((folder / META).read_text())
        except (OSError, ValueError):
            return None
        if meta.get("format") != SONG_SIDECAR_FORMAT or meta.get("signature") != canonical(
            signature
        ):
            return None
        try:
            song_ids = np.load(folder / "song_ids.npy")
            starts = np.load(folder / "starts.npy")
            columns = [FileColumn(folder / f"{name}.npy") for name in _COLUMNS]
        except (OSError, ValueError):
            return None
        n_rows = int(starts[-1]) if len(starts) else -1
        if len(starts) != len(song_ids) + 1 or any(len(c) != n_rows for c in columns):
            for column in columns:
                column.close()
            return None
        return cls(song_ids, starts, columns[0], columns[1])

    def close(self) -> None:
        """Release the sidecar's files (an in-memory index has none)."""
        for column in (self._hashes, self._offsets):
            if isinstance(column, FileColumn):
                column.close()


class SongIndexWriter:
    """Build a song index from rows streamed by song, in memory or into a sidecar.

    Parameters
    ----------
    n_rows : int
        Rows to come.
    directory : path, optional
        Sidecar to write, via a temporary directory renamed into place by
        :meth:`finish`. None builds in memory.
    offsets : np.dtype
        How offsets are stored (:func:`offset_dtype` of the rows to come).

    Notes
    -----
    Use: ``writer.write(hashes, song_ids, offsets)`` for each chunk of
    ``SELECT ... ORDER BY song_id, hash, "offset"`` (a song may span chunks),
    then ``index = writer.finish(signature)``.
    """

    def __init__(
        self,
        n_rows: int,
        directory: str | os.PathLike[str] | None = None,
        *,
        offsets: np.dtype | type = np.int32,
    ) -> None:
        self.n_rows = n_rows
        self._dtypes = {"hashes": np.dtype(np.uint32), "offsets": np.dtype(offsets)}
        self.directory = None if directory is None else Path(directory)
        self._temporary: Path | None = None
        self._sinks: dict[str, NpyFile] = {}
        self._memory: dict[str, list[np.ndarray]] = {name: [] for name in _COLUMNS}
        if self.directory is not None:
            self._temporary = scratch_beside(self.directory, self)
            self._sinks = {
                name: NpyFile(self._temporary / f"{name}.npy", dtype, n_rows)
                for name, dtype in self._dtypes.items()
            }
        self._songs: list[np.ndarray] = []
        self._firsts: list[np.ndarray] = []
        self._filled = 0
        self._last: tuple[int, int] | None = None  # song and hash of the last row

    def write(self, hashes: np.ndarray, song_ids: np.ndarray, offsets: np.ndarray) -> None:
        """Append a chunk of rows sorted by song, hash and offset.

        Raises
        ------
        ValueError
            If the rows are out of order or more than announced.
        """
        hashes = np.asarray(hashes, dtype=np.uint32)
        song_ids = np.asarray(song_ids, dtype=np.int32)
        offsets = np.asarray(offsets)
        n = len(hashes)
        if n == 0:
            return
        if self._filled + n > self.n_rows:
            raise ValueError(f"SongIndexWriter.write: more than the {self.n_rows:,} rows planned")
        if song_ids.min() < 0:
            raise ValueError("SongIndexWriter.write: song ids must not be negative")
        stored = self._dtypes["offsets"]
        if not np.can_cast(offsets.dtype, stored) and (
            int(offsets.min()) < np.iinfo(stored).min or int(offsets.max()) > np.iinfo(stored).max
        ):
            raise ValueError(f"SongIndexWriter.write: offsets outside the {stored} planned")
        offsets = offsets.astype(stored, copy=False)
        key = (song_ids.astype(np.int64) << 32) | hashes.astype(np.int64)
        if np.any(key[1:] < key[:-1]) or (
            self._last is not None and int(key[0]) < (self._last[0] << 32 | self._last[1])
        ):
            raise ValueError("SongIndexWriter.write: rows must come sorted by song, then hash")
        previous = np.empty(n, np.int32)
        previous[0] = -1 if self._last is None else self._last[0]
        previous[1:] = song_ids[:-1]
        new = np.flatnonzero(song_ids != previous)
        self._songs.append(song_ids[new])
        self._firsts.append(new + self._filled)
        self._filled += n
        self._last = (int(song_ids[-1]), int(hashes[-1]))
        for name, column in (("hashes", hashes), ("offsets", offsets)):
            if self._sinks:
                self._sinks[name].append(column)
            else:
                self._memory[name].append(column)

    def finish(self, signature: Mapping[str, Any]) -> SongIndex:
        """Complete the index; a sidecar is closed, then renamed into place."""
        if self._filled != self.n_rows:
            self.abort()
            raise ValueError(
                f"SongIndexWriter.finish: {self._filled:,} rows written, {self.n_rows:,} planned"
            )
        songs = np.concatenate([np.zeros(0, np.int32), *self._songs])
        starts = np.append(np.concatenate([np.zeros(0, np.int64), *self._firsts]), self.n_rows)
        if self._temporary is None or self.directory is None:
            columns = [
                np.concatenate([np.zeros(0, d), *self._memory[n]]) for n, d in self._dtypes.items()
            ]
            return SongIndex(songs, starts, columns[0], columns[1])
        for sink in self._sinks.values():
            sink.close()
        np.save(self._temporary / "song_ids.npy", songs.astype(np.int32))
        np.save(self._temporary / "starts.npy", starts.astype(np.int64))
        meta = {"format": SONG_SIDECAR_FORMAT}
        return publish(self._temporary, self.directory, meta, signature, SongIndex.open)

    def abort(self) -> None:
        """Give up: delete what was written (a sidecar in place stays)."""
        for sink in self._sinks.values():
            sink.discard()
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
