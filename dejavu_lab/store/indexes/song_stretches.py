"""Each song's rows sorted by offset: a stretch of a song in one read.

The peak check (:mod:`dejavu_lab.core.verify`) asks for a few seconds of each
of up to ten candidate songs, the rows with ``start <= offset < stop``. The
song index (:mod:`dejavu_lab.store.indexes.song_index`) keeps a song's rows sorted by
hash, so a stretch there costs a read and a scan of the whole song. Here each
song's rows are stored sorted by offset, then hash, beside a small table of
where every block of :data:`BLOCK_FRAMES` frames starts: a stretch is one
``pread`` of the blocks around it, trimmed by a binary search. The rows are
exactly those of :meth:`SongIndex.song_rows
<dejavu_lab.store.indexes.song_index.SongIndex.song_rows>`, in its order.

The sidecar (``<database>.stretches``) is built from the song index's, one
song at a time, and carries the same signature; it doubles the song index's
bytes on disk (not in memory: the rows are read with ``pread``, as there).

>>> import numpy as np
>>> from dejavu_lab.store.indexes.song_index import SongIndex
>>> songs = SongIndex.from_rows(
...     np.array([7, 3, 9, 5], np.uint32), np.array([1, 1, 1, 2], np.int32),
...     np.array([200, 5, 70, 4], np.int32),
... )
>>> hashes, offsets = SongStretches.from_song_index(songs).rows(1, 0, 100)
>>> hashes.tolist(), offsets.tolist()
([3, 9], [5, 70])
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._files import META, FileColumn, NpyFile, canonical, publish, scratch_beside
from .song_index import SongIndex

#: Version of the sidecar layout; a sidecar of another version is rebuilt.
STRETCH_SIDECAR_FORMAT = 1
#: Frames a block of the table of block starts covers: a stretch reads at
#: most this many frames' rows too many at either end.
BLOCK_FRAMES = 64
_COLUMNS = ("hashes", "offsets")


def stretch_sidecar_path(database: str | os.PathLike[str]) -> Path:
    """Where the song stretches of a database file live: ``<database>.stretches``."""
    return Path(os.fspath(database) + ".stretches")


def _by_offset(hashes: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One song's rows sorted by offset, then hash (offsets keep their dtype)."""
    key = (offsets.astype(np.int64) << np.int64(32)) | hashes.astype(np.int64)
    key.sort()
    return (key & np.int64(0xFFFFFFFF)).astype(np.uint32), (key >> np.int64(32)).astype(
        offsets.dtype
    )


def _block_starts(offsets: np.ndarray) -> np.ndarray:
    """Row (in the song's run) where each block of :data:`BLOCK_FRAMES` frames starts.

    ``offsets`` sorted and non-negative; one more entry than blocks, the last
    being the number of rows.
    """
    n_blocks = int(offsets[-1]) // BLOCK_FRAMES + 1 if len(offsets) else 0
    edges = np.arange(n_blocks + 1, dtype=np.int64) * BLOCK_FRAMES
    return np.searchsorted(offsets, edges).astype(np.int64)


class SongStretches:
    """Fingerprint rows grouped by song, each song's sorted by offset then hash.

    Parameters
    ----------
    song_ids : np.ndarray, shape (s,), int32
        The songs with rows, ascending.
    starts : np.ndarray, shape (s + 1,), int64
        First row of each song's run, then the number of rows.
    block_first : np.ndarray, shape (s + 1,), int64
        Where each song's entries of ``blocks`` start, then their number.
    blocks : np.ndarray, int64
        Per song, the row (from its run's start) of each block's first row,
        then its number of rows.
    hashes : np.ndarray or file column, shape (n,), uint32
    offsets : np.ndarray or file column, shape (n,), int32 or uint16
    """

    def __init__(
        self,
        song_ids: np.ndarray,
        starts: np.ndarray,
        block_first: np.ndarray,
        blocks: np.ndarray,
        hashes: np.ndarray | FileColumn,
        offsets: np.ndarray | FileColumn,
    ) -> None:
        self.song_ids = np.asarray(song_ids, dtype=np.int32)
        self.starts = np.asarray(starts, dtype=np.int64)
        self.block_first = np.asarray(block_first, dtype=np.int64)
        self.blocks = np.asarray(blocks, dtype=np.int64)
        self._hashes = hashes
        self._offsets = offsets

    @classmethod
    def from_song_index(
        cls,
        songs: SongIndex,
        directory: str | os.PathLike[str] | None = None,
        signature: Mapping[str, Any] | None = None,
    ) -> SongStretches:
        """Build from a song index, in memory or into a sidecar (with its ``signature``)."""
        temporary = None if directory is None else scratch_beside(Path(directory), songs)
        n_rows = len(songs)
        sinks: dict[str, NpyFile] = {}
        memory: dict[str, list[np.ndarray]] = {name: [] for name in _COLUMNS}
        try:
            if temporary is not None:
                offsets_dtype = np.dtype(songs._offsets.dtype)
                sinks = {
                    "hashes": NpyFile(temporary / "hashes.npy", np.uint32, n_rows),
                    "offsets": NpyFile(temporary / "offsets.npy", offsets_dtype, n_rows),
                }
            blocks, block_first = [], [0]
            for position in range(len(songs.song_ids)):
                first, last = int(songs.starts[position]), int(songs.starts[position + 1])
                hashes, offsets = _by_offset(
                    songs._run(songs._hashes, first, last), songs._run(songs._offsets, first, last)
                )
                starts = _block_starts(offsets)
                blocks.append(starts)
                block_first.append(block_first[-1] + len(starts))
                for name, column in (("hashes", hashes), ("offsets", offsets)):
                    if sinks:
                        sinks[name].append(column)
                    else:
                        memory[name].append(column)
            all_blocks = np.concatenate([np.zeros(0, np.int64), *blocks])
            first_block = np.asarray(block_first, dtype=np.int64)
            if temporary is None or directory is None:
                columns = [
                    np.concatenate([np.zeros(0, np.uint32), *memory["hashes"]]),
                    np.concatenate([np.zeros(0, np.int32), *memory["offsets"]]),
                ]
                return cls(
                    songs.song_ids, songs.starts, first_block, all_blocks, columns[0], columns[1]
                )
            for sink in sinks.values():
                sink.close()
            np.save(temporary / "song_ids.npy", songs.song_ids.astype(np.int32))
            np.save(temporary / "starts.npy", songs.starts.astype(np.int64))
            np.save(temporary / "block_first.npy", first_block)
            np.save(temporary / "blocks.npy", all_blocks)
        except BaseException:
            for sink in sinks.values():
                sink.discard()
            if temporary is not None:
                shutil.rmtree(temporary, ignore_errors=True)
            raise
        meta = {"format": STRETCH_SIDECAR_FORMAT, "block_frames": BLOCK_FRAMES}
        return publish(temporary, Path(directory), meta, signature or {}, cls.open)

    def __len__(self) -> int:
        return int(self.starts[-1]) if len(self.starts) else 0

    def __repr__(self) -> str:
        return f"SongStretches({len(self):,} rows, {len(self.song_ids):,} songs)"

    def _read(self, column: np.ndarray | FileColumn, start: int, stop: int) -> np.ndarray:
        if isinstance(column, FileColumn):
            return column.slice(start, stop)
        return np.asarray(column[start:stop])

    def rows(
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
        run = int(self.starts[where])
        blocks = self.blocks[self.block_first[where] : self.block_first[where + 1]]
        n_blocks = len(blocks) - 1
        # The blocks holding [start, stop): block k holds frames [k, k + 1) * BLOCK_FRAMES.
        low = 0 if start is None else min(max(int(start), 0) // BLOCK_FRAMES, n_blocks)
        high = n_blocks if stop is None else min(max(-(-int(stop) // BLOCK_FRAMES), 0), n_blocks)
        if high <= low:
            return np.zeros(0, np.uint32), np.zeros(0, np.int32)
        first, last = run + int(blocks[low]), run + int(blocks[high])
        offsets = self._read(self._offsets, first, last).astype(np.int32)
        lo = 0 if start is None else int(np.searchsorted(offsets, max(int(start), 0)))
        hi = len(offsets) if stop is None else int(np.searchsorted(offsets, int(stop)))
        return self._read(self._hashes, first + lo, first + hi), offsets[lo:hi]

    def blocks_of(
        self, song_ids: np.ndarray, start: np.ndarray, stop: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows of the blocks holding each song's stretch ``[start, stop)``, concatenated.

        What :meth:`rows` reads for each, before it trims them: one read a
        column and song, and no Python a row (the peak check reads ten
        songs' stretches a query, and its kernel skips the rows outside each).

        Parameters
        ----------
        song_ids, start, stop : np.ndarray, int, one per stretch

        Returns
        -------
        hashes : np.ndarray, uint32
        offsets : np.ndarray, the sidecar's offset dtype
        bounds : np.ndarray, int64, shape (n + 1,)
            Stretch ``i``'s rows are ``bounds[i]:bounds[i + 1]``, sorted by
            offset then hash; none for a song without rows (or an unknown id).
        """
        ids = np.asarray(song_ids, dtype=np.int64)
        lengths = np.zeros(len(ids), np.int64)
        first = np.zeros(len(ids), np.int64)
        if len(self.song_ids) and len(ids):
            where = np.minimum(np.searchsorted(self.song_ids, ids), len(self.song_ids) - 1)
            known = self.song_ids[where] == ids
            block_first = self.block_first[where]
            n_blocks = self.block_first[where + 1] - block_first - 1
            # As rows(): block k holds frames [k, k + 1) * BLOCK_FRAMES.
            low = np.minimum(np.maximum(np.asarray(start, np.int64), 0) // BLOCK_FRAMES, n_blocks)
            high = np.minimum(
                np.maximum(-(-np.asarray(stop, np.int64) // BLOCK_FRAMES), 0), n_blocks
            )
            inside = known & (high > low)
            run = self.starts[where]
            first = run + self.blocks[block_first + np.where(inside, low, 0)]
            last = run + self.blocks[block_first + np.where(inside, high, 0)]
            lengths = np.where(inside, last - first, 0)
        bounds = np.zeros(len(ids) + 1, np.int64)
        np.cumsum(lengths, out=bounds[1:])
        total = int(bounds[-1])
        hashes = np.empty(total, np.uint32)
        offsets = np.empty(total, np.dtype(self._offsets.dtype))
        for i in np.flatnonzero(lengths):
            at, n = int(bounds[i]), int(lengths[i])
            for column, out in ((self._hashes, hashes), (self._offsets, offsets)):
                if isinstance(column, FileColumn):
                    column.read_into(out[at : at + n], int(first[i]))
                else:
                    out[at : at + n] = column[int(first[i]) : int(first[i]) + n]
        return hashes, offsets, bounds

    # -- sidecar --------------------------------------------------------

    @classmethod
    def open(
        cls, directory: str | os.PathLike[str], signature: Mapping[str, Any]
    ) -> SongStretches | None:
        """Open a sidecar, or None if it is missing, unreadable or stale."""
        folder = Path(directory)
        try:
            meta = json.loads((folder / META).read_text())
        except (OSError, ValueError):
            return None
        if (
            meta.get("format") != STRETCH_SIDECAR_FORMAT
            or meta.get("block_frames") != BLOCK_FRAMES
            or meta.get("signature") != canonical(signature)
        ):
            return None
        try:
            arrays = [
                np.load(folder / f"{name}.npy")
                for name in ("song_ids", "starts", "block_first", "blocks")
            ]
            columns = [FileColumn(folder / f"{name}.npy") for name in _COLUMNS]
        except (OSError, ValueError):
            return None
        song_ids, starts, block_first, blocks = arrays
        n_rows = int(starts[-1]) if len(starts) else -1
        if (
            len(starts) != len(song_ids) + 1
            or len(block_first) != len(song_ids) + 1
            or int(block_first[-1]) != len(blocks)
            or any(len(c) != n_rows for c in columns)
        ):
            for column in columns:
                column.close()
            return None
        return cls(song_ids, starts, block_first, blocks, columns[0], columns[1])

    def close(self) -> None:
        """Release the sidecar's files (an in-memory one has none)."""
        for column in (self._hashes, self._offsets):
            if isinstance(column, FileColumn):
                column.close()
