"""Hash packing, peak pairing, voting, the no-match rule and the pipeline's parameters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dejavu_lab.core.hashing import MAX_BIN, MAX_DT, Hasher, hash_peaks, pack_hashes, unpack_hashes
from dejavu_lab.core.matching import Lookup, Matcher, count_votes, poisson_log10_sf
from dejavu_lab.core.peaks import Peaks
from dejavu_lab.core.pipeline import Pipeline
from dejavu_lab.core.presets import PRESETS, get_preset
from dejavu_lab.exceptions import ParameterError
from dejavu_lab.store.indexes.hash_index import HashIndex


@given(
    st.lists(
        st.tuples(st.integers(0, MAX_BIN), st.integers(0, MAX_BIN), st.integers(0, MAX_DT)),
        min_size=1,
        max_size=50,
    )
)
def test_pack_unpack_round_trip(fields: list[tuple[int, int, int]]) -> None:
    f1, f2, dt = (np.array(column) for column in zip(*fields, strict=True))
    hashes = pack_hashes(f1, f2, dt)
    assert hashes.dtype == np.uint32
    back = unpack_hashes(hashes)
    for original, recovered in zip((f1, f2, dt), back, strict=True):
        np.testing.assert_array_equal(original, recovered)


def test_bit_layout_is_as_documented() -> None:
    assert int(pack_hashes(np.array([1]), np.array([0]), np.array([0]))[0]) == 1 << 20
    assert int(pack_hashes(np.array([0]), np.array([1]), np.array([0]))[0]) == 1 << 8
    assert int(pack_hashes(np.array([4095]), np.array([4095]), np.array([255]))[0]) == 2**32 - 1
    with pytest.raises(ValueError, match="out of range"):
        pack_hashes(np.array([4096]), np.array([0]), np.array([0]))


def _peaks(frames: list[int], bins: list[int]) -> Peaks:
    return Peaks(
        np.array(frames, np.int32),
        np.array(bins, np.int32),
        np.zeros(len(frames), np.float32),
        0.01,
        max(frames) + 1,
    )


def test_pairs_follow_fan_value_and_time_window() -> None:
    peaks = _peaks([0, 1, 2, 3, 10], [5, 6, 7, 8, 9])
    fingerprints = hash_peaks(peaks, fan_value=2, min_dt=1, max_dt=5, max_df=None)
    f1, f2, dt = unpack_hashes(fingerprints.hashes)
    pairs = set(
        zip(f1.tolist(), f2.tolist(), dt.tolist(), fingerprints.offsets.tolist(), strict=True)
    )
    # anchor 0 -> peaks 1,2; anchor 1 -> 2,3; anchor 2 -> 3 (10 is 8 frames away); anchor 3 -> none
    assert pairs == {(5, 6, 1, 0), (5, 7, 2, 0), (6, 7, 1, 1), (6, 8, 2, 1), (7, 8, 1, 2)}
    narrow = hash_peaks(peaks, fan_value=2, min_dt=1, max_dt=5, max_df=1)
    assert len(narrow) == 3  # only neighbours one bin apart


def test_hasher_query_fan_and_validation() -> None:
    peaks = _peaks(list(range(30)), [(7 * i) % 50 for i in range(30)])
    hasher = Hasher(fan_value=2, min_dt=1, max_dt=40, query_fan_value=6)
    assert len(hasher(peaks, query=True)) > len(hasher(peaks))
    with pytest.raises(ParameterError, match="min_dt"):
        Hasher(min_dt=10, max_dt=5)
    for name, constraint in Hasher._constraints.items():
        for bad in constraint.invalid_examples():
            with pytest.raises(ParameterError, match=name):
                Hasher(**{name: bad})


def test_matcher_recovers_a_planted_offset_within_one_hop(rng: np.random.Generator) -> None:
    # A "song" of random hashes; the query is a noisy excerpt starting at frame 1234.
    n = 20000
    song_hashes = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    song_offsets = np.sort(rng.integers(0, 5000, n)).astype(np.int32)
    other_hashes = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    index = HashIndex(
        np.concatenate([song_hashes, other_hashes]),
        np.concatenate([np.full(n, 1), np.full(n, 2)]).astype(np.int32),
        np.concatenate([song_offsets, rng.integers(0, 5000, n)]).astype(np.int32),
    )
    start = 1234
    inside = (song_offsets >= start) & (song_offsets < start + 200)
    keep = inside & (rng.random(n) < 0.3)  # most hashes lost to noise
    jitter = rng.integers(-1, 2, keep.sum())  # peaks move by a frame
    query_hashes = np.concatenate(
        [song_hashes[keep], rng.integers(0, 2**32, 300, dtype=np.uint64).astype(np.uint32)]
    )
    query_offsets = np.concatenate(
        [song_offsets[keep] - start + jitter, rng.integers(0, 200, 300)]
    ).astype(np.int32)
    lookup = index.lookup(query_hashes)
    frames = np.array([0, 5000, 5000])
    result = Matcher(time_tolerance=1)(query_offsets, lookup, song_frames=frames, query_frames=200)
    assert result.is_match and result.best is not None
    assert result.best.song_id == 1
    assert abs(result.best.offset_frames - start) <= 1
    assert result.best.aligned_hashes >= 0.9 * keep.sum()


def test_chance_coincidences_are_no_match(rng: np.random.Generator) -> None:
    offsets = rng.integers(0, 5000, 3000).astype(np.int32)
    lookup = Lookup(np.arange(3000), rng.integers(1, 11, 3000).astype(np.int32), offsets)
    query_offsets = rng.integers(0, 200, 3000).astype(np.int32)
    frames = np.r_[0, np.full(10, 5000)]
    result = Matcher()(query_offsets, lookup, song_frames=frames, query_frames=200, top_k=3)
    assert not result.is_match and result.best is None
    assert len(result.candidates) == 3
    assert result.candidates[0].confidence < 3


def test_votes_windowed_over_tolerance() -> None:
    lookup = Lookup(
        np.arange(4), np.array([1, 1, 1, 2], np.int32), np.array([10, 11, 13, 10], np.int32)
    )
    votes = count_votes(np.zeros(4, np.int32), lookup, time_tolerance=1)
    table = {
        (int(s), int(d)): int(w)
        for s, d, w in zip(votes.song_id, votes.diff, votes.windowed, strict=True)
    }
    assert table == {(1, 10): 2, (1, 11): 2, (1, 13): 1, (2, 10): 1}


def test_poisson_tail_against_scipy() -> None:
    from scipy.stats import poisson

    k = np.array([1, 3, 10, 30, 400])
    lam = np.array([0.5, 0.1, 2.0, 0.01, 1.0])
    ours = poisson_log10_sf(k, lam)
    reference = poisson.logsf(k - 1, lam) / np.log(10)
    finite = np.isfinite(reference)
    np.testing.assert_allclose(ours[finite], reference[finite], rtol=1e-6)
    assert ours[-1] < -500  # deep tail, no underflow to -inf


def test_pipeline_params_flat_names_and_with_params() -> None:
    pipe = get_preset("default")
    params = pipe.get_params()
    assert params["hasher__fan_value"] == pipe.hasher.fan_value
    assert params["peaks__neighborhood_freq"] == pipe.peaks.neighborhood_freq
    changed = pipe.with_params(hasher__fan_value=3, peaks__amp_min_db=5.0)
    assert changed.hasher.fan_value == 3 and changed.peaks.amp_min_db == 5.0
    assert pipe.hasher.fan_value != 3  # the original is unchanged (frozen)
    with pytest.raises(ParameterError, match="hasher__fan_valeu"):
        pipe.with_params(hasher__fan_valeu=3)
    with pytest.raises(ParameterError, match="fan_value"):
        pipe.with_params(hasher__fan_value=0)
    assert Pipeline.from_params(params) == pipe
    assert "matcher__min_confidence" not in pipe.reference_params()
    assert "peaks__query_density" not in pipe.reference_params()
    assert hash(pipe) == hash(Pipeline.from_params(params))  # usable as a cache key


def test_dejavu_preset_is_the_classic_settings() -> None:
    pipe = PRESETS["dejavu"]
    assert pipe.spectrogram.sample_rate == 44100
    assert pipe.spectrogram.window_size == 4096 and pipe.spectrogram.overlap == 0.5
    assert pipe.hasher.fan_value == 15 and (pipe.hasher.min_dt, pipe.hasher.max_dt) == (0, 200)
    assert pipe.peaks.amp_min_db == 10.0 and pipe.peaks.neighborhood_freq == 20
    with pytest.raises(ParameterError, match="unknown preset"):
        get_preset("shazam")


def test_target_zone_starts_min_dt_after_the_anchor() -> None:
    from dejavu_lab.core.hashing import peak_pairs

    frames = np.array([0, 1, 2, 8, 9])
    anchors, targets = peak_pairs(
        frames, np.arange(5), fan_value=2, min_dt=5, max_dt=20, max_df=None
    )
    assert set(zip(anchors.tolist(), targets.tolist(), strict=True)) == {
        (0, 3),
        (0, 4),
        (1, 3),
        (1, 4),
        (2, 3),
        (2, 4),
    }


def test_a_hash_found_at_neighbouring_offsets_counts_once() -> None:
    # Query hash 0 found at song offsets 10 and 11 (its peak moved a frame); hash 1 at 11.
    lookup = Lookup(
        np.array([0, 0, 1]), np.array([1, 1, 1], np.int32), np.array([10, 11, 11], np.int32)
    )
    query_hashes = np.array([111, 222], np.uint32)
    votes = count_votes(np.zeros(2, np.int32), lookup, time_tolerance=1, query_hashes=query_hashes)
    table = dict(zip(votes.diff.tolist(), votes.windowed.tolist(), strict=True))
    assert table == {10: 2, 11: 2}  # two distinct hashes, not three votes
    plain = count_votes(np.zeros(2, np.int32), lookup, time_tolerance=1)
    assert dict(zip(plain.diff.tolist(), plain.windowed.tolist(), strict=True)) == {10: 3, 11: 3}
