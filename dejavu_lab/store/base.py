"""The store protocol: what every fingerprint database offers.

A handful of bulk operations, arrays in and arrays out. Each engine's SQL
lives in its own module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..core.hashing import Fingerprints
from ..core.matching import Lookup
from ..exceptions import IncompatibleStoreError, ParameterError, StoreError

SCHEMA_VERSION = 1


class DuplicateSongError(StoreError):
    """A song with the same content hash is already stored."""

    def __init__(self, content_hash: str, song_id: int | None = None) -> None:
        self.content_hash = content_hash
        self.song_id = song_id
        super().__init__(f"a song with content hash {content_hash} is already stored")


@dataclass(frozen=True)
class SongInfo:
    """What is known of a song before it is stored.

    Attributes
    ----------
    name : str
        Display name (by default the file name without extension), verbatim.
    path : str
        Where it was read from.
    content_hash : str
        SHA-1 of the file's bytes.
    duration_s : float
        Length (s).
    """

    name: str
    path: str
    content_hash: str
    duration_s: float


@dataclass(frozen=True)
class SongRecord:
    """A stored song."""

    song_id: int
    name: str
    path: str
    content_hash: str
    duration_s: float
    num_hashes: int
    fingerprinted_at: datetime | None


@dataclass(frozen=True)
class StoreStats:
    """Size of a store.

    Attributes
    ----------
    num_songs, num_fingerprints : int
    size_bytes : int
        Bytes on disk (database file, or the server's table + index size).
    audio_seconds : float
        Total duration of the stored songs (s).
    free_bytes : int
        Of ``size_bytes``, the blocks a DuckDB file holds free for later writes
        (a small database built song by song can be a third free); 0 where the
        store does not say.
    """

    num_songs: int
    num_fingerprints: int
    size_bytes: int
    audio_seconds: float
    free_bytes: int = 0


@runtime_checkable
class Store(Protocol):
    """A fingerprint database."""

    def read_params(self) -> dict[str, Any] | None:
        """The stored pipeline parameters and version, or None for a new database."""
        ...

    def write_params(self, params: Mapping[str, Any], version: str) -> None:
        """Record the pipeline parameters and package version (first use)."""
        ...

    def content_hashes(self) -> set[str]:
        """Content hashes of every complete song."""
        ...

    def add_song(
        self, info: SongInfo, fingerprints: Fingerprints, *, sketch: np.ndarray | None = None
    ) -> int:
        """Store a song, all its hashes and its sketch atomically; return its id.

        ``sketch`` (shape (n_frames,), uint32, one value a spectrogram frame:
        :func:`~dejavu_lab.core.sketch.spectrogram_sketch`) is stored in the same
        transaction; None stores none.

        Raises :class:`DuplicateSongError` if its content hash is stored (and
        stores nothing), :class:`~dejavu_lab.exceptions.ParameterError` (a
        ``ValueError``) for a sketch that is not 1-D uint32 values, before
        anything is written.
        """
        ...

    def lookup(
        self, hashes: np.ndarray, *, max_postings: int | None = None, max_rows: int | None = None
    ) -> Lookup:
        """All rows whose hash is in ``hashes`` (bulk).

        With ``max_postings`` (a stop-list, ``Matcher.max_postings``), the
        hashes stored in more than that many rows are skipped: the result is
        the plain lookup without the rows of exactly those hashes. With
        ``max_rows`` (a budget, ``Matcher.shortlist_rows``), only the rarest
        hashes whose rows fit in it are kept
        (:func:`~dejavu_lab.store.indexes.hash_index.within_budget`).
        """
        ...

    def lookup_songs(self, hashes: np.ndarray, song_ids: np.ndarray) -> Lookup:
        """The rows of ``lookup(hashes)`` (no stop-list) of the given songs only.

        The second stage of a shortlist match (``Matcher.shortlist_songs``):
        every row of a few candidate songs, common hashes included.
        """
        ...

    def songs(self) -> list[SongRecord]:
        """Every complete song, by id."""
        ...

    def song_fingerprints(
        self, song_id: int, start: int | None = None, stop: int | None = None
    ) -> Fingerprints:
        """The stored hashes of one song, sorted by offset then hash.

        With ``start``/``stop``, only hashes at offsets ``start <= offset < stop``
        (frames), for verifying a stretch of the song.
        """
        ...

    def song_sketches(self, song_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored sketches of ``song_ids`` (one query), uint32 as they were given.

        Songs stored without a sketch, and unknown ids, are absent.
        """
        ...

    def song_ids_with_sketch(self) -> set[int]:
        """The ids of the songs whose sketch is stored, without reading any sketch.

        One query over the ``sketches`` table's ids: the keys :meth:`song_sketches`
        would return for every song, for the cost of a list of integers.

        Returns
        -------
        set of int
            Song ids. Songs stored without a sketch (``add_song(..., sketch=None)``,
            or by a version before sketches) are absent until :meth:`add_sketch`
            stores theirs; a database with no sketches table (written before
            sketches, opened read-only) gives the empty set.
        """
        ...

    def add_sketch(self, song_id: int, sketch: np.ndarray) -> bool:
        """Store the sketch of a stored song that has none, atomically.

        For songs stored without one (by a version before sketches). Of
        several writers adding a sketch to the same song, one stores it and
        the others get False.

        Parameters
        ----------
        song_id : int
        sketch : np.ndarray, shape (n_frames,), uint32
            One value a spectrogram frame, as for :meth:`add_song`.

        Returns
        -------
        bool
            True if stored; False if the song has a sketch already (kept as it is).

        Raises
        ------
        ParameterError
            (a ``ValueError``) For a sketch that is not 1-D uint32 values, before
            anything is written.
        StoreError
            If no song ``song_id`` is stored.
        """
        ...

    def stats(self) -> StoreStats:
        """Counts and size."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def restrict_songs(lookup: Lookup, song_ids: np.ndarray) -> Lookup:
    """The rows of ``lookup`` whose song is one of ``song_ids``, in their order."""
    if len(lookup) == 0:
        return lookup
    keep = np.flatnonzero(np.isin(lookup.song_id, np.asarray(song_ids)))
    return Lookup(lookup.query_index[keep], lookup.song_id[keep], lookup.offset[keep])


def sketch_bytes(info: SongInfo, sketch: np.ndarray | None) -> bytes | None:
    """A song's sketch as the bytes stored: little-endian uint32, 4 a frame.

    Parameters
    ----------
    info : SongInfo
        The song, named in errors.
    sketch : np.ndarray, shape (n_frames,), integer values in [0, 2**32), or None

    Returns
    -------
    bytes or None
        None for no sketch.

    Raises
    ------
    ParameterError
        (a ``ValueError``) If ``sketch`` is not 1-D, not of an integer dtype
        (floats and booleans are refused, whatever their values), or holds a
        value outside uint32.
    """
    if sketch is None:
        return None
    where = f"sketch of song {info.name!r}" + (f" ({info.path})" if info.path else "")
    return _encode_sketch(where, sketch)


def added_sketch_bytes(song_id: int, sketch: np.ndarray) -> bytes:
    """The bytes :meth:`Store.add_sketch` stores, checked as :func:`sketch_bytes` checks them.

    Raises
    ------
    ParameterError
        (a ``ValueError``) Naming the song id: for an id that is not an integer,
        no sketch (None), or a sketch :func:`sketch_bytes` refuses.
    """
    if isinstance(song_id, bool) or not isinstance(song_id, (int, np.integer)):
        raise ParameterError(f"song_id={song_id!r} is not allowed: expected an integer song id")
    where = f"sketch of song {int(song_id)}"
    if sketch is None:
        raise ParameterError(f"{where}: no sketch given (None)")
    return _encode_sketch(where, sketch)


def _encode_sketch(where: str, sketch: np.ndarray) -> bytes:
    """``sketch`` as little-endian uint32 bytes; errors start with ``where``."""
    try:
        values = np.asarray(sketch)
    except (ValueError, TypeError) as error:
        raise ParameterError(f"{where}: not an array of uint32 values: {error}") from None
    if values.ndim != 1:
        raise ParameterError(
            f"{where}: expected a 1-D array (one value a frame), got shape {values.shape}"
        )
    if values.dtype.kind not in "iu":
        raise ParameterError(f"{where}: expected uint32 values, got dtype {values.dtype}")
    if len(values) and (values.min() < 0 or values.max() > np.iinfo(np.uint32).max):
        raise ParameterError(
            f"{where}: values {values.min()}..{values.max()} do not fit in uint32 "
            f"(0..{np.iinfo(np.uint32).max})"
        )
    return values.astype("<u4").tobytes()


def sketch_array(data: bytes) -> np.ndarray:
    """A stored sketch back: shape (n_frames,), native uint32 (a writable copy)."""
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)


def sketch_ids(song_ids: Sequence[int]) -> np.ndarray:
    """The distinct song ids asked for, sorted (int64)."""
    return np.unique(np.asarray(song_ids, dtype=np.int64).reshape(-1))


def frame_range(start: int | None, stop: int | None) -> tuple[int, int]:
    """``[start, stop)`` offsets for SQL: None means unbounded (int32 offsets)."""
    return (
        -(2**31) if start is None else int(start),
        2**31 - 1 if stop is None else int(stop),
    )


def params_to_json(params: Mapping[str, Any]) -> str:
    """Canonical JSON of pipeline parameters (sorted keys)."""
    return json.dumps(dict(params), sort_keys=True)


def check_compatible(
    stored: Mapping[str, Any] | None, wanted: Mapping[str, Any], where: str
) -> None:
    """Refuse to use a database built with other reference parameters.

    Raises
    ------
    IncompatibleStoreError
        Listing each parameter that differs, stored value against wanted.
    """
    if stored is None:
        return
    stored_params = stored.get("params", {})
    names = sorted(set(stored_params) | set(wanted))
    differing = [
        f"{name}: database has {stored_params.get(name)!r}, pipeline has {wanted.get(name)!r}"
        for name in names
        if stored_params.get(name) != wanted.get(name)
    ]
    if differing:
        raise IncompatibleStoreError(
            f"{where} was fingerprinted with other parameters; matching with these would "
            "give wrong answers. Differences: " + "; ".join(differing)
        )
