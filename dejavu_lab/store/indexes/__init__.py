"""The indexes a store keeps beside its tables, each a sidecar of ``.npy`` files.

- :mod:`~dejavu_lab.store.indexes.hash_index`: every row by hash, for the lookup of a
  query's hashes (``<database>.index``), with its row packing
  (:mod:`~dejavu_lab.store.indexes.layout`), its writer
  (:mod:`~dejavu_lab.store.indexes.index_writer`) and its stop-list and row budget
  (:mod:`~dejavu_lab.store.indexes.selection`);
- :mod:`~dejavu_lab.store.indexes.song_index`: each song's rows by hash, for a
  candidate's shortlist (``<database>.songs``);
- :mod:`~dejavu_lab.store.indexes.song_stretches`: each song's rows by offset, for the
  peak check's stretch of a song;
- :mod:`~dejavu_lab.store.indexes.song_sketches`: each song's sketch
  (``<database>.sketches``).

Each records the signature of the rows it was built from; a store rebuilds one whose
signature no longer matches (:mod:`~dejavu_lab.store.indexes._files`).
"""

from __future__ import annotations

from .hash_index import HashIndex, IndexLayout, IndexWriter, sidecar_path, skip_common
from .song_index import SongIndex, SongIndexWriter, song_sidecar_path
from .song_sketches import SongSketches, sketch_sidecar_path
from .song_stretches import SongStretches, stretch_sidecar_path

__all__ = [
    "HashIndex",
    "IndexLayout",
    "IndexWriter",
    "SongIndex",
    "SongIndexWriter",
    "SongSketches",
    "SongStretches",
    "sidecar_path",
    "sketch_sidecar_path",
    "skip_common",
    "song_sidecar_path",
    "stretch_sidecar_path",
]
