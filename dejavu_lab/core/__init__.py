"""The pipeline's stages and the maths behind them.

Audio in, spectrogram, peaks, hashes, votes, a peak check; a :class:`Pipeline`
strings the stages together and :mod:`~dejavu_lab.core.presets` names tried
settings. Nothing here knows about databases, microphones or studies: those
packages build on this one.
"""

from .hashing import Fingerprints, Hasher
from .matching import Matcher
from .peaks import PeakPicker, Peaks
from .pipeline import Pipeline
from .presets import PRESETS, get_preset
from .spectrogram import LogSpectrogram, Spectrogram
from .speed import SpeedSearch
from .verify import Verifier

__all__ = [
    "PRESETS",
    "Fingerprints",
    "Hasher",
    "LogSpectrogram",
    "Matcher",
    "PeakPicker",
    "Peaks",
    "Pipeline",
    "Spectrogram",
    "SpeedSearch",
    "Verifier",
    "get_preset",
]
