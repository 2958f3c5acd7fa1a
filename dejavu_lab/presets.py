"""Named pipeline settings.

``"dejavu"``
    The classic Dejavu settings, to study its behaviour: 44.1 kHz, a
    4096-sample Hann window with 50 % overlap, peaks in a diamond neighbourhood
    of radius 20 above 10 dB, each anchor paired with the next 15 peaks within
    0-200 frames. (Dejavu's loop ``range(1, fan_value)`` pairs with 14; we take
    the documented value, 15.) Its matcher always answers, like Dejavu: no
    tolerance, no significance test.

``"default"``
    Our own, chosen by the sweeps in ``experiments/`` for accuracy through a
    laptop microphone, storage under 1 MB a track and speed:

    - 11025 Hz, 1024-sample window, hop 256 (23 ms frames): music's robust
      peaks lie below 5 kHz; a quarter of the samples of 44.1 kHz makes
      everything four times faster.
    - 150-5000 Hz band: below it is room rumble and hum, above it the
      laptop microphone and reverberation leave little.
    - Peaks dominating a +-12 bin x +-8 frame rectangle (separable filter),
      capped at the 24 strongest a second: a fixed density whatever the
      playback level; loudness-independent, unlike an absolute threshold.
    - Anchors paired with the next 8 peaks within 1-63 frames (1.5 s) and
      +-96 bins: about 190 hashes a second, under 1 MB for a 4-minute track.
    - Queries (not stored): 3x the peak density, fan 16, 2 sub-hop shifts,
      so a noisy 1-2 s clip still offers many of the stored pairs.
    - Matching: +-1 frame tolerance; a match needs 5 aligned hashes and
      confidence 3 (chance once in 1000 queries of unseen music).
"""

from __future__ import annotations

from .exceptions import ParameterError
from .hashing import Hasher
from .matching import Matcher
from .peaks import PeakPicker
from .pipeline import Pipeline
from .spectrogram import Spectrogram

PRESETS: dict[str, Pipeline] = {
    "default": Pipeline(
        spectrogram=Spectrogram(
            sample_rate=11025,
            window_size=1024,
            hop_length=256,
            window="hann",
            fmin_hz=150.0,
            fmax_hz=5000.0,
            query_shifts=2,
        ),
        peaks=PeakPicker(
            neighborhood_freq=12,
            neighborhood_time=8,
            amp_min_db=-20.0,
            footprint="rect",
            peaks_per_second=24.0,
            query_density=3.0,
        ),
        hasher=Hasher(fan_value=8, min_dt=1, max_dt=63, max_df=96, query_fan_value=16),
        matcher=Matcher(time_tolerance=1, min_aligned=12, min_confidence=3.0),
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
    ),
}


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
