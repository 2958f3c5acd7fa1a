"""Splitting the tracks found into the reference and unseen sets, deterministically."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .scan import SourceTrack

logger = logging.getLogger(__name__)


def _allocate(sizes: dict[str, int], total: int, *, at_least_one: bool) -> dict[str, int]:
    """Share `total` picks among packages in proportion to their sizes.

    Picks go one at a time to the package furthest below its proportional
    share (ties: package name order); with `at_least_one`, every package with
    two tracks or more first gets one pick, so both sets see every package.
    """
    available = sum(sizes.values())
    total = min(total, available)
    counts = {name: 0 for name in sizes}
    if at_least_one:
        for name in sorted(sizes):
            if sizes[name] >= 2 and sum(counts.values()) < total:
                counts[name] = 1
    while sum(counts.values()) < total:
        need = {
            name: sizes[name] * total / available - counts[name]
            for name in sorted(sizes)
            if counts[name] < sizes[name]
        }
        counts[min(need, key=lambda name: (-need[name], name))] += 1
    return counts


def _spread(n: int, k: int) -> list[int]:
    """`k` indices spread evenly over ``range(n)``, e.g. ``_spread(4, 1) == [2]``."""
    return [int((i + 0.5) * n / k) for i in range(k)]


def split_tracks(
    sources: Iterable[SourceTrack], *, n_reference: int, n_unseen: int
) -> dict[str, list[SourceTrack]]:
    """Deterministically split tracks into the reference and unseen sets.

    Tracks are sorted by (package, original path). The unseen set takes
    `n_unseen` tracks shared among packages in proportion to their sizes, at
    least one from each package with two tracks or more, picked at evenly
    spaced positions of each package's sorted list. The reference set is the
    rest, thinned the same way if there are more than `n_reference` (a warning
    is logged if there are fewer).

    Returns
    -------
    dict
        ``{"reference": [...], "unseen": [...]}``, each sorted by
        (package, original path).
    """
    by_package: dict[str, list[SourceTrack]] = {}
    for source in sorted(sources, key=lambda s: (s.package, s.original_path)):
        by_package.setdefault(source.package, []).append(source)
    sizes = {name: len(items) for name, items in by_package.items()}
    unseen_counts = _allocate(sizes, n_unseen, at_least_one=True)
    unseen: list[SourceTrack] = []
    rest: dict[str, list[SourceTrack]] = {}
    for name, items in by_package.items():
        picked = set(_spread(len(items), unseen_counts[name]))
        unseen += [s for i, s in enumerate(items) if i in picked]
        rest[name] = [s for i, s in enumerate(items) if i not in picked]
    rest_sizes = {name: len(items) for name, items in rest.items()}
    if sum(rest_sizes.values()) < n_reference:
        logger.warning(
            "only %d tracks left for the reference set (%d wanted)",
            sum(rest_sizes.values()),
            n_reference,
        )
    reference_counts = _allocate(rest_sizes, n_reference, at_least_one=False)
    reference: list[SourceTrack] = []
    for name, items in rest.items():
        kept = set(_spread(len(items), reference_counts[name]))
        reference += [s for i, s in enumerate(items) if i in kept]
    return {"reference": reference, "unseen": unseen}
