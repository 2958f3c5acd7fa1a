"""Query sets: deterministic, margins respected, truth fields right, conditions aligned."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from dejavu_lab.exceptions import ParameterError
from dejavu_lab.studies.channel import Channel, Gain, get_condition
from dejavu_lab.studies.queries import Query, QuerySetSpec, SongInput, iter_queries, make_queries

CONDITIONS = ("clean", "laptop-mic", "mp3-64k")
DURATIONS_S = (1.0, 2.5)


def synthetic_song(seed: int, duration_s: float, sample_rate: int) -> np.ndarray:
    """A seeded chord sequence over noise, float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    n_samples = round(duration_s * sample_rate)
    t = np.arange(n_samples) / sample_rate
    notes = rng.uniform(150.0, 1500.0, size=(max(1, int(duration_s)), 3))
    freqs = np.repeat(notes, sample_rate, axis=0)[:n_samples]
    freqs = np.vstack([freqs, np.repeat(freqs[-1:], n_samples - len(freqs), axis=0)])
    song = 0.2 * np.sin(2 * np.pi * freqs * t[:, None]).sum(axis=1)
    song += 0.02 * rng.standard_normal(n_samples)
    return song.astype(np.float32)


@pytest.fixture(scope="module")
def songs() -> list[SongInput]:
    return [
        ("song-a", synthetic_song(1, 40.0, 8000), 8000),
        ("song-b", synthetic_song(2, 30.0, 11025), 11025),
        ("song-c", synthetic_song(3, 45.0, 8000), 8000),
    ]


@pytest.fixture(scope="module")
def queries(songs: list[SongInput]) -> list[Query]:
    return make_queries(songs, durations_s=DURATIONS_S, conditions=CONDITIONS, n_per_song=2, seed=7)


def test_the_set_has_every_combination_in_order(queries: list[Query]) -> None:
    expected = [
        (song_index, duration_s, repetition, condition)
        for song_index in range(3)
        for duration_s in DURATIONS_S
        for repetition in range(2)
        for condition in CONDITIONS
    ]
    assert [(q.song_index, q.duration_s, q.repetition, q.condition) for q in queries] == expected
    assert len({q.query_id for q in queries}) == len(queries)


def test_same_seed_gives_identical_queries(songs: list[SongInput], queries: list[Query]) -> None:
    again = make_queries(
        songs, durations_s=DURATIONS_S, conditions=CONDITIONS, n_per_song=2, seed=7
    )
    for first, second in zip(queries, again, strict=True):
        assert first.start_s == second.start_s
        assert first.seed == second.seed
        np.testing.assert_array_equal(first.clip, second.clip)


def test_another_seed_gives_other_starts_and_noise(
    songs: list[SongInput], queries: list[Query]
) -> None:
    other = make_queries(
        songs, durations_s=DURATIONS_S, conditions=CONDITIONS, n_per_song=2, seed=8
    )
    assert [q.start_s for q in other] != [q.start_s for q in queries]
    assert all(a.seed != b.seed for a, b in zip(queries, other, strict=True))


def test_truth_fields_and_clip_lengths(songs: list[SongInput], queries: list[Query]) -> None:
    for query in queries:
        name, _, sample_rate = songs[query.song_index]
        assert query.song_name == name
        assert query.sample_rate == sample_rate
        assert query.source == "reference"
        assert query.clip.dtype == np.float32
        assert query.clip.shape == (round(query.duration_s * sample_rate),)
        assert np.all(np.isfinite(query.clip))
        assert query.start_s * sample_rate == pytest.approx(round(query.start_s * sample_rate))


def test_starts_respect_the_margins(songs: list[SongInput], queries: list[Query]) -> None:
    for query in queries:
        song_duration_s = len(np.asarray(songs[query.song_index][1])) / query.sample_rate
        assert query.start_s >= 10.0
        assert query.end_s <= song_duration_s - 10.0 + 1e-9


def test_clean_clip_is_the_excerpt_and_seed_reproduces_the_degradation(
    songs: list[SongInput], queries: list[Query]
) -> None:
    for query in queries:
        samples = np.asarray(songs[query.song_index][1])
        start = round(query.start_s * query.sample_rate)
        excerpt = samples[start : start + len(query.clip)]
        if query.condition == "clean":
            np.testing.assert_array_equal(query.clip, excerpt)
        redone = get_condition(query.condition).apply(excerpt, query.sample_rate, query.seed)
        np.testing.assert_array_equal(redone, query.clip)


def test_conditions_share_the_start_and_repetitions_do_not(queries: list[Query]) -> None:
    starts: dict[tuple[int, float, int], set[float]] = {}
    for query in queries:
        starts.setdefault((query.song_index, query.duration_s, query.repetition), set()).add(
            query.start_s
        )
    assert all(len(shared) == 1 for shared in starts.values())
    for song_index in range(3):
        for duration_s in DURATIONS_S:
            assert starts[(song_index, duration_s, 0)] != starts[(song_index, duration_s, 1)]
    seeds = {(q.song_index, q.duration_s, q.repetition, q.condition): q.seed for q in queries}
    assert len(set(seeds.values())) == len(seeds)


def test_adding_songs_or_conditions_leaves_existing_queries_unchanged(
    songs: list[SongInput], queries: list[Query]
) -> None:
    bigger = make_queries(
        [*songs, ("song-d", synthetic_song(4, 35.0, 8000), 8000)],
        durations_s=DURATIONS_S,
        conditions=(*CONDITIONS, "noisy-pub"),
        n_per_song=2,
        seed=7,
    )
    by_id = {q.query_id: q for q in bigger}
    assert len(bigger) == 4 * 2 * 2 * 4
    for query in queries:
        same = by_id[query.query_id]
        assert same.start_s == query.start_s and same.seed == query.seed
        np.testing.assert_array_equal(same.clip, query.clip)


def test_starts_are_spread_uniformly_over_the_allowed_range() -> None:
    sample_rate, song_s, margin_s, duration_s = 1000, 100.0, 10.0, 5.0
    song = np.zeros(round(song_s * sample_rate), np.float32)
    starts = np.array(
        [
            q.start_s
            for q in make_queries(
                [("silence", song, sample_rate)],
                durations_s=(duration_s,),
                conditions=("clean",),
                n_per_song=400,
                margin_s=margin_s,
            )
        ]
    )
    low, high = margin_s, song_s - margin_s - duration_s
    assert starts.min() >= low and starts.max() <= high
    # Each quarter of the range holds about a quarter of the starts.
    counts, _ = np.histogram(starts, bins=4, range=(low, high))
    assert np.all(np.abs(counts - 100) < 35)


def test_short_song_gets_a_smaller_margin_and_a_too_short_song_an_error() -> None:
    sample_rate = 8000
    short = ("short", synthetic_song(5, 8.0, sample_rate), sample_rate)
    (query,) = make_queries([short], durations_s=(4.0,), conditions=("clean",), margin_s=10.0)
    assert query.start_s >= 0.0 and query.end_s <= 8.0
    assert query.start_s == pytest.approx(2.0)  # centred: the largest margin that fits
    exact = make_queries([short], durations_s=(8.0,), conditions=("clean",))
    assert exact[0].start_s == 0.0
    with pytest.raises(ParameterError, match="short"):
        make_queries([short], durations_s=(9.0,), conditions=("clean",))


def test_iter_queries_loads_songs_lazily() -> None:
    loaded: list[str] = []

    def load() -> Iterator[SongInput]:
        for index in range(3):
            loaded.append(f"song-{index}")
            yield (f"song-{index}", synthetic_song(index, 30.0, 8000), 8000)

    spec = QuerySetSpec(durations_s=(1.0,), conditions=(get_condition("clean"),), seed=1)
    stream = iter_queries(load(), spec)
    first = next(stream)
    assert first.song_name == "song-0" and loaded == ["song-0"]
    assert len([first, *stream]) == 3 and len(loaded) == 3


def test_unseen_music_and_custom_channels() -> None:
    quieter = Channel(stages=(Gain(db=-6.0),), name="quieter")
    (query,) = make_queries(
        [(None, synthetic_song(9, 30.0, 8000), 8000)],
        durations_s=(2.0,),
        conditions=(quieter,),
        source="unseen",
    )
    assert query.song_name is None and query.source == "unseen"
    assert query.condition == "quieter"
    assert float(np.max(np.abs(query.clip))) < 0.6


def test_query_clip_is_read_only_and_must_be_float32(queries: list[Query]) -> None:
    with pytest.raises(ValueError, match="read-only"):
        queries[0].clip[0] = 1.0
    with pytest.raises(ParameterError, match="float32"):
        Query(
            clip=np.zeros(10),  # type: ignore[arg-type]
            sample_rate=8000,
            song_name="x",
            start_s=0.0,
            duration_s=1.0,
            condition="clean",
            seed=0,
        )


def test_spec_describes_itself() -> None:
    spec = QuerySetSpec(durations_s=(2, 5.0), conditions=(get_condition("mp3-64k"),))
    assert spec.durations_s == (2.0, 5.0)
    described = spec.describe()
    assert described["durations_s"] == [2.0, 5.0]
    assert described["conditions"] == [
        {"name": "mp3-64k", "stages": [{"stage": "Mp3", "bitrate_kbps": 64}]}
    ]


VALID_SPEC: dict[str, Any] = {"durations_s": (1.0,), "conditions": ("clean",)}
BAD_SPEC_VALUES = [
    pytest.param(name, bad, id=f"{name}={bad!r}")
    for name, constraint in QuerySetSpec._constraints.items()
    for bad in constraint.invalid_examples()
]


@pytest.mark.parametrize(("name", "bad"), BAD_SPEC_VALUES)
def test_invalid_settings_are_refused(songs: list[SongInput], name: str, bad: Any) -> None:
    make_queries(songs[:1], **VALID_SPEC)  # the baseline is valid
    with pytest.raises(ParameterError, match=name):
        make_queries(songs[:1], **{**VALID_SPEC, name: bad})


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"durations_s": ()}, "durations_s"),
        ({"durations_s": (1.0, -2.0)}, "durations_s"),
        ({"durations_s": (float("nan"),)}, "durations_s"),
        ({"conditions": ()}, "conditions"),
        ({"conditions": ("clean", "clean")}, "distinct"),
        ({"conditions": ("no-such-room",)}, "laptop-mic"),
    ],
)
def test_invalid_durations_and_conditions_are_refused(
    songs: list[SongInput], changes: dict[str, Any], match: str
) -> None:
    with pytest.raises(ParameterError, match=match):
        make_queries(songs[:1], **{**VALID_SPEC, **changes})


@pytest.mark.parametrize(
    ("song", "match"),
    [
        (("stereo", np.zeros((2, 80000), np.float32), 8000), "1-D"),
        (("rate", np.zeros(80000, np.float32), 8000.0), "sample_rate"),
        (("rate", np.zeros(80000, np.float32), 0), "sample_rate"),
    ],
)
def test_invalid_songs_are_refused(song: Any, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        make_queries([song], **VALID_SPEC)
