"""Storage: MB of mp3, wav and fingerprints, as in the write-up's table."""

from __future__ import annotations

import os
from collections.abc import Mapping

import pandas as pd

from ..store import open_store
from .corpus import tracks

#: Columns of :func:`storage`.
STORAGE_COLUMNS = (
    "kind",
    "megabytes",
    "tracks",
    "megabytes_per_track",
    "fingerprints",
    "bytes_per_fingerprint",
)
#: CD-quality WAV: 44.1 kHz, 2 channels, 16 bits.
WAV_BYTES_PER_SECOND = 44100 * 2 * 2


def storage(
    corpus_dir: str | os.PathLike[str],
    databases: Mapping[str, str | os.PathLike[str]],
) -> pd.DataFrame:
    """Storage of the reference tracks as mp3, as wav, and as fingerprints.

    Parameters
    ----------
    corpus_dir : path
        A corpus built by ``data/build_corpus.py`` (its reference set).
    databases : mapping of label to path
        Fingerprint databases of that set, e.g. ``{"default": "a.duckdb",
        "dejavu": "b.duckdb"}``; each gives a row ``fingerprints (label)``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STORAGE_COLUMNS`; ``wav`` is CD quality (44.1 kHz,
        stereo, 16-bit) of the same durations.
    """
    reference = tracks(corpus_dir, set="reference")
    mp3_bytes = sum(t.path.stat().st_size for t in reference)
    seconds = sum(t.duration_s for t in reference)
    n = len(reference)
    rows = [
        {
            "kind": "mp3",
            "megabytes": mp3_bytes / 1e6,
            "tracks": n,
            "megabytes_per_track": mp3_bytes / 1e6 / n,
            "fingerprints": None,
            "bytes_per_fingerprint": None,
        },
        {
            "kind": "wav",
            "megabytes": seconds * WAV_BYTES_PER_SECOND / 1e6,
            "tracks": n,
            "megabytes_per_track": seconds * WAV_BYTES_PER_SECOND / 1e6 / n,
            "fingerprints": None,
            "bytes_per_fingerprint": None,
        },
    ]
    for label, path in databases.items():
        store = open_store(path, read_only=True)
        try:
            stats = store.stats()
        finally:
            store.close()
        rows.append(
            {
                "kind": f"fingerprints ({label})",
                "megabytes": stats.size_bytes / 1e6,
                "tracks": stats.num_songs,
                "megabytes_per_track": stats.size_bytes / 1e6 / max(stats.num_songs, 1),
                "fingerprints": stats.num_fingerprints,
                "bytes_per_fingerprint": stats.size_bytes / max(stats.num_fingerprints, 1),
            }
        )
    return pd.DataFrame(rows, columns=list(STORAGE_COLUMNS))
