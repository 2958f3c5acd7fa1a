"""Answers at another speed or pitch: the speed search and the triplet matcher on a query.

Tried when a query is no match at its own speed. Each keeps its own rule (stricter than
the one at speed 1) and returns a :class:`~dejavu_lab.core.speed.results.ScaledAnswer`, or None.
As :func:`~dejavu_lab.core.decision.decide` does, each takes the store's reads and the
peak check as callables, so nothing here knows about the store.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np

from ..hashing import Fingerprints
from ..invariant import landmarks_only
from ..matching import Candidate, Lookup, MatchResult
from ..peaks import Peaks
from ..pipeline import Pipeline
from ..scale_matching import ScaleRows, choose_scales
from ..speed import Factor, ScaledAnswer, SpeedMatch, corrected, scale_peaks
from ..verify import PeakSet, Verification, Verifier, peaks_from_fingerprints


def speed_answer(
    query_peaks: Peaks,
    query_frames: int,
    *,
    pipeline: Pipeline,
    song_frames: np.ndarray,
    top_k: int,
    lookup: Callable[[np.ndarray, np.ndarray], Lookup],
    count: Callable[[Peaks, list[Factor]], np.ndarray],
    verify: Callable[[Sequence[Candidate], Peaks, int, Verifier], Sequence[Verification]],
) -> ScaledAnswer | None:
    """Search the query at other speeds and pitches (:mod:`dejavu_lab.core.speed`).

    Parameters
    ----------
    query_peaks : Peaks
        The query's peaks.
    query_frames : int
        The query's length (frames).
    pipeline : Pipeline
        Its ``speed`` search, ``hasher``, ``matcher`` and ``verifier``.
    song_frames : np.ndarray, int64
        Each song's length (frames), indexed by song id.
    top_k : int
        Candidates wanted.
    lookup : callable
        ``lookup(hashes, offsets)``: the rows the matcher counts for these query hashes.
    count : callable
        ``count(peaks, factors)``: each factor's tallest window
        (:func:`~dejavu_lab.core.speed.ranking.factor_heights`).
    verify : callable
        ``verify(ranked, peaks, query_frames, verifier)``: the peak checks of ``ranked``,
        best first, up to the first that passes.

    Returns
    -------
    ScaledAnswer or None
        The answer at the best factor, or None when nothing passes.
    """
    search, matcher = pipeline.speed, pipeline.matcher

    def match(peaks: Peaks, factor: Factor) -> MatchResult:
        hashed = pipeline.hasher(peaks, query=True)
        found = lookup(hashed.hashes, hashed.offsets)
        return matcher(
            hashed.offsets,
            found,
            song_frames=song_frames,
            query_frames=round(query_frames * factor.time_scale),
            query_hashes=hashed.hashes,
            top_k=max(top_k, search.candidates),
        )

    def rule(found: SpeedMatch) -> MatchResult:
        return corrected(
            found.result,
            tests=found.factors_tried,
            min_aligned=matcher.min_aligned,
            min_confidence=matcher.min_confidence,
        )

    outcome = search.search(
        query_peaks,
        count=count,
        match=match,
        accept=(lambda found: rule(found).is_match) if search.first_match else None,
        decided=lambda found: rule(found).is_match,
    )
    result = rule(outcome)
    ranked = list(result.candidates)
    factor = outcome.factor
    if result.best is not None:
        return ScaledAnswer(
            speed=factor.speed,
            pitch_semitones=factor.pitch_semitones,
            ranked=ranked,
            best=result.best,
            score=result.best.confidence,
            z_of={},
            decided_by="hashes",
        )
    if not search.candidates:
        return None
    verifier = search.verifier(pipeline.verifier)
    frames = round(query_frames * outcome.factor.time_scale)
    checks = verify(ranked[: search.candidates], outcome.peaks, frames, verifier)
    if not checks or not verifier.passes(checks[-1]):
        return None
    best = next(c for c in ranked if c.song_id == checks[-1].song_id)
    ranked.remove(best)
    ranked.insert(0, best)
    return ScaledAnswer(
        speed=factor.speed,
        pitch_semitones=factor.pitch_semitones,
        ranked=ranked,
        best=best,
        score=checks[-1].z,
        z_of={c.song_id: c.z for c in checks},
        decided_by="peaks",
    )


def scale_answer(
    query_peaks: Peaks,
    query_frames: int,
    *,
    pipeline: Pipeline,
    song_frames: np.ndarray,
    top_k: int,
    lookup: Callable[..., Lookup],
    song_fingerprints: Callable[[int, int, int], Fingerprints],
) -> ScaledAnswer | None:
    """Match the query by its triplet hashes (:mod:`dejavu_lab.core.scale_matching`).

    Parameters
    ----------
    query_peaks : Peaks
        The query's peaks.
    query_frames : int
        The query's length (frames).
    pipeline : Pipeline
        Its ``triplets``, ``scale`` matcher, ``verifier`` (with the scale matcher's
        thresholds), ``hasher`` (``max_dt``) and ``spectrogram`` (frame length).
    song_frames : np.ndarray, int64
        Each song's length (frames), indexed by song id.
    top_k : int
        Candidates wanted.
    lookup : callable
        ``lookup(hashes, max_postings=...)``: the stored rows of these hashes (a store's
        ``lookup``).
    song_fingerprints : callable
        ``song_fingerprints(song_id, start, stop)``: the song's stored rows with
        ``start <= offset < stop`` (a store's method of that name).

    Returns
    -------
    ScaledAnswer or None
        The answer at the fitted speed and pitch, or None when nothing passes.
    """
    scale = pipeline.scale
    query = pipeline.triplets.query(query_peaks)
    if not len(query):
        return None
    found = lookup(query.hashes, max_postings=scale.max_postings)
    triplet = query.origin[found.query_index]
    rows = ScaleRows(
        query.anchor_frames[triplet].astype(np.float64),
        found.song_id.astype(np.int64),
        found.offset.astype(np.int64),
        triplet,
    )
    fits = scale(rows, song_frames=song_frames, query_frames=query_frames)
    if not fits:
        return None
    ranked = [
        Candidate(f.song_id, f.offset_frames, f.aligned_rows, f.song_rows, 0, f.confidence)
        for f in fits[: max(top_k, scale.candidates)]
    ]
    verifier = dataclasses.replace(
        pipeline.verifier,
        min_z=scale.min_z,
        min_frame_z=scale.min_frame_z,
        min_fraction=scale.min_fraction,
        support_confidence=None,
    )
    frame_s = pipeline.spectrogram.frame_seconds
    query_set = PeakSet.from_arrays(query_peaks.frame, query_peaks.bin)
    grid = scale.scale_grid()
    z_of: dict[int, float] = {}
    for fit, candidate in zip(fits[: max(1, scale.candidates)], ranked, strict=False):
        span = math.ceil((1.0 + scale.max_change) * query_frames)
        first, stop = verifier.window(fit.offset_frames, frame_s, span)
        stored = peaks_from_fingerprints(
            landmarks_only(song_fingerprints(fit.song_id, first - pipeline.hasher.max_dt, stop))
        )
        speed, freq_scale = choose_scales(
            query_set,
            stored,
            fit,
            query_frames=query_frames,
            grid=grid,
            time_tolerance=verifier.time_tolerance,
            simpler_within=scale.simpler_within,
        )
        pitch = 12.0 * math.log2(freq_scale)
        # The line turns about the query's centre: the offset follows the speed.
        offset = fit.offset_frames + (fit.speed - speed) * query_frames / 2.0
        candidate = dataclasses.replace(candidate, offset_frames=offset)
        if scale.passes_hashes(fit):
            return ScaledAnswer(
                speed=speed,
                pitch_semitones=pitch,
                ranked=_first(ranked, candidate),
                best=candidate,
                score=fit.confidence,
                z_of=z_of,
                decided_by="hashes",
            )
        if not scale.candidates:
            continue
        scaled = scale_peaks(query_peaks, freq_scale=freq_scale, time_scale=speed)
        check = verifier(
            PeakSet.from_arrays(scaled.frame, scaled.bin),
            stored,
            song_id=fit.song_id,
            offset_frames=offset,
            query_frames=math.ceil(speed * query_frames),
            frame_seconds=frame_s,
            hash_confidence=fit.confidence,
        )
        z_of[fit.song_id] = check.z
        if verifier.passes(check):
            return ScaledAnswer(
                speed=speed,
                pitch_semitones=pitch,
                ranked=_first(ranked, candidate),
                best=candidate,
                score=check.z,
                z_of=z_of,
                decided_by="peaks",
            )
    return None


def _first(ranked: list[Candidate], best: Candidate) -> list[Candidate]:
    """``ranked`` with ``best`` moved to the front."""
    return [best, *(c for c in ranked if c.song_id != best.song_id)]
