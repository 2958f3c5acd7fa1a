"""Fingerprinting files and directories into a store: parallel workers, one writer.

Workers decode and fingerprint; the calling process alone writes (or, with an
executor and a server database, each worker its own songs), one transaction per
song. Files are identified by content hash, so a run killed at any moment and
started again loses nothing and does nothing twice. Songs fingerprinted by a
version that stored no sketch get theirs from their files without being
fingerprinted again. Every name below imports from this package:

- :mod:`.files`: finding audio files, decoding and fingerprinting one
  (:func:`~.files.find_audio_files`, :func:`~.files.fingerprint_path`);
- :mod:`.parallel`: jobs run in order on local processes or any executor
  (:func:`~.parallel.ordered_results`, :func:`~.parallel.executor_width`);
- :mod:`.writing`: results written in batches, a DuckDB file's write lock held
  across them (:data:`~.writing.WRITE_EVERY_S`, :data:`~.writing.WRITE_HOLD_S`:
  set them there, where the runs look them up);
- :mod:`.runs`: a run and its report (:func:`~.runs.fingerprint_files`,
  :class:`~.runs.FingerprintReport`);
- :mod:`.sketches`: the sketches of stored songs that have none
  (:func:`~.sketches.add_missing_sketches`).
"""

from __future__ import annotations

# Not this package's, but in its __all__ since it was one module: still imports from here.
from ..exceptions import DejavuLabError
from .files import MIN_SONG_SECONDS as MIN_SONG_SECONDS
from .files import FileFailure, FileFingerprints, find_audio_files, fingerprint_path
from .parallel import JOBS_PER_WORKER as JOBS_PER_WORKER
from .parallel import executor_width as executor_width
from .parallel import ordered_results
from .runs import FileStored, FingerprintReport, fingerprint_files
from .sketches import SKETCH_FRAME_TOLERANCE as SKETCH_FRAME_TOLERANCE
from .sketches import SketchReport, SongSketch, add_missing_sketches, sketch_stored_song

# Copies of the values, for reading: a run looks them up in .writing.
from .writing import WRITE_EVERY_S as WRITE_EVERY_S
from .writing import WRITE_HOLD_S as WRITE_HOLD_S

__all__ = [
    "DejavuLabError",
    "FileFailure",
    "FileFingerprints",
    "FileStored",
    "FingerprintReport",
    "SketchReport",
    "SongSketch",
    "add_missing_sketches",
    "find_audio_files",
    "fingerprint_files",
    "fingerprint_path",
    "ordered_results",
    "sketch_stored_song",
]
