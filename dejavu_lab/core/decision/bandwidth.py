"""How much bass a query holds: a sign of the channel it came through (an exploration).

A small loudspeaker (a laptop's, a phone's) plays almost nothing below
150 Hz, so music heard through one and recorded again keeps little of its bass,
while a file of the music itself keeps it all. :func:`low_band_ratio_db` is the
power below the spectrogram stage's band (30-110 Hz by default) over the power
in it (150 Hz-5 kHz), in dB: about -2 dB for the corpus's median clean clip and
-25 dB through the study's ``laptop-mic`` channel (``experiments/channel_gate.py``,
which measures whether a stricter bar for full-band queries keeps music that
only resembles a song from being named; ``docs/no-match.md``, the channel gate).

>>> import numpy as np
>>> t = np.arange(11025) / 11025
>>> bass_and_tone = np.sin(2 * np.pi * 60 * t) + np.sin(2 * np.pi * 440 * t)
>>> abs(low_band_ratio_db(bass_and_tone, 11025)) < 0.01  # equal powers: 0 dB
True
>>> low_band_ratio_db(np.sin(2 * np.pi * 440 * t), 11025) < -40
True
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import welch

#: Band whose power is measured (Hz): below what a laptop's loudspeaker plays.
LOW_BAND_HZ = (30.0, 110.0)
#: Band it is compared with (Hz): the default spectrogram stage's.
REFERENCE_BAND_HZ = (150.0, 5000.0)
#: FFT length of the power spectrum (samples): 5.4 Hz bins at 11,025 Hz.
SEGMENT = 2048


def low_band_ratio_db(
    samples: np.ndarray,
    sample_rate: int,
    *,
    low_hz: tuple[float, float] = LOW_BAND_HZ,
    reference_hz: tuple[float, float] = REFERENCE_BAND_HZ,
) -> float:
    """Power in ``low_hz`` over power in ``reference_hz`` (dB), Welch's average.

    Parameters
    ----------
    samples : np.ndarray
        Mono samples (any scale: the ratio does not depend on the gain).
    sample_rate : int
        Their rate (Hz).
    low_hz, reference_hz : tuple of float
        The two bands (Hz), each ``(lowest, highest)``, both below the Nyquist frequency.

    Returns
    -------
    float
        The ratio in dB; ``-inf`` with no power in ``low_hz``, ``nan`` with none in
        ``reference_hz`` (silence) or samples shorter than one segment.
    """
    nyquist = sample_rate / 2
    for name, (lo, hi) in (("low_hz", low_hz), ("reference_hz", reference_hz)):
        if not 0 <= lo < hi <= nyquist:
            raise ValueError(f"{name} must be 0 <= lowest < highest <= {nyquist:g} Hz: {lo, hi}")
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"samples must be mono (1-D), got shape {x.shape}")
    if len(x) < SEGMENT:
        return math.nan
    freqs, power = welch(x, fs=sample_rate, nperseg=SEGMENT, detrend=False)
    low = float(power[(freqs >= low_hz[0]) & (freqs <= low_hz[1])].sum())
    reference = float(power[(freqs >= reference_hz[0]) & (freqs <= reference_hz[1])].sum())
    if reference <= 0:
        return math.nan
    if low <= 0:
        return -math.inf
    return 10 * math.log10(low / reference)
