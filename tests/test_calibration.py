"""The calibrated confidence: one score, a false-match probability that holds, one threshold."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import soundfile as sf
from conftest import SONG_RATE, add_noise
from scipy.stats import binom, binomtest

from dejavu_lab import Dejavu
from dejavu_lab.core.decision.calibration import (
    DEFAULT_NULL,
    LEVELS,
    NullModel,
    fit_null,
)
from dejavu_lab.studies.calibration import bass_rows, calibrate, evidence_rows, named, predicted
from dejavu_lab.studies.queries import Query, make_queries
from dejavu_lab.studies.synth import synth_song


@pytest.mark.parametrize("model_seed", [0, 1, 2])
def test_false_match_probability_is_monotone_in_the_evidence(model_seed: int) -> None:
    rng = np.random.default_rng(model_seed)
    seconds = np.repeat([1.0, 2.0, 5.0], 400)
    # Null scores with many ties at 0, as unseen queries give.
    evidence = np.where(rng.random(seconds.size) < 0.3, 0.0, rng.gamma(2.0, 0.15, seconds.size))
    null = fit_null(evidence, seconds)
    grid = np.linspace(0.0, 5.0, 2001)
    for length in (0.5, 1.0, 1.5, 2.0, 3.7, 5.0, 12.0):
        probability = np.array([null.false_match_probability(r, length) for r in grid])
        assert np.all(np.diff(probability) <= 1e-15), length
        assert probability[0] == pytest.approx(1.0)
        assert 0 < probability[-1] < 1e-3
        # The threshold on the evidence is the inverse of the probability.
        for alpha in (0.3, 0.1, 1e-3, 1e-6):
            r = null.evidence_for(alpha, length)
            assert null.false_match_probability(r, length) == pytest.approx(alpha, rel=1e-6)
    # Quantiles at each length, one tail scale for all of them.
    assert len(set(DEFAULT_NULL.tail_scale)) == 1
    assert DEFAULT_NULL.n_fitted == len(DEFAULT_NULL.seconds) * len(LEVELS) + 1
    assert NullModel.from_json(null.to_json()) == null


def test_fit_null_matches_the_empirical_survival_at_its_levels() -> None:
    rng = np.random.default_rng(7)
    evidence = rng.exponential(0.2, 20_000)
    null = fit_null(evidence, np.full(evidence.size, 3.0))
    for level in LEVELS:
        r = null.evidence_for(level, 3.0)
        assert np.mean(evidence >= r) == pytest.approx(level, rel=0.05)
    # The exponential tail is extrapolated beyond the last level: at its
    # maximum-likelihood scale, as the survival; at the upper bound, no higher.
    mean = fit_null(evidence, np.full(evidence.size, 3.0), tail_confidence=0.0)
    assert np.mean(evidence >= mean.evidence_for(1e-3, 3.0)) == pytest.approx(1e-3, rel=0.35)
    assert null.evidence_for(1e-3, 3.0) > mean.evidence_for(1e-3, 3.0)


def test_tail_is_pooled_over_lengths_and_taken_at_its_upper_bound() -> None:
    rng = np.random.default_rng(3)
    seconds = np.repeat([1.0, 2.0, 3.0, 5.0, 10.0], 88)
    evidence = rng.exponential(0.1, seconds.size)
    mean = fit_null(evidence, seconds, tail_confidence=0.0)
    bound = fit_null(evidence, seconds)
    assert len(set(mean.tail_scale)) == len(set(bound.tail_scale)) == 1
    assert mean.quantiles == bound.quantiles
    assert bound.tail_scale[0] > mean.tail_scale[0]
    # Maximum likelihood: the mean excess over each length's last quantile, pooled.
    excess = np.concatenate(
        [
            evidence[seconds == s][evidence[seconds == s] > q[-1]] - q[-1]
            for s, q in zip(mean.seconds, mean.quantiles, strict=True)
        ]
    )
    assert mean.tail_scale[0] == pytest.approx(excess.mean(), abs=1e-5)
    with pytest.raises(ValueError, match="tail_confidence"):
        fit_null(evidence, seconds, tail_confidence=1.0)


def test_conservative_tail_seldom_understates_a_small_false_match_probability() -> None:
    """88 null clips a length, as the study fits: how often is ``S`` too light at 1e-3?"""
    rng = np.random.default_rng(11)
    seconds = np.repeat([1.0, 2.0, 3.0, 5.0, 10.0], 88)
    true_r = 0.1 * math.log(1000.0)  # S(true_r) = 1e-3 for exponential(0.1) scores
    light = {0.0: 0, 0.95: 0}
    fits = 200
    for _ in range(fits):
        evidence = rng.exponential(0.1, seconds.size)
        for confidence in light:
            null = fit_null(evidence, seconds, tail_confidence=confidence)
            light[confidence] += null.false_match_probability(true_r, 3.0) < 1e-3
    # The mean excess understates the tail about half the time; its upper bound seldom.
    assert light[0.0] / fits > 0.35
    assert light[0.95] / fits < 0.2


@pytest.fixture(scope="module")
def synthetic_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dejavu, dict[str, np.ndarray]]:
    songs = {f"ref_{seed:03d}": synth_song(seed, 20.0, SONG_RATE) for seed in range(300, 310)}
    folder = tmp_path_factory.mktemp("calibration")
    djv = Dejavu({"database": {"type": "duckdb", "path": str(folder / "db.duckdb")}})
    for name, samples in songs.items():
        sf.write(folder / f"{name}.wav", samples, SONG_RATE)
        djv.fingerprint_file(folder / f"{name}.wav", name)
    return djv, songs


def _unseen_clips(seeds: range, seed: int) -> list[Query]:
    songs = [(None, synth_song(s, 10.0, SONG_RATE), SONG_RATE) for s in seeds]
    return make_queries(
        songs,
        durations_s=(1.0, 3.0),
        conditions=("clean",),
        n_per_song=2,
        seed=seed,
        margin_s=1.0,
        source="unseen",
    )


@pytest.mark.timeout(300)
def test_observed_false_match_rate_is_the_predicted_one(
    synthetic_db: tuple[Dejavu, dict[str, np.ndarray]],
) -> None:
    """Fit the null of a database on clips of some unseen songs, check it on others."""
    djv, _ = synthetic_db
    null = calibrate(evidence_rows(djv, _unseen_clips(range(400, 440), 1), progress=False))
    rows = evidence_rows(djv, _unseen_clips(range(500, 540), 2), progress=False)
    probability = predicted(rows, null)
    n = len(probability)
    for alpha in (0.1, 0.25):
        observed = int(np.count_nonzero(probability <= alpha))
        # Enough clips that a rate off by 5x either way would fail the test.
        assert binom.cdf(math.floor(n * alpha / 5), n, alpha) < 1e-3
        assert binom.sf(math.ceil(min(n, 5 * n * alpha)) - 1, n, alpha) < 1e-3
        assert binomtest(observed, n, alpha).pvalue > 1e-3, (alpha, observed, n)


@pytest.mark.parametrize("seconds", [1.0, 2.0, 3.0, 5.0, 10.0])
def test_known_song_is_named_with_its_offset_at_any_length(
    synthetic_db: tuple[Dejavu, dict[str, np.ndarray]], seconds: float
) -> None:
    djv, songs = synthetic_db
    limit = djv.pipeline.verifier.max_false_match
    assert limit is not None
    rng = np.random.default_rng(int(seconds * 100))
    for name in ("ref_302", "ref_309"):
        start = 8.25
        clip = songs[name][int(start * SONG_RATE) : int((start + seconds) * SONG_RATE)]
        result = djv.match_samples(add_noise(clip, 10.0, rng), SONG_RATE)
        assert result.song_name == name, (seconds, result)
        assert result.offset_seconds == pytest.approx(start, abs=0.1)
        assert result.false_match_probability is not None
        assert result.false_match_probability <= limit
        assert result.confidence == pytest.approx(
            -math.log10(result.false_match_probability), abs=2e-3
        )


@pytest.mark.timeout(300)
def test_the_studys_replay_of_the_rule_names_what_the_recogniser_names(
    synthetic_db: tuple[Dejavu, dict[str, np.ndarray]],
) -> None:
    """named() on evidence and bass rows answers as recognition does, the channel gate included."""
    djv, songs = synthetic_db
    known = make_queries(
        [(name, samples, SONG_RATE) for name, samples in list(songs.items())[:6]],
        durations_s=(1.0, 2.0),
        conditions=("clean", "laptop-mic"),
        n_per_song=1,
        seed=3,
        margin_s=1.0,
    )
    queries = known + _unseen_clips(range(600, 606), 3)
    rate = djv.pipeline.spectrogram.sample_rate
    rows = evidence_rows(djv, queries, progress=False).merge(
        bass_rows(queries, rate)[["query_id", "bass_db"]], on="query_id", validate="one_to_one"
    )
    # The synthetic songs have no bass at 30-110 Hz: a gate at the clips' median ratio and a
    # bar at the known clips' median evidence, so that it refuses some clips and not others.
    bar = float(np.median(rows.evidence[rows.source == "reference"]))
    gated = Dejavu(
        pipeline=djv.pipeline.with_params(
            verifier__full_band_db=float(np.median(rows.bass_db)),
            verifier__full_band_min_evidence=bar,
        ),
        store=djv.db,
    )
    # Every song has its sketch: the fold's evidence, read against the fold's null.
    replayed = named(rows, djv.sketch_null, gated.pipeline.verifier)
    recognised = np.array(
        [gated.match_samples(q.clip, q.sample_rate).song_name is not None for q in queries]
    )
    assert replayed.tolist() == recognised.tolist()
    verifier = gated.pipeline.verifier
    null_only = named(rows, djv.sketch_null, dataclasses.replace(verifier, full_band_db=None))
    refused = verifier.refuses(rows.evidence.to_numpy(float), rows.bass_db)
    assert (refused & null_only).any()  # the gate decided some clips here
    assert (replayed & (rows.source == "reference")).any()
    assert (replayed == (null_only & ~refused)).all()
    # Clips with no bass face the null's threshold alone.
    assert (named(rows.assign(bass_db=-60.0), djv.sketch_null, verifier) == null_only).all()
