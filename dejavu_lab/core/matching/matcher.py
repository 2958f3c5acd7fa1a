"""The matcher stage: a query's lookup rows in, ranked candidates and a decision out.

:class:`Matcher` holds the stage's settings, checked when it is made, and runs
the steps of :mod:`dejavu_lab.core.matching` in order: each song's tallest
window (:func:`~dejavu_lab.core.matching.windows.song_windows`, after the
prefilter when ``prefilter_songs`` asks for it), the scores and ranking
(:func:`~dejavu_lab.core.matching.ranking.score_windows`) and the no-match
decision; in a two-stage match, stage one's shortlist
(:func:`~dejavu_lab.core.matching.ranking.shortlist`) too.

The stage calls ``song_windows``, ``score_windows`` and ``shortlist`` by their
names in this module: a benchmark that times them wraps them here
(``benchmarks/bench_scale.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..params import Constraint, validate_params
from .lookup import Lookup
from .ranking import score_windows, shortlist
from .results import MatchResult
from .windows import SongWindows, song_windows


@dataclass(frozen=True, kw_only=True)
class Matcher:
    """Pipeline stage: votes -> ranked candidates and the no-match decision.

    Parameters
    ----------
    time_tolerance : int
        Half-width of a vote window, in frames (0-16): votes within this many
        frames of a bin count for it, as peaks in noise move by a frame.
    min_aligned : int
        Aligned hashes a match needs at least (1-100000).
    min_confidence : float
        Confidence a match needs at least: ``-log10`` of the chance
        probability (0-1000; 3 means once in a thousand unseen queries).
    top_k : int
        Candidates returned (1-1000).
    distinct_hashes : bool
        Count each distinct hash value once per bin (see :func:`~.votes.count_votes`).
    prefilter_songs : int or None
        Songs whose votes are counted exactly (1-1000000): those whose coarse
        histograms could hold the tallest windows (:func:`~.prefiltering.prefilter`). None,
        or a collection of no more songs, counts every song.
    max_postings : int or None
        Stop-list: query hashes stored in more than this many rows are not
        looked up (1 to 2**31 - 1). None looks every hash up. In a two-stage
        match it applies to stage one only.
    shortlist_songs : int or None
        Songs kept by stage one of a two-stage match (1-1000000). Stage one
        counts the query's own hashes, rarest first within ``shortlist_rows``;
        stage two counts every row of the shortlisted songs, as one stage
        would. None: always one stage.
    shortlist_rows : int
        Row budget of stage one (at least 1).
    shortlist_min_songs : int
        Collections of fewer songs are matched in one stage (at least 1).

    Notes
    -----
    How the large-collection settings trade speed for accuracy, measured up
    to 10,000 songs: "Matcher settings for large collections" in the
    documentation's stores page (``docs/stores.md``) and ``benchmarks/README.md``.
    """

    time_tolerance: int = 1
    min_aligned: int = 5
    min_confidence: float = 3.0
    top_k: int = 1
    distinct_hashes: bool = True
    prefilter_songs: int | None = None
    max_postings: int | None = None
    shortlist_songs: int | None = None
    shortlist_rows: int = 1_500_000
    shortlist_min_songs: int = 200

    _constraints: ClassVar[dict[str, Constraint]] = {
        "time_tolerance": Constraint(int, 0, 16),
        "min_aligned": Constraint(int, 1, 100000),
        "min_confidence": Constraint(float, 0.0, 1000.0),
        "top_k": Constraint(int, 1, 1000),
        "distinct_hashes": Constraint(bool),
        "prefilter_songs": Constraint(int, 1, 1_000_000, allow_none=True),
        "max_postings": Constraint(int, 1, 2**31 - 1, allow_none=True),
        "shortlist_songs": Constraint(int, 1, 1_000_000, allow_none=True),
        "shortlist_rows": Constraint(int, 1, 2**62),
        "shortlist_min_songs": Constraint(int, 1, 2**31 - 1),
    }

    def __post_init__(self) -> None:
        validate_params(self)

    def uses_shortlist(self, n_songs: int) -> bool:
        """Whether a collection of ``n_songs`` songs is matched in two stages."""
        return (
            self.shortlist_songs is not None
            and n_songs > self.shortlist_songs
            and n_songs >= self.shortlist_min_songs
        )

    def shortlist(
        self,
        query_offsets: np.ndarray,
        lookup: Lookup,
        *,
        query_hashes: np.ndarray | None = None,
    ) -> np.ndarray:
        """Stage one: the songs whose every row is counted in stage two.

        ``lookup`` holds the rows of the rarer query hashes (within
        ``shortlist_rows``). Returns song ids, ascending.
        """
        windows = self.windows(query_offsets, lookup, query_hashes=query_hashes)
        return shortlist(windows, self.shortlist_songs or len(windows.song_id))

    def windows(
        self, query_offsets: np.ndarray, lookup: Lookup, *, query_hashes: np.ndarray | None = None
    ) -> SongWindows:
        """Each song's tallest window with these settings (:func:`~.windows.song_windows`)."""
        return song_windows(
            query_offsets,
            lookup,
            time_tolerance=self.time_tolerance,
            query_hashes=query_hashes if self.distinct_hashes else None,
            max_songs=self.prefilter_songs,
        )

    def __call__(
        self,
        query_offsets: np.ndarray,
        lookup: Lookup,
        *,
        song_frames: np.ndarray,
        query_frames: int,
        query_hashes: np.ndarray | None = None,
        top_k: int | None = None,
    ) -> MatchResult:
        windows = self.windows(query_offsets, lookup, query_hashes=query_hashes)
        candidates = score_windows(
            windows,
            song_frames=song_frames,
            query_frames=query_frames,
            time_tolerance=self.time_tolerance,
            top_k=top_k or self.top_k,
        )
        is_match = bool(
            candidates
            and candidates[0].aligned_hashes >= self.min_aligned
            and candidates[0].confidence >= self.min_confidence
        )
        return MatchResult(tuple(candidates), len(query_offsets), is_match)
