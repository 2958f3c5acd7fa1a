"""dejavu-lab: a research toolkit for Shazam-style audio fingerprinting.

The package is grouped by concern, dependencies pointing one way (down):

- :mod:`dejavu_lab.cli`, :mod:`dejavu_lab.live` (microphone, streaming, widgets) and
  :mod:`dejavu_lab.studies` (degradations, queries, corpus, studies, plots) use
- :class:`~dejavu_lab.dejavu.Dejavu`, the facade (its answer, a
  :class:`~dejavu_lab.recognition.Recognition`), and :mod:`dejavu_lab.fingerprinting`,
  which use
- :mod:`dejavu_lab.store` (DuckDB, MySQL, PostgreSQL and the sidecar indexes), which uses
- :mod:`dejavu_lab.core` (audio, spectrogram, peaks, hashing, matching, verify, decision,
  pipeline, presets).

>>> from dejavu_lab import Dejavu
>>> from dejavu_lab.recognize import FileRecognizer
"""

from typing import Any as _Any

from . import _moved
from ._version import __version__
from .core.hashing import Fingerprints, Hasher
from .core.matching import Matcher
from .core.peaks import PeakPicker, Peaks
from .core.pipeline import Pipeline
from .core.presets import PRESETS, get_preset
from .core.spectrogram import LogSpectrogram, Spectrogram
from .core.verify import Verifier
from .dejavu import Dejavu
from .exceptions import (
    AudioError,
    DejavuLabError,
    IncompatibleStoreError,
    ParameterError,
    StoreError,
    StoreLockedError,
)
from .recognition import Recognition

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

_moved.install()


def __getattr__(name: str) -> _Any:
    # ``dejavu_lab.peaks`` and the other modules that moved into subpackages.
    if name in _moved.MOVED_MODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
