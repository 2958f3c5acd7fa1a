"""Voting on offset differences, ranking candidates, and the no-match rule.

Each query hash found in the database votes for ``(song, db_offset -
query_offset)``: a true match piles its votes into one bin (the query's start
in the song), chance coincidences scatter theirs over every offset.

**The no-match rule.** Each song's tallest window of votes is tested against
two chance explanations: random coincidences (a Poisson background of the
song's own votes, corrected for every window tested over the whole database),
and resemblance (the tallest window of any other song). ``confidence`` is the
smaller of the two ``-log10`` probabilities: 3 means a bin this tall arises by
chance once in a thousand queries of music the database has never seen. A
match needs it to reach ``min_confidence`` with at least ``min_aligned``
aligned hashes (:mod:`.ranking` gives the details).

With a verifier in the pipeline (the default preset), these scores only rank
the candidates, and :mod:`dejavu_lab.core.verify` decides on single peaks.

One module a step, from the rows a store found to the answer; every name below
imports from this package:

- :mod:`.lookup`: what a store hands the matcher, the rows its lookup found
  (:class:`~.lookup.Lookup`) and, when a server counts them, their votes
  (:class:`~.lookup.Votes`);
- :mod:`.prefiltering`: only the songs that could hold the tallest windows are
  counted (:func:`~.prefiltering.prefilter`, :func:`~.prefiltering.song_bounds`,
  :func:`~.prefiltering.keep_songs`, :data:`~.prefiltering.PREFILTER_SONGS`);
- :mod:`.votes`: the histogram on (song, offset difference), each distinct hash
  counted once (:func:`~.votes.count_votes`);
- :mod:`.windows`: each song's tallest window and the query's offset in the song
  (:class:`~.windows.SongWindows`, :func:`~.windows.song_windows`,
  :data:`~.windows.DENSE_CELLS`);
- :mod:`.significance`: the Poisson tail (:func:`~.significance.poisson_log10_sf`);
- :mod:`.ranking`: the no-match rule's scores, the ranking, and stage one's
  shortlist (:func:`~.ranking.score_windows`, :func:`~.ranking.rank_candidates`,
  :func:`~.ranking.shortlist`);
- :mod:`.results`: the answer (:class:`~.results.Candidate`,
  :class:`~.results.MatchResult`);
- :mod:`.matcher`: the pipeline stage (:class:`~.matcher.Matcher`).

The ``PREFILTER_*`` and ``DENSE_CELLS*`` settings are looked up in
:mod:`.prefiltering` and :mod:`.windows` when a count runs: set them there.
"""

from __future__ import annotations

from .lookup import Lookup, Votes
from .matcher import Matcher

# Copies of the values, for reading: the count looks them up in .prefiltering.
from .prefiltering import PREFILTER_BINS as PREFILTER_BINS
from .prefiltering import PREFILTER_BINS_PER_ROW as PREFILTER_BINS_PER_ROW
from .prefiltering import PREFILTER_FIRST_PASS as PREFILTER_FIRST_PASS
from .prefiltering import PREFILTER_FIRST_PASS_MIN_BINS as PREFILTER_FIRST_PASS_MIN_BINS
from .prefiltering import PREFILTER_SONGS as PREFILTER_SONGS

# Private (and _compiled_windows, _dense_windows below), but tests read them here.
from .prefiltering import _bound_table as _bound_table
from .prefiltering import keep_songs, prefilter, song_bounds
from .ranking import rank_candidates, score_windows, shortlist
from .results import Candidate, MatchResult
from .significance import poisson_log10_sf
from .votes import count_votes

# Copies of the values, for reading: the count looks them up in .windows.
from .windows import DENSE_CELLS as DENSE_CELLS
from .windows import DENSE_CELLS_PER_ROW as DENSE_CELLS_PER_ROW
from .windows import SongWindows, song_windows
from .windows import _compiled_windows as _compiled_windows
from .windows import _dense_windows as _dense_windows

__all__ = [
    "Candidate",
    "Lookup",
    "MatchResult",
    "Matcher",
    "SongWindows",
    "Votes",
    "count_votes",
    "keep_songs",
    "poisson_log10_sf",
    "prefilter",
    "rank_candidates",
    "score_windows",
    "shortlist",
    "song_bounds",
    "song_windows",
]
