"""The fingerprinting pipeline: named stages with flat ``stage__param`` names.

>>> from dejavu_lab.core.presets import get_preset
>>> pipe = get_preset("dejavu")
>>> pipe.get_params()["hasher__fan_value"]
15
>>> pipe.with_params(hasher__fan_value=5).hasher.fan_value
5
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..exceptions import ParameterError
from .hashing import F1_BITS, MAX_BIN, Fingerprints, Hasher
from .invariant import TripletHasher
from .matching import Matcher
from .params import check_known
from .peaks import PeakPicker, Peaks
from .scale_matching import ScaleMatcher
from .sketch import power_sketch
from .spectrogram import LogSpectrogram, PowerSpectrogram, Spectrogram
from .speed import SpeedSearch
from .verify import Verifier

STAGE_NAMES = (
    "spectrogram",
    "peaks",
    "hasher",
    "matcher",
    "verifier",
    "speed",
    "triplets",
    "scale",
)


class StageCache(Protocol):
    """Somewhere to keep intermediate results (see :mod:`dejavu_lab.core.cache`)."""

    def get_or_compute(self, stage: str, key: Hashable, compute: Callable[[], Any]) -> Any: ...


def stage_key(stage: Any, *, query: bool) -> tuple[Any, ...]:
    """The parameters that decide a stage's output: query-only ones only for queries."""
    fields = [
        (field.name, getattr(stage, field.name))
        for field in dataclasses.fields(stage)
        if query or not field.metadata.get("query_only", False)
    ]
    return (type(stage).__name__, *fields)


#: Stages whose parameters decide the stored fingerprints.
REFERENCE_STAGES = ("spectrogram", "peaks", "hasher", "triplets")


@dataclass(frozen=True)
class Analysis:
    """Every intermediate result of fingerprinting one signal (for notebooks)."""

    spectrogram: LogSpectrogram
    peaks: Peaks
    fingerprints: Fingerprints


@dataclass(frozen=True)
class QueryAnalysis:
    """A query's fingerprints, its unshifted peaks, and its sketch (None unless asked)."""

    fingerprints: Fingerprints
    peaks: Peaks
    sketch: np.ndarray | None = None


@dataclass(frozen=True, kw_only=True)
class Pipeline:
    """Spectrogram -> peaks -> hashes, the matcher that votes on them, and the
    verifier that checks the best candidates peak by peak.

    Parameters
    ----------
    spectrogram : Spectrogram
    peaks : PeakPicker
    hasher : Hasher
    matcher : Matcher
    verifier : Verifier, optional
        Default ``Verifier(candidates=0)``: off, the matcher decides (the
        ``"default"`` preset turns it on for queries the hashes leave unsure).
    speed : SpeedSearch, optional
        Default off: queries that are no match at their own speed are not
        searched at other speeds and pitches (the ``"speed"`` preset searches).
    triplets : TripletHasher, optional
        Default off: no scale-invariant hashes are stored (the ``"invariant"``
        preset stores them beside the landmarks).
    scale : ScaleMatcher, optional
        Default off: queries that are no match at their own speed are not
        matched by triplet hashes (the ``"invariant"`` preset matches them).
    """

    spectrogram: Spectrogram
    peaks: PeakPicker
    hasher: Hasher
    matcher: Matcher
    verifier: Verifier = dataclasses.field(default_factory=lambda: Verifier(candidates=0))
    speed: SpeedSearch = dataclasses.field(default_factory=SpeedSearch)
    triplets: TripletHasher = dataclasses.field(default_factory=TripletHasher)
    scale: ScaleMatcher = dataclasses.field(default_factory=ScaleMatcher)

    def __post_init__(self) -> None:
        top_bin = self.spectrogram.window_size // 2
        if top_bin > MAX_BIN:
            raise ParameterError(
                f"spectrogram__window_size={self.spectrogram.window_size} gives bins above "
                f"{MAX_BIN}, which the 12-bit hash field cannot hold"
            )
        if self.triplets.enabled and top_bin >= 1 << (F1_BITS - 1):
            raise ParameterError(
                f"spectrogram__window_size={self.spectrogram.window_size} with triplet hashes: "
                "landmark bins must stay below 2048, so that the tag bit tells the two apart"
            )

    @property
    def steps(self) -> list[tuple[str, Any]]:
        """``(name, stage)`` pairs in processing order."""
        return [(name, getattr(self, name)) for name in STAGE_NAMES]

    def get_params(self) -> dict[str, Any]:
        """Every parameter as a flat ``{"stage__param": value}`` dict."""
        params: dict[str, Any] = {}
        for name, stage in self.steps:
            for field in dataclasses.fields(stage):
                params[f"{name}__{field.name}"] = getattr(stage, field.name)
        return params

    def reference_params(self) -> dict[str, Any]:
        """Parameters that decide the stored fingerprints.

        A database built with one set of these can only be queried with the
        same set; matcher and query-only parameters may differ freely.
        """
        params: dict[str, Any] = {}
        for name in REFERENCE_STAGES:
            stage = getattr(self, name)
            if name == "triplets" and not stage.enabled:
                continue  # an off stage stores nothing: databases built before it still open
            for field in dataclasses.fields(stage):
                if not field.metadata.get("query_only", False):
                    params[f"{name}__{field.name}"] = getattr(stage, field.name)
        return params

    def with_params(self, **params: Any) -> Pipeline:
        """A new pipeline with some parameters changed.

        Raises
        ------
        ParameterError
            For an unknown ``stage__param`` name or a value out of range.
        """
        check_known(list(params), list(self.get_params()), "the pipeline")
        changes: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            stage, _, name = key.partition("__")
            changes.setdefault(stage, {})[name] = value
        stages = {
            name: dataclasses.replace(stage, **changes[name]) if name in changes else stage
            for name, stage in self.steps
        }
        return Pipeline(**stages)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, base: Pipeline | None = None) -> Pipeline:
        """Rebuild a pipeline from :meth:`get_params` output.

        Names missing from ``params`` keep ``base``'s values, or each stage's
        own defaults without a ``base`` (presets are built on top of this module,
        so they cannot be its fallback).
        """
        if base is None:
            base = cls(
                spectrogram=Spectrogram(), peaks=PeakPicker(), hasher=Hasher(), matcher=Matcher()
            )
        return base.with_params(**dict(params))

    # -- fingerprinting -------------------------------------------------

    def analyse(self, samples: np.ndarray, *, query: bool = False) -> Analysis:
        """Run every stage on samples at ``spectrogram.sample_rate``, keeping all results."""
        spec = self.spectrogram(samples)
        peaks = self.peaks(spec, query=query)
        return Analysis(spec, peaks, self.hasher(peaks, query=query))

    def find_peaks(
        self,
        samples: np.ndarray,
        *,
        query: bool = False,
        cache: StageCache | None = None,
        key: str | None = None,
    ) -> Peaks:
        """Spectrogram then peaks, through ``cache`` when given with a ``key`` naming the audio."""
        if cache is None or key is None:
            # The same peaks as from the dB spectrogram, with the log of a few points only.
            return self.peaks.from_power(self.spectrogram.power(samples), query=query)
        spec_key = stage_key(self.spectrogram, query=False)
        peaks_key = (spec_key, stage_key(self.peaks, query=query))
        return cache.get_or_compute(
            "peaks",
            (peaks_key, key),
            lambda: self.peaks(
                cache.get_or_compute(
                    "spectrogram", (spec_key, key), lambda: self.spectrogram(samples)
                ),
                query=query,
            ),
        )

    def fingerprint(
        self, samples: np.ndarray, *, cache: StageCache | None = None, key: str | None = None
    ) -> Fingerprints:
        """Reference fingerprints of samples at ``spectrogram.sample_rate``.

        Landmark hashes, and the triplet hashes of the same peaks when the
        ``triplets`` stage is on.
        """
        return self._reference_hashes(self.find_peaks(samples, cache=cache, key=key))

    def _reference_hashes(self, peaks: Peaks) -> Fingerprints:
        if not self.triplets.enabled:
            return self.hasher(peaks)
        return Fingerprints.concatenate([self.hasher(peaks), self.triplets(peaks)]).unique()

    def fingerprint_song(self, samples: np.ndarray) -> tuple[Fingerprints, np.ndarray]:
        """A song's reference fingerprints (:meth:`fingerprint`) and its sketch
        (:func:`~dejavu_lab.core.sketch.power_sketch`, one ``uint32`` a frame), from one
        spectrogram."""
        power = self.spectrogram.power(samples)
        return self._reference_hashes(self.peaks.from_power(power)), self._sketch(power)

    def sketch_of(self, samples: np.ndarray) -> np.ndarray:
        """The sketch of samples at ``spectrogram.sample_rate``, as :meth:`fingerprint_song`
        makes a song's (a query's: its unshifted frames)."""
        power = self.spectrogram.power(samples)
        return self._sketch(power)

    def _sketch(self, power: PowerSpectrogram) -> np.ndarray:
        spec = self.spectrogram
        top = spec.fmax_hz if spec.fmax_hz is not None else spec.sample_rate / 2
        return power_sketch(power, fmin_hz=spec.fmin_hz, fmax_hz=top)

    def fingerprint_query(
        self, samples: np.ndarray, *, cache: StageCache | None = None, key: str | None = None
    ) -> Fingerprints:
        """Query fingerprints: denser peaks, wider fan, several sub-hop shifts.

        Offsets of every shift are in frames of the unshifted signal (rounded).
        """
        return self.analyse_query(samples, cache=cache, key=key)[0]

    def analyse_query(
        self, samples: np.ndarray, *, cache: StageCache | None = None, key: str | None = None
    ) -> tuple[Fingerprints, Peaks]:
        """Query fingerprints (see :meth:`fingerprint_query`) and the unshifted query peaks."""
        analysis = self.query_analysis(samples, cache=cache, key=key)
        return analysis.fingerprints, analysis.peaks

    def query_analysis(
        self,
        samples: np.ndarray,
        *,
        cache: StageCache | None = None,
        key: str | None = None,
        sketch: bool = False,
    ) -> QueryAnalysis:
        """:meth:`analyse_query`, and with ``sketch`` the query's sketch (:meth:`sketch_of`)
        from the same unshifted spectrogram."""
        bits: np.ndarray | None = None
        shifts = self.spectrogram.query_shifts
        if len(samples) > self.spectrogram.query_shift_max_s * self.spectrogram.sample_rate:
            shifts = 1
        hop = self.spectrogram.hop_length
        parts = []
        first_peaks: Peaks | None = None
        for index in range(shifts):
            start = round(index * hop / shifts)
            shift_key = None if key is None else f"{key}@{start}"
            if index == 0 and sketch and (cache is None or key is None):
                power = self.spectrogram.power(samples)
                peaks, bits = self.peaks.from_power(power, query=True), self._sketch(power)
            else:
                peaks = self.find_peaks(samples[start:], query=True, cache=cache, key=shift_key)
            if first_peaks is None:
                first_peaks = peaks
            fingerprints = self.hasher(peaks, query=True)
            if index and start * 2 >= hop:
                # The shifted frame t starts nearer frame t + 1 of the original.
                fingerprints = Fingerprints(fingerprints.hashes, fingerprints.offsets + 1)
            parts.append(fingerprints)
        assert first_peaks is not None
        fingerprints = Fingerprints.concatenate(parts).unique() if shifts > 1 else parts[0]
        if sketch and bits is None:
            bits = self.sketch_of(samples)
        return QueryAnalysis(fingerprints, first_peaks, bits)

    def frames_for(self, duration_s: float) -> int:
        """Number of frames in ``duration_s`` seconds of audio."""
        sample_rate = self.spectrogram.sample_rate
        n_samples = round(duration_s * sample_rate)
        window, hop = self.spectrogram.window_size, self.spectrogram.hop_length
        return 0 if n_samples < window else 1 + (n_samples - window) // hop
