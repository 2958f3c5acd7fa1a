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
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .core.audio import load_audio, resample
from .core.decision import decide
from .core.decision.bandwidth import low_band_ratio_db
from .core.decision.calibration import (
    DEFAULT_NULL,
    DEFAULT_SKETCH_NULL,
    EvidenceScales,
    NullModel,
    confidence_of,
)
from .core.decision.evidence import evidence_scales, scale_evidence, speed_evidence
from .core.decision.scaled_answers import scale_answer, speed_answer
from .core.decision.sketch_scores import sketch_scorer
from .core.heap import retain_freed_memory
from .core.matching import Candidate, Lookup, MatchResult
from .core.peaks import Peaks
from .core.pipeline import Pipeline, StageCache
from .core.pipeline_choice import choose_pipeline
from .core.song_caches import SKETCH_CACHE_SONGS as SKETCH_CACHE_SONGS  # a copy, for reading
from .core.song_caches import SketchCache, SongTable
from .core.speed import Factor, ScaledAnswer, factor_heights
from .core.verify import Stretches, Verification, Verifier, check_candidates
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
        (:func:`dejavu_lab.studies.calibration.calibrate`); default the one fitted on
        the free-music corpus (:data:`~dejavu_lab.core.decision.calibration.DEFAULT_NULL`).
    sketch_null : NullModel, optional
        The same for the sketch fold's evidence (``verifier__sketch_weight``), which
        decides candidates whose songs have sketches stored; default
        :data:`~dejavu_lab.core.decision.calibration.DEFAULT_SKETCH_NULL`.

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
        chosen = choose_pipeline(
            pipeline if pipeline is not None else config.get("pipeline", config.get("preset")),
            stored,
        )
        check_compatible(stored, chosen.reference_params(), f"database {self.db!r}")
        self.pipeline: Pipeline = chosen
        self.null_model: NullModel = null_model or DEFAULT_NULL
        self.sketch_null: NullModel = sketch_null or DEFAULT_SKETCH_NULL
        self._sketches = SketchCache()
        self._song_table = SongTable()

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
        self._song_table.clear()
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
        self._song_table.clear()
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
        self._sketches.clear()
        return report

    # -- recognition ----------------------------------------------------

    def _store_version(self) -> Any:
        """The store's data version (changes when any process adds songs), if it has one."""
        version = getattr(self.db, "data_version", None)
        return version() if callable(version) else None

    def _songs(self) -> tuple[np.ndarray, dict[int, str]]:
        """Each stored song's length (frames) and name, read again when the store changes."""
        return self._song_table.get(
            read=self.db.songs, frames_for=self.pipeline.frames_for, version=self._store_version()
        )

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
        if self._store_version() != self._song_table.version:
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
                sketch_z=sketch_scorer(
                    analysis.sketch,
                    ranked[: verifier.candidates or 1],
                    verifier=verifier,
                    frame_seconds=self.pipeline.spectrogram.frame_seconds,
                    read=self._song_sketches,
                ),
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
                searched = scale_evidence(scaled, scale=self.pipeline.scale)
        if best is None and scaled is None and self.pipeline.speed.searches(query_s):
            scaled = self._match_speed(query_peaks, query_frames, frames, wanted)
            if scaled is not None:
                searched = speed_evidence(
                    scaled, search=self.pipeline.speed, scales=self.evidence_scales()
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
        return evidence_scales(self.pipeline.matcher, self.pipeline.verifier)

    def _song_sketches(self, song_ids: list[int]) -> dict[int, np.ndarray]:
        """The stored sketches of these songs (absent: none stored), through a cache
        emptied whenever the store changes."""
        read = getattr(self.db, "song_sketches", None)
        if not callable(read):
            return {}
        return self._sketches.get(song_ids, read=read, version=self._store_version())

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
        return check_candidates(
            ranked,
            query_peaks,
            query_frames,
            verifier=verifier or self.pipeline.verifier,
            frame_seconds=self.pipeline.spectrogram.frame_seconds,
            reach_back=self.pipeline.hasher.max_dt,
            read=self._stretches,
            passes=passes,
        )

    def _stretches(self, song_ids: list[int], start: list[int], stop: list[int]) -> Stretches:
        """The stored rows of each song with ``start <= offset < stop``, for the peak check."""
        pinned = getattr(self.db, "pinned", None)
        # The candidates' stretches are read under one check of the store's version.
        with pinned() if callable(pinned) else contextlib.nullcontext():
            read = getattr(self.db, "song_stretches", None)
            if callable(read):
                return read(song_ids, start, stop)  # type: ignore[no-any-return]
            return Stretches.read(self.db.song_fingerprints, song_ids, start, stop)

    def _match_speed(
        self, query_peaks: Peaks, query_frames: int, song_frames: np.ndarray, top_k: int
    ) -> ScaledAnswer | None:
        """Search the query at other speeds and pitches (:mod:`dejavu_lab.core.speed`).

        Returns the answer at the best factor, or None when nothing passes
        (:func:`~dejavu_lab.core.decision.scaled_answers.speed_answer`).
        """
        return speed_answer(
            query_peaks,
            query_frames,
            pipeline=self.pipeline,
            song_frames=song_frames,
            top_k=top_k,
            lookup=lambda hashes, offsets: self._lookup(hashes, offsets, song_frames),
            count=self._tallest_windows,
            verify=self._verify,
        )

    def _match_scale(
        self, query_peaks: Peaks, query_frames: int, song_frames: np.ndarray, top_k: int
    ) -> ScaledAnswer | None:
        """Match the query by its triplet hashes (:mod:`dejavu_lab.core.scale_matching`).

        Returns the answer at the fitted speed and pitch, or None when nothing passes
        (:func:`~dejavu_lab.core.decision.scaled_answers.scale_answer`).
        """
        return scale_answer(
            query_peaks,
            query_frames,
            pipeline=self.pipeline,
            song_frames=song_frames,
            top_k=top_k,
            lookup=self.db.lookup,
            song_fingerprints=self.db.song_fingerprints,
        )

    def _tallest_windows(self, peaks: Peaks, factors: list[Factor]) -> np.ndarray:
        """For each factor, about the tallest window of any song (one lookup for all):
        :func:`~dejavu_lab.core.speed.ranking.factor_heights` on the store."""
        return factor_heights(
            peaks,
            factors,
            search=self.pipeline.speed,
            hasher=self.pipeline.hasher,
            time_tolerance=self.pipeline.matcher.time_tolerance,
            lookup=self.db.lookup,
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
