"""An in-memory hash index: sorted arrays and binary search.

Loaded once from the store of record, it answers a query's lookups with two
``np.searchsorted`` calls and one gather, whatever the number of hashes, so
query time grows with the log of the collection rather than its size.
"""

from __future__ import annotations

import numpy as np

from .matching import Lookup


class HashIndex:
    """Fingerprint rows sorted by hash.

    Parameters
    ----------
    hashes : np.ndarray, shape (n,), uint32
    song_ids : np.ndarray, shape (n,), int32
    offsets : np.ndarray, shape (n,), int32
    assume_sorted : bool
        Skip sorting when the rows already come sorted by hash.
    """

    def __init__(
        self,
        hashes: np.ndarray,
        song_ids: np.ndarray,
        offsets: np.ndarray,
        *,
        assume_sorted: bool = False,
    ) -> None:
        hashes = np.asarray(hashes, dtype=np.uint32)
        song_ids = np.asarray(song_ids, dtype=np.int32)
        offsets = np.asarray(offsets, dtype=np.int32)
        if not assume_sorted:
            order = np.argsort(hashes, kind="stable")
            hashes, song_ids, offsets = hashes[order], song_ids[order], offsets[order]
        self.hashes = hashes
        self.song_ids = song_ids
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.hashes)

    @property
    def nbytes(self) -> int:
        """Memory held by the index (bytes)."""
        return int(self.hashes.nbytes + self.song_ids.nbytes + self.offsets.nbytes)

    def lookup(self, query_hashes: np.ndarray) -> Lookup:
        """Every row whose hash equals one of ``query_hashes``.

        Returns
        -------
        Lookup
            ``query_index`` refers to positions in ``query_hashes``.
        """
        query_hashes = np.asarray(query_hashes, dtype=np.uint32)
        if len(query_hashes) == 0 or len(self.hashes) == 0:
            return Lookup.empty()
        low = np.searchsorted(self.hashes, query_hashes, side="left")
        high = np.searchsorted(self.hashes, query_hashes, side="right")
        counts = high - low
        total = int(counts.sum())
        if total == 0:
            return Lookup.empty()
        query_index = np.repeat(np.arange(len(query_hashes), dtype=np.int64), counts)
        # Row r of the output gathers low[q] + (r - first output row of q).
        first = np.cumsum(counts) - counts
        rows = np.arange(total, dtype=np.int64) + np.repeat(low - first, counts)
        return Lookup(query_index, self.song_ids[rows], self.offsets[rows])
