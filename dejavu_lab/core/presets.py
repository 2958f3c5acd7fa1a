"""Named pipeline settings.

``"default"``
    Ours, tuned for accuracy through a laptop microphone, rare false matches on
    unseen music, under 1 MB a track, and speed: 11025 Hz, a 2048-sample
    window with hop 256, 150-5000 Hz, at most 80 peaks a second in +-5 bins x
    +-5 frames, each anchor paired with 15 peaks 8-63 frames later within
    +-96 bins; queries use denser peaks, fan 30 and +-1 frame of ``dt``.
    Collections of 200 songs or more are matched in two stages.

    The no-match rule: one threshold on one scale. Each candidate's evidence
    ``r`` is the larger of its hash vote's and its peak check's, each scaled so
    that ``r = 1`` where the earlier rule accepted (:mod:`dejavu_lab.core.decision.calibration`),
    plus 0.1 times the ``z`` of the song's stored sketch at that offset (every
    frame's band-energy bits, :mod:`dejavu_lab.core.sketch`; ``verifier__sketch_weight``);
    the null model of unseen music turns it into a false-match probability,
    and a match needs it ``<= verifier__max_false_match`` (3e-4). The hashes'
    best candidate is tried first; else the 10 best are checked peak by peak.
    Songs stored without a sketch (by a version before the fold) are read on
    ``r`` alone, against its own null.
    The channel gate: a query that kept its bass (power at 30-110 Hz within
    6 dB of that at 150 Hz-5 kHz: not played through a small loudspeaker)
    also needs ``r >= 2``, as a clean copy of a stored song far exceeds and
    music that only resembles one does not (``verifier__full_band_*``).

``"hash-only"``
    ``"default"`` answering from the hashes alone, with hash confidence 3
    (same database, faster on 1-2 s queries, less accurate through a room).

``"dejavu"``
    The classic Dejavu settings: 44.1 kHz, a 4096-sample Hann window with
    50 % overlap, peaks in a diamond of radius 20 above 10 dB, fan 15 within
    0-200 frames, and a matcher that always answers.

``"speed"``
    ``"default"`` (same database) that also names clips played up to 6 %
    faster or slower, or shifted in pitch by up to about a semitone: a query
    that is no match at its own speed is searched over scale factors
    (:mod:`dejavu_lab.core.speed`, ``docs/speed.md``).

``"invariant"``
    ``"default"`` with scale-invariant triplet hashes stored beside the
    landmarks (its own database): a query that is no match at its own speed
    is matched by them, fitting speed and offset, then its pitch
    (:mod:`dejavu_lab.core.invariant`, :mod:`dejavu_lab.core.scale_matching`,
    ``docs/speed.md``).

``"invariant-speed"``
    ``"invariant"`` (same database) whose queries the triplets leave
    unanswered are searched over scale factors as by ``"speed"``.

Why each value, and what each preset measured: the documentation's presets
page (``docs/presets.md``) and its studies page.
"""

from __future__ import annotations

from ..exceptions import ParameterError
from .hashing import Hasher
from .matching import Matcher
from .peaks import PeakPicker
from .pipeline import Pipeline
from .spectrogram import Spectrogram
from .verify import Verifier

PRESETS: dict[str, Pipeline] = {
    "default": Pipeline(
        spectrogram=Spectrogram(
            sample_rate=11025,
            window_size=2048,
            hop_length=256,
            window="hann",
            fmin_hz=150.0,
            fmax_hz=5000.0,
            query_shifts=2,
        ),
        peaks=PeakPicker(
            neighborhood_freq=5,
            neighborhood_time=5,
            amp_min_db=-20.0,
            footprint="rect",
            peaks_per_second=80.0,
            query_density=2.0,
        ),
        hasher=Hasher(
            fan_value=15,
            min_dt=8,
            max_dt=63,
            max_df=96,
            query_fan_value=30,
            query_dt_tolerance=1,
        ),
        matcher=Matcher(
            time_tolerance=1,
            min_aligned=5,
            min_confidence=3.0,
            prefilter_songs=64,
            shortlist_songs=16,
            shortlist_rows=1_500_000,
            shortlist_min_songs=200,
        ),
        verifier=Verifier(candidates=0),
    ),
    "dejavu": Pipeline(
        spectrogram=Spectrogram(
            sample_rate=44100, window_size=4096, hop_length=2048, window="hann"
        ),
        peaks=PeakPicker(
            neighborhood_freq=20, neighborhood_time=20, amp_min_db=10.0, footprint="diamond"
        ),
        hasher=Hasher(fan_value=15, min_dt=0, max_dt=200),
        matcher=Matcher(time_tolerance=0, min_aligned=1, min_confidence=0.0, distinct_hashes=False),
        verifier=Verifier(candidates=0),
    ),
}


PRESETS["hash-only"] = PRESETS["default"]
PRESETS["default"] = PRESETS["hash-only"].with_params(
    matcher__min_confidence=4.0,
    verifier__candidates=10,
    verifier__time_tolerance=1,
    verifier__freq_tolerance=0,
    verifier__min_z=8.5,
    verifier__min_frame_z=5.0,
    verifier__min_fraction=0.10,
    verifier__support_confidence=0.5,
    verifier__supported_min_z=7.0,
    verifier__supported_min_frame_z=4.0,
    verifier__unsure_only=True,
    verifier__max_false_match=3e-4,
    verifier__full_band_db=-6.0,
    verifier__full_band_min_evidence=2.0,
    verifier__sketch_weight=0.1,
)

PRESETS["speed"] = PRESETS["default"].with_params(
    speed__max_change=0.06,
    speed__pitch=True,
    speed__coarse_step=0.006,
    speed__fan_value=15,
    speed__fan_seconds=3.0,
    speed__dt_tolerance=1,
    speed__polish_step=0.001,
    speed__keep=3,
    speed__min_seconds=2.0,
    speed__extra_finals=1,
    speed__second_step=0.002,
)


PRESETS["invariant"] = PRESETS["default"].with_params(
    triplets__fan_value=8,
    triplets__min_dt=4,
    triplets__max_dt=63,
    triplets__max_octaves=1.5,
    triplets__ratio_levels=64,
    triplets__octave_step=1.0 / 64.0,
    triplets__query_fan_value=15,
    triplets__query_margin=0.25,
    triplets__query_peaks_per_second=80.0,
    scale__max_change=0.07,
    scale__max_postings=200,
    scale__votes="unit",
)

PRESETS["invariant-speed"] = PRESETS["invariant"].with_params(
    **{
        name: value
        for name, value in PRESETS["speed"].get_params().items()
        if name.startswith("speed__")
    }
)


def get_preset(name: str) -> Pipeline:
    """The pipeline of a named preset.

    Raises
    ------
    ParameterError
        For an unknown name, listing the known ones.
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise ParameterError(
            f"unknown preset {name!r}: expected one of {', '.join(sorted(PRESETS))}"
        ) from None
