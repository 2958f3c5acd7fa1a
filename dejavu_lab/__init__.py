"""dejavu-lab: a research toolkit for Shazam-style audio fingerprinting.

>>> from dejavu_lab import Dejavu
>>> from dejavu_lab.recognize import FileRecognizer
"""

from ._version import __version__
from .dejavu import Dejavu, Recognition
from .exceptions import (
    AudioError,
    DejavuLabError,
    IncompatibleStoreError,
    ParameterError,
    StoreError,
    StoreLockedError,
)
from .hashing import Fingerprints, Hasher
from .matching import Matcher
from .peaks import PeakPicker, Peaks
from .pipeline import Pipeline
from .presets import PRESETS, get_preset
from .spectrogram import LogSpectrogram, Spectrogram
from .verify import Verifier

__all__ = [
    "PRESETS",
    "AudioError",
    "Dejavu",
    "DejavuLabError",
    "Fingerprints",
    "Hasher",
    "IncompatibleStoreError",
    "LogSpectrogram",
    "Matcher",
    "ParameterError",
    "PeakPicker",
    "Peaks",
    "Pipeline",
    "Recognition",
    "Spectrogram",
    "StoreError",
    "StoreLockedError",
    "Verifier",
    "__version__",
    "get_preset",
]
