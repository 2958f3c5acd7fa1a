"""Peak-level verification: exact counts, peaks rebuilt from hashes, the no-match rule."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SONG_RATE, UNSEEN_SEEDS, add_noise

from dejavu_lab import Dejavu
from dejavu_lab.exceptions import ParameterError
from dejavu_lab.hashing import hash_peaks
from dejavu_lab.peaks import Peaks
from dejavu_lab.presets import get_preset
from dejavu_lab.synth import synth_song
from dejavu_lab.verify import PeakSet, Verifier, peak_alignment, peaks_from_fingerprints


def brute_force(
    query: PeakSet, reference: PeakSet, offsets: np.ndarray, query_frames: int, tt: int, ft: int
) -> tuple[np.ndarray, np.ndarray]:
    matched, total = [], []
    for offset in offsets:
        under = (reference.frame >= offset) & (reference.frame < offset + query_frames)
        total.append(int(under.sum()))
        count = 0
        for frame, bin_ in zip(reference.frame[under], reference.bin[under], strict=True):
            near = (np.abs(query.frame - (frame - offset)) <= tt) & (np.abs(query.bin - bin_) <= ft)
            count += bool(near.any())
        matched.append(count)
    return np.array(matched), np.array(total)


@pytest.mark.parametrize("seed", range(8))
def test_peak_alignment_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = PeakSet.from_arrays(rng.integers(0, 300, 400), rng.integers(10, 40, 400))
    query = PeakSet.from_arrays(rng.integers(0, 50, 80), rng.integers(10, 40, 80))
    offsets = np.arange(int(rng.integers(-20, 100)), 200)
    tt, ft = int(rng.integers(0, 3)), int(rng.integers(0, 2))
    got = peak_alignment(
        query, reference, offsets, query_frames=50, time_tolerance=tt, freq_tolerance=ft
    )
    want = brute_force(query, reference, offsets, 50, tt, ft)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def _peaks(frame: np.ndarray, bin_: np.ndarray) -> Peaks:
    order = np.lexsort((bin_, frame))
    n = len(frame)
    return Peaks(
        frame[order].astype(np.int32),
        bin_[order].astype(np.int32),
        np.zeros(n, np.float32),
        0.023,
        int(frame.max()) + 1,
    )


def test_peaks_are_rebuilt_from_the_hashes_they_made() -> None:
    rng = np.random.default_rng(3)
    frame = np.sort(rng.integers(0, 2000, 1500))
    bin_ = rng.integers(30, 600, 1500)
    peaks = _peaks(frame, bin_)
    fingerprints = hash_peaks(peaks, fan_value=15, min_dt=8, max_dt=63, max_df=96)
    rebuilt = peaks_from_fingerprints(fingerprints)
    original = PeakSet.from_arrays(peaks.frame, peaks.bin)
    # Every rebuilt peak is a real one, and nearly every real one is rebuilt
    # (a peak with no partner in any target zone makes no hash).
    real = set(zip(original.frame.tolist(), original.bin.tolist(), strict=True))
    back = set(zip(rebuilt.frame.tolist(), rebuilt.bin.tolist(), strict=True))
    assert back <= real
    assert len(back) >= 0.95 * len(real)


def test_verifier_finds_a_degraded_copy_and_not_chance() -> None:
    rng = np.random.default_rng(11)
    reference = PeakSet.from_arrays(rng.integers(0, 3000, 8000), rng.integers(30, 400, 8000))
    start, length = 1200, 43
    under = (reference.frame >= start) & (reference.frame < start + length)
    keep = under & (rng.random(len(reference)) < 0.35)  # a third of the peaks survive
    jitter = rng.integers(-1, 2, int(keep.sum()))
    noise_frames, noise_bins = rng.integers(0, length, 150), rng.integers(30, 400, 150)
    query = PeakSet.from_arrays(
        np.concatenate([reference.frame[keep] - start + jitter, noise_frames]),
        np.concatenate([reference.bin[keep], noise_bins]),
    )
    verifier = Verifier(min_z=8.0)
    right = verifier(
        query,
        reference,
        song_id=1,
        offset_frames=start + 1.4,
        query_frames=length,
        frame_seconds=0.0232,
    )
    assert right.offset_frames == start and right.z >= verifier.min_z
    assert right.matched >= 0.3 * right.reference_peaks
    wrong = verifier(
        query,
        reference,
        song_id=1,
        offset_frames=2400,
        query_frames=length,
        frame_seconds=0.0232,
    )
    assert wrong.z < 4.0


def test_verifier_parameters_are_checked() -> None:
    with pytest.raises(ParameterError, match="candidates"):
        Verifier(candidates=-1)
    assert not Verifier(candidates=0).enabled
    assert "verifier__min_z" in get_preset("default").get_params()
    assert "verifier__min_z" not in get_preset("default").reference_params()


def test_recognition_is_decided_by_verification(
    fingerprinted: Dejavu, song_samples: dict[str, np.ndarray]
) -> None:
    # The "verified" preset queries a database built with "default".
    verified = Dejavu(store=fingerprinted.db, pipeline="verified")
    assert verified.pipeline.reference_params() == fingerprinted.pipeline.reference_params()
    name = "synth_004"
    clip = add_noise(
        song_samples[name][int(11.5 * SONG_RATE) : int(13.5 * SONG_RATE)],
        5.0,
        np.random.default_rng(0),
    )
    result = verified.match_samples(clip, SONG_RATE, top_k=3)
    assert result.song_name == name
    assert result.offset_seconds == pytest.approx(11.5, abs=0.05)
    assert result.confidence >= verified.pipeline.verifier.min_z
    assert result.candidates[0]["song_name"] == name
    assert result.candidates[0]["z"] == result.confidence
    # Unseen music: the verified preset checks candidates and gives their z.
    unseen = synth_song(UNSEEN_SEEDS[0], 3.0, SONG_RATE)
    answer = verified.match_samples(unseen, SONG_RATE, top_k=10)
    assert any(c["z"] is not None for c in answer.candidates)
    assert (answer.song_id is None) == (answer.confidence < verified.pipeline.verifier.min_z)


def test_default_preset_leaves_the_decision_to_the_matcher() -> None:
    assert not get_preset("default").verifier.enabled
    assert get_preset("verified").verifier.enabled
