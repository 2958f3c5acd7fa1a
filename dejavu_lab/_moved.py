"""Old module paths, from before the package was grouped by concern.

``dejavu_lab.peaks`` is now :mod:`dejavu_lab.core.peaks`, ``dejavu_lab.channel``
:mod:`dejavu_lab.studies.channel`, ``dejavu_lab.store.hash_index``
:mod:`dejavu_lab.store.indexes.hash_index`, and so on. Importing an old path still works:
it gives the very same module object, with a :class:`DeprecationWarning` naming
the new one.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

#: Old path (under ``dejavu_lab.``) -> new path.
MOVED_MODULES = {
    "_arrays": "core._arrays",
    "audio": "core.audio",
    "cache": "core.cache",
    "hashing": "core.hashing",
    "matching": "core.matching",
    "params": "core.params",
    "peaks": "core.peaks",
    "pipeline": "core.pipeline",
    "presets": "core.presets",
    "spectrogram": "core.spectrogram",
    "verify": "core.verify",
    "index": "store.indexes.hash_index",
    "song_index": "store.indexes.song_index",
    "microphone": "live.microphone",
    "streaming": "live.streaming",
    "widgets": "live.widgets",
    "channel": "studies.channel",
    "corpus": "studies.corpus",
    "plots": "studies.plots",
    "queries": "studies.queries",
    "synth": "studies.synth",
    "core.calibration": "core.decision.calibration",
    "core.bandwidth": "core.decision.bandwidth",
    "core.evidence": "core.decision.evidence",
    "core.scaled_answers": "core.decision.scaled_answers",
    "core.sketch_scores": "core.decision.sketch_scores",
    "store.hash_index": "store.indexes.hash_index",
    "store.song_index": "store.indexes.song_index",
    "store.song_sketches": "store.indexes.song_sketches",
    "store.song_stretches": "store.indexes.song_stretches",
    "store.sql_store": "store.server.sql_store",
    "store.mysql_store": "store.server.mysql_store",
    "store.postgres_store": "store.server.postgres_store",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``dejavu_lab.<old>`` to the module at its new path."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.partition(".")
        if package != __package__ or name not in MOVED_MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = f"{__package__}.{MOVED_MODULES[spec.name.partition('.')[2]]}"
        warnings.warn(
            f"{spec.name} has moved to {new}; import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        module = importlib.import_module(new)
        # importlib overwrites __spec__ of the module we return: keep the real one.
        module.__dict__.setdefault("_moved_real_spec", module.__spec__)
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = module.__dict__.pop("_moved_real_spec")


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
