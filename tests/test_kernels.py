"""The compiled kernels give exactly what their numpy references give."""

from __future__ import annotations

import numpy as np
import pytest
from test_votes_prefilter import assert_same_windows, random_votes

from dejavu_lab.core import hashing, matching, verify
from dejavu_lab.core._kernels import (
    dilated_query,
    gather_runs,
    hash_labels,
    join_sorted,
    more_songs_than,
    rows_in_range,
    rows_of_songs,
    stable_order,
    stretch_alignment_counts,
)
from dejavu_lab.core.hashing import MAX_BIN, MAX_DT, Fingerprints, pack_hashes
from dejavu_lab.core.invariant import TAG
from dejavu_lab.core.matching import Lookup
from dejavu_lab.core.peaks import Peaks
from dejavu_lab.core.verify import PeakSet


@pytest.mark.parametrize("seed", range(40))
def test_kernel_windows_equal_the_numpy_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    query_hashes, query_offsets, lookup = random_votes(rng)
    if seed % 3 == 1:  # crowded: repeated (cell, hash) pairs, overlapping windows
        lookup = Lookup(lookup.query_index, lookup.song_id % 5 + 1, lookup.offset % 30)
    if seed % 3 == 2:  # one song's true alignment among chance rows
        n = len(lookup)
        aligned = rng.random(n) < 0.3
        offset = lookup.offset.copy()
        offset[aligned] = query_offsets[lookup.query_index[aligned]] + 700
        song = lookup.song_id.copy()
        song[aligned] = 7
        lookup = Lookup(lookup.query_index, song, offset)
    for tolerance in (0, 1, 2, 4):
        reference = matching._dense_windows(query_offsets, lookup, query_hashes, tolerance)
        compiled = matching._compiled_windows(query_offsets, lookup, query_hashes, tolerance)
        assert reference is not None and compiled is not None
        assert_same_windows(compiled, reference)


@pytest.mark.parametrize("seed", range(20))
def test_hash_labels_name_the_same_classes_as_np_unique(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 2**32, int(rng.integers(1, 3000)), dtype=np.uint64)
    dtype = (np.uint32, np.int64, np.uint64)[seed % 3]
    hashes = rng.choice(pool, int(rng.integers(0, 20000))).astype(dtype)
    labels = hash_labels(hashes)
    _, inverse = np.unique(hashes, return_inverse=True)
    assert labels.dtype == np.int64 and len(labels) == len(hashes)
    # Labels are first appearances, numbered 0, 1, ...: equal hashes, equal labels.
    first = np.unique(inverse, return_index=True)[1]
    expected = np.empty(len(first), np.int64)
    expected[np.argsort(first)] = np.arange(len(first))
    assert np.array_equal(labels, expected[inverse])


def test_kernel_declines_a_table_the_reference_declines(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    query_hashes, query_offsets, lookup = random_votes(rng)
    monkeypatch.setattr(matching.windows, "DENSE_CELLS", 0)
    monkeypatch.setattr(matching.windows, "DENSE_CELLS_PER_ROW", 0)
    assert matching._dense_windows(query_offsets, lookup, query_hashes, 1) is None
    assert matching._compiled_windows(query_offsets, lookup, query_hashes, 1) is None


@pytest.mark.parametrize("seed", range(20))
def test_rows_in_range_equal_a_filter_and_lexsort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 3000))
    hashes = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    dtype = np.uint16 if seed % 2 else np.int32
    offsets = rng.integers(0, int(rng.integers(1, 60000)), n).astype(dtype)
    for start, stop in ((-50, 2**62), (0, 10), (100, 5000), (7000, 7000), (-(2**62), 2**62)):
        got_hashes, got_offsets = rows_in_range(hashes, offsets, start, stop)
        wide = offsets.astype(np.int64)
        rows = np.flatnonzero((wide >= start) & (wide < stop))
        order = np.lexsort((hashes[rows], wide[rows]))
        assert got_hashes.dtype == np.uint32 and got_offsets.dtype == np.int32
        np.testing.assert_array_equal(got_hashes, hashes[rows][order])
        np.testing.assert_array_equal(got_offsets, wide[rows][order])


@pytest.mark.parametrize("seed", range(20))
def test_compiled_bounds_equal_the_numpy_table(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(seed)
    _, query_offsets, lookup = random_votes(rng)
    for tolerance in (0, 1, 3):
        for max_bins in (1, 64, 1 << 22):  # tiny tables force wide bins
            compiled = matching.song_bounds(query_offsets, lookup, tolerance, max_bins=max_bins)
            with monkeypatch.context() as patch:
                patch.setattr(matching.prefiltering, "_compiled_bounds", matching._bound_table)
                reference = matching.song_bounds(
                    query_offsets, lookup, tolerance, max_bins=max_bins
                )
            assert compiled.dtype == reference.dtype == np.int64
            np.testing.assert_array_equal(compiled, reference)


@pytest.mark.parametrize("seed", range(10))
def test_gather_runs_and_rows_of_songs_equal_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    bits = int(rng.integers(1, 20))
    song = rng.integers(0, 1 << (31 - bits), 5000).astype(np.uint32)
    packed = (song << np.uint32(bits)) | rng.integers(0, 1 << bits, 5000).astype(np.uint32)
    first = rng.integers(0, 4000, 300).astype(np.int64)
    counts = rng.integers(0, 40, 300).astype(np.int64) * (rng.random(300) < 0.7)
    query_index, song_id, offset = gather_runs(packed, first, counts, bits)
    rows = np.concatenate([np.arange(f, f + c) for f, c in zip(first, counts, strict=True)])
    np.testing.assert_array_equal(query_index, np.repeat(np.arange(300), counts))
    np.testing.assert_array_equal(song_id, (packed[rows] >> np.uint32(bits)).astype(np.int32))
    np.testing.assert_array_equal(
        offset, (packed[rows] & np.uint32((1 << bits) - 1)).view(np.int32)
    )
    assert (query_index.dtype, song_id.dtype, offset.dtype) == (np.int64, np.int32, np.int32)
    keep = rng.random(int(song_id.max()) + 1) < 0.3
    got = rows_of_songs(keep, query_index, song_id, offset)
    mask = keep[song_id]
    for a, b in zip(got, (query_index[mask], song_id[mask], offset[mask]), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_more_songs_than_counts_distinct_songs() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        song_id = rng.integers(0, int(rng.integers(1, 300)), int(rng.integers(1, 2000)))
        song_id = song_id.astype(np.int32)
        distinct = len(np.unique(song_id))
        for limit in (1, distinct - 1, distinct, distinct + 1, 64):
            assert more_songs_than(song_id, limit) == (distinct > limit)


@pytest.mark.parametrize("seed", range(10))
def test_join_sorted_equals_a_searchsorted_join(seed: int) -> None:
    rng = np.random.default_rng(seed)
    hashes = np.sort(rng.integers(0, 300, int(rng.integers(0, 2000))).astype(np.uint32))
    offsets = rng.integers(0, 60000, len(hashes)).astype(np.uint16)
    query = rng.integers(0, 350, int(rng.integers(1, 500))).astype(np.uint32)
    order = np.argsort(query, kind="stable")
    found, offset = join_sorted(query[order], order, hashes, offsets)
    first = np.searchsorted(hashes, query[order])
    counts = np.searchsorted(hashes, query[order], side="right") - first
    rows = np.concatenate([np.arange(f, f + c) for f, c in zip(first, counts, strict=True)])
    np.testing.assert_array_equal(found, np.repeat(order, counts))
    np.testing.assert_array_equal(offset, offsets[rows.astype(np.int64)].astype(np.int32))
    assert found.dtype == np.int64 and offset.dtype == np.int32


def _random_peaks(rng: np.random.Generator, n: int, frames: int, bins: int) -> PeakSet:
    return PeakSet.from_arrays(rng.integers(0, frames, n), rng.integers(0, bins, n))


@pytest.mark.parametrize("seed", range(30))
def test_alignment_counts_equal_the_numpy_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    query_frames = int(rng.integers(1, 300))
    # Few bins: many coincidences; query peaks may lie past its last frame.
    bins = int(rng.integers(1, 60))
    query = _random_peaks(rng, int(rng.integers(0, 800)), query_frames + 4, bins)
    reference = _random_peaks(rng, int(rng.integers(0, 3000)), int(rng.integers(1, 1500)), bins)
    if seed % 3 == 1:  # the query is a stretch of the reference, planted at frame 400
        keep = (reference.frame >= 400) & (reference.frame < 400 + query_frames)
        query = PeakSet.from_arrays(reference.frame[keep] - 400, reference.bin[keep])
    centre, reach = int(rng.integers(-200, 1200)), int(rng.integers(0, 300))
    offsets = np.arange(centre - reach, centre + reach + 1)
    for time_tolerance in (0, 1, 2):
        for freq_tolerance in (0, 1):
            options = {
                "query_frames": query_frames,
                "time_tolerance": time_tolerance,
                "freq_tolerance": freq_tolerance,
            }
            compiled = verify._alignment_counts(query, reference, offsets, **options)
            numpy_ = verify._numpy_alignment_counts(query, reference, offsets, **options)
            for got, want in zip(
                (*compiled[0], *compiled[1]), (*numpy_[0], *numpy_[1]), strict=True
            ):
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(got, want)
            if seed % 3 == 1 and time_tolerance == 0 and 400 in offsets:
                # The planted offset: every stored peak under the query meets it.
                at = 400 - offsets[0]
                assert compiled[0][0][at] == compiled[0][1][at] > 0


@pytest.mark.parametrize("seed", range(10))
def test_stable_order_equals_a_stable_argsort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_keys = int(rng.integers(1, 500))
    keys = rng.integers(0, n_keys, int(rng.integers(0, 5000))).astype(np.int64)
    order = stable_order(keys, n_keys)
    assert order.dtype == np.int64
    np.testing.assert_array_equal(order, np.argsort(keys, kind="stable"))


@pytest.mark.parametrize("seed", range(20))
def test_peaks_from_fingerprints_equal_the_numpy_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 5000))
    # Few peaks, each in many hashes (as a song's are), or all distinct.
    n_peaks = int(rng.integers(1, 400)) if seed % 2 else 4 * n + 1
    frames = np.sort(rng.integers(int(rng.integers(0, 9000)), 12000, n_peaks))
    bins = rng.integers(0, MAX_BIN + 1 if seed % 4 == 3 else 300, n_peaks)
    anchor = rng.integers(0, n_peaks, n)
    dt = rng.integers(0, MAX_DT + 1, n)
    f2 = rng.integers(0, MAX_BIN + 1 if seed % 4 == 3 else 300, n)
    order = np.lexsort((dt, anchor))
    fingerprints = Fingerprints(
        pack_hashes(bins[anchor][order], f2[order], dt[order]),
        frames[anchor][order].astype(np.int32),
    )
    got = verify.peaks_from_fingerprints(fingerprints)
    want = verify._numpy_peaks_from_fingerprints(fingerprints)
    for name in ("frame", "bin"):
        assert getattr(got, name).dtype == getattr(want, name).dtype
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    if seed == 0:
        empty = verify.peaks_from_fingerprints(Fingerprints.empty())
        assert len(empty) == 0 and empty.frame.dtype == np.int64


@pytest.mark.parametrize("seed", range(30))
def test_landmark_hashes_equal_the_numpy_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 1500))
    frames = np.sort(rng.integers(0, int(rng.integers(1, 3000)), n)).astype(np.int32)
    bins = rng.integers(0, MAX_BIN + 1 if seed % 3 else 40, n).astype(np.int32)
    if seed % 2:  # sorted by frame then bin, distinct: as find_peaks gives them
        key = np.unique((frames.astype(np.int64) << 32) | bins)
        frames, bins = (key >> 32).astype(np.int32), (key & 0xFFFFFFFF).astype(np.int32)
    elif seed % 4 == 2 and n:  # repeated peaks
        frames, bins = np.repeat(frames, 2), np.repeat(bins, 2)
    peaks = Peaks(frames, bins, np.zeros(len(frames), np.float32), 0.02, 3000)
    fan = int(rng.integers(1, 40))
    min_dt = int(rng.integers(0, 10))
    max_dt = int(rng.integers(min_dt, MAX_DT + 1))
    for max_df in (None, int(rng.integers(1, 200))):
        options = {"fan_value": fan, "min_dt": min_dt, "max_dt": max_dt, "max_df": max_df}
        got = hashing.hash_peaks(peaks, **options)  # type: ignore[arg-type]
        want = hashing._numpy_hash_peaks(peaks, **options)  # type: ignore[arg-type]
        for name in ("hashes", "offsets"):
            assert getattr(got, name).dtype == getattr(want, name).dtype
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


@pytest.mark.parametrize("seed", range(12))
def test_spectral_power_equals_the_numpy_reference_bit_for_bit(seed: int) -> None:
    from dejavu_lab.core import spectrogram

    rng = np.random.default_rng(seed)
    n_frames, n_bins = int(rng.integers(1, 80)), int(rng.integers(2, 300))
    magnitude = 10.0 ** rng.uniform(-20, 15, (n_frames, n_bins + 7))
    full = (magnitude * np.exp(2j * np.pi * rng.random(magnitude.shape))).astype(np.complex64)
    if seed % 4 == 3:  # the edges of float32: zeros, infinities, not-a-number
        full.flat[rng.integers(0, full.size, 5)] = [0, np.inf, -np.inf, np.nan, 1e-45]
    spectrum = full[:, 3 : 3 + n_bins]  # strided, as the spectrogram's band
    scale = float(10.0 ** rng.uniform(-5, 5))
    for halve_first, halve_last in ((False, False), (True, True)):
        compiled = np.empty((n_frames, n_bins), np.float32)
        spectrogram._power(
            spectrum, scale=scale, halve_first=halve_first, halve_last=halve_last, out=compiled
        )
        reference = np.empty_like(compiled)
        spectrogram._numpy_power(spectrum, scale, reference)
        if halve_first:
            reference[:, 0] *= 0.5
        if halve_last:
            reference[:, -1] *= 0.5
        assert np.array_equal(compiled.view(np.uint32), reference.view(np.uint32))


@pytest.mark.parametrize("seed", range(12))
def test_hash_variants_equal_the_numpy_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 3000))
    edge = seed % 2 == 0  # fields at their limits, where variants fall out of range
    f1 = rng.choice([0, 1, MAX_BIN - 1, MAX_BIN], n) if edge else rng.integers(0, MAX_BIN + 1, n)
    f2 = rng.integers(0, MAX_BIN + 1, n)
    dt = rng.choice([0, 1, MAX_DT - 1, MAX_DT], n) if edge else rng.integers(0, MAX_DT + 1, n)
    hashes = pack_hashes(f1, f2, dt)
    for freq_tolerance, dt_tolerance in ((0, 0), (0, 1), (1, 0), (1, 1), (2, 3)):
        compiled = hashing.tolerance_variants(
            hashes, freq_tolerance=freq_tolerance, dt_tolerance=dt_tolerance
        )
        reference = hashing._numpy_tolerance_variants(
            hashes, freq_tolerance=freq_tolerance, dt_tolerance=dt_tolerance
        )
        for got, expected in zip(compiled, reference, strict=True):
            assert got.dtype == expected.dtype and np.array_equal(got, expected)


@pytest.mark.parametrize("seed", range(12))
def test_near_maxima_equal_numpys_positions(seed: int) -> None:
    from dejavu_lab.core._kernels import near_maxima

    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(0, 60)), int(rng.integers(1, 120)))
    values = (10.0 ** rng.uniform(-44, 38, shape)).astype(np.float32)
    largest = np.maximum(values, values[::-1] * rng.uniform(0.3, 3.0, shape).astype(np.float32))
    if seed % 3 == 0:  # ties, zeros, subnormals, infinities, NaN
        for array in (values, largest):
            array.flat[rng.integers(0, max(1, array.size), 6) % max(1, array.size)] = [
                0,
                1e-45,
                2e-45,
                np.inf,
                np.nan,
                3.0,
            ][: min(6, array.size)]
    want = np.flatnonzero(values >= largest * np.float32(0.5))
    got = near_maxima(np.ascontiguousarray(values), np.ascontiguousarray(largest))
    assert got.dtype == np.int64 and np.array_equal(got, want)


def _random_stretch(rng: np.random.Generator, start: int) -> Fingerprints:
    """Rows of a song around ``start``: repeated peaks, a few triplet hashes, any order of ties."""
    n = int(rng.integers(0, 3000))
    n_peaks = int(rng.integers(1, 300))
    frames = rng.integers(max(0, start - 300), start + 900, n_peaks)
    bins = rng.integers(0, int(rng.choice([40, 400, MAX_BIN + 1])), n_peaks)
    anchor = rng.integers(0, n_peaks, n)
    dt = rng.integers(0, int(rng.choice([20, MAX_DT + 1])), n)
    f2 = bins[rng.integers(0, n_peaks, n)] if rng.random() < 0.5 else rng.integers(0, 400, n)
    hashes = pack_hashes(bins[anchor] % 2048, f2 % 2048, dt)
    triplet = rng.random(n) < 0.05
    hashes[triplet] |= TAG  # left out by the peak check
    key = (frames[anchor].astype(np.int64) << 32) | hashes.astype(np.int64)
    key.sort()
    return Fingerprints((key & 0xFFFFFFFF).astype(np.uint32), (key >> 32).astype(np.int32))


@pytest.mark.parametrize("seed", range(24))
def test_rect_near_maxima_equal_the_numpy_filters(seed: int) -> None:
    from dejavu_lab.core._kernels import rect_near_maxima
    from dejavu_lab.core.peaks import _rect_maximum_filter

    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(0, 50)), int(rng.integers(0, 70)))
    half_bins, half_frames = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    values = (10.0 ** rng.uniform(-44, 38, shape)).astype(np.float32)
    if seed % 2 == 0:  # ties: a few distinct levels
        values = rng.choice(np.float32([0, 1e-45, 2e-45, 1, 2, 3, np.inf]), shape)
    values = np.ascontiguousarray(values, dtype=np.float32)
    largest = _rect_maximum_filter(values, half_bins, half_frames)
    want = np.flatnonzero(values >= largest * np.float32(0.5))
    positions, at, finite = rect_near_maxima(values, half_bins, half_frames)
    assert finite and positions.dtype == np.int64 and np.array_equal(positions, want)
    assert np.array_equal(at.view(np.uint32), largest.ravel()[want].view(np.uint32))
    if values.size:
        values.flat[int(rng.integers(0, values.size))] = np.nan
        assert not rect_near_maxima(values, half_bins, half_frames)[2]


def test_peaks_with_a_nan_are_those_of_the_numpy_filter() -> None:
    """A NaN (which np.maximum spreads) sends find_peaks_in_power to the numpy filter."""
    from dejavu_lab.core.peaks import find_peaks, find_peaks_in_power
    from dejavu_lab.core.spectrogram import LogSpectrogram, PowerSpectrogram, power_to_db

    rng = np.random.default_rng(3)
    by_frame = (10.0 ** rng.uniform(-2, 6, (80, 60))).astype(np.float32)
    by_frame[40, 30] = np.nan
    power = PowerSpectrogram(by_frame.T, 11025, 256, 2048, 10)
    log = LogSpectrogram(power_to_db(by_frame.T), 11025, 256, 2048, 10)
    settings = {"neighborhood_freq": 3, "neighborhood_time": 4, "amp_min_db": 10.0}
    got, want = find_peaks_in_power(power, **settings), find_peaks(log, **settings)
    assert len(want) and np.array_equal(got.frame, want.frame)
    assert np.array_equal(got.bin, want.bin) and np.array_equal(got.amp_db, want.amp_db)
    assert not np.any((got.frame >= 35) & (got.frame <= 45) & (abs(got.bin - 40) <= 4))


@pytest.mark.parametrize("seed", range(40))
def test_stretch_alignment_counts_equal_the_numpy_reference(seed: int) -> None:
    """Candidates' counts from their rows at once = peaks rebuilt and aligned one by one."""
    rng = np.random.default_rng(seed)
    query_frames = int(rng.integers(0, 300)) if seed % 5 else int(rng.integers(0, 3))
    query = _random_peaks(
        rng, int(rng.integers(0, 800)), query_frames + 4, int(rng.integers(1, 400))
    )
    n_candidates = int(rng.integers(1, 11))
    reach = int(rng.integers(2, 200))
    centres = rng.integers(-100, 2000, n_candidates)
    parts, starts, stops = [], [], []
    for centre in centres:
        start = int(centre) - reach - int(rng.integers(0, 300))
        stop = int(centre) + reach + query_frames + int(rng.integers(-5, 20))
        rows = _random_stretch(rng, start)
        if seed % 2 and len(query) and len(rows.hashes):
            # The query planted in the stretch: its peaks as anchors, at the
            # centre (stored frames are never negative).
            inside = query.frame + centre >= 0
            bins = query.bin[inside] % 2048
            planted = pack_hashes(bins, bins, np.zeros(len(bins), int))
            rows = Fingerprints(
                np.concatenate([rows.hashes, planted]),
                np.concatenate([rows.offsets, (query.frame[inside] + centre).astype(np.int32)]),
            )
        parts.append(rows)
        starts.append(start)
        stops.append(stop)
    stretches = verify.Stretches.of(parts, starts, stops)
    for time_tolerance, freq_tolerance in ((0, 0), (1, 0), (2, 1)):
        got = stretch_alignment_counts(
            *dilated_query(
                query.frame, query.bin, np.int64(query_frames), time_tolerance, freq_tolerance
            ),
            stretches.hashes,
            stretches.offsets,
            stretches.bounds,
            stretches.start,
            stretches.stop,
            int(TAG),
            centres.astype(np.int64) - reach,
            2 * reach + 1,
            query_frames,
            hashing.F2_SHIFT,
            hashing.F1_SHIFT - hashing.F2_SHIFT,
            MAX_BIN,
        )
        for i, centre in enumerate(centres):
            rows = stretches.fingerprints(i)
            keep = (rows.hashes & TAG) == 0
            reference = verify._numpy_peaks_from_fingerprints(
                Fingerprints(rows.hashes[keep], rows.offsets[keep])
            )
            want = verify._numpy_alignment_counts(
                query,
                reference,
                np.arange(centre - reach, centre + reach + 1),
                query_frames=query_frames,
                time_tolerance=time_tolerance,
                freq_tolerance=freq_tolerance,
            )
            for array, expected in zip(got, (*want[0], *want[1]), strict=True):
                assert array.dtype == np.int64
                np.testing.assert_array_equal(array[i], expected)
        if seed % 2 and query_frames > 4 and len(query) > 10:
            assert got[0].sum() > 0  # the planted copies are met


@pytest.mark.parametrize("seed", range(8))
def test_band_energies_equal_the_sparse_product_bit_for_bit(seed: int) -> None:
    from scipy import sparse

    from dejavu_lab.core._kernels import band_energies
    from dejavu_lab.core.sketch import band_filters

    rng = np.random.default_rng(seed)
    n_frames = int(rng.integers(1, 400))
    first_bin, n_bins = int(rng.integers(10, 40)), int(rng.integers(300, 950))
    filters = sparse.csr_array(band_filters(11025, 2048, first_bin, n_bins))
    # A spectrogram's layout: a transposed view of (n_frames, n_bins) rows, some cells far
    # below the floor.
    rows = (10.0 ** rng.uniform(-14, 8, (n_frames, n_bins))).astype(np.float32)
    floor = np.float32(1e-10)
    got = band_energies(rows, filters.indptr, filters.indices, filters.data, floor)
    want = filters @ np.maximum(rows.T, floor)
    assert got.dtype == np.float32 and got.shape == (filters.shape[0], n_frames)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(8))
def test_differing_bits_equal_numpy_bitwise_count(seed: int) -> None:
    from numpy.lib.stride_tricks import sliding_window_view

    from dejavu_lab.core._kernels.sketch import differing_bits

    rng = np.random.default_rng(seed)
    song = rng.integers(0, 2**32, int(rng.integers(1, 600)), dtype=np.uint32)
    song[: min(3, len(song))] = [0, 2**32 - 1, 0x80000001][: min(3, len(song))]
    n = int(rng.integers(1, 80))
    query = rng.integers(0, 2**32, n, dtype=np.uint32)
    if seed % 2 and len(song) > n + 5:  # a planted copy, with some bits flipped
        query = song[5 : 5 + n] ^ rng.choice(np.uint32(1) << np.arange(32, dtype=np.uint32), n)
    starts = rng.integers(-n - 5, len(song) + 5, 300).astype(np.int64)
    starts[:4] = [-1, 0, len(song) - n, len(song) - n + 1]
    got = differing_bits(query, song, starts)
    inside = (starts >= 0) & (starts + n <= len(song))
    assert got.dtype == np.int64
    assert np.all(got[~inside] == -1)
    if inside.any():
        windows = sliding_window_view(song, n)[starts[inside], 1:]
        want = np.bitwise_count(windows ^ query[1:]).sum(axis=1, dtype=np.int64)
        np.testing.assert_array_equal(got[inside], want)
