"""The sketch fold of the default's rule: sketches stored by fingerprinting, ``r + w z`` read
against the fold's null, and ``r`` alone against its own null for songs without a sketch."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import N_SONGS, SONG_RATE, UNSEEN_SEEDS, add_noise

from dejavu_lab import Dejavu
from dejavu_lab.core.audio import load_audio, resample
from dejavu_lab.core.decision.calibration import (
    DEFAULT_NULL,
    DEFAULT_SKETCH_NULL,
    NullModel,
    sketch_fold,
)
from dejavu_lab.core.presets import get_preset
from dejavu_lab.core.sketch import power_sketch, sketch_check, spectrogram_sketch
from dejavu_lab.exceptions import ParameterError
from dejavu_lab.studies.calibration import null_pipeline
from dejavu_lab.studies.synth import synth_song

PIPELINE = get_preset("default")
RATE = PIPELINE.spectrogram.sample_rate


class _WithoutSketches:
    """A store as one made before songs had sketches: everything but ``song_sketches``."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def song_sketches(self, song_ids: list[int]) -> dict[int, np.ndarray]:
        return {}


def test_a_power_spectrogram_gives_the_log_spectrograms_sketch(rng: np.random.Generator) -> None:
    samples = resample(synth_song(7, 6.0, SONG_RATE), SONG_RATE, RATE)
    samples = add_noise(samples, 5.0, rng)
    spec = PIPELINE.spectrogram
    from_db = spectrogram_sketch(spec(samples), fmin_hz=spec.fmin_hz, fmax_hz=spec.fmax_hz)
    from_power = power_sketch(spec.power(samples), fmin_hz=spec.fmin_hz, fmax_hz=spec.fmax_hz)
    assert from_power.dtype == np.uint32 and len(from_power) == len(from_db)
    # The same bits but where a double difference is within rounding of 0.
    assert np.bitwise_count(from_db ^ from_power).sum() <= 0.001 * 32 * len(from_db)
    assert np.array_equal(PIPELINE.sketch_of(samples), from_power)


def test_the_fold_adds_w_z_and_ignores_a_missing_z() -> None:
    assert sketch_fold(1.2, 3.0, 0.1) == pytest.approx(1.5)
    assert sketch_fold(1.2, math.nan, 0.1) == 1.2
    assert sketch_fold(1.2, 3.0, 0.0) == 1.2
    with pytest.raises(ParameterError, match="sketch_weight"):
        PIPELINE.with_params(verifier__sketch_weight=-0.1)
    assert PIPELINE.verifier.folds_sketch
    assert not PIPELINE.with_params(verifier__sketch_weight=0.0).verifier.folds_sketch


def test_fingerprinting_stores_each_songs_sketch(fingerprinted: Dejavu, song_dir: Path) -> None:
    songs = fingerprinted.db.songs()
    assert len(songs) == N_SONGS
    sketches = fingerprinted.db.song_sketches([s.song_id for s in songs])
    assert sorted(sketches) == sorted(s.song_id for s in songs)
    for song in songs[:3]:
        samples = load_audio(song.path, sample_rate=RATE).samples
        assert np.array_equal(sketches[song.song_id], PIPELINE.sketch_of(samples)), song.name


def _probe(djv: Dejavu, store: Any = None) -> Dejavu:
    """``djv``'s database read with every candidate checked and none accepted."""
    return Dejavu(pipeline=null_pipeline(djv.pipeline), store=store or djv.db)


@pytest.mark.parametrize("seconds", [1.0, 3.0])
def test_a_known_clips_evidence_is_r_plus_a_tenth_of_the_sketch_z(
    fingerprinted: Dejavu, song_samples: dict[str, np.ndarray], seconds: float
) -> None:
    name, start = "synth_004", 12.5
    clip = song_samples[name][int(start * SONG_RATE) : int((start + seconds) * SONG_RATE)]
    clip = add_noise(clip, 10.0, np.random.default_rng(int(seconds)))
    folded = _probe(fingerprinted).match_samples(clip, SONG_RATE)
    alone = _probe(fingerprinted, _WithoutSketches(fingerprinted.db)).match_samples(clip, SONG_RATE)
    mine = next(c for c in folded.candidates if c["song_name"] == name)
    mine_alone = next(c for c in alone.candidates if c["song_name"] == name)
    assert mine["offset_seconds"] == pytest.approx(start, abs=0.1)
    # The same candidate, its sketch z by hand from the stored sketch.
    frame_s = PIPELINE.spectrogram.frame_seconds
    verifier = PIPELINE.verifier
    stored = fingerprinted.db.song_sketches([mine["song_id"]])[mine["song_id"]]
    z = sketch_check(
        PIPELINE.sketch_of(resample(clip, SONG_RATE, RATE)),
        stored,
        round(mine["offset_seconds"] / frame_s),
        search_frames=verifier.search_frames,
        background_frames=verifier.background_frames(frame_s),
    ).z
    assert z > 3  # the song's own sketch agrees
    assert mine["evidence"] == pytest.approx(mine_alone["evidence"] + 0.1 * z, abs=1e-6)
    # "No match" (nothing is accepted): the evidence least likely under its null, and its
    # probability read from the fold's null (with sketches) or r's (without).
    assert folded.song_name is None and alone.song_name is None
    assert folded.evidence == pytest.approx(mine["evidence"], abs=1e-4)
    assert folded.false_match_probability == pytest.approx(
        DEFAULT_SKETCH_NULL.false_match_probability(folded.evidence, seconds), rel=1e-3
    )
    assert alone.false_match_probability == pytest.approx(
        DEFAULT_NULL.false_match_probability(alone.evidence, seconds), rel=1e-3
    )


def test_songs_without_sketches_are_decided_by_r_alone(
    fingerprinted: Dejavu, song_samples: dict[str, np.ndarray]
) -> None:
    """An old database (no sketches) still names a known clip, read against r's null, and
    the default with the fold off answers as the old rule on it."""
    name, start = "synth_007", 6.0
    clip = song_samples[name][int(start * SONG_RATE) : int((start + 3.0) * SONG_RATE)]
    clip = add_noise(clip, 10.0, np.random.default_rng(3))
    old = Dejavu(pipeline=fingerprinted.pipeline, store=_WithoutSketches(fingerprinted.db))
    found = old.match_samples(clip, SONG_RATE)
    assert found.song_name == name
    assert found.offset_seconds == pytest.approx(start, abs=0.1)
    assert found.false_match_probability == pytest.approx(
        DEFAULT_NULL.false_match_probability(found.evidence, 3.0), rel=1e-3
    )
    no_fold = Dejavu(
        pipeline=fingerprinted.pipeline.with_params(verifier__sketch_weight=0.0),
        store=fingerprinted.db,
    )
    again = no_fold.match_samples(clip, SONG_RATE)
    assert (again.song_name, again.evidence) == (found.song_name, found.evidence)


def test_unseen_music_stays_unnamed_with_the_fold(fingerprinted: Dejavu) -> None:
    names = []
    for seed in UNSEEN_SEEDS[:3]:
        samples = synth_song(seed, 12.0, SONG_RATE)
        for start in (2.0, 7.0):
            clip = samples[int(start * SONG_RATE) : int((start + 3.0) * SONG_RATE)]
            names.append(fingerprinted.match_samples(clip, SONG_RATE).song_name)
    assert names == [None] * 6


def test_the_shipped_fold_null_is_the_calibration_studys_fit() -> None:
    """``DEFAULT_SKETCH_NULL`` is the null ``experiments/calibration.py`` last fitted (its
    committed ``calibration_null.json``), and falls with the evidence at every length."""
    results = Path(__file__).resolve().parents[1] / "experiments" / "results" / "full"
    fitted = NullModel.from_json((results / "calibration_null.json").read_text())
    assert (fitted.seconds, fitted.quantiles, fitted.tail_scale) == (
        DEFAULT_SKETCH_NULL.seconds,
        DEFAULT_SKETCH_NULL.quantiles,
        DEFAULT_SKETCH_NULL.tail_scale,
    )
    assert DEFAULT_SKETCH_NULL.n_fitted == 16
    for seconds in (1.0, 1.5, 3.0, 10.0):
        p = [DEFAULT_SKETCH_NULL.false_match_probability(r, seconds) for r in np.linspace(0, 3, 61)]
        assert all(a >= b for a, b in itertools.pairwise(p)) and p[0] == 1.0 and p[-1] < 1e-6
