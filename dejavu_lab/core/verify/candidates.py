"""The peak check of a query's hash candidates, their stored rows read through a callable."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..matching import Candidate
from ..peaks import Peaks
from .peak_sets import PeakSet
from .results import Verification
from .stretches import Stretches
from .verifier import Verifier


def check_candidates(
    ranked: Sequence[Candidate],
    query_peaks: Peaks,
    query_frames: int,
    *,
    verifier: Verifier,
    frame_seconds: float,
    reach_back: int,
    read: Callable[[list[int], list[int], list[int]], Stretches],
    passes: Callable[[Verification], bool] | None = None,
) -> list[Verification]:
    """Check candidates peak by peak, best first, until one passes.

    Parameters
    ----------
    ranked : sequence of Candidate
        The hash vote's candidates, best first: the first ``verifier.candidates`` are
        checked.
    query_peaks : Peaks
        The query's peaks.
    query_frames : int
        The query's length (frames).
    verifier : Verifier
        The check's tolerances and thresholds.
    frame_seconds : float
        Length of a frame (s).
    reach_back : int
        Frames read before each candidate's
        :meth:`~dejavu_lab.core.verify.verifier.Verifier.window` (the hasher's ``max_dt``).
    read : callable
        ``read(song_ids, start, stop)``: each song's stored rows with
        ``start <= offset < stop``, all at once (a store's ``song_stretches``).
    passes : callable, optional
        Whether a check passes; default the verifier's thresholds.

    Returns
    -------
    list of Verification
        The checks made: the last one passed, if any did.
    """
    passes = passes or verifier.passes
    query = PeakSet.from_arrays(query_peaks.frame, query_peaks.bin)
    chosen = list(ranked[: verifier.candidates])
    if not chosen:
        return []
    windows = [verifier.window(c.offset_frames, frame_seconds, query_frames) for c in chosen]
    # Targets of anchors up to max_dt frames earlier land in the window too.
    stretches = read(
        [c.song_id for c in chosen],
        [first - reach_back for first, _ in windows],
        [stop for _, stop in windows],
    )
    return verifier.check_stretches(
        query,
        stretches,
        song_ids=[c.song_id for c in chosen],
        offsets_frames=[c.offset_frames for c in chosen],
        query_frames=query_frames,
        frame_seconds=frame_seconds,
        hash_confidences=[float(c.confidence) for c in chosen],
        passes=passes,
    )
