"""Matching queries played faster, slower or at another pitch: a search over scale factors.

A landmark ``(f1, f2, dt)`` on linear FFT bins moves by several bins when the
spectrum is scaled by a few per cent, so a clip played 3 % fast keeps almost no
stored hash. Rather than new hashes, the query's *peaks* are mapped back to the
reference's coordinates for each candidate factor and hashed again (no new
analysis of the audio), and each factor is matched as an ordinary query:

- varispeed by ``s`` (a turntable or a pitch control; 1.02 is 2 % fast and
  34 cents high): a query peak at bin ``b`` and frame ``t`` stands for the
  stored peak at bin ``b / s`` and frame ``t * s``;
- pitch shift by ``p`` without tempo change: bin ``b / p``, frame ``t``.

Factors are tried coarse to fine: a coarse grid over the range, then a fine
grid around the best coarse ones; if the best of those is no match by the
hashes, a second pass ranks a denser grid over the whole range and matches
its best factors too. Offsets come out in the reference's frames.

**False matches.** Every factor tried is one more chance for unseen music to
raise a tall bin. The hash confidence of a factor's best candidate (``-log10``
of a chance probability, :mod:`dejavu_lab.core.matching`) is lowered by
``log10`` of the number of factors tried (a Bonferroni correction) before the
matcher's rule is applied; the peak check (:mod:`dejavu_lab.core.verify`) sees
only the best factor's candidates, with the thresholds of :class:`SpeedSearch`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from .hashing import MAX_BIN, MAX_DT, Fingerprints, Hasher, tolerance_steps
from .matching import Candidate, Lookup, MatchResult
from .params import Constraint, validate_params
from .peaks import Peaks
from .verify import Verifier

#: Kinds of change a :class:`Factor` stands for.
KINDS = ("speed", "pitch")


@dataclass(frozen=True)
class Factor:
    """One hypothesis about how the query was changed.

    Attributes
    ----------
    kind : str
        ``"speed"`` (tempo and pitch together) or ``"pitch"`` (pitch alone).
    value : float
        The ratio: query frequency over stored frequency (and, for
        ``"speed"``, stored duration over query duration).
    """

    kind: str
    value: float

    @property
    def freq_scale(self) -> float:
        """Query frequency over stored frequency."""
        return self.value

    @property
    def time_scale(self) -> float:
        """Stored frames per query frame."""
        return self.value if self.kind == "speed" else 1.0

    @property
    def speed(self) -> float:
        """Tempo ratio (1.0 for a pitch shift)."""
        return self.time_scale

    @property
    def pitch_semitones(self) -> float:
        """Pitch change (semitones)."""
        return 12.0 * math.log2(self.value)


def scale_peaks(peaks: Peaks, *, freq_scale: float, time_scale: float) -> Peaks:
    """Map query peaks to the stored song's frames and bins.

    Parameters
    ----------
    peaks : Peaks
        Peaks of the query, sorted by frame.
    freq_scale : float, > 0
        Query frequency over stored frequency: bins are divided by it (rounded).
    time_scale : float, > 0
        Stored frames per query frame: frames are multiplied by it (rounded).

    Returns
    -------
    Peaks
        Still sorted by frame; peaks falling outside the hash's bin range are
        dropped. ``n_frames`` is scaled too.
    """
    if freq_scale <= 0 or time_scale <= 0:
        raise ValueError(f"scale_peaks: scales must be > 0, not {freq_scale}, {time_scale}")
    bins = np.rint(peaks.bin / freq_scale).astype(np.int32)
    frames = np.rint(peaks.frame * time_scale).astype(np.int32)
    keep = (bins >= 0) & (bins <= MAX_BIN)
    return Peaks(
        frame=frames[keep],
        bin=bins[keep],
        amp_db=peaks.amp_db[keep],
        frame_seconds=peaks.frame_seconds,
        n_frames=round(peaks.n_frames * time_scale),
    )


#: Frames between the peak sets that :func:`hash_sets` hashes together.
SET_GAP_FRAMES = 1 << 16


def hash_sets(peak_sets: list[Peaks], hasher: Hasher) -> tuple[Fingerprints, np.ndarray]:
    """Query hashes of several peak sets in one pass.

    The sets are laid end to end, :data:`SET_GAP_FRAMES` apart (more than any
    ``max_dt``, so no pair joins two sets), hashed at once, and the offsets
    put back in each set's own frames.

    Returns
    -------
    Fingerprints
        Every set's hashes, offsets in its own frames.
    owner : np.ndarray, int64
        Which set each hash belongs to.
    """
    if not peak_sets:
        return Fingerprints.empty(), np.zeros(0, np.int64)
    shift = np.repeat(
        np.arange(len(peak_sets), dtype=np.int64) * SET_GAP_FRAMES, [len(p) for p in peak_sets]
    )
    joined = Peaks(
        frame=np.concatenate([p.frame for p in peak_sets]).astype(np.int64) + shift,
        bin=np.concatenate([p.bin for p in peak_sets]),
        amp_db=np.concatenate([p.amp_db for p in peak_sets]),
        frame_seconds=peak_sets[0].frame_seconds,
        n_frames=len(peak_sets) * SET_GAP_FRAMES,
    )
    hashed = hasher(joined, query=True)
    owner = hashed.offsets.astype(np.int64) // SET_GAP_FRAMES
    offsets = (hashed.offsets - owner * SET_GAP_FRAMES).astype(np.int32)
    return Fingerprints(hashed.hashes, offsets), owner


def scaled_hashes(
    peaks: Peaks, factors: list[Factor], hasher: Hasher
) -> tuple[Fingerprints, np.ndarray]:
    """Query hashes of ``peaks`` mapped back under each factor, in one compiled pass.

    The hashes of ``hash_sets([scale_peaks(peaks, ...) for each factor], hasher)``
    (:func:`scale_peaks`, :func:`hash_sets`), grouped by factor rather than
    sorted, without the peak sets being built: the frames and bins of every
    set are scaled at once and each set paired on its own
    (:func:`~dejavu_lab.core._kernels.speed.scaled_set_hashes`). Repeated
    (hash, offset) pairs, which :func:`hash_sets` drops, need two peaks on
    one scaled (frame, bin): peaks dominating a neighbourhood of a bin and a
    frame or more never do at these factors.

    Returns
    -------
    Fingerprints
        Every set's hashes, offsets in its own (the stored song's) frames.
    owner : np.ndarray, int64
        Which factor each hash belongs to.
    """
    from ._kernels.speed import scaled_set_hashes

    if not factors or not len(peaks):
        return Fingerprints.empty(), np.zeros(0, np.int64)
    freq = np.array([f.freq_scale for f in factors])[:, None]
    time = np.array([f.time_scale for f in factors])[:, None]
    bins = np.rint(peaks.bin[None, :] / freq).astype(np.int64)
    frames = np.rint(peaks.frame[None, :] * time).astype(np.int64)
    keep = (bins >= 0) & (bins <= MAX_BIN)
    fan = hasher.query_fan_value if hasher.query_fan_value is not None else hasher.fan_value
    hashes, offsets, owner = scaled_set_hashes(
        frames,
        bins,
        keep,
        fan,
        hasher.min_dt,
        hasher.max_dt,
        -1 if hasher.max_df is None else hasher.max_df,
    )
    return Fingerprints(hashes, offsets), owner


def dt_variants(hashes: np.ndarray, *, dt_tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """Each hash and those whose ``dt`` differs by up to ``dt_tolerance`` frames, side by side.

    The variants of :func:`~dejavu_lab.core.hashing.tolerance_variants` (without
    frequency tolerance), in another order: a hash's variants follow it (``dt``
    is the hash's low field, so they are neighbouring values), which keeps the
    owner of each variant in its hash's order and the index's reads together.

    Returns
    -------
    variants : np.ndarray, uint32
    origin : np.ndarray, int64
        Index into ``hashes`` of each variant's original (non-decreasing).
    """
    hashes = np.asarray(hashes, dtype=np.uint32)
    steps = np.array(tolerance_steps(dt_tolerance), dtype=np.int64)
    dt = (hashes & np.uint32(MAX_DT)).astype(np.int64)
    moved = dt[:, None] + steps[None, :]
    ok = (moved >= 0) & (moved <= MAX_DT)
    values = hashes.astype(np.int64)[:, None] + steps[None, :]
    origin = np.broadcast_to(np.arange(len(hashes), dtype=np.int64)[:, None], ok.shape)
    return values[ok].astype(np.uint32), origin[ok]


#: Buckets a peak set of :func:`tallest_windows` (a power of 2).
SET_BUCKETS = 1 << 15
#: Odd multiplier spreading songs over the buckets.
_SONG_STRIDE = 40503


def tallest_windows(
    owner: np.ndarray, song_id: np.ndarray, diff: np.ndarray, *, n_sets: int, time_tolerance: int
) -> np.ndarray:
    """For each peak set, about the tallest window of votes of any song.

    Votes (every row, repeated hashes included) are counted in
    :data:`SET_BUCKETS` buckets a set, ``(song * stride + diff) mod buckets``:
    neighbouring offsets of a song stay neighbours, and other songs' votes
    fall into a bucket by chance (rows / buckets on average, a fraction of a
    vote for a query of a few seconds).

    Parameters
    ----------
    owner : np.ndarray, int
        Peak set of each row (0 .. n_sets - 1).
    song_id : np.ndarray, int
    diff : np.ndarray, int
        Stored offset minus query offset (frames).
    n_sets : int
    time_tolerance : int
        Window half-width (frames).

    Returns
    -------
    np.ndarray, shape (n_sets,), int64
    """
    cell = song_id.astype(np.int64) * _SONG_STRIDE + diff
    cell &= SET_BUCKETS - 1
    cell += owner.astype(np.int64) * SET_BUCKETS
    table = np.bincount(cell, minlength=n_sets * SET_BUCKETS).reshape(n_sets, SET_BUCKETS)
    # Wrap each set's buckets around so that windows at the ends are whole.
    wide = np.concatenate(
        [table[:, SET_BUCKETS - time_tolerance :], table, table[:, :time_tolerance]], axis=1
    )
    windowed = table.copy()
    for delta in range(-time_tolerance, time_tolerance + 1):
        if delta:
            windowed += wide[:, time_tolerance + delta : time_tolerance + delta + SET_BUCKETS]
    return np.asarray(windowed.max(axis=1), dtype=np.int64)


def distinct_keys(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct hashes (in order of first occurrence), and which one each hash is.

    Returns
    -------
    keys : np.ndarray, uint32
    key_of : np.ndarray, int64
        ``keys[key_of]`` equals ``hashes``.
    """
    from ._kernels.speed import distinct_keys as compiled

    hashes = np.asarray(hashes, dtype=np.uint32)
    if not len(hashes):
        return hashes, np.zeros(0, np.int64)
    keys, key_of = compiled(hashes)
    return np.asarray(keys, dtype=np.uint32), np.asarray(key_of, dtype=np.int64)


def window_heights(
    owner: np.ndarray,
    query_offsets: np.ndarray,
    key_of: np.ndarray,
    found: Lookup,
    *,
    n_sets: int,
    time_tolerance: int,
) -> np.ndarray:
    """:func:`tallest_windows` of several sets' hashes, from the rows of their distinct values.

    Parameters
    ----------
    owner : np.ndarray, int, one per query hash
        The peak set of each query hash (0 .. n_sets - 1).
    query_offsets : np.ndarray, int, one per query hash
        Frame of each query hash.
    key_of : np.ndarray, int, one per query hash
        Which distinct value it has (see
        :func:`~dejavu_lab.core._kernels.speed.distinct_keys`).
    found : Lookup
        The rows of the distinct values (``query_index`` refers to them).
    n_sets, time_tolerance : int
        As :func:`tallest_windows`.

    Returns
    -------
    np.ndarray, shape (n_sets,), int64
        Equal to ``tallest_windows(owner[q], song_id, offset - query_offsets[q], ...)``
        over every (query hash ``q``, row of its value) pair.
    """
    from ._kernels.speed import set_window_heights

    owner = np.asarray(owner, dtype=np.int64)
    query_offsets = np.asarray(query_offsets)
    key_of = np.asarray(key_of, dtype=np.int64)
    if len(owner) > 1 and np.any(owner[1:] < owner[:-1]):
        order = np.argsort(owner, kind="stable")
        owner, query_offsets, key_of = owner[order], query_offsets[order], key_of[order]
    set_start = np.searchsorted(owner, np.arange(n_sets + 1, dtype=np.int64))
    index, song_id, offset = found.query_index, found.song_id, found.offset
    if len(index) > 1 and np.any(index[1:] < index[:-1]):
        order = np.argsort(index, kind="stable")
        index, song_id, offset = index[order], song_id[order], offset[order]
    n_keys = int(key_of.max()) + 1 if len(key_of) else 0
    row_start = np.zeros(n_keys + 1, dtype=np.int64)
    np.cumsum(np.bincount(index, minlength=n_keys)[:n_keys], out=row_start[1:])
    return np.asarray(
        set_window_heights(
            set_start,
            query_offsets,
            key_of,
            row_start,
            song_id,
            offset,
            time_tolerance,
            SET_BUCKETS,
            _SONG_STRIDE,
        ),
        dtype=np.int64,
    )


def factor_grid(*, low: float, high: float, step: float, skip_near_one: float) -> np.ndarray:
    """Factors from ``low`` to ``high`` in relative steps of ``step``, in log scale.

    Factors within ``skip_near_one`` of 1 (relative) are left out: speed 1.0 is
    matched without a search.

    Returns
    -------
    np.ndarray, float64, ascending
    """
    n_down = math.floor(-math.log(low) / math.log1p(step) + 1e-9)
    n_up = math.floor(math.log(high) / math.log1p(step) + 1e-9)
    grid = (1.0 + step) ** np.arange(-n_down, n_up + 1, dtype=np.float64)
    return grid[np.abs(np.log(grid)) > math.log1p(skip_near_one) - 1e-12]


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

    Either keeps its own rule (:class:`SpeedSearch`'s, or
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
        :class:`~dejavu_lab.core.verify.Verifier`; its tolerances are used).
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


def _nearby(factor: Factor, step: float) -> list[Factor]:
    """``factor`` moved by ``step`` (relative) either way."""
    return [Factor(factor.kind, factor.value * (1.0 + step) ** k) for k in (-1, 1)]


def _strength(found: SpeedMatch) -> tuple[float, int]:
    """What decides between the kinds: the best candidate's confidence, then votes."""
    if not found.result.candidates:
        return (0.0, 0)
    best = found.result.candidates[0]
    return (best.confidence, best.aligned_hashes)


def corrected(
    result: MatchResult, *, tests: int, min_aligned: int, min_confidence: float
) -> MatchResult:
    """``result`` with every confidence lowered by ``log10(tests)`` and the rule applied again.

    Parameters
    ----------
    result : MatchResult
    tests : int, >= 1
        Factors tried.
    min_aligned : int
    min_confidence : float
        The matcher's rule.
    """
    penalty = math.log10(max(1, tests))
    candidates = tuple(
        replace(c, confidence=round(max(0.0, c.confidence - penalty), 3)) for c in result.candidates
    )
    is_match = bool(
        candidates
        and candidates[0].aligned_hashes >= min_aligned
        and candidates[0].confidence >= min_confidence
    )
    return MatchResult(candidates, result.input_hashes, is_match)
