"""Building an index's arrays from rows streamed in hash order, in memory or into files.

Each chunk of rows is cut into runs of one hash (the last run is held back: it may go on
in the next chunk); a run's hash is appended to ``keys``, its first row to ``starts`` and
its rows to the row columns of the :class:`~.layout.IndexLayout`. Runs of more rows than
``layout.common_postings`` are put aside and appended after all the others.
:class:`~dejavu_lab.store.indexes.hash_index.IndexWriter` turns the arrays into the index,
or the files into its sidecar.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from ._files import NpyFile, scratch_beside
from .layout import IndexLayout


def _runs(hashes: np.ndarray, previous: int = -1) -> np.ndarray:
    """Positions where a run of equal sorted hashes starts (after ``previous``)."""
    new = np.empty(len(hashes), dtype=bool)
    if len(hashes):
        new[0] = int(hashes[0]) != previous
        np.not_equal(hashes[1:], hashes[:-1], out=new[1:])
    return np.flatnonzero(new)


class RunWriter:
    """The runs of rows streamed in hash order, as an index's keys, starts and row columns.

    The part of :class:`~dejavu_lab.store.indexes.hash_index.IndexWriter` that does not
    know the index it becomes; its parameters and its use are described there.

    Parameters
    ----------
    layout : IndexLayout
        The row packing of the rows to come.
    directory : path, optional
        Sidecar to write the row columns for (in a temporary directory beside it); None
        fills arrays in memory.
    """

    def __init__(
        self, layout: IndexLayout, directory: str | os.PathLike[str] | None = None
    ) -> None:
        self.layout = layout
        self.directory = None if directory is None else Path(directory)
        self._temporary: Path | None = None
        names = ("packed",) if layout.offset_bits is not None else ("song_ids", "offsets")
        dtypes = (np.uint32,) if layout.offset_bits is not None else (np.int32, np.int32)
        columns = {name: np.dtype(dtype) for name, dtype in zip(names, dtypes, strict=True)}
        self._sinks: dict[str, _Memory | NpyFile]
        if self.directory is not None:
            self._temporary = scratch_beside(self.directory, self)
            self._sinks = {
                name: NpyFile(self._temporary / f"{name}.npy", dtype, layout.n_rows)
                for name, dtype in columns.items()
            }
        else:
            self._sinks = {
                name: _Memory(np.empty(layout.n_rows, dtype)) for name, dtype in columns.items()
            }
        spill = None if self._temporary is None else self._temporary
        self._common = {
            name: _Spill(dtype, None if spill is None else spill / f"{name}.common")
            for name, dtype in columns.items()
        }
        # Keys and run starts, ordinary [0] and common [1]; starts count within each part.
        self._keys: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
        self._starts: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
        self._part_rows = [0, 0]
        self._carry: tuple[np.ndarray, tuple[np.ndarray, ...]] | None = None
        self._copied: tuple[np.ndarray, np.ndarray] | None = None
        self._filled = 0
        self._last_hash = -1

    def write(self, hashes: np.ndarray, song_ids: np.ndarray, offsets: np.ndarray) -> None:
        """Append a chunk of rows sorted by hash (and following the previous chunk).

        Raises
        ------
        ValueError
            If the rows are out of order or more than the layout announced.
        """
        if self.layout.offset_bits is not None:
            columns: tuple[np.ndarray, ...] = (self.layout.pack(song_ids, offsets),)
        else:
            columns = (np.asarray(song_ids, dtype=np.int32), np.asarray(offsets, dtype=np.int32))
        self.write_columns(hashes, columns)

    def write_columns(self, hashes: np.ndarray, columns: tuple[np.ndarray, ...]) -> None:
        """:meth:`write` for rows already in the layout's columns (packed or apart)."""
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
        self._filled += n
        self._last_hash = int(hashes[-1])
        if self._carry is not None:
            hashes = np.concatenate([self._carry[0], hashes])
            columns = tuple(
                np.concatenate([held, new])
                for held, new in zip(self._carry[1], columns, strict=True)
            )
        # The last run may go on in the next chunk: hold it back.
        first = _runs(hashes)
        held = int(first[-1])
        self._carry = (hashes[held:], tuple(c[held:] for c in columns))
        self._emit(hashes[:held], tuple(c[:held] for c in columns), first[:-1])

    def _emit(self, hashes: np.ndarray, columns: tuple[np.ndarray, ...], first: np.ndarray) -> None:
        """Store complete runs (starting at ``first``) in the ordinary or common part."""
        if len(first) == 0:
            return
        lengths = np.diff(np.append(first, len(hashes)))
        limit = self.layout.common_postings
        common = lengths > limit if limit is not None else np.zeros(len(first), dtype=bool)
        parts = ((0, ~common), (1, common)) if common.any() else ((0, None),)
        for part, runs in parts:
            if runs is not None and not runs.any():
                continue
            run_lengths = lengths if runs is None else lengths[runs]
            self._keys[part].append(hashes[first if runs is None else first[runs]])
            self._starts[part].append(self._part_rows[part] + np.cumsum(run_lengths) - run_lengths)
            self._part_rows[part] += int(run_lengths.sum())
            rows = None if runs is None else np.repeat(runs, lengths)
            sinks = self._sinks if part == 0 else self._common
            for sink, column in zip(sinks.values(), columns, strict=True):
                sink.append(column if rows is None else column[rows])

    def write_parts(
        self, keys: np.ndarray, starts: np.ndarray, postings: tuple[np.ndarray, ...]
    ) -> None:
        """Copy the arrays of an index with this layout."""
        self._copied = (np.asarray(keys, dtype=np.uint32), np.asarray(starts))
        for sink, source in zip(self._sinks.values(), postings, strict=True):
            sink.append(source)
        self._filled = self.layout.n_rows

    def _finish_arrays(
        self,
    ) -> tuple[IndexLayout, np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
        """The layout, keys, starts and row columns (empty ones for files, now closed).

        Raises
        ------
        ValueError
            If fewer rows were written than the layout announced.
        """
        if self._filled != self.layout.n_rows:
            self.abort()
            raise ValueError(
                f"IndexWriter.finish: {self._filled:,} rows written, {self.layout.n_rows:,} planned"
            )
        if self._carry is not None:
            hashes, columns = self._carry
            self._carry = None
            self._emit(hashes, columns, np.zeros(1, np.int64))
        if self._copied is not None:
            keys, starts = self._copied
            layout = self.layout
        else:
            ordinary_rows = self._part_rows[0]
            for name, spill in self._common.items():
                for chunk in spill.chunks():
                    self._sinks[name].append(chunk)
            keys = np.concatenate([np.zeros(0, np.uint32), *self._keys[0], *self._keys[1]])
            layout = replace(
                self.layout,
                n_keys=len(keys),
                n_common_keys=sum(len(k) for k in self._keys[1]),
            )
            starts = np.empty(len(keys) + 1, dtype=layout.starts_dtype)
            starts[:-1] = np.concatenate(
                [
                    np.zeros(0, np.int64),
                    *self._starts[0],
                    *(ordinary_rows + part for part in self._starts[1]),
                ]
            )
            starts[-1] = layout.n_rows
        self._keys, self._starts = ([], []), ([], [])
        for spill in self._common.values():
            spill.discard()
        arrays = [sink.close() for sink in self._sinks.values()]
        return layout, keys, starts, tuple(arrays)

    def abort(self) -> None:
        """Give up: close and delete the files written so far (a sidecar in place stays)."""
        for sink in self._sinks.values():
            sink.discard()
        for spill in self._common.values():
            spill.discard()
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


class _Spill:
    """Values put aside, in memory or in a raw file, then read back in chunks."""

    #: Values read back at a time.
    CHUNK = 1 << 24

    def __init__(self, dtype: np.dtype, path: Path | None) -> None:
        self.dtype = dtype
        self.path = path
        self.parts: list[np.ndarray] = []
        self.handle = None if path is None else open(path, "wb")  # noqa: SIM115

    def append(self, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, dtype=self.dtype)
        if self.handle is None:
            self.parts.append(values)
        else:
            values.tofile(self.handle)

    def chunks(self) -> Iterator[np.ndarray]:
        if self.handle is None:
            yield from self.parts
            return
        self.handle.close()
        assert self.path is not None
        with open(self.path, "rb") as source:
            while len(chunk := np.fromfile(source, self.dtype, self.CHUNK)):
                yield chunk

    def discard(self) -> None:
        self.parts = []
        if self.handle is not None:
            self.handle.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)
