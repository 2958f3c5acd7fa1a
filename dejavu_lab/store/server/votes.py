"""What the server stores share: looked-up rows, vote pushdown and its summary.

Besides :meth:`lookup` (the same rows as every other store), the server stores
offer :meth:`vote`: the offset histogram computed by the database, of which only
the top bins of each song cross the network (:class:`VoteSummary`).
:func:`summarize_votes` computes the same summary in process from
:func:`~dejavu_lab.core.matching.votes.count_votes`. The pushdown trades server work for
network bytes: a 5 s query that finds ~100,000 rows gets ~600 back, but the
server's aggregation takes longer than numpy's, so it pays only over a slow
link (see ``benchmarks/bench_stores.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.matching import Lookup, Votes
from ...exceptions import ParameterError
from ..indexes.hash_index import HashIndex

__all__ = [
    "VoteSummary",
    "check_vote_params",
    "expand_lookup",
    "summarize_votes",
    "summary_from_rows",
    "vote_query_rows",
]

#: Where :meth:`VoteSummary.as_votes` puts each song's remaining votes: an offset
#: difference no real bin reaches (2**31 - 1 frames is 1.6 years at 23 ms a frame).
REST_DIFF = (1 << 31) - 1
#: Vote-pushdown limits (a bin's window is +- time_tolerance frames).
MAX_TOP_N = 100_000
MAX_TIME_TOLERANCE = 16


def expand_lookup(
    query_hashes: np.ndarray,
    hashes: np.ndarray,
    song_ids: np.ndarray,
    offsets: np.ndarray,
    *,
    max_postings: int | None = None,
    max_rows: int | None = None,
) -> Lookup:
    """Rows fetched for the distinct query hashes, repeated for every query position.

    The database is asked about each distinct hash once; this gives the rows
    :meth:`~dejavu_lab.store.indexes.hash_index.HashIndex.lookup` would give for the whole query.
    Every stored row of a fetched hash is there, so the stop-list
    (``max_postings``) sees whole posting lists: the rows of common hashes are
    fetched, then dropped before voting; so are those outside a row budget
    (``max_rows``).
    """
    return HashIndex(hashes, song_ids, offsets).lookup(
        query_hashes, max_postings=max_postings, max_rows=max_rows
    )


def vote_query_rows(
    query_hashes: np.ndarray,
    query_offsets: np.ndarray,
    variants: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows a server joins with its fingerprints to count votes.

    Parameters
    ----------
    query_hashes : np.ndarray, shape (n,), uint32
    query_offsets : np.ndarray, shape (n,), int32
    variants : (np.ndarray, np.ndarray), optional
        Hashes to look up instead and the index into ``query_hashes`` of each
        one's original (``Hasher.lookup_variants``); a variant votes at its
        original's offset, as that original's hash.

    Returns
    -------
    lookup_hashes : np.ndarray, uint32
        Hash to find in the database.
    offsets : np.ndarray, int32
        Query offset the vote is counted from.
    vote_hashes : np.ndarray, uint32
        Hash value the vote counts as (distinct-hash counting).
    weights : np.ndarray, int64
        How many query positions share this row (all-votes counting).
        The rows are distinct.
    """
    hashes = np.asarray(query_hashes, dtype=np.uint32)
    offsets = np.asarray(query_offsets, dtype=np.int32)
    if len(hashes) != len(offsets):
        raise ParameterError(
            f"query_hashes ({len(hashes)}) and query_offsets ({len(offsets)}) differ in length"
        )
    if variants is None:
        lookup_hashes, vote_hashes = hashes, hashes
    else:
        lookup_hashes = np.asarray(variants[0], dtype=np.uint32)
        origin = np.asarray(variants[1], dtype=np.int64)
        if len(lookup_hashes) != len(origin):
            raise ParameterError("variants: hashes and origins differ in length")
        offsets, vote_hashes = offsets[origin], hashes[origin]
    table = np.stack(
        [lookup_hashes.astype(np.int64), offsets.astype(np.int64), vote_hashes.astype(np.int64)],
        axis=1,
    )
    if len(table) == 0:
        empty = np.zeros(0, np.int64)
        return empty.astype(np.uint32), empty.astype(np.int32), empty.astype(np.uint32), empty
    rows, weights = np.unique(table, axis=0, return_counts=True)
    return (
        rows[:, 0].astype(np.uint32),
        rows[:, 1].astype(np.int32),
        rows[:, 2].astype(np.uint32),
        weights.astype(np.int64),
    )


def check_vote_params(top_n: int, time_tolerance: int) -> None:
    """Refuse vote-pushdown parameters out of range."""
    if isinstance(top_n, bool) or not isinstance(top_n, int) or not 1 <= top_n <= MAX_TOP_N:
        raise ParameterError(f"top_n={top_n!r} is not allowed: expected int in [1, {MAX_TOP_N}]")
    if (
        isinstance(time_tolerance, bool)
        or not isinstance(time_tolerance, int)
        or not 0 <= time_tolerance <= MAX_TIME_TOLERANCE
    ):
        raise ParameterError(
            f"time_tolerance={time_tolerance!r} is not allowed: expected int in "
            f"[0, {MAX_TIME_TOLERANCE}]"
        )


@dataclass(frozen=True)
class VoteSummary:
    """The top of each song's offset histogram.

    Attributes
    ----------
    votes : Votes
        For every song with votes: its ``top_n`` bins with the most votes in
        their window (ties: more votes in the bin itself, then the smaller
        offset), plus every bin within ``time_tolerance`` of its best bin.
        Sorted by song, then offset difference. ``count`` and ``windowed`` are
        exactly those of :func:`~dejavu_lab.core.matching.votes.count_votes` (computed
        over all of the song's bins).
    song_id : np.ndarray, int64
        Every song with at least one vote, ascending.
    song_votes : np.ndarray, int64
        Its votes at any offset.
    """

    votes: Votes
    song_id: np.ndarray
    song_votes: np.ndarray

    def __len__(self) -> int:
        return len(self.votes.song_id)

    def as_votes(self) -> Votes:
        """Votes that :func:`~dejavu_lab.core.matching.ranking.rank_candidates` ranks as
        the full histogram.

        Each song's votes outside the returned bins are added as one bin at
        offset difference :data:`REST_DIFF` with ``windowed`` 0: it counts in
        the song's total but is never its best bin nor a neighbour of it, so
        the candidates (offset, aligned hashes, confidence) are identical.
        """
        votes = self.votes
        if len(self.song_id) == 0:
            return votes
        first = np.searchsorted(votes.song_id, self.song_id)
        kept = np.add.reduceat(votes.count, first)
        rest = self.song_votes - kept
        extra = rest > 0
        n_extra = int(np.count_nonzero(extra))
        if n_extra == 0:
            return votes
        song_id = np.concatenate([votes.song_id, self.song_id[extra]])
        diff = np.concatenate([votes.diff, np.full(n_extra, REST_DIFF, np.int64)])
        order = np.lexsort((diff, song_id))
        return Votes(
            song_id=song_id[order],
            diff=diff[order],
            count=np.concatenate([votes.count, rest[extra]])[order],
            windowed=np.concatenate([votes.windowed, np.zeros(n_extra, np.int64)])[order],
        )


def summarize_votes(votes: Votes, *, top_n: int, time_tolerance: int) -> VoteSummary:
    """In process, what a server's ``vote`` returns: each song's top bins.

    Parameters
    ----------
    votes : Votes
        From :func:`~dejavu_lab.core.matching.votes.count_votes` (sorted by song, offset).
    top_n : int
        Bins kept per song, by windowed votes.
    time_tolerance : int
        The window half-width used for ``votes.windowed``; the bins this close
        to each song's best bin are kept too.
    """
    check_vote_params(top_n, time_tolerance)
    if len(votes.song_id) == 0:
        empty = np.zeros(0, np.int64)
        return VoteSummary(votes, empty, empty)
    songs, first = np.unique(votes.song_id, return_index=True)
    totals = np.add.reduceat(votes.count, first)
    order = np.lexsort((votes.diff, -votes.count, -votes.windowed, votes.song_id))
    group_start = np.searchsorted(votes.song_id[order], votes.song_id[order], side="left")
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order)) - group_start
    best_diff = votes.diff[order[np.searchsorted(votes.song_id[order], songs)]]
    song_index = np.searchsorted(songs, votes.song_id)
    keep = (rank < top_n) | (np.abs(votes.diff - best_diff[song_index]) <= time_tolerance)
    kept = Votes(
        song_id=votes.song_id[keep].astype(np.int64),
        diff=votes.diff[keep].astype(np.int64),
        count=votes.count[keep].astype(np.int64),
        windowed=votes.windowed[keep].astype(np.int64),
    )
    return VoteSummary(kept, songs.astype(np.int64), totals.astype(np.int64))


def summary_from_rows(
    song_id: np.ndarray,
    diff: np.ndarray,
    count: np.ndarray,
    windowed: np.ndarray,
    song_votes: np.ndarray,
) -> VoteSummary:
    """A :class:`VoteSummary` from the rows of a vote query (sorted by song, offset)."""
    song_id = np.asarray(song_id, dtype=np.int64)
    votes = Votes(
        song_id=song_id,
        diff=np.asarray(diff, dtype=np.int64),
        count=np.asarray(count, dtype=np.int64),
        windowed=np.asarray(windowed, dtype=np.int64),
    )
    songs, first = np.unique(song_id, return_index=True)
    totals = np.asarray(song_votes, dtype=np.int64)[first]
    return VoteSummary(votes, songs.astype(np.int64), totals)
