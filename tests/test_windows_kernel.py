"""The compiled vote kernel gives exactly the numpy reference's windows."""

from __future__ import annotations

import numpy as np
import pytest
from test_votes_prefilter import assert_same_windows, random_votes

from dejavu_lab.core import matching
from dejavu_lab.core.matching import Lookup


@pytest.mark.parametrize("seed", range(40))
def test_kernel_windows_equal_the_numpy_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    query_hashes, query_offsets, lookup = random_votes(rng)
    if seed % 3 == 1:  # crowded: repeated (cell, hash) pairs, overlapping windows
        lookup = Lookup(lookup.query_index, lookup.song_id % 5 + 1, lookup.offset % 30)
    if seed % 3 == 2:  # one song's true alignment among chance rows
        n = len(lookup)
        aligned = rng.random(n) < 0.3
        offset = lookup.offset.copy()
        offset[aligned] = query_offsets[lookup.query_index[aligned]] + 700
        song = lookup.song_id.copy()
        song[aligned] = 7
        lookup = Lookup(lookup.query_index, song, offset)
    for tolerance in (0, 1, 2, 4):
        reference = matching._dense_windows(query_offsets, lookup, query_hashes, tolerance)
        compiled = matching._compiled_windows(query_offsets, lookup, query_hashes, tolerance)
        assert reference is not None and compiled is not None
        assert_same_windows(compiled, reference)


def test_kernel_declines_a_table_the_reference_declines(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    query_hashes, query_offsets, lookup = random_votes(rng)
    monkeypatch.setattr(matching, "DENSE_CELLS", 0)
    monkeypatch.setattr(matching, "DENSE_CELLS_PER_ROW", 0)
    assert matching._dense_windows(query_offsets, lookup, query_hashes, 1) is None
    assert matching._compiled_windows(query_offsets, lookup, query_hashes, 1) is None
