"""Triplet hashes and the scale matcher: speed, pitch and tempo changes named with offset."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import librosa
import numpy as np
import pytest
from conftest import N_SONGS, SONG_RATE, SONG_SECONDS, UNSEEN_SEEDS
from hypothesis import given, settings
from hypothesis import strategies as st

from dejavu_lab import Dejavu, ParameterError
from dejavu_lab.core.hashing import pack_hashes
from dejavu_lab.core.invariant import (
    D_ZERO,
    TripletHasher,
    is_triplet,
    pack_triplets,
    peak_triplets,
    quantise,
    triplet_hashes,
    unpack_triplets,
)
from dejavu_lab.core.presets import get_preset
from dejavu_lab.core.scale_matching import ScaleMatcher, ScaleRows, fit_line, fit_scales
from dejavu_lab.exceptions import IncompatibleStoreError
from dejavu_lab.studies.channel import change_speed
from dejavu_lab.studies.synth import synth_song

HASHER = get_preset("invariant").triplets
#: The widest change the property is claimed for: the matcher's range.
MAX_CHANGE = get_preset("invariant").scale.max_change


def _played_at(samples: np.ndarray, start_s: float, seconds: float, factor: float) -> np.ndarray:
    """``seconds`` of the song from ``start_s``, played ``factor`` times as fast."""
    start = round(start_s * SONG_RATE)
    excerpt = samples[start : start + math.ceil(seconds * factor * SONG_RATE) + 1]
    played = change_speed(excerpt, SONG_RATE, factor=factor)
    return played[: round(seconds * SONG_RATE)].astype(np.float32)


@pytest.fixture(scope="module")
def invariant_djv(song_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dejavu]:
    """The synthetic songs fingerprinted with the ``invariant`` preset."""
    path = tmp_path_factory.mktemp("invariant") / "fingerprints.duckdb"
    djv = Dejavu({"database": str(path)}, pipeline="invariant")
    report = djv.fingerprint_directory(song_dir, [".wav"], 2, progress=False)
    assert len(report.added) == N_SONGS, report.summary()
    yield djv
    djv.close()


# -- the hash -------------------------------------------------------------


def _fit_five_songs(rows: ScaleRows, query_frames: int, votes: str = "share") -> list:
    """:func:`fit_scales` over five songs of 5,000 frames, +-7 %, 4 blocks."""
    return fit_scales(
        rows,
        song_frames=np.array([0, 5000, 5000, 5000, 5000, 5000]),
        query_frames=query_frames,
        speeds=ScaleMatcher(max_change=0.07).speeds(),
        time_tolerance=1,
        blocks=4,
        votes=votes,
    )


def test_pack_unpack_round_trip(rng: np.random.Generator) -> None:
    ratio = rng.integers(0, 128, 500)
    d_b = rng.integers(0, 4096, 500)
    d_c = rng.integers(0, 4096, 500)
    hashes = pack_triplets(ratio, d_b, d_c)
    assert hashes.dtype == np.uint32 and is_triplet(hashes).all()
    for got, want in zip(unpack_triplets(hashes), (ratio, d_b, d_c), strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="out of range"):
        pack_triplets(np.array([128]), np.array([0]), np.array([0]))


def test_landmark_hashes_are_never_tagged(rng: np.random.Generator) -> None:
    """Bins below 2048 (the pipeline's rule with triplets on) keep the top bit clear."""
    landmarks = pack_hashes(
        rng.integers(0, 2048, 500), rng.integers(0, 4096, 500), rng.integers(0, 256, 500)
    )
    assert not is_triplet(landmarks).any()
    with pytest.raises(ParameterError, match="2048"):
        get_preset("invariant").with_params(spectrogram__window_size=4096)


def _zone_safe_peaks(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Peaks whose gaps stay inside the zone at every scale of the claimed range."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 40))
    frames = np.cumsum(rng.integers(9, 14, n)).astype(np.float64)
    bins = rng.uniform(60.0, 500.0, n)
    return frames, bins


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    time_scale=st.floats(1.0 / (1.0 + MAX_CHANGE), 1.0 + MAX_CHANGE),
    freq_scale=st.floats(1.0 / (1.0 + MAX_CHANGE), 1.0 + MAX_CHANGE),
)
def test_hashes_do_not_change_when_time_and_log_frequency_are_scaled(
    seed: int, time_scale: float, freq_scale: float
) -> None:
    """Frames times ``time_scale`` and log-frequencies plus ``log2(freq_scale)``: same hashes.

    The zone (4-200 frames, fan 4) holds every triplet of 3-4 consecutive
    peaks at any scale of the range, so only the hash can change, and must not.
    """
    frames, bins = _zone_safe_peaks(seed)
    params = {
        "fan_value": 4,
        "min_dt": 4,
        "max_dt": 200,
        "max_octaves": 8.0,
        "ratio_levels": HASHER.ratio_levels,
        "octave_step": HASHER.octave_step,
    }
    original, anchors = triplet_hashes(frames, bins, **params)
    scaled, scaled_anchors = triplet_hashes(
        frames * time_scale, np.exp2(np.log2(bins) + np.log2(freq_scale)), **params
    )
    assert len(original) > 0
    np.testing.assert_array_equal(scaled, original)
    np.testing.assert_allclose(scaled_anchors, anchors * time_scale)


def test_query_variants_cover_values_near_a_cell_edge() -> None:
    """A value just below an edge is looked up in both cells; one in the middle in one."""
    frames = np.array([0.0, 10.16, 20.0])  # ratio 0.508: mid-cell of 64
    step = HASHER.octave_step
    on_edge = np.array([100.0, 100.0 * 2 ** (3 * step - 0.05 * step), 100.0 * 2 ** (5.5 * step)])
    triplets = peak_triplets(frames, on_edge, fan_value=2, min_dt=1, max_dt=50, max_octaves=1.0)
    hashes, origin = quantise(
        triplets, ratio_levels=HASHER.ratio_levels, octave_step=step, margin=0.2
    )
    np.testing.assert_array_equal(origin, [0, 0])
    cells = {int(c) - D_ZERO for c in unpack_triplets(hashes)[1]}
    assert cells == {2, 3}


def test_bad_parameters_are_refused() -> None:
    for name, constraint in TripletHasher._constraints.items():
        for value in constraint.invalid_examples():
            with pytest.raises(ParameterError, match=name):
                TripletHasher(**{name: value})
    for name, constraint in ScaleMatcher._constraints.items():
        for value in constraint.invalid_examples():
            with pytest.raises(ParameterError, match=name):
                ScaleMatcher(**{name: value})
    with pytest.raises(ParameterError, match="min_dt"):
        TripletHasher(min_dt=63, max_dt=10)


def test_stage_parameters_are_swept_by_name() -> None:
    pipe = get_preset("invariant")
    params = pipe.get_params()
    assert params["triplets__fan_value"] == HASHER.fan_value
    assert params["scale__max_change"] == MAX_CHANGE
    changed = pipe.with_params(triplets__fan_value=7, scale__speed_step=0.002)
    assert changed.triplets.fan_value == 7 and changed.scale.speed_step == 0.002
    assert "triplets__fan_value" in changed.reference_params()
    assert "scale__max_change" not in changed.reference_params()
    assert "triplets__fan_value" not in get_preset("default").reference_params()
    with pytest.raises(ParameterError, match="did you mean"):
        pipe.with_params(triplets__fanvalue=3)


# -- the fit ----------------------------------------------------------------


def test_fit_line_recovers_a_planted_speed_and_offset(rng: np.random.Generator) -> None:
    query_frames, speed, offset = 215, 1.037, 4321.0
    q = rng.uniform(0, query_frames, 150)
    r = np.rint(speed * q + offset + rng.integers(-1, 2, 150))
    noise_q = rng.uniform(0, query_frames, 600)
    noise_r = rng.integers(0, 20_000, 600).astype(np.float64)
    found_speed, found_offset, aligned = fit_line(
        np.concatenate([q, noise_q]),
        np.concatenate([r, noise_r]),
        np.ones(750),
        speeds=ScaleMatcher(max_change=0.07).speeds(),
        query_frames=query_frames,
        time_tolerance=1,
    )
    assert abs(found_speed - speed) < 0.003
    assert abs(found_offset - offset) < 2.0
    assert aligned[:150].mean() > 0.9 and aligned[150:].mean() < 0.05


def test_fit_scales_names_the_planted_song(rng: np.random.Generator) -> None:
    query_frames = 130
    q = rng.uniform(0, query_frames, 80)
    rows = ScaleRows(
        query_frame=np.concatenate([q, rng.uniform(0, query_frames, 2000)]),
        song_id=np.concatenate([np.full(80, 3), rng.integers(1, 6, 2000)]),
        offset=np.concatenate([np.rint(0.955 * q + 900), rng.integers(0, 5000, 2000)]).astype(
            np.int64
        ),
        triplet=np.arange(2080),
    )
    fits = _fit_five_songs(rows, query_frames)
    best = fits[0]
    assert best.song_id == 3 and abs(best.speed - 0.955) < 0.005
    assert abs(best.offset_frames - 900) < 2 and best.aligned_rows >= 75
    assert all(f.confidence < best.confidence for f in fits[1:])


def test_row_votes_are_a_share_or_unit() -> None:
    rows = ScaleRows(
        query_frame=np.zeros(4),
        song_id=np.ones(4, dtype=np.int64),
        offset=np.arange(4, dtype=np.int64),
        triplet=np.array([0, 0, 0, 1]),
    )
    np.testing.assert_allclose(rows.weights(), [1 / 3, 1 / 3, 1 / 3, 1])
    np.testing.assert_array_equal(rows.weights("unit"), np.ones(4))
    with pytest.raises(ValueError, match="votes='half'"):
        rows.weights("half")
    with pytest.raises(ParameterError, match=r"ScaleMatcher.votes='half'.*'share', 'unit'"):
        ScaleMatcher(votes="half")
    assert ScaleMatcher().votes == "share"
    pipe = get_preset("invariant")
    with pytest.raises(ParameterError, match="scale__votes"):
        pipe.with_params(scale__vote="unit")
    share, unit = (pipe.with_params(scale__votes=votes) for votes in ("share", "unit"))
    assert (share.scale.votes, unit.scale.votes) == ("share", "unit")
    # Query-side: the same database serves both.
    assert "scale__votes" not in unit.reference_params()
    assert unit.reference_params() == share.reference_params() == pipe.reference_params()


def test_unit_votes_name_the_planted_song(rng: np.random.Generator) -> None:
    """Each true row's triplet also finds 5 chance rows: with unit votes the line still wins."""
    query_frames, true_rows, echoes = 130, 40, 5
    q = rng.uniform(0, query_frames, true_rows)
    chance = true_rows * echoes + 1500
    rows = ScaleRows(
        query_frame=np.concatenate([q, np.repeat(q, echoes), rng.uniform(0, query_frames, 1500)]),
        song_id=np.concatenate([np.full(true_rows, 3), rng.integers(1, 6, chance)]),
        offset=np.concatenate([np.rint(1.045 * q + 2100), rng.integers(0, 5000, chance)]).astype(
            np.int64
        ),
        triplet=np.concatenate(
            [
                np.arange(true_rows),
                np.repeat(np.arange(true_rows), echoes),
                true_rows + np.arange(1500),
            ]
        ),
    )
    fits = _fit_five_songs(rows, query_frames, votes="unit")
    best = fits[0]
    assert best.song_id == 3 and abs(best.speed - 1.045) < 0.005
    assert abs(best.offset_frames - 2100) < 2 and best.aligned_rows >= 35


# -- end to end ---------------------------------------------------------------


@pytest.mark.parametrize("votes", ["share", "unit"])
@pytest.mark.parametrize("factor", [0.96, 1.04])
def test_resampled_excerpts_name_song_offset_and_speed(
    invariant_djv: Dejavu, song_samples: dict[str, np.ndarray], factor: float, votes: str
) -> None:
    """Either ``scale__votes`` opens the same database and names each excerpt."""
    pipeline = get_preset("invariant").with_params(scale__votes=votes)
    djv = Dejavu(store=invariant_djv.db, pipeline=pipeline)
    rng = np.random.default_rng(round(factor * 1000))
    for name, samples in list(song_samples.items())[:5]:
        start_s = float(rng.uniform(3.0, SONG_SECONDS - 6.0))
        result = djv.match_samples(_played_at(samples, start_s, 3.0, factor), SONG_RATE)
        assert result.song_name == name, (factor, name, result)
        assert result.offset_seconds is not None
        assert abs(result.offset_seconds - start_s) <= 0.1, (factor, start_s, result)
        assert abs(result.speed - factor) <= 0.005, (factor, result.speed)
        assert abs(result.pitch_semitones - 12 * math.log2(factor)) <= 0.1, result


def test_pitch_shifted_and_stretched_excerpts_are_named(
    invariant_djv: Dejavu, song_samples: dict[str, np.ndarray]
) -> None:
    """Most excerpts are named, each with its offset; none with another song."""
    rng = np.random.default_rng(7)
    named = {"pitch": 0, "stretch": 0}
    songs = list(song_samples.items())[:6]
    for name, samples in songs:
        start_s = float(rng.uniform(3.0, SONG_SECONDS - 6.0))
        start = round(start_s * SONG_RATE)
        steps = float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.0))
        rate = float(rng.choice([0.96, 1.04]))
        clips = {
            "pitch": librosa.effects.pitch_shift(
                samples[start : start + 3 * SONG_RATE], sr=SONG_RATE, n_steps=steps
            ),
            "stretch": librosa.effects.time_stretch(
                samples[start : start + round(3.2 * SONG_RATE)], rate=rate
            )[: 3 * SONG_RATE],
        }
        for kind, clip in clips.items():
            result = invariant_djv.match_samples(clip.astype(np.float32), SONG_RATE)
            if result.is_match:
                assert result.song_name == name, (kind, name, result)
                assert result.offset_seconds is not None
                assert abs(result.offset_seconds - start_s) <= 0.1, (kind, start_s, result)
                named[kind] += 1
                if kind == "pitch" and result.speed != 1.0:
                    assert abs(result.pitch_semitones - steps) <= 0.1, (steps, result)
    assert named["pitch"] >= 4 and named["stretch"] >= 5, named


@pytest.mark.parametrize("factor", [0.95, 0.97, 1.03, 1.05])
def test_unseen_songs_at_other_speeds_are_no_match(
    invariant_djv: Dejavu, fingerprinted: Dejavu, factor: float
) -> None:
    rng = np.random.default_rng(round(factor * 1000))
    for seed in UNSEEN_SEEDS:
        samples = synth_song(seed, SONG_SECONDS, SONG_RATE)
        clip = _played_at(samples, float(rng.uniform(3.0, SONG_SECONDS - 6.0)), 3.0, factor)
        result = invariant_djv.match_samples(clip, SONG_RATE)
        if result.is_match:
            # Named at its own speed by the default's rule (the default alone names
            # it too), not by the triplets: they add no false match.
            assert result.speed == 1.0 and result.pitch_semitones == 0.0, (seed, result)
            assert fingerprinted.match_samples(clip, SONG_RATE).song_id == result.song_id


def test_answers_at_speed_one_are_the_defaults(
    invariant_djv: Dejavu, fingerprinted: Dejavu, song_samples: dict[str, np.ndarray]
) -> None:
    """Every answer the default gives is given unchanged; unseen songs stay no match."""
    rng = np.random.default_rng(11)
    clips: list[tuple[str | None, np.ndarray]] = []
    for name, samples in song_samples.items():
        for seconds in (1.0, 3.0):
            start = round(rng.uniform(0.0, SONG_SECONDS - 4.0) * SONG_RATE)
            clips.append((name, samples[start : start + round(seconds * SONG_RATE)]))
    clips += [(None, synth_song(seed, 3.0, SONG_RATE)) for seed in UNSEEN_SEEDS]
    key = ("song_name", "offset_seconds", "confidence", "decided_by", "aligned_hashes", "speed")
    for truth, clip in clips:
        ours = invariant_djv.match_samples(clip, SONG_RATE)
        theirs = fingerprinted.match_samples(clip, SONG_RATE)
        if theirs.is_match:
            assert [getattr(ours, k) for k in key] == [getattr(theirs, k) for k in key]
        elif ours.is_match:  # a clip the default missed, named by the triplets: rightly
            assert ours.song_name == truth is not None, (truth, ours)


def test_database_parameters_are_recorded_and_checked(
    invariant_djv: Dejavu, fingerprinted: Dejavu
) -> None:
    stored = invariant_djv.db.read_params()
    assert stored is not None
    assert stored["params"]["triplets__fan_value"] == HASHER.fan_value
    with pytest.raises(IncompatibleStoreError, match="triplets__fan_value"):
        Dejavu(store=invariant_djv.db, pipeline="default")
    with pytest.raises(IncompatibleStoreError, match="triplets__fan_value"):
        Dejavu(store=fingerprinted.db, pipeline="invariant")
    reopened = Dejavu(store=invariant_djv.db)
    assert reopened.pipeline.triplets == HASHER and reopened.pipeline.scale.enabled
