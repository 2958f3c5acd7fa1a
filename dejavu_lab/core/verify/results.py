"""What the peak check says of one candidate: :class:`Verification`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verification:
    """One candidate checked peak by peak.

    Attributes
    ----------
    song_id : int
    offset_frames : int
        The offset within ``search_frames`` of the hash offset where most
        stored peaks meet query peaks.
    matched : int
        Stored peaks under the query that meet a query peak there.
    reference_peaks : int
        Stored peaks under the query there.
    background_rate : float
        Fraction of stored peaks meeting a query peak at other offsets nearby.
    z : float
        ``(matched - n p0) / sqrt(n p0 (1 - p0))`` (see :mod:`dejavu_lab.core.verify`).
    matched_frames : int
        Stored frames under the query (frames holding stored peaks) with a
        peak that meets a query peak, at the same offset.
    reference_frames : int
        Stored frames under the query there.
    frame_z : float
        ``z`` counted over frames instead of peaks, with its own background rate.
    hash_confidence : float
        The candidate's confidence from the hash vote (``-log10`` of a chance
        probability, :mod:`dejavu_lab.core.matching`).
    """

    song_id: int
    offset_frames: int
    matched: int
    reference_peaks: int
    background_rate: float
    z: float
    matched_frames: int = 0
    reference_frames: int = 0
    frame_z: float = 0.0
    hash_confidence: float = 0.0
