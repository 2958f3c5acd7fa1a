"""An in-memory cache of intermediate results, keyed by the stage parameters.

Sweeps change one stage at a time: with a :class:`MemoryCache`, a sweep over
hasher parameters computes each song's spectrogram and peaks once. The
counters tell tests (and curious users) what was recomputed.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class MemoryCache:
    """Least-recently-used results per stage.

    Parameters
    ----------
    max_items : dict, optional
        Largest number of results kept per stage, e.g. ``{"spectrogram": 64}``
        (spectrograms are large); stages not named are unbounded.

    Attributes
    ----------
    hits, misses : collections.Counter
        Per stage name.
    """

    def __init__(self, max_items: dict[str, int] | None = None) -> None:
        self.max_items = {"spectrogram": 8, **(max_items or {})}
        self._store: dict[str, OrderedDict[Hashable, Any]] = {}
        self.hits: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()

    def get_or_compute(self, stage: str, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached result for ``key``, computing and storing it on a miss."""
        table = self._store.setdefault(stage, OrderedDict())
        if key in table:
            self.hits[stage] += 1
            table.move_to_end(key)
            return table[key]
        self.misses[stage] += 1
        value = compute()
        table[key] = value
        limit = self.max_items.get(stage)
        if limit is not None:
            while len(table) > limit:
                table.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget everything (counters too)."""
        self._store.clear()
        self.hits.clear()
        self.misses.clear()

    def __len__(self) -> int:
        return sum(len(table) for table in self._store.values())
