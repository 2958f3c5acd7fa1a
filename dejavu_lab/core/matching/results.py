"""The matcher's answer: each candidate song's best-aligned offset, and the decision.

A :class:`Candidate`'s ``confidence`` is that of the no-match rule (see
:mod:`dejavu_lab.core.matching.ranking`); a :class:`MatchResult` holds the
ranked candidates and whether the best one passes the rule.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """One song's best-aligned offset.

    Attributes
    ----------
    song_id : int
    offset_frames : float
        Where the query starts in the song (frames): the vote-weighted mean
        offset of the window, finer than one frame.
    aligned_hashes : int
        Votes within the tolerance window around that offset.
    song_votes : int
        All votes this song received, at any offset.
    runner_up_aligned : int
        The tallest window of any other song.
    confidence : float
        ``-log10`` of the corrected chance probability (see module docstring).
    """

    song_id: int
    offset_frames: float
    aligned_hashes: int
    song_votes: int
    runner_up_aligned: int
    confidence: float


@dataclass(frozen=True)
class MatchResult:
    """The matcher's answer to one query.

    Attributes
    ----------
    candidates : tuple of Candidate
        Best first, at most ``top_k``.
    input_hashes : int
        Hashes extracted from the query.
    is_match : bool
        Whether the best candidate passes the no-match rule.
    """

    candidates: tuple[Candidate, ...]
    input_hashes: int
    is_match: bool

    @property
    def best(self) -> Candidate | None:
        """The best candidate if it is a match, else None."""
        return self.candidates[0] if self.is_match and self.candidates else None
