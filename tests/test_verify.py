"""Peak-level verification: exact counts, peaks rebuilt from hashes, the no-match rule."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SONG_RATE, UNSEEN_SEEDS, add_noise

from dejavu_lab import Dejavu
from dejavu_lab.core.hashing import hash_peaks
from dejavu_lab.core.peaks import Peaks
from dejavu_lab.core.presets import get_preset
from dejavu_lab.core.verify import PeakSet, Verifier, peak_alignment, peaks_from_fingerprints
from dejavu_lab.exceptions import ParameterError
from dejavu_lab.studies.synth import synth_song


def brute_force(
    query: PeakSet,
    reference: PeakSet,
    offsets: np.ndarray,
    query_frames: int,
    tt: int,
    ft: int,
    by_frame: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    matched, total = [], []
    for offset in offsets:
        under = (reference.frame >= offset) & (reference.frame < offset + query_frames)
        met = set()
        for frame, bin_ in zip(reference.frame[under], reference.bin[under], strict=True):
            near = (np.abs(query.frame - (frame - offset)) <= tt) & (np.abs(query.bin - bin_) <= ft)
            if near.any():
                met.add(int(frame) if by_frame else (int(frame), int(bin_)))
        frames = set(reference.frame[under].tolist())
        total.append(len(frames) if by_frame else int(under.sum()))
        matched.append(len(met))
    return np.array(matched), np.array(total)


@pytest.mark.parametrize("by_frame", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_peak_alignment_equals_brute_force(seed: int, by_frame: bool) -> None:
    rng = np.random.default_rng(seed)
    # Few frames and bins, so frames hold several peaks and several of them meet.
    reference = PeakSet.from_arrays(rng.integers(0, 300, 400), rng.integers(10, 40, 400))
    query = PeakSet.from_arrays(rng.integers(0, 50, 80), rng.integers(10, 40, 80))
    offsets = np.arange(int(rng.integers(-20, 100)), 200)
    tt, ft = int(rng.integers(0, 3)), int(rng.integers(0, 2))
    got = peak_alignment(
        query,
        reference,
        offsets,
        query_frames=50,
        time_tolerance=tt,
        freq_tolerance=ft,
        by_frame=by_frame,
    )
    want = brute_force(query, reference, offsets, 50, tt, ft, by_frame)
    assert got[0].max() > 0
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
    # Surviving peaks are spread over the query's frames, so frames meet too.
    assert right.reference_frames <= length and right.matched_frames >= 0.3 * length
    assert right.frame_z >= 5.0 and Verifier(min_z=8.0, min_frame_z=5.0).passes(right)
    wrong = verifier(
        query,
        reference,
        song_id=1,
        offset_frames=2400,
        query_frames=length,
        frame_seconds=0.0232,
    )
    assert wrong.z < 4.0


def test_one_chord_in_common_is_not_a_match() -> None:
    # A stored song of chords: every 10 frames a chord of 8 peaks (harmonics).
    rng = np.random.default_rng(5)
    chord_frames = np.arange(0, 3000, 10)
    frame = np.repeat(chord_frames, 8)
    bin_ = rng.integers(30, 400, len(frame))
    reference = PeakSet.from_arrays(frame, bin_)
    # An unrelated query that shares one chord, pitch for pitch, with the song
    # at frame 1500, and only chance elsewhere.
    length, start = 43, 1490
    shared = reference.frame == 1500
    query = PeakSet.from_arrays(
        np.concatenate([reference.frame[shared] - start, rng.integers(0, length, 120)]),
        np.concatenate([reference.bin[shared], rng.integers(30, 400, 120)]),
    )
    verifier = Verifier(min_z=8.0, min_frame_z=5.0)
    check = verifier(
        query, reference, song_id=1, offset_frames=start, query_frames=length, frame_seconds=0.0232
    )
    # Counted by peak the one chord looks like a match; counted by frame it is one
    # frame of the four or five under the query.
    assert check.matched >= 8 and check.z >= verifier.min_z
    assert check.matched_frames <= 2 and 4 <= check.reference_frames <= 5
    assert check.frame_z < verifier.min_frame_z
    assert not verifier.passes(check)
    assert Verifier(min_z=8.0).passes(check)


def test_hash_support_lowers_the_peak_thresholds() -> None:
    from dejavu_lab.core.verify import Verification

    verifier = Verifier(
        min_z=8.5,
        min_frame_z=5.0,
        support_confidence=0.5,
        supported_min_z=7.0,
        supported_min_frame_z=4.0,
    )

    def check(z: float, frame_z: float, hash_confidence: float) -> Verification:
        return Verification(1, 0, 10, 60, 0.02, z, 8, 20, frame_z, hash_confidence)

    assert verifier.passes(check(9.0, 6.0, 0.0))  # the peaks alone suffice
    assert not verifier.passes(check(8.0, 6.0, 0.0))  # z short of 8.5, no support
    assert verifier.passes(check(8.0, 6.0, 0.5))  # supported by the vote
    assert verifier.passes(check(7.0, 4.0, 2.0))
    assert not verifier.passes(check(6.9, 6.0, 2.0))
    assert not verifier.passes(check(7.5, 3.9, 2.0))  # one chord, however supported
    assert not verifier.passes(check(9.0, 4.9, 0.0))
    # A high z from a small share of many stored peaks is not a match.
    strict = Verifier(min_z=8.5, min_frame_z=5.0, min_fraction=0.2)
    assert not strict.passes(check(12.0, 8.0, 0.0))  # 10 of 60 stored peaks met
    assert Verifier(min_z=8.5, min_frame_z=5.0, min_fraction=0.15).passes(check(12.0, 8.0, 0.0))
    # Without support_confidence the lower thresholds never apply.
    plain = Verifier(min_z=8.5, min_frame_z=5.0)
    assert not plain.passes(check(8.0, 6.0, 50.0))


def test_verifier_parameters_are_checked() -> None:
    with pytest.raises(ParameterError, match="candidates"):
        Verifier(candidates=-1)
    with pytest.raises(ParameterError, match="min_frame_z"):
        Verifier(min_frame_z=-1.0)
    with pytest.raises(ParameterError, match="unsure_only"):
        Verifier(unsure_only=1)  # type: ignore[arg-type]
    assert not Verifier(candidates=0).enabled
    assert "verifier__min_z" in get_preset("default").get_params()
    assert "verifier__min_z" not in get_preset("default").reference_params()


def test_recognition_is_decided_by_verification(
    fingerprinted: Dejavu, song_samples: dict[str, np.ndarray]
) -> None:
    # Checking every query peak by peak, on a database built with "default".
    verified = Dejavu(
        store=fingerprinted.db,
        pipeline=get_preset("default").with_params(verifier__unsure_only=False),
    )
    assert verified.pipeline.reference_params() == fingerprinted.pipeline.reference_params()
    name = "synth_004"
    clip = add_noise(
        song_samples[name][int(11.5 * SONG_RATE) : int(13.5 * SONG_RATE)],
        5.0,
        np.random.default_rng(0),
    )
    result = verified.match_samples(clip, SONG_RATE, top_k=3)
    assert result.decided_by == "peaks"
    assert result.song_name == name
    assert result.offset_seconds == pytest.approx(11.5, abs=0.05)
    # The default's confidence is on the calibrated scale (-log10 of the false-match
    # probability, issue 15), no longer the peak check's z: the answer's z is reported
    # with its candidate, and its evidence is the one the probability was read from.
    limit = verified.pipeline.verifier.max_false_match
    assert limit is not None and result.false_match_probability is not None
    assert result.false_match_probability <= limit
    assert result.confidence == pytest.approx(-np.log10(result.false_match_probability), abs=2e-3)
    assert result.candidates[0]["song_name"] == name
    assert result.candidates[0]["z"] is not None
    assert result.candidates[0]["evidence"] == pytest.approx(result.evidence, abs=1e-3)
    # Unseen music: candidates are checked and their z given.
    unseen = synth_song(UNSEEN_SEEDS[0], 3.0, SONG_RATE)
    answer = verified.match_samples(unseen, SONG_RATE, top_k=10)
    assert answer.decided_by == "peaks"
    assert any(c["z"] is not None for c in answer.candidates)
    assert answer.false_match_probability is not None
    assert (answer.song_id is None) == (answer.false_match_probability > limit)


@pytest.mark.parametrize("seconds", [1.0, 1.5, 3.0])
def test_default_checks_peaks_only_where_hashes_do_not_decide(
    fingerprinted: Dejavu, song_samples: dict[str, np.ndarray], seconds: float
) -> None:
    default = Dejavu(store=fingerprinted.db, pipeline="default")
    # The default's own hash rule, with the peak check off.
    hashes = Dejavu(
        store=fingerprinted.db, pipeline=get_preset("default").with_params(verifier__candidates=0)
    )
    rng = np.random.default_rng(int(seconds * 10))
    for name in ("synth_001", "synth_005"):
        start = 12.0
        clip = song_samples[name][int(start * SONG_RATE) : int((start + seconds) * SONG_RATE)]
        clip = add_noise(clip, 0.0, rng)
        by_hashes = hashes.match_samples(clip, SONG_RATE)
        result = default.match_samples(clip, SONG_RATE)
        if by_hashes.is_match:
            # The matcher's own rule decided: the same answer, no peak check.
            assert result.decided_by == "hashes"
            assert (result.song_name, result.offset_seconds) == (
                by_hashes.song_name,
                by_hashes.offset_seconds,
            )
            assert all(c["z"] is None for c in result.candidates)
        else:
            assert result.decided_by == "peaks"
            assert any(c["z"] is not None for c in result.candidates)
            if result.is_match:
                assert result.song_name == name
                assert result.offset_seconds == pytest.approx(start, abs=0.05)


def test_presets_turn_the_peak_check_on_and_off() -> None:
    default = get_preset("default").verifier
    assert default.enabled and default.unsure_only and default.min_frame_z > 0
    assert default.support_confidence is not None
    assert default.supported_min_z < default.min_z
    assert not get_preset("hash-only").verifier.enabled
    assert not get_preset("dejavu").verifier.enabled
    assert get_preset("default").reference_params() == get_preset("hash-only").reference_params()


@pytest.mark.parametrize("seed", range(30))
def test_verification_reads_the_offsets_and_background_the_docstring_names(seed: int) -> None:
    # The best offset within search_frames of the centre, and p0 over the offsets
    # beyond search_frames + 1 that are not before the song's start, from masks.
    rng = np.random.default_rng(seed)
    query = PeakSet.from_arrays(rng.integers(0, 60, 80), rng.integers(0, 30, 80))
    reference = PeakSet.from_arrays(rng.integers(0, 400, 900), rng.integers(0, 30, 900))
    verifier = Verifier(search_frames=int(rng.integers(0, 4)), background_s=1.0)
    centre = int(rng.integers(-80, 300))  # before the song's start, too
    check = verifier(
        query, reference, song_id=3, offset_frames=centre, query_frames=60, frame_seconds=0.0232
    )
    reach = verifier.background_frames(0.0232)
    offsets = np.arange(centre - reach, centre + reach + 1)
    matched, total = peak_alignment(query, reference, offsets, query_frames=60)
    distance = np.abs(offsets - centre)
    near = np.flatnonzero(distance <= verifier.search_frames)
    best = near[np.argmax(matched[near])]
    far = (distance > verifier.search_frames + 1) & (offsets >= 0)
    p0 = min((matched[far].sum() + 0.5) / (total[far].sum() + 1.0), 1.0 - 1e-6)
    assert check.offset_frames == offsets[best] and check.matched == matched[best]
    assert check.background_rate == round(p0, 6)


@pytest.mark.parametrize("seed", range(6))
def test_checking_stretches_at_once_equals_one_by_one(seed: int) -> None:
    """Verifier.check_stretches gives each candidate the Verification of __call__."""
    from test_kernels import _random_peaks, _random_stretch

    from dejavu_lab.core.invariant import landmarks_only
    from dejavu_lab.core.verify import Stretches

    rng = np.random.default_rng(seed)
    verifier = get_preset("default").verifier
    frame_s = 0.0232
    query_frames = int(rng.integers(40, 300))
    query = _random_peaks(rng, int(rng.integers(0, 800)), query_frames, 300)
    offsets = rng.uniform(-50, 3000, int(rng.integers(1, 11)))
    windows = [verifier.window(o, frame_s, query_frames) for o in offsets]
    start = [first - 255 for first, _ in windows]
    stop = [last for _, last in windows]
    stretches = Stretches.of([_random_stretch(rng, s) for s in start], start, stop)
    confidences = rng.uniform(0, 3, len(offsets))
    song_ids = list(range(7, 7 + len(offsets)))
    got = verifier.check_stretches(
        query,
        stretches,
        song_ids=song_ids,
        offsets_frames=offsets,
        query_frames=query_frames,
        frame_seconds=frame_s,
        hash_confidences=confidences,
    )
    want = [
        verifier(
            query,
            peaks_from_fingerprints(landmarks_only(stretches.fingerprints(i))),
            song_id=song_ids[i],
            offset_frames=offsets[i],
            query_frames=query_frames,
            frame_seconds=frame_s,
            hash_confidence=float(confidences[i]),
        )
        for i in range(len(offsets))
    ]
    assert got == want
    # Best first until one passes: the checks up to it, whichever it is.
    for stop in range(len(offsets)):
        seen: list[object] = []

        def passes(check: object, stop: int = stop, seen: list[object] = seen) -> bool:
            seen.append(check)
            return len(seen) == stop + 1

        partial = verifier.check_stretches(
            query,
            stretches,
            song_ids=song_ids,
            offsets_frames=offsets,
            query_frames=query_frames,
            frame_seconds=frame_s,
            hash_confidences=confidences,
            passes=passes,
        )
        assert partial == want[: stop + 1] == seen


@pytest.mark.parametrize("seed", range(12))
def test_best_offset_and_background_sums_equal_numpy(seed: int) -> None:
    """The compiled summary of the candidates' counts = argmax and slice sums row by row."""
    from dejavu_lab.core._kernels import best_and_background

    rng = np.random.default_rng(seed)
    reach, search = int(rng.integers(3, 200)), int(rng.integers(0, 3))
    rows, columns = int(rng.integers(1, 12)), 2 * reach + 1
    counts = []
    for _ in range(2):
        total = rng.integers(0, 80, (rows, columns))
        counts += [
            np.minimum(total, rng.integers(0, int(rng.integers(1, 40)), (rows, columns))),
            total,
        ]
    # Candidates near (or before) the song's start: part or all of the background is cut.
    first = np.maximum(0, reach - rng.integers(-3 * reach, 3 * reach, rows))
    start = np.maximum(first, reach + search + 2)
    got = best_and_background(
        *counts, reach - search, reach + search + 1, first, reach - search - 1, start
    )
    assert got.dtype == np.int64 and got.shape == (rows, 9)
    for i in range(rows):
        best = reach - search + int(np.argmax(counts[0][i, reach - search : reach + search + 1]))
        want = [best]
        for met, under in ((counts[0], counts[1]), (counts[2], counts[3])):
            parts = [slice(first[i], max(first[i], reach - search - 1)), slice(start[i], columns)]
            want += [met[i, best], under[i, best]]
            want += [sum(int(met[i, p].sum()) for p in parts)]
            want += [sum(int(under[i, p].sum()) for p in parts)]
        assert got[i].tolist() == want


def _with_bass(clip: np.ndarray, rate: int) -> np.ndarray:
    """``clip`` with a bass line at 55-80 Hz as loud as it: below the spectrogram's band."""
    t = np.arange(len(clip)) / rate
    bass = np.sin(2 * np.pi * (55.0 + 25.0 * (np.sin(2 * np.pi * 0.5 * t) > 0)) * t)
    return clip + bass * np.std(clip) * np.sqrt(2)


def test_the_channel_gate_holds_a_query_that_kept_its_bass_to_its_own_bar(
    fingerprinted: Dejavu, song_samples: dict[str, np.ndarray]
) -> None:
    name = "synth_007"
    clip = add_noise(
        song_samples[name][int(4.0 * SONG_RATE) : int(6.0 * SONG_RATE)],
        5.0,
        np.random.default_rng(3),
    )
    heard_full_band = _with_bass(clip, SONG_RATE)
    ungated = Dejavu(
        store=fingerprinted.db,
        pipeline=get_preset("default").with_params(verifier__full_band_db=None),
    )
    plain = ungated.match_samples(clip, SONG_RATE)
    assert plain.song_name == name and plain.offset_seconds == pytest.approx(4.0, abs=0.05)
    # The bass is below the spectrogram's band: without the gate, the same answer and evidence.
    bass = ungated.match_samples(heard_full_band, SONG_RATE)
    assert (bass.song_name, bass.offset_seconds) == (name, plain.offset_seconds)
    assert bass.evidence == pytest.approx(plain.evidence, rel=0.05)

    def gate(bar: float) -> Dejavu:
        pipeline = get_preset("default").with_params(
            verifier__full_band_db=-6.0, verifier__full_band_min_evidence=bar
        )
        return Dejavu(store=fingerprinted.db, pipeline=pipeline)

    strict = gate(bass.evidence + 1.0)
    refused = strict.match_samples(heard_full_band, SONG_RATE)
    assert refused.song_id is None and refused.decided_by == "gate"
    # The null alone would have named it: its probability is within the threshold.
    assert refused.false_match_probability is not None
    assert refused.false_match_probability <= strict.pipeline.verifier.max_false_match
    # The same music without its bass (a small loudspeaker's channel) is not gated.
    kept = strict.match_samples(clip, SONG_RATE)
    assert (kept.song_name, kept.offset_seconds) == (name, plain.offset_seconds)
    # A bar the evidence clears names it with its bass.
    cleared = gate(bass.evidence - 0.5).match_samples(heard_full_band, SONG_RATE)
    assert (cleared.song_name, cleared.offset_seconds) == (name, plain.offset_seconds)


def test_the_channel_gate_parameters_are_checked() -> None:
    with pytest.raises(ParameterError, match="full_band_db"):
        get_preset("default").with_params(verifier__full_band_db=500.0)
    with pytest.raises(ParameterError, match="full_band_min_evidence"):
        get_preset("default").with_params(verifier__full_band_min_evidence=-1.0)


def test_the_channel_gate_refuses_weak_evidence_of_queries_that_kept_their_bass() -> None:
    gate = Verifier(full_band_db=-6.0, full_band_min_evidence=2.0)
    bass = np.array([-3.0, -6.0, -20.0, np.nan, -3.0])
    evidence = np.array([1.5, 1.5, 1.5, 1.5, 2.0])
    assert gate.keeps_bass(bass).tolist() == [True, False, False, False, True]
    assert gate.refuses(evidence, bass).tolist() == [True, False, False, False, False]
    assert gate.gates(1.99) and not gate.gates(2.0)
    no_gate = Verifier()
    assert not no_gate.gates(0.1)
    assert not no_gate.refuses(evidence, bass).any()
    assert not no_gate.keeps_bass(bass).any()


@pytest.mark.parametrize("seconds", [1.0, 2.0, 5.0])
def test_a_clean_copy_with_its_bass_clears_the_channel_gate(
    fingerprinted: Dejavu, song_samples: dict[str, np.ndarray], seconds: float
) -> None:
    default = Dejavu(store=fingerprinted.db, pipeline=get_preset("default"))
    gate = default.pipeline.verifier
    assert gate.full_band_db is not None
    for k, name in enumerate(sorted(song_samples)[:4]):
        start = 3.0 + 2.5 * k
        clip = song_samples[name][int(start * SONG_RATE) : int((start + seconds) * SONG_RATE)]
        result = default.match_samples(_with_bass(clip, SONG_RATE), SONG_RATE)
        assert (result.song_name, result.offset_seconds) == (name, pytest.approx(start, abs=0.05))
        assert result.evidence >= gate.full_band_min_evidence
