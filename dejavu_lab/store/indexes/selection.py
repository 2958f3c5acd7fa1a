"""Which query hashes a lookup keeps: the stop-list and the row budget.

:meth:`HashIndex.lookup <dejavu_lab.store.indexes.hash_index.HashIndex.lookup>` applies them
to the posting-list lengths it finds; :func:`skip_common` applies them to the rows a store
fetched first (a join).
"""

from __future__ import annotations

import numpy as np

from ...core.matching import Lookup


def skip_common(
    lookup: Lookup, max_postings: int | None, n_query: int, *, max_rows: int | None = None
) -> Lookup:
    """A complete lookup without the rows of hashes stored more than ``max_postings`` times.

    In a complete lookup (every stored row of each query hash, as a join
    gives), the rows found by a query position are its hash's whole posting
    list, so counting them gives its length: this is
    ``HashIndex.lookup(max_postings=)`` for stores that fetch rows first.

    Parameters
    ----------
    lookup : Lookup
        Every row of each of the ``n_query`` query hashes.
    max_postings : int or None
        The stop-list; None returns ``lookup`` itself.
    n_query : int
        Number of query hashes (``query_index`` is below it).
    max_rows : int, optional
        And a row budget, as ``HashIndex.lookup(max_rows=)``: of the hashes
        left, the rarest while their rows fit.

    Returns
    -------
    Lookup
        The rows of the other hashes, in their order.
    """
    if (max_postings is None and max_rows is None) or len(lookup) == 0:
        return lookup
    postings = np.bincount(lookup.query_index, minlength=n_query)
    if max_postings is not None:
        postings[postings > max_postings] = 0
    if max_rows is not None:
        postings = postings * within_budget(postings, max_rows)
    keep = np.flatnonzero(postings[lookup.query_index] > 0)
    if len(keep) == len(lookup):
        return lookup
    return Lookup(lookup.query_index[keep], lookup.song_id[keep], lookup.offset[keep])


def within_budget(counts: np.ndarray, max_rows: int) -> np.ndarray:
    """Which query hashes fit a budget of rows, rarest first.

    Parameters
    ----------
    counts : np.ndarray, shape (q,), int
        Rows (posting-list length) of each query hash.
    max_rows : int
        The budget.

    Returns
    -------
    np.ndarray, shape (q,), bool
        True for the hashes whose rows, added in order of increasing count
        (ties by position), stay within ``max_rows``.
    """
    order = np.argsort(counts, kind="stable")
    keep = np.zeros(len(counts), dtype=bool)
    keep[order[np.cumsum(counts[order]) <= max_rows]] = True
    return keep
