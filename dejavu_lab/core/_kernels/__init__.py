"""Compiled kernels of the hot loops, where numpy needs many passes: one module a stage.

Each kernel (numba: compiled on first use, cached on disk, the GIL released) does
in one or a few passes over its arrays what its numpy or scipy reference does in
many; the tests compare the two on random inputs (most in ``tests/test_kernels.py``).
Every name below imports from this package too:

- :mod:`.spectrogram`: the STFT's power (:func:`~.spectrogram.spectral_power`);
- :mod:`.peaks`: peak candidates near the neighbourhood's maximum
  (:func:`~.peaks.near_maxima`, :func:`~.peaks.rect_near_maxima`);
- :mod:`.hashing`: a song's landmark hashes and a query's tolerance variants
  (:func:`~.hashing.landmark_hashes`, :func:`~.hashing.hash_variants`);
- :mod:`.sketch`: the sketch's band energies and the bits a query's sketch differs by
  (:func:`~.sketch.band_energies`, :func:`~.sketch.differing_bits`);
- :mod:`.hash_index`: the hash index's runs of the query hashes and their rows
  (:func:`~.hash_index.key_buckets`, :func:`~.hash_index.find_runs`,
  :func:`~.hash_index.gather_runs`);
- :mod:`.song_index`: a few songs' rows of the query hashes, and a song's stretch
  (:func:`~.song_index.join_sorted`, :func:`~.song_index.stable_order`,
  :func:`~.song_index.rows_in_range`);
- :mod:`.prefilter`: the vote's prefilter (:func:`~.prefilter.song_bound_table`,
  :func:`~.prefilter.more_songs_than`, :func:`~.prefilter.rows_of_songs`);
- :mod:`.votes`: the vote count (:func:`~.votes.dense_song_windows`,
  :func:`~.votes.hash_labels`);
- :mod:`.verify`: the peak check's counts (:func:`~.verify.distinct_peaks`,
  :func:`~.verify.alignment_counts`, :func:`~.verify.dilated_query`,
  :func:`~.verify.stretch_alignment_counts`, :func:`~.verify.best_and_background`);
- :mod:`.speed`: the speed search's ranking (:func:`~.speed.scaled_set_hashes`,
  :func:`~.speed.distinct_keys`, :func:`~.speed.set_window_heights`).
"""

from __future__ import annotations

from .hash_index import find_runs, gather_runs, key_buckets
from .hashing import hash_variants, landmark_hashes
from .peaks import near_maxima, rect_near_maxima
from .prefilter import more_songs_than, rows_of_songs, song_bound_table
from .sketch import band_energies, differing_bits
from .song_index import join_sorted, rows_in_range, stable_order
from .spectrogram import spectral_power
from .speed import distinct_keys, scaled_set_hashes, set_window_heights
from .verify import (
    alignment_counts,
    best_and_background,
    dilated_query,
    distinct_peaks,
    stretch_alignment_counts,
)
from .votes import dense_song_windows, hash_labels

__all__ = [
    "alignment_counts",
    "band_energies",
    "best_and_background",
    "dense_song_windows",
    "differing_bits",
    "dilated_query",
    "distinct_keys",
    "distinct_peaks",
    "find_runs",
    "gather_runs",
    "hash_labels",
    "hash_variants",
    "join_sorted",
    "key_buckets",
    "landmark_hashes",
    "more_songs_than",
    "near_maxima",
    "rect_near_maxima",
    "rows_in_range",
    "rows_of_songs",
    "scaled_set_hashes",
    "set_window_heights",
    "song_bound_table",
    "spectral_power",
    "stable_order",
    "stretch_alignment_counts",
]
