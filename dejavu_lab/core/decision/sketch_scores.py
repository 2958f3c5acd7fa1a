"""The sketch check's ``z`` of a query's candidates, from their songs' stored sketches.

What the sketch fold of the calibrated rule (``verifier__sketch_weight``) adds to a
candidate's evidence: :func:`sketch_scorer` scores each candidate with
:func:`~dejavu_lab.core.sketch.sketch_check`, reading the songs' sketches once, at its
first call (a recogniser reads them through a
:class:`~dejavu_lab.core.song_caches.SketchCache`). Nothing here knows about the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..matching import Candidate
from ..sketch import sketch_check
from ..verify import Verifier


def sketch_scorer(
    query: np.ndarray | None,
    candidates: Sequence[Candidate],
    *,
    verifier: Verifier,
    frame_seconds: float,
    read: Callable[[list[int]], Mapping[int, np.ndarray]],
) -> Callable[[Candidate], float | None]:
    """``z`` of the query's sketch against each candidate song's at its offset.

    Parameters
    ----------
    query : np.ndarray or None
        The query's sketch (None: none computed).
    candidates : sequence of Candidate
        The candidates that may be scored: their songs' sketches are read together, at
        the first call.
    verifier : Verifier
        Whether it folds the sketch in (``folds_sketch``), its ``search_frames`` and
        background.
    frame_seconds : float
        Length of a frame (s).
    read : callable
        ``read(song_ids)``: the stored sketches of these songs (absent: none stored).

    Returns
    -------
    callable
        ``score(candidate)``: its :func:`~dejavu_lab.core.sketch.sketch_check` ``z``, None
        for a song without a stored sketch (or without the query's, or without the fold).
    """
    if query is None or not verifier.folds_sketch:
        return lambda candidate: None
    songs: dict[int, Mapping[int, np.ndarray]] = {}

    def score(candidate: Candidate) -> float | None:
        if not songs:
            songs[0] = read([c.song_id for c in candidates])
        song = songs[0].get(candidate.song_id)
        if song is None:
            return None
        return sketch_check(
            query,
            song,
            round(candidate.offset_frames),
            search_frames=verifier.search_frames,
            background_frames=verifier.background_frames(frame_seconds),
        ).z

    return score
