"""The pipeline stage of the speed search: :class:`SpeedSearch`, its grids and its search."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from ..matching import MatchResult
from ..params import Constraint, validate_params
from ..peaks import Peaks
from ..verify import Verifier
from .factors import KINDS, Factor, _nearby, factor_grid
from .results import SpeedMatch
from .scaling import scale_peaks


@dataclass(frozen=True, kw_only=True)
class SpeedSearch:
    """Pipeline stage: match queries played at another speed or pitch (queries only).

    Used when the query is no match at its own speed.

    Parameters
    ----------
    max_change : float
        Largest relative change searched: factors ``1 / (1 + max_change)`` to
        ``1 + max_change``; 0 turns the search off.
    min_change : float
        Factors within this relative change of 1 are not searched (the match
        at speed 1.0 covers them).
    min_seconds : float
        Shorter queries are not searched (s): each factor tried is another
        chance for unseen music, and a second of it gives the peak check
        little to tell a song from chance by.
    coarse_step, fine_step : float
        Relative spacing of the coarse grid and of the fine grid around the
        best coarse factors.
    keep : int
        Coarse factors refined, per kind.
    pitch : bool
        Also search pitch shifts without a tempo change.
    fan_value : int
        Query fan value of the hashes that rank the factors (sparser than the
        query's own: one lookup and one vote count for every factor at once).
    fan_seconds : float or None
        Queries longer than this (s) rank with a fan reduced in proportion
        (:meth:`rank_fan`), so that the ranking of a long query costs about
        what that of a ``fan_seconds`` query does: it already holds votes
        enough. None: ``fan_value`` at every length.
    dt_tolerance : int
        The ranking hashes also look up stored hashes whose ``dt`` differs by
        up to this many frames (as the hasher's ``query_dt_tolerance`` does for
        the full match): a peak mapped back to the song's frames is often a
        frame off, and a hash lost at the true factor is a vote lost to it.
    polish_step : float
        Each finalist is also ranked against its neighbours this relative step
        away (half a fine step: the finalist is then within a quarter of one),
        and the tallest is matched in full (0: no polish).
    finals : int
        Best-ranked factors of each kind matched in full; the best match wins.
    extra_finals : int
        When the strongest of those is no match by the hashes (after the
        correction for the factors tried), this many next best-ranked factors
        of each kind are matched in full too, and the strongest of all wins:
        a clip the first finalists name pays nothing more.
    second_step : float
        That second pass (``extra_finals`` > 0) first ranks a denser grid, in
        relative steps of ``second_step``, over the whole range (the factors
        already ranked left out), before its finalists are chosen: at 5 s the
        right song's votes halve 0.15 % from the true factor, so a coarse grid
        sees a factor half-way between two of its own at neither (0: no new
        grid).
    first_match : bool
        Match the finalists tallest first and stop at the first that is a
        match by the hashes (after the correction for the factors tried),
        instead of matching them all and keeping the strongest.
    candidates : int
        Candidates of the best factor checked peak by peak (0: the hashes
        alone decide).
    min_z, min_frame_z, min_fraction : float
        The peak check's thresholds for a candidate found by the search (see
        :class:`~dejavu_lab.core.verify.verifier.Verifier`; its tolerances are used).
    """

    max_change: float = 0.0
    min_change: float = 0.005
    min_seconds: float = 0.0
    coarse_step: float = 0.01
    fine_step: float = 0.002
    keep: int = 2
    pitch: bool = False
    fan_value: int = 8
    fan_seconds: float | None = None
    dt_tolerance: int = 0
    polish_step: float = 0.0
    finals: int = 1
    extra_finals: int = 0
    second_step: float = 0.0
    first_match: bool = False
    candidates: int = 3
    min_z: float = 8.5
    min_frame_z: float = 5.0
    min_fraction: float = 0.10

    _constraints: ClassVar[dict[str, Constraint]] = {
        "max_change": Constraint(float, 0.0, 0.5),
        "min_change": Constraint(float, 0.0, 0.5),
        "min_seconds": Constraint(float, 0.0, 3600.0),
        "coarse_step": Constraint(float, 0.0005, 0.2),
        "fine_step": Constraint(float, 0.0001, 0.2),
        "keep": Constraint(int, 1, 100),
        "pitch": Constraint(bool),
        "fan_value": Constraint(int, 1, 100),
        "fan_seconds": Constraint(float, 0.1, 3600.0, allow_none=True),
        "dt_tolerance": Constraint(int, 0, 3),
        "polish_step": Constraint(float, 0.0, 0.2),
        "finals": Constraint(int, 1, 20),
        "extra_finals": Constraint(int, 0, 20),
        "second_step": Constraint(float, 0.0, 0.2),
        "first_match": Constraint(bool),
        "candidates": Constraint(int, 0, 100),
        "min_z": Constraint(float, 0.0, 1000.0),
        "min_frame_z": Constraint(float, 0.0, 1000.0),
        "min_fraction": Constraint(float, 0.0, 1.0),
    }

    def __post_init__(self) -> None:
        validate_params(self)

    @property
    def enabled(self) -> bool:
        """Whether queries are searched over factors at all."""
        return self.max_change > 0

    def searches(self, query_seconds: float) -> bool:
        """Whether a query of ``query_seconds`` (s) that is no match is searched."""
        return self.enabled and query_seconds + 1e-9 >= self.min_seconds

    def rank_fan(self, query_seconds: float) -> int:
        """Query fan of the ranking hashes for a query of ``query_seconds`` (s)."""
        if self.fan_seconds is None or query_seconds <= self.fan_seconds:
            return self.fan_value
        return max(1, round(self.fan_value * self.fan_seconds / query_seconds))

    def verifier(self, base: Verifier) -> Verifier:
        """``base`` with this search's thresholds (and no support rule)."""
        return replace(
            base,
            min_z=self.min_z,
            min_frame_z=self.min_frame_z,
            min_fraction=self.min_fraction,
            support_confidence=None,
        )

    def kinds(self) -> tuple[str, ...]:
        """The kinds of change searched."""
        return KINDS if self.pitch else ("speed",)

    def coarse_factors(self) -> list[Factor]:
        """The coarse grid of every kind."""
        values = factor_grid(
            low=1.0 / (1.0 + self.max_change),
            high=1.0 + self.max_change,
            step=self.coarse_step,
            skip_near_one=self.min_change,
        )
        return [Factor(kind, float(v)) for kind in self.kinds() for v in values]

    def second_factors(self, ranked: list[Factor]) -> list[Factor]:
        """The second pass's grid (step ``second_step``), of every kind, less the factors
        within a quarter of its step of one in ``ranked`` (already ranked)."""
        low, high = 1.0 / (1.0 + self.max_change), 1.0 + self.max_change
        values = factor_grid(
            low=low, high=high, step=self.second_step, skip_near_one=self.min_change
        )
        near = math.log1p(self.second_step) / 4
        out = []
        for kind in self.kinds():
            done = np.sort(np.log([f.value for f in ranked if f.kind == kind] or [np.inf]))
            logs = np.log(values)
            at = np.clip(np.searchsorted(done, logs), 1, max(1, len(done) - 1))
            gap = np.minimum(
                np.abs(logs - done[at - 1]), np.abs(logs - done[np.minimum(at, len(done) - 1)])
            )
            out += [Factor(kind, float(v)) for v, g in zip(values, gap, strict=True) if g > near]
        return out

    def fine_factors(self, around: Factor) -> list[Factor]:
        """The fine grid within half a coarse step of ``around`` (itself excluded)."""
        reach = math.floor(0.5 * self.coarse_step / self.fine_step + 1e-9)
        values = around.value * (1.0 + self.fine_step) ** np.arange(-reach, reach + 1)
        low, high = 1.0 / (1.0 + self.max_change), 1.0 + self.max_change
        return [
            Factor(around.kind, float(v))
            for v in values
            if low - 1e-12 <= v <= high + 1e-12 and not math.isclose(v, around.value)
        ]

    def _polish(
        self,
        peaks: Peaks,
        finalists: list[tuple[int, Factor]],
        count: Callable[[Peaks, list[Factor]], np.ndarray],
    ) -> tuple[list[tuple[int, Factor]], list[Factor], list[int]]:
        """Each finalist moved to the tallest of itself and its neighbours ``polish_step`` away.

        A finalist on the fine grid is up to half a fine step from the truth,
        where a high bin is already half a bin off: its full match loses votes,
        and a varispeed clip's pitch hypothesis can then outscore it. One more
        ranking pass over the finalists' neighbours (ties keep the finalist).

        Returns the finalists, the factors counted and their heights.
        """
        nearby = [f for _, factor in finalists for f in _nearby(factor, self.polish_step)]
        heights = [int(h) for h in count(peaks, nearby)]
        polished = []
        for index, (height, factor) in enumerate(finalists):
            best = (height, factor)
            for k in (2 * index, 2 * index + 1):
                if heights[k] > best[0]:
                    best = (int(heights[k]), nearby[k])
            polished.append(best)
        return polished, nearby, heights

    def scaled(self, peaks: Peaks, factor: Factor) -> Peaks:
        """``peaks`` mapped to the stored song's frames and bins under ``factor``."""
        return scale_peaks(peaks, freq_scale=factor.freq_scale, time_scale=factor.time_scale)

    def search(
        self,
        peaks: Peaks,
        *,
        count: Callable[[Peaks, list[Factor]], np.ndarray],
        match: Callable[[Peaks, Factor], MatchResult],
        accept: Callable[[SpeedMatch], bool] | None = None,
        decided: Callable[[SpeedMatch], bool] | None = None,
    ) -> SpeedMatch:
        """Rank coarse factors, then fine ones around the best; match at the best of each kind.

        If the strongest match is no answer by the hashes (``decided``), a
        second pass: a denser grid (``second_step``) is ranked and the next
        ``extra_finals`` best factors of each kind are matched too.

        Parameters
        ----------
        peaks : Peaks
            The query's peaks.
        count : callable
            ``count(peaks, factors)``: for each factor, the tallest window of
            any song of the query's peaks mapped back under it, with the
            sparser hashes of ``fan_value`` (int array).
        match : callable
            ``match(scaled_peaks, factor)``: the full match of one peak set.
        accept : callable, optional
            ``accept(found)``: whether a finalist's match is an answer without
            matching the others (finalists are matched tallest first). None:
            every finalist is matched and the strongest wins.
        decided : callable, optional
            ``decided(found)``: whether the strongest finalist's match is an
            answer by the hashes. If not, and ``extra_finals``, the next
            ``extra_finals`` best-ranked factors of each kind are matched too
            (polished likewise) and the strongest of all wins. None: never.
        """
        factors = self.coarse_factors()
        heights = list(count(peaks, factors))
        fine: list[Factor] = []
        for kind in self.kinds():
            mine = [i for i, f in enumerate(factors) if f.kind == kind]
            mine.sort(key=lambda i: heights[i], reverse=True)
            for i in mine[: self.keep]:
                fine += self.fine_factors(factors[i])
        if fine:
            factors += fine
            heights += list(count(peaks, fine))
        # The best factor of each kind is matched in full, and the better match wins:
        # sustained notes hardly tell a tempo change from none in the coarse counts.
        # With ``accept``, finalists are matched from the tallest down, and one it takes
        # ends the search.
        finalists = self._finalists(factors, heights, self.finals, [])
        if self.polish_step > 0 and finalists:
            finalists, polished, polished_heights = self._polish(peaks, finalists, count)
            factors += polished
            heights += polished_heights
        if accept is not None:
            finalists.sort(key=lambda pair: pair[0], reverse=True)
        finals = []
        for _, factor in finalists:
            scaled = self.scaled(peaks, factor)
            found = SpeedMatch(factor, match(scaled, factor), scaled, len(factors))
            if accept is not None and accept(found):
                return found
            finals.append(found)
        best = max(finals, key=_strength)
        if not self.extra_finals or decided is None or decided(best):
            return best
        # No finalist is an answer by the hashes: a second pass. A denser grid is
        # ranked (``second_step``), then the next best-ranked factors of each kind
        # (apart from those matched) are matched, and the strongest of all wins.
        if self.second_step > 0:
            denser = self.second_factors(factors)
            factors += denser
            heights += [int(h) for h in count(peaks, denser)]
        chosen = [found.factor for found in finals]
        extra = self._finalists(factors, heights, self.extra_finals, chosen)
        if self.polish_step > 0 and extra:
            extra, polished, polished_heights = self._polish(peaks, extra, count)
            factors += polished
            heights += polished_heights
        for _, factor in extra:
            scaled = self.scaled(peaks, factor)
            finals.append(SpeedMatch(factor, match(scaled, factor), scaled, len(factors)))
        best = max(finals, key=_strength)
        return replace(best, factors_tried=len(factors))

    def _finalists(
        self, factors: list[Factor], heights: list[int], n: int, matched: list[Factor]
    ) -> list[tuple[int, Factor]]:
        """The ``n`` tallest factors of each kind, each more than a fine step from the others
        and from ``matched`` (not the same peak twice)."""
        out: list[tuple[int, Factor]] = []
        for kind in self.kinds():
            mine = [i for i, f in enumerate(factors) if f.kind == kind]
            mine.sort(key=lambda i: heights[i], reverse=True)
            apart = [f for f in matched if f.kind == kind]
            chosen: list[Factor] = []
            for i in mine:
                if len(chosen) == n:
                    break
                if all(
                    abs(factors[i].value / other.value - 1) > 1.5 * self.fine_step
                    for other in apart + chosen
                ):
                    chosen.append(factors[i])
                    out.append((int(heights[i]), factors[i]))
        return out


def _strength(found: SpeedMatch) -> tuple[float, int]:
    """What decides between the kinds: the best candidate's confidence, then votes."""
    if not found.result.candidates:
        return (0.0, 0)
    best = found.result.candidates[0]
    return (best.confidence, best.aligned_hashes)
