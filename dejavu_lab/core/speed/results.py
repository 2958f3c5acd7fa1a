"""What the speed search finds: :class:`SpeedMatch`, and the answer, :class:`ScaledAnswer`."""

from __future__ import annotations

from dataclasses import dataclass

from ..matching import Candidate, MatchResult
from ..peaks import Peaks
from .factors import Factor


@dataclass(frozen=True)
class SpeedMatch:
    """The outcome of a search over factors.

    Attributes
    ----------
    factor : Factor
        The factor whose best song had the tallest window.
    result : MatchResult
        The full match of the query at that factor (uncorrected confidences).
    peaks : Peaks
        The query's peaks mapped to the stored song's frames and bins at it.
    factors_tried : int
        Hypotheses counted (coarse and fine): the multiplicity corrected for.
    """

    factor: Factor
    result: MatchResult
    peaks: Peaks
    factors_tried: int


@dataclass(frozen=True, kw_only=True)
class ScaledAnswer:
    """An answer found at another speed or pitch: by this search, or by the triplets.

    Either keeps its own rule (:class:`~dejavu_lab.core.speed.search.SpeedSearch`'s, or
    :class:`~dejavu_lab.core.scale_matching.ScaleMatcher`'s); ``score`` is on that rule's
    scale.

    Attributes
    ----------
    speed : float
        Tempo ratio: stored frames per query frame (1.0 for a pitch shift).
    pitch_semitones : float
        Pitch change (semitones): 12 log2 of query frequency over stored frequency.
    ranked : list of Candidate
        The candidates at that speed and pitch, ``best`` first (offsets in the stored
        songs' frames).
    best : Candidate
        The answer.
    score : float
        Its hash confidence (corrected, for this search, for the factors tried) when the
        hashes decided, else its peak check's ``z``.
    z_of : dict of int to float
        The peak check's ``z`` by song, for the candidates checked.
    decided_by : str
        ``"hashes"`` or ``"peaks"``.
    """

    speed: float
    pitch_semitones: float
    ranked: list[Candidate]
    best: Candidate
    score: float
    z_of: dict[int, float]
    decided_by: str
