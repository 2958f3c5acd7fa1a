"""The Dejavu-style facade: one object holding a pipeline and a store.

Its answers are :class:`~dejavu_lab.recognition.Recognition` (importable from here too);
the calibrated rule that decides them is :func:`dejavu_lab.core.decision.decide`.

>>> from dejavu_lab import Dejavu
>>> djv = Dejavu({"database": {"type": "duckdb", "path": ":memory:"}})
>>> djv.db.get_num_fingerprints()
0
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .core.audio import load_audio, resample
from .core.bandwidth import low_band_ratio_db
from .core.calibration import (
    DEFAULT_NULL,
    DEFAULT_SKETCH_NULL,
    EvidenceScales,
    NullModel,
    confidence_of,
    hash_evidence,
)
from .core.decision import decide
from .core.heap import retain_freed_memory
from .core.invariant import landmarks_only
from .core.matching import Candidate, Lookup, MatchResult
from .core.peaks import Peaks
from .core.pipeline import Pipeline, StageCache
from .core.presets import PRESETS, get_preset
from .core.scale_matching import ScaleRows, choose_scales
from .core.sketch import sketch_check
from .core.speed import (
    Factor,
    ScaledAnswer,
    SpeedMatch,
    corrected,
    distinct_keys,
    dt_variants,
    scale_peaks,
    scaled_hashes,
    window_heights,
)
from .core.verify import (
    PeakSet,
    Stretches,
    Verification,
    Verifier,
    peaks_from_fingerprints,
)
from .exceptions import ParameterError
from .fingerprinting import (
    FingerprintReport,
    SketchReport,
    add_missing_sketches,
    find_audio_files,
    fingerprint_files,
    fingerprint_path,
)
from .recognition import JSON_KEYS as JSON_KEYS  # re-exported: the cli imports it from here
from .recognition import Recognition
from .store import check_compatible, open_store
from .store.base import SongInfo

CONFIG_KEYS = ("database", "pipeline", "preset")

#: Songs whose sketches a recogniser keeps in memory at most (about 42 kB a song).
SKETCH_CACHE_SONGS = 1024


def _preset_for(reference_params: Mapping[str, Any]) -> Pipeline:
    for pipeline in PRESETS.values():
        if pipeline.reference_params() == dict(reference_params):
            return pipeline
    return get_preset("default")


class Dejavu:
    """Fingerprint music into a store and recognise queries against it.

    Parameters
    ----------
    config : dict, optional
        ``{"database": <store config or URL>, "pipeline": <preset name or
        {"stage__param": value} dict>}``; the database defaults to
        ``$DEJAVU_LAB_DB`` or ``fingerprints.duckdb``.
    pipeline : Pipeline or str, optional
        Overrides ``config["pipeline"]``. Without either, a database that has
        fingerprints is matched with the parameters it was built with, and a new
        one gets the ``"default"`` preset.
    store : Store, optional
        An already opened store (overrides ``config["database"]``).
    null_model : NullModel, optional
        The null distribution of the evidence for this database
        (:func:`dejavu_lab.studies.calibration.calibrate`); default the one
        fitted on the free-music corpus (:data:`~dejavu_lab.core.calibration.DEFAULT_NULL`).
    sketch_null : NullModel, optional
        The same for the sketch fold's evidence (``verifier__sketch_weight``), which
        decides candidates whose songs have sketches stored; default
        :data:`~dejavu_lab.core.calibration.DEFAULT_SKETCH_NULL`.

    Raises
    ------
    IncompatibleStoreError
        If the database was built with other fingerprinting parameters.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        pipeline: Pipeline | str | None = None,
        store: Any = None,
        null_model: NullModel | None = None,
        sketch_null: NullModel | None = None,
    ) -> None:
        config = dict(config or {})
        unknown = set(config) - set(CONFIG_KEYS)
        if unknown:
            raise ParameterError(
                f"unknown config key(s) {', '.join(sorted(unknown))}: "
                f"expected {', '.join(CONFIG_KEYS)}"
            )
        self.db = store if store is not None else open_store(config.get("database"))
        stored = self.db.read_params()
        chosen = pipeline if pipeline is not None else config.get("pipeline", config.get("preset"))
        if isinstance(chosen, str):
            chosen = get_preset(chosen)
        elif isinstance(chosen, Mapping):
            chosen = get_preset("default").with_params(**dict(chosen))
        if chosen is None:
            if stored is not None:
                base = _preset_for(stored["params"])
                chosen = base.with_params(**stored["params"])
            else:
                chosen = get_preset("default")
        assert isinstance(chosen, Pipeline)
        check_compatible(stored, chosen.reference_params(), f"database {self.db!r}")
        self.pipeline: Pipeline = chosen
        self.null_model: NullModel = null_model or DEFAULT_NULL
        self.sketch_null: NullModel = sketch_null or DEFAULT_SKETCH_NULL
        self._sketches: dict[int, np.ndarray | None] = {}
        self._sketches_version: Any = None
        self._song_table: tuple[np.ndarray, dict[int, str]] | None = None
        self._song_table_version: Any = None

    def __enter__(self) -> Dejavu:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store."""
        self.db.close()

    # -- fingerprinting -------------------------------------------------

    def _claim_store(self) -> None:
        if self.db.read_params() is None:
            self.db.write_params(self.pipeline.reference_params(), __version__)
        check_compatible(
            self.db.read_params(), self.pipeline.reference_params(), f"database {self.db!r}"
        )

    def fingerprint_directory(
        self,
        path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        extensions: Sequence[str] | None = None,
        nprocesses: int | None = None,
        *,
        progress: bool = True,
        executor: Any = None,
    ) -> FingerprintReport:
        """Fingerprint every audio file under ``path`` (recursively).

        Parameters
        ----------
        path : str, path, or a sequence of them
            Directories and/or files.
        extensions : sequence of str, optional
            E.g. ``[".mp3"]``; default: every supported audio extension.
        nprocesses : int, optional
            Worker processes; default the CPU count.
        progress : bool
            Show a progress bar.
        executor : Executor-like, optional
            Where the files are fingerprinted: a ``concurrent.futures.Executor``
            or a Dask ``Client`` (or ``client.get_executor()``); default local
            processes. With a server database the workers write their songs
            themselves; a DuckDB file is written by this process only.

        Returns
        -------
        FingerprintReport
        """
        self._claim_store()
        paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
        files = find_audio_files(paths, extensions)
        report = fingerprint_files(
            files,
            self.pipeline,
            self.db,
            nprocesses=nprocesses,
            progress=progress,
            executor=executor,
        )
        self._song_table = None
        return report

    def fingerprint_file(self, path: str | os.PathLike[str], song_name: str | None = None) -> int:
        """Fingerprint one file in this process; return its song id.

        The song's path is stored absolute (as :meth:`fingerprint_directory` stores it), so
        :meth:`add_missing_sketches` finds the file from any working directory.

        Raises
        ------
        AudioError
            If the file cannot be used.
        DuplicateSongError
            If its content is already stored.
        """
        self._claim_store()
        result = fingerprint_path(Path(path).resolve(), self.pipeline, song_name=song_name)
        info = SongInfo(result.name, result.path, result.content_hash, result.duration_s)
        song_id = int(self.db.add_song(info, result.fingerprints, sketch=result.sketch))
        self._song_table = None
        return song_id

    def add_missing_sketches(
        self, *, progress: bool = True, nprocesses: int | None = None
    ) -> SketchReport:
        """Give the songs fingerprinted by an earlier version the sketches they lack.

        Each such song's file is decoded again from where it was fingerprinted and
        checked to be the same file; only its sketch is computed and stored (see
        :func:`~dejavu_lab.fingerprinting.sketches.add_missing_sketches`). Songs with a sketch
        are judged by the sketch fold rather than the stricter fallback.

        Parameters
        ----------
        progress : bool
            Show a progress bar.
        nprocesses : int, optional
            Worker processes decoding files; default the CPU count.

        Returns
        -------
        SketchReport
            Songs given a sketch, songs that had one, and songs whose file is missing
            or changed (with the reason).
        """
        self._claim_store()
        report = add_missing_sketches(
            self.db, self.pipeline, progress=progress, nprocesses=nprocesses
        )
        self._sketches, self._sketches_version = {}, None
        return report

    # -- recognition ----------------------------------------------------

    def _store_version(self) -> Any:
        """The store's data version (changes when any process adds songs), if it has one."""
        version = getattr(self.db, "data_version", None)
        return version() if callable(version) else None

    def _songs(self) -> tuple[np.ndarray, dict[int, str]]:
        version = self._store_version()
        if version != self._song_table_version:
            self._song_table, self._song_table_version = None, version
        if self._song_table is None:
            songs = self.db.songs()
            size = max((s.song_id for s in songs), default=0) + 1
            frames = np.zeros(size, dtype=np.int64)
            for song in songs:
                frames[song.song_id] = self.pipeline.frames_for(song.duration_s)
            self._song_table = (frames, {s.song_id: s.name for s in songs})
        return self._song_table

    def match_samples(
        self,
        samples: np.ndarray,
        sample_rate: int | None = None,
        *,
        top_k: int | None = None,
        cache: StageCache | None = None,
        cache_key: str | None = None,
    ) -> Recognition:
        """Recognise mono samples (resampled to the pipeline's rate if needed).

        ``cache`` and ``cache_key`` (a name for these samples) let sweeps reuse
        the query's spectrogram and peaks across settings.
        """
        rate = self.pipeline.spectrogram.sample_rate
        decode = 0.0
        if sample_rate is not None and sample_rate != rate:
            start = time.perf_counter()
            samples = resample(np.asarray(samples, dtype=np.float32), sample_rate, rate)
            decode = time.perf_counter() - start
        return self._match(np.asarray(samples, dtype=np.float32), decode, top_k, cache, cache_key)

    def _match(
        self,
        samples: np.ndarray,
        decode_s: float,
        top_k: int | None,
        cache: StageCache | None = None,
        cache_key: str | None = None,
    ) -> Recognition:
        # A query's arrays reuse the last query's freed heap (no page faults).
        retain_freed_memory()
        start = time.perf_counter()
        frames, names = self._songs()
        if cache_key is not None:
            cache_key = f"{cache_key}@{self.pipeline.spectrogram.sample_rate}"
        verifier = self.pipeline.verifier
        analysis = self.pipeline.query_analysis(
            samples, cache=cache, key=cache_key, sketch=verifier.folds_sketch
        )
        query, query_peaks = analysis.fingerprints, analysis.peaks
        lookup = self._lookup(query.hashes, query.offsets, frames)
        if self._store_version() != self._song_table_version:
            frames, names = self._songs()  # songs were added meanwhile: the lookup may hold them
        query_frames = self.pipeline.frames_for(
            len(samples) / self.pipeline.spectrogram.sample_rate
        )
        wanted = top_k or self.pipeline.matcher.top_k
        result: MatchResult = self.pipeline.matcher(
            query.offsets,
            lookup,
            song_frames=frames,
            query_frames=query_frames,
            query_hashes=query.hashes,
            top_k=max(wanted, verifier.candidates),
        )
        ranked = list(result.candidates)
        query_s = len(samples) / self.pipeline.spectrogram.sample_rate
        probability: float | None = None
        evidence = 0.0
        evidence_of: dict[int, float] = {}
        if verifier.calibrated:
            rate = self.pipeline.spectrogram.sample_rate
            decision = decide(
                ranked,
                verifier=verifier,
                scales=self.evidence_scales(),
                null_model=self.null_model,
                sketch_null=self.sketch_null,
                query_s=query_s,
                verify=lambda passes: self._verify(
                    ranked, query_peaks, query_frames, passes=passes
                ),
                full_band=lambda: _full_band(samples, rate, verifier),
                sketch_z=self._sketch_scorer(analysis.sketch, ranked[: verifier.candidates or 1]),
            )
            best, decided_by = decision.best, decision.decided_by
            evidence, probability = decision.evidence, decision.false_match_probability
            z_of, evidence_of = decision.z_of, decision.evidence_of
            score = confidence_of(probability)
        elif verifier.enabled and not (verifier.unsure_only and result.best is not None):
            checks = self._verify(ranked, query_peaks, query_frames)
            # _verify stops at the first candidate that passes: it is the last check.
            passed = checks[-1] if checks and verifier.passes(checks[-1]) else None
            best = None
            if passed is not None:
                best = next(c for c in ranked if c.song_id == passed.song_id)
            score = passed.z if passed else max((c.z for c in checks), default=0.0)
            z_of = {c.song_id: c.z for c in checks}
            decided_by = "peaks"
        else:
            best = result.best
            score = ranked[0].confidence if ranked else 0.0
            z_of = {}
            decided_by = "hashes"
        if best is not None:
            ranked.remove(best)
            ranked.insert(0, best)
        speed, pitch_semitones = 1.0, 0.0
        scaled: ScaledAnswer | None = None  # an answer found at another speed or pitch
        searched: float | None = None  # its evidence
        if best is None and self.pipeline.scale.enabled:
            scaled = self._match_scale(query_peaks, query_frames, frames, wanted)
            if scaled is not None:
                scale = self.pipeline.scale
                searched = (
                    scaled.score / scale.min_z
                    if scaled.decided_by == "peaks"
                    else scaled.score / max(scale.min_confidence or 1.0, 1e-6)
                )
        if best is None and scaled is None and self.pipeline.speed.searches(query_s):
            scaled = self._match_speed(query_peaks, query_frames, frames, wanted)
            if scaled is not None:
                searched = (
                    scaled.score / self.pipeline.speed.min_z
                    if scaled.decided_by == "peaks"
                    else hash_evidence(
                        scaled.score, scaled.best.aligned_hashes, self.evidence_scales()
                    )
                )
        if scaled is not None:
            speed, pitch_semitones = scaled.speed, scaled.pitch_semitones
            ranked, best, score = scaled.ranked, scaled.best, scaled.score
            z_of, decided_by = scaled.z_of, scaled.decided_by
        if searched is not None and verifier.calibrated:
            # The triplet matcher and the speed search keep their own rules (stricter);
            # their answer's score, r = 1 at their own thresholds, is put on the one scale.
            evidence = searched
            probability = self.null_model.false_match_probability(evidence, query_s)
            score = confidence_of(probability)
        ranked = ranked[:wanted]
        elapsed = time.perf_counter() - start
        frame_s = self.pipeline.spectrogram.frame_seconds
        candidates = [
            {
                "song_id": c.song_id,
                "song_name": names.get(c.song_id),
                "offset_seconds": round(c.offset_frames * frame_s, 3),
                "aligned_hashes": c.aligned_hashes,
                "confidence": c.confidence,
                "z": z_of.get(c.song_id),
                "evidence": evidence_of.get(c.song_id),
            }
            for c in ranked
        ]
        top = ranked[0] if ranked else None
        return Recognition(
            song_id=best.song_id if best else None,
            song_name=names.get(best.song_id) if best else None,
            offset_seconds=round(best.offset_frames * frame_s, 3) if best else None,
            confidence=score,
            aligned_hashes=top.aligned_hashes if top else 0,
            input_hashes=result.input_hashes,
            match_time_s=elapsed,
            decode_time_s=decode_s,
            query_seconds=len(samples) / self.pipeline.spectrogram.sample_rate,
            candidates=candidates,
            decided_by=decided_by,
            speed=round(speed, 4),
            pitch_semitones=round(pitch_semitones, 3),
            false_match_probability=None if probability is None else float(f"{probability:.4g}"),
            evidence=round(evidence, 4),
        )

    def evidence_scales(self) -> EvidenceScales:
        """The shape of the evidence: the pipeline's old thresholds as ``r = 1``."""
        matcher, verifier = self.pipeline.matcher, self.pipeline.verifier
        return EvidenceScales(
            hash_confidence=max(matcher.min_confidence, 1e-6),
            hash_aligned=matcher.min_aligned,
            z_scale=max(verifier.min_z, 1e-6),
            frame_z_scale=max(verifier.min_frame_z, 1e-6),
            fraction_scale=verifier.min_fraction,
            support_confidence=verifier.support_confidence,
            supported_z_scale=max(verifier.supported_min_z, 1e-6),
            supported_frame_z_scale=max(verifier.supported_min_frame_z, 1e-6),
        )

    def _sketch_scorer(
        self, query: np.ndarray | None, candidates: Sequence[Candidate]
    ) -> Callable[[Candidate], float | None]:
        """``z`` of the query's sketch against each candidate song's at its offset
        (:func:`~dejavu_lab.core.sketch.sketch_check`), None for a song without a stored
        sketch (or without the query's); the songs' are read at the first call."""
        verifier = self.pipeline.verifier
        if query is None or not verifier.folds_sketch:
            return lambda candidate: None
        frame_s = self.pipeline.spectrogram.frame_seconds
        read: dict[int, dict[int, np.ndarray]] = {}

        def score(candidate: Candidate) -> float | None:
            if not read:
                read[0] = self._song_sketches([c.song_id for c in candidates])
            song = read[0].get(candidate.song_id)
            if song is None:
                return None
            return sketch_check(
                query,
                song,
                round(candidate.offset_frames),
                search_frames=verifier.search_frames,
                background_frames=verifier.background_frames(frame_s),
            ).z

        return score

    def _song_sketches(self, song_ids: list[int]) -> dict[int, np.ndarray]:
        """The stored sketches of these songs (absent: none stored), through a cache
        emptied whenever the store changes."""
        read = getattr(self.db, "song_sketches", None)
        if not callable(read):
            return {}
        version = self._store_version()
        if version != self._sketches_version or len(self._sketches) > SKETCH_CACHE_SONGS:
            self._sketches, self._sketches_version = {}, version
        missing = [song for song in song_ids if song not in self._sketches]
        if missing:
            found = read(missing)
            for song in missing:
                self._sketches[song] = found.get(song)
        return {song: bits for song in song_ids if (bits := self._sketches[song]) is not None}

    def _lookup(
        self, hashes: np.ndarray, query_offsets: np.ndarray, song_frames: np.ndarray
    ) -> Lookup:
        """The rows the matcher counts: in one stage, or two with a shortlist."""
        matcher = self.pipeline.matcher
        variants, origin = self.pipeline.hasher.lookup_variants(hashes)

        def voting(found: Lookup) -> Lookup:
            # Rows found by a variant vote for the query hash it came from.
            if len(variants) == len(hashes):
                return found
            return Lookup(origin[found.query_index], found.song_id, found.offset)

        if not matcher.uses_shortlist(int(np.count_nonzero(song_frames))):
            return voting(self.db.lookup(variants, max_postings=matcher.max_postings))
        coarse = self.db.lookup(
            hashes, max_postings=matcher.max_postings, max_rows=matcher.shortlist_rows
        )
        songs = matcher.shortlist(query_offsets, coarse, query_hashes=hashes)
        return voting(self.db.lookup_songs(variants, songs))

    def _verify(
        self,
        ranked: Sequence[Candidate],
        query_peaks: Peaks,
        query_frames: int,
        verifier: Verifier | None = None,
        passes: Callable[[Verification], bool] | None = None,
    ) -> list[Verification]:
        """Check candidates peak by peak, best first, until one passes
        (``passes``, default the verifier's thresholds)."""
        verifier = verifier or self.pipeline.verifier
        passes = passes or verifier.passes
        frame_s = self.pipeline.spectrogram.frame_seconds
        query = PeakSet.from_arrays(query_peaks.frame, query_peaks.bin)
        reach_back = self.pipeline.hasher.max_dt
        chosen = list(ranked[: verifier.candidates])
        if not chosen:
            return []
        windows = [verifier.window(c.offset_frames, frame_s, query_frames) for c in chosen]
        pinned = getattr(self.db, "pinned", None)
        # The candidates' stretches are read under one check of the store's version.
        with pinned() if callable(pinned) else contextlib.nullcontext():
            # Targets of anchors up to max_dt frames earlier land in the window too.
            stretches = self._stretches(
                [c.song_id for c in chosen],
                [first - reach_back for first, _ in windows],
                [stop for _, stop in windows],
            )
        return verifier.check_stretches(
            query,
            stretches,
            song_ids=[c.song_id for c in chosen],
            offsets_frames=[c.offset_frames for c in chosen],
            query_frames=query_frames,
            frame_seconds=frame_s,
            hash_confidences=[float(c.confidence) for c in chosen],
            passes=passes,
        )

    def _stretches(self, song_ids: list[int], start: list[int], stop: list[int]) -> Stretches:
        """The stored rows of each song with ``start <= offset < stop``, for the peak check."""
        read = getattr(self.db, "song_stretches", None)
        if callable(read):
            return read(song_ids, start, stop)  # type: ignore[no-any-return]
        return Stretches.read(self.db.song_fingerprints, song_ids, start, stop)

    def _match_speed(
        self, query_peaks: Peaks, query_frames: int, song_frames: np.ndarray, top_k: int
    ) -> ScaledAnswer | None:
        """Search the query at other speeds and pitches (:mod:`dejavu_lab.core.speed`).

        Returns the answer at the best factor, or None when nothing passes.
        """
        search, matcher = self.pipeline.speed, self.pipeline.matcher

        def match(peaks: Peaks, factor: Factor) -> MatchResult:
            hashed = self.pipeline.hasher(peaks, query=True)
            lookup = self._lookup(hashed.hashes, hashed.offsets, song_frames)
            return matcher(
                hashed.offsets,
                lookup,
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
            count=self._tallest_windows,
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
        verifier = search.verifier(self.pipeline.verifier)
        frames = round(query_frames * outcome.factor.time_scale)
        checks = self._verify(ranked[: search.candidates], outcome.peaks, frames, verifier)
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

    def _match_scale(
        self, query_peaks: Peaks, query_frames: int, song_frames: np.ndarray, top_k: int
    ) -> ScaledAnswer | None:
        """Match the query by its triplet hashes (:mod:`dejavu_lab.core.scale_matching`).

        Returns the answer at the fitted speed and pitch, or None when nothing passes.
        """
        scale = self.pipeline.scale
        query = self.pipeline.triplets.query(query_peaks)
        if not len(query):
            return None
        found = self.db.lookup(query.hashes, max_postings=scale.max_postings)
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
            self.pipeline.verifier,
            min_z=scale.min_z,
            min_frame_z=scale.min_frame_z,
            min_fraction=scale.min_fraction,
            support_confidence=None,
        )
        frame_s = self.pipeline.spectrogram.frame_seconds
        query_set = PeakSet.from_arrays(query_peaks.frame, query_peaks.bin)
        grid = scale.scale_grid()
        z_of: dict[int, float] = {}
        for fit, candidate in zip(fits[: max(1, scale.candidates)], ranked, strict=False):
            span = math.ceil((1.0 + scale.max_change) * query_frames)
            first, stop = verifier.window(fit.offset_frames, frame_s, span)
            stored = peaks_from_fingerprints(
                landmarks_only(
                    self.db.song_fingerprints(
                        fit.song_id, first - self.pipeline.hasher.max_dt, stop
                    )
                )
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

    def _tallest_windows(self, peaks: Peaks, factors: list[Factor]) -> np.ndarray:
        """For each factor, about the tallest window of any song (one lookup for all).

        The query's peaks mapped back under every factor are hashed with the
        speed search's sparser fan (:func:`~dejavu_lab.core.speed.scaled_hashes`)
        (``speed__fan_value``, sparser still past ``speed__fan_seconds``)
        and its ``dt`` variants (``speed__dt_tolerance``), looked up at once (no
        shortlist: every row of every song), and their votes counted together
        (:func:`~dejavu_lab.core.speed.window_heights`).
        """
        search = self.pipeline.speed
        hasher = dataclasses.replace(
            self.pipeline.hasher,
            query_fan_value=search.rank_fan(peaks.n_frames * peaks.frame_seconds),
            query_dt_tolerance=0,
        )
        hashed, owner = scaled_hashes(peaks, factors, hasher)
        hashes, offsets = hashed.hashes, hashed.offsets
        if search.dt_tolerance:
            # Each variant votes as a query hash of its own (every row counts).
            hashes, origin = dt_variants(hashes, dt_tolerance=search.dt_tolerance)
            owner, offsets = owner[origin], offsets[origin]
        keys, key_of = distinct_keys(hashes)
        return window_heights(
            owner,
            offsets,
            key_of,
            self.db.lookup(keys),
            n_sets=len(factors),
            time_tolerance=self.pipeline.matcher.time_tolerance,
        )

    def match_file(self, path: str | os.PathLike[str], *, top_k: int | None = None) -> Recognition:
        """Decode a file and recognise it."""
        start = time.perf_counter()
        audio = load_audio(path, sample_rate=self.pipeline.spectrogram.sample_rate)
        decode = time.perf_counter() - start
        return self._match(audio.samples, decode, top_k)

    def recognize(self, recognizer: type, *args: Any, **options: Any) -> dict[str, Any]:
        """Recognise with a recognizer class, as Dejavu does.

        ``djv.recognize(FileRecognizer, "clip.wav")`` or
        ``djv.recognize(MicrophoneRecognizer, seconds=5)``.
        """
        return dict(recognizer(self).recognize(*args, **options))


def _full_band(samples: np.ndarray, rate: int, verifier: Verifier) -> bool:
    """Whether a query kept its bass, for the channel gate (silence does not)."""
    return bool(verifier.keeps_bass(low_band_ratio_db(samples, rate)))


def _first(ranked: list[Candidate], best: Candidate) -> list[Candidate]:
    """``ranked`` with ``best`` moved to the front."""
    return [best, *(c for c in ranked if c.song_id != best.song_id)]


class BaseRecognizer:
    """Turns some input into a recognition answer (a dict)."""

    def __init__(self, dejavu: Dejavu) -> None:
        self.dejavu = dejavu

    def recognize(self, *args: Any, **options: Any) -> dict[str, Any]:
        raise NotImplementedError


class FileRecognizer(BaseRecognizer):
    """Recognise an audio file."""

    def recognize(  # type: ignore[override]
        self, path: str | os.PathLike[str], *, top_k: int | None = None
    ) -> dict[str, Any]:
        return self.dejavu.match_file(path, top_k=top_k).to_dict()


class SamplesRecognizer(BaseRecognizer):
    """Recognise samples already in memory."""

    def recognize(  # type: ignore[override]
        self, samples: np.ndarray, sample_rate: int, *, top_k: int | None = None
    ) -> dict[str, Any]:
        return self.dejavu.match_samples(samples, sample_rate, top_k=top_k).to_dict()
