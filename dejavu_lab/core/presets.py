"""Named pipeline settings.

``"dejavu"``
    The classic Dejavu settings, to study its behaviour: 44.1 kHz, a
    4096-sample Hann window with 50 % overlap, peaks in a diamond neighbourhood
    of radius 20 above 10 dB, each anchor paired with the next 15 peaks within
    0-200 frames. (Dejavu's loop ``range(1, fan_value)`` pairs with 14; we take
    the documented value, 15.) Its matcher always answers, like Dejavu: no
    tolerance, no significance test.

``"default"``
    Our own, chosen with the sweeps in ``experiments/`` (and the calibration
    runs summarised in the README) for accuracy through a laptop microphone,
    false matches on unseen music, storage under 1 MB a track, and speed:

    - 11025 Hz: music's robust peaks lie below 5 kHz, and a quarter of the
      samples of 44.1 kHz makes everything four times faster.
    - A 2048-sample window (186 ms, 5.4 Hz bins) with hop 256 (23 ms): held
      notes stand out of speech babble and reverberation better than with
      1024 samples (a third more stored peaks survive the laptop-mic channel).
    - 150-5000 Hz: below is room rumble and hum, above it the laptop's
      microphone and the room leave little.
    - Peaks dominating a +-5 bin x +-5 frame rectangle (a separable maximum
      filter), at most the 80 strongest a second: the density does not depend
      on the playback level, so the amplitude threshold is low (-20 dB).
    - Each anchor pairs with 15 peaks 8-63 frames later (0.19-1.46 s) within
      +-96 bins. The zone starts 8 frames on: pairs of one note's harmonics a
      frame apart are shared by every song with that instrument and pitch, and
      made unseen music match. About 400 hashes a second, at 9 bytes a hash in
      DuckDB about 0.9 MB for a 4-minute track: the densest setting under 1 MB
      (denser peaks and wider fans were the biggest gains at 1-2 s).
    - Queries (nothing stored): twice the peak density, fan 30, lookups within
      +-1 frame of ``dt`` (peaks heard through a room move by a frame), and,
      for queries up to 3 s, two sub-hop shifts (49 % instead of 33 % right at
      1 s; longer queries do not need them and match twice as fast without).
    - Matching: +-1 frame; the hashes alone name a song with 5 aligned
      hashes and confidence 3 (see :mod:`dejavu_lab.core.matching`): in
      calibration on the full corpus, 0.26 % of clips of never-fingerprinted
      tracks were named a song. In
      collections of more than 64 songs only the 64 whose coarse vote
      histograms could hold the tallest windows are counted exactly
      (``matcher__prefilter_songs``); no stop-list (``matcher__max_postings``).
      Collections of 200 songs or more are matched in two stages
      (``matcher__shortlist_songs``): the query's rarer hashes, up to 1.5 M
      rows, shortlist 16 songs, whose every row is then counted. At 10,000
      songs a 5 s query took 66-79 ms instead of 346-411 (medians of four
      runs), with the same accuracy, or 91.5 ms with the peak check below
      (``benchmarks/README.md``).
    - The no-match rule, in two steps. A query whose hashes agree (5 aligned,
      confidence 4; see :mod:`dejavu_lab.core.matching`) is answered from them.
      Otherwise the 10 best hash candidates are checked peak by peak
      (:mod:`dejavu_lab.core.verify`: stored peaks within +-1 frame of a query peak
      in the same bin), best first; the first that meets 10 % of the stored
      peaks under the query, with ``z`` 8.5 and ``frame_z`` 5 (or 7 and 4
      for a candidate whose hash confidence reached 0.5), is the answer. On
      the full corpus's 1 s laptop-mic clips this names the right song for
      86 % instead of the hashes' 53 %, at 2 s 97 % instead of 87 % (query
      seeds 1 to 4, 360 clips a length); 3 of 384 laptop-mic 1 s clips of
      unseen tracks were named a song, none of 384 at 2 s (README,
      "Verification peak by peak"). On synthetic songs of a few harmonic
      tones (:mod:`dejavu_lab.studies.synth`), 29 of 96 clean 1 s clips of unseen
      songs were named a song (none with the hashes alone; 7 at 2 s): check
      sparse tonal music on unseen tracks first.

``"hash-only"``
    ``"default"`` answering from the hashes alone (same database): three times
    faster on 1-2 s queries; through a room it names 53 % of 1 s clips right
    instead of 86 %. It was the default until the peak check counted chords
    once (``verifier__min_frame_z``).

``"speed"``
    ``"default"`` (same database) that also names clips played up to 6 %
    faster or slower, or shifted in pitch by up to about a semitone: a query
    that is no match at its own speed is searched over scale factors
    (:mod:`dejavu_lab.core.speed`, ``docs/speed.md``).
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
)

PRESETS["speed"] = PRESETS["default"].with_params(
    speed__max_change=0.06,
    speed__pitch=True,
    speed__coarse_step=0.006,
    speed__fan_value=15,
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
