"""The stored rows the peak check reads for its candidates: :class:`Stretches`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..hashing import Fingerprints


@dataclass(frozen=True)
class Stretches:
    """Stretches of stored songs' rows, one a candidate, in one set of arrays.

    What the peak check reads for its candidates at once
    (:meth:`~dejavu_lab.core.verify.verifier.Verifier.check_stretches`); a store may give
    whole blocks of rows around each stretch
    (:meth:`~dejavu_lab.store.DuckDBStore.song_stretches`): the rows outside it are ignored.

    Attributes
    ----------
    hashes : np.ndarray, uint32
    offsets : np.ndarray, integers (frames)
    bounds : np.ndarray, int64, shape (n + 1,)
        Stretch ``i``'s rows are ``bounds[i]:bounds[i + 1]``, sorted by offset then hash.
    start, stop : np.ndarray, int64, shape (n,)
        Stretch ``i`` is those of its rows with ``start[i] <= offset < stop[i]``.
    """

    hashes: np.ndarray
    offsets: np.ndarray
    bounds: np.ndarray
    start: np.ndarray
    stop: np.ndarray

    def __len__(self) -> int:
        return len(self.bounds) - 1

    @classmethod
    def of(
        cls, parts: Sequence[Fingerprints], start: Sequence[int], stop: Sequence[int]
    ) -> Stretches:
        """Stretches from each one's rows (sorted by offset then hash)."""
        lengths = [len(part.hashes) for part in parts]
        return cls(
            np.concatenate([np.zeros(0, np.uint32), *(part.hashes for part in parts)]),
            np.concatenate([np.zeros(0, np.int32), *(part.offsets for part in parts)]),
            np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64),
            np.asarray(start, dtype=np.int64),
            np.asarray(stop, dtype=np.int64),
        )

    @classmethod
    def read(
        cls,
        song_fingerprints: Callable[[int, int, int], Fingerprints],
        song_ids: Sequence[int],
        start: Sequence[int],
        stop: Sequence[int],
    ) -> Stretches:
        """Stretches read one at a time by ``song_fingerprints(song_id, start, stop)``
        (a store's method of that name)."""
        parts = [
            song_fingerprints(int(song), int(first), int(last))
            for song, first, last in zip(song_ids, start, stop, strict=True)
        ]
        return cls.of(parts, start, stop)

    def fingerprints(self, i: int) -> Fingerprints:
        """Stretch ``i``'s rows (only those within its range)."""
        rows = slice(int(self.bounds[i]), int(self.bounds[i + 1]))
        offsets = self.offsets[rows]
        keep = (offsets >= self.start[i]) & (offsets < self.stop[i])
        return Fingerprints(
            np.asarray(self.hashes[rows][keep], np.uint32), offsets[keep].astype(np.int32)
        )
