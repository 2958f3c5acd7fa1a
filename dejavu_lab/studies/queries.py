"""Deterministic query sets: excerpts of songs passed through named channels.

For every song, excerpt duration and repetition, one start is drawn at random
(at least ``margin_s`` from either end of the song); the excerpt is then
degraded by each requested condition of :mod:`dejavu_lab.studies.channel`. All
conditions of a (song, duration, repetition) share the same start, so they
can be compared directly. Every random choice derives from one integer seed
through :class:`numpy.random.SeedSequence` entropy tuples, so the same
arguments give the same clips, starts and degradations on every run, and
adding a song, a duration or a condition leaves the other queries unchanged.

Examples
--------
>>> import numpy as np
>>> from dejavu_lab.studies.queries import make_queries
>>> sr = 8000
>>> song = np.sin(2 * np.pi * 440 * np.arange(30 * sr) / sr).astype(np.float32)
>>> queries = make_queries(
...     [("tone", song, sr)], durations_s=(2.0,), conditions=("clean", "mp3-64k"), seed=1
... )
>>> [(q.condition, q.duration_s, q.clip.shape) for q in queries]
[('clean', 2.0, (16000,)), ('mp3-64k', 2.0, (16000,))]
>>> queries[0].start_s == queries[1].start_s
True
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeAlias

import numpy as np
import numpy.typing as npt

from ..core.params import Constraint, validate_params
from ..exceptions import ParameterError
from .channel import Channel, get_condition

__all__ = ["Query", "QuerySetSpec", "SongInput", "iter_queries", "make_queries"]

logger = logging.getLogger(__name__)

SongInput: TypeAlias = tuple[str | None, npt.ArrayLike, int]
"""``(song_name, samples, sample_rate)``: a name (``None`` for music that is
not in the database), mono samples of shape (n_samples,), and Hz."""

# Tags keeping the start draw and the channel seeds in separate streams.
_START_STREAM = 0
_CHANNEL_STREAM = 1


@dataclass(frozen=True, kw_only=True, eq=False)
class Query:
    """One degraded excerpt and the truth about where it comes from.

    Equality is identity (the clip is an array); compare :attr:`query_id`.

    Parameters
    ----------
    clip : numpy.ndarray, shape (n_samples,), float32
        The degraded excerpt (stored as a read-only view).
    sample_rate : int
        Sampling rate of ``clip`` in Hz, the song's own.
    song_name : str or None
        The song the excerpt was cut from; ``None`` for unseen music, which a
        recogniser should reject.
    start_s : float
        Where the excerpt starts in the song, in seconds (a whole sample).
    duration_s : float
        Requested excerpt duration in seconds; ``clip`` holds
        ``round(duration_s * sample_rate)`` samples.
    condition : str
        Name of the channel that degraded the excerpt.
    seed : int
        The seed given to the channel:
        ``channel.apply(excerpt, sample_rate, seed)`` reproduces ``clip``.
    source : str
        Which set the song comes from, e.g. ``"reference"`` or ``"unseen"``.
    song_index : int
        Position of the song in the input sequence.
    repetition : int
        Which of the ``n_per_song`` excerpts of this song and duration.
    """

    clip: npt.NDArray[np.float32]
    sample_rate: int
    song_name: str | None
    start_s: float
    duration_s: float
    condition: str
    seed: int
    source: str = "reference"
    song_index: int = 0
    repetition: int = 0

    def __post_init__(self) -> None:
        clip = np.asarray(self.clip)
        if clip.ndim != 1 or clip.dtype != np.float32:
            raise ParameterError(
                f"Query.clip of shape {clip.shape} and dtype {clip.dtype} is not allowed: "
                "expected a 1-D float32 array"
            )
        view = clip.view()
        view.flags.writeable = False
        object.__setattr__(self, "clip", view)

    @property
    def end_s(self) -> float:
        """Where the excerpt ends in the song, in seconds."""
        return self.start_s + len(self.clip) / self.sample_rate

    def describe(self) -> dict[str, object]:
        """The query's identity and truth as table columns (no clip)."""
        return {
            "query_id": self.query_id,
            "source": self.source,
            "song_index": self.song_index,
            "condition": self.condition,
            "seconds": self.duration_s,
            "truth": self.song_name,
            "start_s": self.start_s,
        }

    @property
    def query_id(self) -> str:
        """A readable identifier, unique within one query set."""
        return (
            f"{self.source}/{self.song_index}:{self.song_name}/{self.duration_s:g}s"
            f"/r{self.repetition}/{self.condition}"
        )


def _resolve_condition(condition: str | Channel) -> Channel:
    if isinstance(condition, Channel):
        return condition
    return get_condition(condition)


@dataclass(frozen=True, kw_only=True)
class QuerySetSpec:
    """Everything that defines a query set, apart from the songs.

    Parameters
    ----------
    durations_s : tuple of float
        Excerpt durations in seconds, each > 0.
    conditions : tuple of Channel
        Channels to apply; names of :data:`~dejavu_lab.studies.channel.CONDITIONS`
        are accepted and resolved. Names must be distinct.
    n_per_song : int
        Excerpts per song and duration (each with its own start).
    seed : int
        Root of every random choice.
    margin_s : float
        Minimum distance in seconds between an excerpt and either end of the
        song (intros and fade-outs are atypical). For a song too short for
        it, the margin shrinks to half of the slack, i.e. the excerpt is
        centred; a song shorter than the excerpt is an error.
    source : str
        Label of the song set, copied into each :class:`Query`.
    """

    durations_s: tuple[float, ...]
    conditions: tuple[Channel, ...]
    n_per_song: int = 1
    seed: int = 0
    margin_s: float = 10.0
    source: str = "reference"

    _constraints: ClassVar[dict[str, Constraint]] = {
        "n_per_song": Constraint(int, low=1, high=1_000_000),
        "seed": Constraint(int, low=0, high=2**63 - 1),
        "margin_s": Constraint(float, low=0.0, high=86_400.0),
        "source": Constraint(str),
    }

    def __post_init__(self) -> None:
        validate_params(self)
        durations = tuple(self.durations_s)
        if not durations:
            raise ParameterError("durations_s=() is not allowed: expected at least one duration")
        for duration in durations:
            if (
                isinstance(duration, bool)
                or not isinstance(duration, (int, float))
                or not math.isfinite(duration)
                or duration <= 0
            ):
                raise ParameterError(
                    f"durations_s contains {duration!r}: expected finite durations > 0 s"
                )
        conditions = tuple(_resolve_condition(c) for c in self.conditions)
        if not conditions:
            raise ParameterError("conditions=() is not allowed: expected at least one condition")
        names = [channel.name for channel in conditions]
        if len(set(names)) != len(names):
            raise ParameterError(f"conditions={names!r} is not allowed: names must be distinct")
        object.__setattr__(self, "durations_s", tuple(float(d) for d in durations))
        object.__setattr__(self, "conditions", conditions)

    def describe(self) -> dict[str, object]:
        """The specification as plain data, for experiment records."""
        return {
            "durations_s": list(self.durations_s),
            "conditions": [channel.describe() for channel in self.conditions],
            "n_per_song": self.n_per_song,
            "seed": self.seed,
            "margin_s": self.margin_s,
            "source": self.source,
        }


def _text_key(text: str) -> int:
    """A stable 64-bit integer for a string (Python's hash() is salted per run)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def _excerpt_entropy(
    spec: QuerySetSpec, song_index: int, duration_s: float, repetition: int
) -> list[int]:
    duration_us = round(duration_s * 1_000_000)
    return [spec.seed, _text_key(spec.source), song_index, duration_us, repetition]


def _choose_start(
    n_song: int,
    n_clip: int,
    sample_rate: int,
    margin_s: float,
    rng: np.random.Generator,
    song_label: str,
) -> int:
    """First sample of the excerpt, uniform between the margins."""
    slack = n_song - n_clip
    margin = math.ceil(margin_s * sample_rate)
    if 2 * margin > slack:
        margin = slack // 2
        logger.info(
            "%s is too short for a %.1f s margin around a %.2f s excerpt: margin cut to %.2f s",
            song_label,
            margin_s,
            n_clip / sample_rate,
            margin / sample_rate,
        )
    return int(rng.integers(margin, slack - margin + 1))


def iter_queries(songs: Iterable[SongInput], spec: QuerySetSpec) -> Iterator[Query]:
    """Yield the queries of ``spec`` one at a time (see :func:`make_queries`).

    Songs are consumed lazily, so ``songs`` may be a generator that loads
    each file when needed; only one song and its queries are held at once.
    """
    for song_index, song in enumerate(songs):
        song_name, song_samples, sample_rate = song
        samples = np.asarray(song_samples)
        label = f"song {song_name!r} (index {song_index})"
        if samples.ndim != 1:
            raise ParameterError(
                f"{label} has samples of shape {samples.shape}: expected a 1-D mono array"
            )
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
            raise ParameterError(f"{label} has sample_rate={sample_rate!r}: expected an int")
        if sample_rate <= 0:
            raise ParameterError(f"{label} has sample_rate={sample_rate!r}: expected > 0 Hz")
        for duration_s in spec.durations_s:
            n_clip = max(1, round(duration_s * sample_rate))
            if n_clip > len(samples):
                raise ParameterError(
                    f"{label} lasts {len(samples) / sample_rate:.2f} s, "
                    f"shorter than the {duration_s:g} s excerpt"
                )
            for repetition in range(spec.n_per_song):
                entropy = _excerpt_entropy(spec, song_index, duration_s, repetition)
                start_rng = np.random.default_rng(np.random.SeedSequence([*entropy, _START_STREAM]))
                start = _choose_start(
                    len(samples), n_clip, int(sample_rate), spec.margin_s, start_rng, label
                )
                excerpt = samples[start : start + n_clip]
                for channel in spec.conditions:
                    channel_entropy = [*entropy, _CHANNEL_STREAM, _text_key(channel.name)]
                    seed = int(
                        np.random.SeedSequence(channel_entropy).generate_state(1, np.uint64)[0]
                    )
                    yield Query(
                        clip=channel.apply(excerpt, int(sample_rate), seed),
                        sample_rate=int(sample_rate),
                        song_name=song_name,
                        start_s=start / sample_rate,
                        duration_s=duration_s,
                        condition=channel.name,
                        seed=seed,
                        source=spec.source,
                        song_index=song_index,
                        repetition=repetition,
                    )


def make_queries(
    songs: Sequence[SongInput] | Iterable[SongInput],
    *,
    durations_s: Sequence[float],
    conditions: Sequence[str | Channel],
    n_per_song: int = 1,
    seed: int = 0,
    margin_s: float = 10.0,
    source: str = "reference",
) -> list[Query]:
    """Cut excerpts of songs and degrade them: a deterministic query set.

    For each song, each duration and each of ``n_per_song`` repetitions, a
    start is drawn uniformly (in whole samples) so that the excerpt lies at
    least ``margin_s`` from both ends of the song, and the excerpt is passed
    through every condition. Queries come out in the order song, duration,
    repetition, condition.

    Randomness: the start depends on ``(seed, source, song index, duration,
    repetition)`` and is shared by all conditions; the channel seed of each
    query additionally depends on the condition name (SeedSequence entropy
    tuples). So the same arguments give identical queries, and adding songs
    at the end, durations or conditions changes no existing query.

    Parameters
    ----------
    songs : sequence of (str or None, array_like, int)
        ``(song_name, samples, sample_rate)`` per song: mono samples of
        shape (n_samples,), nominally float32 in [-1, 1], rate in Hz. Clips
        keep the song's sample rate. Use ``None`` as the name of music that is
        not in the database.
    durations_s : sequence of float
        Excerpt durations in seconds.
    conditions : sequence of str or Channel
        Names in :data:`~dejavu_lab.studies.channel.CONDITIONS`, or channels.
    n_per_song : int
        Excerpts per song and duration.
    seed : int
        Root seed, >= 0.
    margin_s : float
        Minimum distance in seconds from either end of the song. A song too
        short for the margins gets the largest margin that fits (the excerpt
        is centred).
    source : str
        Label of this song set, e.g. ``"reference"`` or ``"unseen"``.

    Returns
    -------
    list of Query
        ``len(songs) * len(durations_s) * n_per_song * len(conditions)``
        queries.

    Raises
    ------
    ParameterError
        For an invalid argument, an unknown condition, a song that is not
        mono, or a song shorter than an excerpt.
    """
    spec = QuerySetSpec(
        durations_s=tuple(durations_s),
        conditions=tuple(_resolve_condition(c) for c in conditions),
        n_per_song=n_per_song,
        seed=seed,
        margin_s=margin_s,
        source=source,
    )
    return list(iter_queries(songs, spec))
