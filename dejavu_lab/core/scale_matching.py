"""Matching triplet hashes: fit the offset *and* the speed of a query.

The rows a query's triplet hashes find (:mod:`dejavu_lab.core.invariant`)
pair a query frame ``q`` with a stored frame ``r``. A clip of song ``S``
played at speed ``s`` from stored frame ``b`` gives rows on the line
``r = s * q + b``; chance rows scatter. The line is found in two passes:

1. **Coarse.** With ``u = q - query_frames / 2``, every row votes for the
   block of ``m = r - u`` (its intercept at ``s = 1``). Over the searched
   speeds the true ``m = r - s * u`` moves by less than a block, so the true
   line's rows share a block (or two neighbours). Votes are counted in a
   fixed number of buckets, ``(song * stride + block) mod buckets``, as in
   :func:`~dejavu_lab.core.speed.tallest_windows`.
2. **Fine.** The rows of the tallest few block pairs are voted again on a grid
   of speeds and whole-frame intercepts; the best cell's rows are fitted by
   least squares, giving ``s`` and ``b`` (the offset in the stored song's
   frames).

The frequency scale, which triplet hashes cannot see, is found afterwards by
:func:`choose_scales` against the song's stored peaks: for a varispeed it equals
the speed, for a pitch shift the speed is 1, for a time stretch the
frequency scale is 1.

The confidence of a fit is ``-log10`` of the Poisson chance of so many rows
in one cell given the song's rows, less ``log10`` of the cells tried (speeds
times stored frames over the window), as for landmarks
(:mod:`dejavu_lab.core.matching`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .matching import poisson_log10_sf
from .params import Constraint, validate_params
from .verify import PeakSet

#: Buckets of the coarse count (a power of 2).
COARSE_BUCKETS = 1 << 18
#: Odd multiplier spreading songs over the buckets.
_SONG_STRIDE = 40503
#: How a row votes (:meth:`ScaleRows.weights`): ``1 / rows`` of its query triplet, or 1.
VOTES = ("share", "unit")


@dataclass(frozen=True)
class ScaleRows:
    """What a query's triplet lookup found, one entry a row.

    Attributes
    ----------
    query_frame : np.ndarray, shape (n,), float64
        Frame of the query triplet's anchor.
    song_id : np.ndarray, shape (n,), int64
    offset : np.ndarray, shape (n,), int64
        Frame of the stored triplet's anchor.
    triplet : np.ndarray, shape (n,), int64
        Which query triplet found the row.
    """

    query_frame: np.ndarray
    song_id: np.ndarray
    offset: np.ndarray
    triplet: np.ndarray

    def __len__(self) -> int:
        return len(self.song_id)

    def weights(self, votes: str = "share") -> np.ndarray:
        """Each row's vote.

        ``"share"``: ``1 / rows`` of the row's query triplet (a triplet heard
        many times counts once); ``"unit"``: 1.
        """
        if votes == "unit":
            return np.ones(len(self))
        if votes != "share":
            raise ValueError(f"votes={votes!r}: expected one of {', '.join(map(repr, VOTES))}")
        found = np.bincount(self.triplet)
        return 1.0 / found[self.triplet]


@dataclass(frozen=True)
class ScaleFit:
    """One song's best line ``stored_frame = speed * query_frame + offset_frames``.

    Attributes
    ----------
    song_id : int
    speed : float
        Stored frames per query frame: the query's tempo over the song's.
    offset_frames : float
        Stored frame at the query's first frame.
    aligned_rows : int
        Rows within the time tolerance of the line.
    song_rows : int
        Every row of this song.
    confidence : float
        ``-log10`` of the corrected chance probability.
    """

    song_id: int
    speed: float
    offset_frames: float
    aligned_rows: int
    song_rows: int
    confidence: float


def speed_grid(*, max_change: float, step: float) -> np.ndarray:
    """Speeds ``1 / (1 + max_change)`` to ``1 + max_change`` in relative steps, 1.0 included."""
    n_down = math.floor(-math.log(1.0 / (1.0 + max_change)) / math.log1p(step) + 1e-9)
    n_up = math.floor(math.log1p(max_change) / math.log1p(step) + 1e-9)
    return (1.0 + step) ** np.arange(-n_down, n_up + 1, dtype=np.float64)


def coarse_blocks(
    rows: ScaleRows, weights: np.ndarray, *, query_frames: int, block_frames: int, keep: int
) -> list[np.ndarray]:
    """The rows of the ``keep`` tallest pairs of neighbouring (song, intercept) blocks.

    Returns
    -------
    list of np.ndarray
        Row indices of each kept block pair, tallest first.
    """
    if not len(rows):
        return []
    centre = query_frames / 2.0
    intercept = rows.offset - (rows.query_frame - centre)
    block = np.floor(intercept / block_frames).astype(np.int64)
    key = (rows.song_id * _SONG_STRIDE + block) & (COARSE_BUCKETS - 1)
    counts = np.bincount(key, weights=weights, minlength=COARSE_BUCKETS)
    # Only buckets next to a row can start a tall pair: rank those.
    starts = np.unique(np.concatenate([key, (key - 1) & (COARSE_BUCKETS - 1)]))
    pairs = counts[starts] + counts[(starts + 1) & (COARSE_BUCKETS - 1)]
    top = min(4 * keep, len(starts))
    order = starts[np.argpartition(pairs, -top)[-top:]]
    pairs = counts + np.roll(counts, -1)
    order = order[np.argsort(pairs[order], kind="stable")[::-1]]
    kept: list[np.ndarray] = []
    taken = np.zeros(COARSE_BUCKETS, dtype=bool)
    for bucket in order:
        if pairs[bucket] == 0 or len(kept) == keep:
            break
        if taken[bucket] or taken[(bucket + 1) % COARSE_BUCKETS]:
            continue
        taken[bucket] = taken[(bucket + 1) % COARSE_BUCKETS] = True
        inside = (key == bucket) | (key == (bucket + 1) % COARSE_BUCKETS)
        index = np.flatnonzero(inside)
        # A bucket may hold chance rows of other songs: keep the block pair's song.
        _, inverse = np.unique(rows.song_id[index], return_inverse=True)
        votes = np.bincount(inverse, weights=weights[index])
        kept.append(index[inverse == np.argmax(votes)])
    return kept


def fit_line(
    query_frame: np.ndarray,
    offset: np.ndarray,
    weights: np.ndarray,
    *,
    speeds: np.ndarray,
    query_frames: int,
    time_tolerance: int,
) -> tuple[float, float, np.ndarray]:
    """The speed and offset of the line through most rows of one song.

    Parameters
    ----------
    query_frame, offset : np.ndarray, shape (n,)
        Query anchor frame and stored anchor frame of each row.
    weights : np.ndarray, shape (n,)
        Vote of each row.
    speeds : np.ndarray
        Speeds tried (stored frames per query frame).
    query_frames : int
    time_tolerance : int
        Half-width of a cell (frames).

    Returns
    -------
    speed : float
    offset_frames : float
        Stored frame at query frame 0.
    aligned : np.ndarray of bool
        Rows within ``time_tolerance`` of the fitted line.
    """
    centre = query_frames / 2.0
    u = np.asarray(query_frame, np.float64) - centre
    r = np.asarray(offset, np.float64)
    intercept = np.rint(r[None, :] - speeds[:, None] * u[None, :]).astype(np.int64)
    low = int(intercept.min()) - time_tolerance
    span = int(intercept.max()) - low + time_tolerance + 1
    cells = intercept - low + np.arange(len(speeds))[:, None] * span
    counts = np.bincount(
        cells.ravel(),
        weights=np.broadcast_to(weights, cells.shape).ravel(),
        minlength=len(speeds) * span,
    ).reshape(len(speeds), span)
    window = np.cumsum(np.pad(counts, ((0, 0), (1, 0))), axis=1)
    width = 2 * time_tolerance + 1
    windowed = window[:, width:] - window[:, :-width]
    # Over a short query neighbouring speeds tie: take the middle of the tallest.
    tallest = np.argwhere(windowed == windowed.max())
    best_speed, best_start = tallest[len(tallest) // 2]
    speed = float(speeds[best_speed])
    level = float(low + int(best_start) + time_tolerance)
    aligned = np.abs(r - speed * u - level) <= time_tolerance + 0.5
    if np.count_nonzero(aligned) >= 3 and np.ptp(u[aligned]) > 0:
        # Least squares on the cell's rows: finer than the grid.
        slope, intercept_fit = np.polyfit(u[aligned], r[aligned], 1, w=np.sqrt(weights[aligned]))
        refit = np.abs(r - slope * u - intercept_fit) <= time_tolerance + 0.5
        if speeds[0] <= slope <= speeds[-1] and np.count_nonzero(refit) >= np.count_nonzero(
            aligned
        ):
            speed, level, aligned = float(slope), float(intercept_fit), refit
    return speed, level - speed * centre, aligned


def fit_scales(
    rows: ScaleRows,
    *,
    song_frames: np.ndarray,
    query_frames: int,
    speeds: np.ndarray,
    time_tolerance: int,
    blocks: int,
    votes: str = "share",
) -> list[ScaleFit]:
    """Fit speed and offset for the songs of the tallest coarse blocks, best first.

    Parameters
    ----------
    rows : ScaleRows
    song_frames : np.ndarray, indexed by song id
        Frames of each stored song (0 for ids not in use).
    query_frames : int
    speeds : np.ndarray
        Grid of speeds (ascending).
    time_tolerance : int
    blocks : int
        Coarse block pairs refined.
    votes : {"share", "unit"}
        How a row votes in both passes (:meth:`ScaleRows.weights`).
    """
    if not len(rows):
        return []
    reach = max(abs(speeds[0] - 1.0), abs(speeds[-1] - 1.0)) * query_frames / 2.0
    block_frames = 2 * math.ceil(reach) + 2 * time_tolerance + 2
    song_rows = np.bincount(rows.song_id, minlength=len(song_frames))
    total_frames = float(np.sum(song_frames)) + query_frames * int(np.count_nonzero(song_frames))
    width = 2 * time_tolerance + 1
    tests = max(1.0, len(speeds) * total_frames / width)
    fits: dict[int, ScaleFit] = {}
    weights = rows.weights(votes)
    for index in coarse_blocks(
        rows, weights, query_frames=query_frames, block_frames=block_frames, keep=blocks
    ):
        song = int(rows.song_id[index[0]])
        speed, offset, aligned = fit_line(
            rows.query_frame[index],
            rows.offset[index],
            weights[index],
            speeds=speeds,
            query_frames=query_frames,
            time_tolerance=time_tolerance,
        )
        k = len(np.unique(rows.triplet[index][aligned]))
        frames = float(song_frames[song]) if song < len(song_frames) else 0.0
        expected = int(song_rows[song]) * width / max(frames + query_frames, 1.0)
        confidence = -float(poisson_log10_sf(np.array([k]), np.array([expected]))[0])
        confidence = round(max(0.0, confidence - math.log10(tests)), 3)
        fit = ScaleFit(song, speed, offset, k, int(song_rows[song]), confidence)
        if song not in fits or fits[song].aligned_rows < k:
            fits[song] = fit
    return sorted(fits.values(), key=lambda f: (f.confidence, f.aligned_rows), reverse=True)


def peak_hits(
    query: PeakSet,
    stored: PeakSet,
    *,
    time_scales: np.ndarray,
    freq_scales: np.ndarray,
    centre_offset: float,
    query_centre: float,
    time_tolerance: int,
) -> np.ndarray:
    """How many query peaks meet a stored peak, for each (time scale, frequency scale) pair.

    A query peak at frame ``t`` and bin ``f`` stands for the stored peak at
    frame ``centre_offset + time_scale * (t - query_centre)`` and bin
    ``f / freq_scale``: every line turns about the query's centre.

    Parameters
    ----------
    query, stored : PeakSet
    time_scales, freq_scales : np.ndarray, shape (k,)
        Stored frames per query frame, and query frequency over stored
        frequency, of each hypothesis.
    centre_offset : float
        Stored frame at the query's centre.
    query_centre : float
        The query's centre (frames).
    time_tolerance : int
        Frames either side.

    Returns
    -------
    np.ndarray, shape (k,), int64
    """
    time_scales = np.asarray(time_scales, np.float64)
    freq_scales = np.asarray(freq_scales, np.float64)
    if not len(query) or not len(stored):
        return np.zeros(len(time_scales), dtype=np.int64)
    stored_key = np.sort((stored.frame << 16) | stored.bin)
    u = query.frame.astype(np.float64) - query_centre
    frames = np.rint(centre_offset + time_scales[:, None] * u[None, :]).astype(np.int64)
    bins = np.rint(query.bin[None, :] / freq_scales[:, None]).astype(np.int64)
    hit = np.zeros(bins.shape, dtype=bool)
    for delta in range(-time_tolerance, time_tolerance + 1):
        key = ((frames + delta) << 16) | bins
        at = np.searchsorted(stored_key, key)
        hit |= stored_key[np.minimum(at, len(stored_key) - 1)] == key
    return hit.sum(axis=1).astype(np.int64)


def choose_scales(
    query: PeakSet,
    stored: PeakSet,
    fit: ScaleFit,
    *,
    query_frames: int,
    grid: np.ndarray,
    time_tolerance: int,
    simpler_within: float,
) -> tuple[float, float]:
    """The time and frequency scales of a fit, from the song's stored peaks.

    Triplet hashes pin the offset well but the speed only roughly (sustained
    notes make long horizontal ridges of peaks), and the pitch not at all;
    a peak moves by ``f * (scale - 1)`` bins, so the frequency scale is
    sharp. First the frequency scale is scanned over ``grid`` at the fitted
    speed (every third value, then the values around the best); then the
    time scale at that frequency scale: the frequency scale itself, 1, and
    the values of ``grid`` within 2 % of the fitted speed. The
    simplest hypothesis whose count is within ``simpler_within`` (a
    fraction) of the best wins: a varispeed (time scale = frequency scale),
    else a pitch shift or a time stretch (the other scale 1), else the
    tallest.

    Returns
    -------
    time_scale, freq_scale : float
    """
    centre = query_frames / 2.0
    centre_offset = fit.offset_frames + fit.speed * centre

    def hits(time_scales: np.ndarray, freq_scales: np.ndarray) -> np.ndarray:
        return peak_hits(
            query,
            stored,
            time_scales=time_scales,
            freq_scales=freq_scales,
            centre_offset=centre_offset,
            query_centre=centre,
            time_tolerance=time_tolerance,
        )

    coarse = grid[::3]
    by_freq = hits(np.full(len(coarse), fit.speed), coarse)
    tallest = np.flatnonzero(by_freq == by_freq.max())
    near = coarse[tallest[len(tallest) // 2]]
    fine = grid[np.abs(np.log(grid / near)) <= 1.5 * np.log(coarse[1] / coarse[0])]
    by_freq = hits(np.full(len(fine), fit.speed), fine)
    tallest = np.flatnonzero(by_freq == by_freq.max())
    freq_scale = float(fine[tallest[len(tallest) // 2]])
    around = grid[np.abs(np.log(grid / fit.speed)) <= 0.02]
    times = np.concatenate([[freq_scale, 1.0], around])
    by_time = hits(times, np.full(len(times), freq_scale))
    enough = (1.0 - simpler_within) * by_time.max()
    if by_time[0] >= enough:
        return freq_scale, freq_scale
    if by_time[1] >= enough:
        return 1.0, freq_scale
    return float(times[int(np.argmax(by_time))]), freq_scale


@dataclass(frozen=True, kw_only=True)
class ScaleMatcher:
    """Pipeline stage: match queries played at another speed or pitch by triplet hashes.

    Used when the query is no match at its own speed; needs the triplet
    hashes (:class:`~dejavu_lab.core.invariant.TripletHasher`) in the store.

    Parameters
    ----------
    max_change : float
        Largest relative change of speed and of pitch searched (0-0.5); 0: off.
    speed_step : float
        Relative spacing of the speed grid of the fine pass (0.0005-0.05).
    time_tolerance : int
        Half-width of a cell (frames, 0-8).
    max_postings : int or None
        Query hashes stored in more rows than this are not looked up (a
        stop-list; 1-1,000,000; None: all).
    blocks : int
        Coarse block pairs refined (1-100).
    votes : {"share", "unit"}
        What a row a lookup returns votes, in the coarse and the fine pass:
        ``"share"``, ``1 / rows`` of its query triplet (a triplet found in many
        rows counts once); ``"unit"``, 1 (a true line of a few triplets is not
        buried under the rows of common ones). Query-side: no rebuild.
    candidates : int
        Best fits checked peak by peak (0-20).
    pitch_step : float
        Relative spacing of the frequency scales scanned (0.0005-0.05).
    simpler_within : float
        A varispeed, pitch shift or time stretch is preferred to a free pair
        of scales whose peak count is at most this fraction higher (0-1).
    min_aligned : int
        Rows on the line a hash answer needs at least.
    min_confidence : float or None
        Confidence a fit needs to be answered from the hashes alone (0-1000);
        None: the peak check decides every fit.
    min_z, min_frame_z, min_fraction : float
        The peak check's thresholds for a fit (see
        :class:`~dejavu_lab.core.verify.Verifier`; its tolerances are used).
    """

    max_change: float = 0.0
    speed_step: float = 0.004
    time_tolerance: int = 1
    max_postings: int | None = None
    blocks: int = 8
    votes: str = "share"
    candidates: int = 3
    pitch_step: float = 0.002
    simpler_within: float = 0.10
    min_aligned: int = 8
    min_confidence: float | None = None
    min_z: float = 8.5
    min_frame_z: float = 5.0
    min_fraction: float = 0.10

    _constraints: ClassVar[dict[str, Constraint]] = {
        "max_change": Constraint(float, 0.0, 0.5),
        "speed_step": Constraint(float, 0.0005, 0.05),
        "time_tolerance": Constraint(int, 0, 8),
        "max_postings": Constraint(int, 1, 1_000_000, allow_none=True),
        "blocks": Constraint(int, 1, 100),
        "votes": Constraint(str, options=VOTES),
        "candidates": Constraint(int, 0, 20),
        "pitch_step": Constraint(float, 0.0005, 0.05),
        "min_aligned": Constraint(int, 1, 10_000),
        "simpler_within": Constraint(float, 0.0, 1.0),
        "min_confidence": Constraint(float, 0.0, 1000.0, allow_none=True),
        "min_z": Constraint(float, 0.0, 1000.0),
        "min_frame_z": Constraint(float, 0.0, 1000.0),
        "min_fraction": Constraint(float, 0.0, 1.0),
    }

    def __post_init__(self) -> None:
        validate_params(self)

    @property
    def enabled(self) -> bool:
        """Whether queries are matched by triplets at all."""
        return self.max_change > 0

    def speeds(self) -> np.ndarray:
        """The speeds of the fine pass."""
        return speed_grid(max_change=self.max_change, step=self.speed_step)

    def scale_grid(self) -> np.ndarray:
        """The time and frequency scales :func:`choose_scales` tries."""
        return speed_grid(max_change=self.max_change, step=self.pitch_step)

    def passes_hashes(self, fit: ScaleFit) -> bool:
        """Whether a fit is an answer from the hashes alone."""
        return (
            self.min_confidence is not None
            and fit.aligned_rows >= self.min_aligned
            and fit.confidence >= self.min_confidence
        )

    def __call__(
        self, rows: ScaleRows, *, song_frames: np.ndarray, query_frames: int
    ) -> list[ScaleFit]:
        """Fits of the best songs, best first (see :func:`fit_scales`)."""
        return fit_scales(
            rows,
            song_frames=song_frames,
            query_frames=query_frames,
            speeds=self.speeds(),
            time_tolerance=self.time_tolerance,
            blocks=self.blocks,
            votes=self.votes,
        )
