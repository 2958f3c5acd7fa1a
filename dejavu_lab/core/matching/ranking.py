"""Ranking the candidates: each song's tallest window scored against chance.

**The no-match rule.** For a candidate song with ``V`` votes over ``B``
possible offset bins, chance alone puts ``lambda = V * w / B`` votes in a
window of ``w = 2 * time_tolerance + 1`` frames. The tallest window holding
``S`` votes is called significant when the Poisson tail ``P(X >= S | lambda)``,
multiplied by the number of windows tested over the whole database (a
Bonferroni correction), stays below ``10 ** -min_confidence``. ``confidence`` is
``-log10`` of that corrected probability: 3 means a bin this tall arises by
chance once in a thousand queries of music the database has never seen.

Music that only resembles the query (same instruments, same key) raises every
similar song's tallest bin together, which the Poisson background cannot see.
So the tallest bin ``S`` is also tested against the runner-up, the tallest bin
``R`` of any *other* song: ``P(X >= S | X ~ Poisson(R + 1))``. ``confidence`` is
the smaller of the two ``-log10`` probabilities, and a match needs it to reach
``min_confidence`` with at least ``min_aligned`` aligned hashes.

With a verifier in the pipeline (the default preset), these scores only rank
the candidates, and :mod:`dejavu_lab.core.verify` decides on single peaks.

:func:`~.ranking.score_windows` scores each song's tallest window
(:class:`~dejavu_lab.core.matching.windows.SongWindows`) and ranks the songs;
:func:`rank_candidates` does the same from a vote histogram. :func:`shortlist`
picks the songs that stage one of a two-stage match passes to stage two.
"""

from __future__ import annotations

import math

import numpy as np

from .lookup import Votes
from .results import Candidate
from .significance import poisson_log10_sf
from .windows import SongWindows


def _runner_up(aligned: np.ndarray) -> np.ndarray:
    """For each song, the largest value among the other songs (0 if none)."""
    if len(aligned) < 2:
        return np.zeros(len(aligned))
    order = np.argsort(aligned)
    first, second = aligned[order[-1]], aligned[order[-2]]
    runner_up = np.full(len(aligned), float(first))
    runner_up[order[-1]] = float(second)
    return runner_up


def rank_candidates(
    votes: Votes,
    *,
    song_frames: np.ndarray,
    query_frames: int,
    time_tolerance: int,
    top_k: int,
) -> list[Candidate]:
    """Each song's tallest window, scored against its own chance background.

    Parameters
    ----------
    votes : Votes
        Sorted by song, then offset difference (as :func:`~.votes.count_votes` gives them).
    song_frames : np.ndarray, indexed by song id
        Length of each song in frames (0 for unused ids); its sum sets the
        number of tests corrected for.
    query_frames : int
        Length of the query in frames.
    time_tolerance : int
    top_k : int
    """
    return score_windows(
        SongWindows.of_votes(votes, time_tolerance),
        song_frames=song_frames,
        query_frames=query_frames,
        time_tolerance=time_tolerance,
        top_k=top_k,
    )


def score_windows(
    windows: SongWindows,
    *,
    song_frames: np.ndarray,
    query_frames: int,
    time_tolerance: int,
    top_k: int,
) -> list[Candidate]:
    """Score each song's tallest window against its chance background (see the
    module docstring) and the runner-up; the ``top_k`` best candidates.

    Parameters as :func:`rank_candidates`.
    """
    if len(windows.song_id) == 0:
        return []
    width = 2 * time_tolerance + 1
    songs, totals, aligned = windows.song_id, windows.song_votes, windows.aligned
    offsets = windows.offset_frames
    known = songs < len(song_frames)
    frames = np.where(known, song_frames[np.minimum(songs, len(song_frames) - 1)], 0)
    bins = frames.astype(np.float64) + query_frames + 1
    expected = totals * width / bins
    n_songs = int(np.count_nonzero(song_frames))
    n_tests = max(1.0, (float(np.sum(song_frames)) + query_frames * n_songs) / width)
    background = -(poisson_log10_sf(aligned, expected) + math.log10(n_tests))
    # The tallest bin of every other song: music that merely resembles the
    # query (same instruments, same key) raises all of them together.
    runner_up = _runner_up(aligned)
    against_runner_up = -poisson_log10_sf(aligned, runner_up + 1.0)
    confidence = np.maximum(0.0, np.minimum(background, against_runner_up))
    ranking = np.lexsort((-aligned, -confidence))[:top_k]
    return [
        Candidate(
            song_id=int(songs[i]),
            offset_frames=float(offsets[i]),
            aligned_hashes=int(aligned[i]),
            song_votes=int(totals[i]),
            runner_up_aligned=int(runner_up[i]),
            confidence=round(float(confidence[i]), 3),
        )
        for i in ranking
    ]


def shortlist(windows: SongWindows, max_songs: int) -> np.ndarray:
    """The ``max_songs`` songs with the tallest windows (ties: more votes, lower id).

    Parameters
    ----------
    windows : SongWindows
        Usually counted on a partial lookup (the rarer hashes).
    max_songs : int

    Returns
    -------
    np.ndarray, int64
        Their ids, ascending.
    """
    ranking = np.lexsort((windows.song_id, -windows.song_votes, -windows.aligned))
    return np.sort(windows.song_id[ranking[:max_songs]])
