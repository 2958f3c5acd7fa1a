"""The Dejavu write-up's three studies, and parameter sweeps beyond them.

Each study is a function returning a pandas DataFrame:

- :func:`accuracy_vs_seconds`: correct answers by seconds listened and channel;
- :func:`matching_time`: time to match against recording time
  (:func:`fit_line` gives the least-squares line);
- :func:`storage`: MB of mp3, wav and fingerprints;
- :func:`sweep`: one row per parameter setting, with provenance.

Each function's module holds the rest of its study: :mod:`.accuracy`, :mod:`.timing`,
:mod:`.storage_study` and :mod:`.sweeps` (e.g. :func:`~.sweeps.peak_rates`, to choose a
grid). The last two are not called ``storage`` and ``sweep``: those are the functions.
"""

from .accuracy import accuracy_vs_seconds, evaluate_queries, summarize_accuracy
from .corpus_audio import CorpusAudio, build_database, load_corpus_audio, synthetic_corpus
from .storage_study import storage
from .sweeps import sweep
from .timing import LineFit, fit_line, matching_time

__all__ = [
    "CorpusAudio",
    "LineFit",
    "accuracy_vs_seconds",
    "build_database",
    "evaluate_queries",
    "fit_line",
    "load_corpus_audio",
    "matching_time",
    "storage",
    "summarize_accuracy",
    "sweep",
    "synthetic_corpus",
]
