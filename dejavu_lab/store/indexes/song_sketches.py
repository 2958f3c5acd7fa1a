"""Every song's sketch in a sidecar file: a candidate's sketch in one read.

The sketch fold (:func:`~dejavu_lab.core.sketch.sketch_check`) reads the
sketches of a query's candidates, up to ten songs a query. In a DuckDB file
each read opens a connection (about 20 ms: a reader holds no connection, so
that other processes can write), which at scale, where the candidates are
new songs almost every query, doubled a query's time. Here the sketches are
copied once into a sidecar (``<database>.sketches``): every song's frames
concatenated (``frames.npy``, uint32), with the songs' ids and where each
starts. A song's sketch is then one ``pread`` of 4 bytes a frame (about 42 kB
for a four-minute song), and nothing is held in memory but the two small
tables of ids and starts.

The sidecar carries the signature of the database it was built from, the
count and bytes of its sketches included, so a song or a sketch added by any
process makes it stale; it is then rebuilt from the sketches table.

>>> import numpy as np
>>> sketches = SongSketches.from_songs(
...     [(2, np.array([5, 6], np.uint32)), (7, np.array([9], np.uint32))]
... )
>>> {song: bits.tolist() for song, bits in sorted(sketches.read([7, 3, 2]).items())}
{2: [5, 6], 7: [9]}
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._files import META, FileColumn, NpyFile, canonical, publish, scratch_beside

#: Version of the sidecar layout; a sidecar of another version is rebuilt.
SKETCH_SIDECAR_FORMAT = 1


def sketch_sidecar_path(database: str | os.PathLike[str]) -> Path:
    """Where the song sketches of a database file live: ``<database>.sketches``."""
    return Path(os.fspath(database) + ".sketches")


class SongSketches:
    """Songs' sketches, concatenated in song order.

    Parameters
    ----------
    song_ids : np.ndarray, shape (s,), int64
        The songs with a sketch, ascending.
    starts : np.ndarray, shape (s + 1,), int64
        First frame of each song's sketch, then the number of frames.
    frames : np.ndarray or file column, shape (n,), uint32
        The sketches' frames (one uint32 of band-difference bits a frame).
    """

    def __init__(
        self, song_ids: np.ndarray, starts: np.ndarray, frames: np.ndarray | FileColumn
    ) -> None:
        self.song_ids = np.asarray(song_ids, dtype=np.int64)
        self.starts = np.asarray(starts, dtype=np.int64)
        self._frames = frames

    @classmethod
    def from_songs(
        cls,
        songs: Iterable[tuple[int, np.ndarray]],
        directory: str | os.PathLike[str] | None = None,
        signature: Mapping[str, Any] | None = None,
        *,
        lengths: Sequence[int] | None = None,
    ) -> SongSketches:
        """Build from ``(song_id, sketch)`` pairs in ascending id order.

        In memory, or into a sidecar ``directory`` (with its ``signature``), for
        which ``lengths`` (every sketch's frames, in the same order) must be
        known before the frames are streamed.

        Raises
        ------
        ValueError
            If the ids are not ascending, or the sketches do not have the lengths given.
        """
        if directory is not None and lengths is None:
            raise ValueError("a sidecar is written front to back: give the sketches' lengths")
        temporary = None if directory is None else scratch_beside(Path(directory), songs)
        sink: NpyFile | None = None
        ids: list[int] = []
        starts = [0]
        memory: list[np.ndarray] = []
        try:
            if temporary is not None and lengths is not None:
                sink = NpyFile(temporary / "frames.npy", np.uint32, int(sum(lengths)))
            for song_id, sketch in songs:
                bits = np.asarray(sketch, dtype=np.uint32).reshape(-1)
                if ids and song_id <= ids[-1]:
                    raise ValueError(f"song ids must ascend: {song_id} after {ids[-1]}")
                if lengths is not None:
                    due = int(lengths[len(ids)]) if len(ids) < len(lengths) else 0
                    if len(bits) != due or len(ids) >= len(lengths):
                        raise ValueError(
                            f"song {song_id}: sketch of {len(bits)} frames, {due} expected"
                        )
                ids.append(int(song_id))
                starts.append(starts[-1] + len(bits))
                if sink is not None:
                    sink.append(bits)
                else:
                    memory.append(bits)
            song_ids, first = np.asarray(ids, np.int64), np.asarray(starts, np.int64)
            if temporary is None or directory is None:
                return cls(song_ids, first, np.concatenate([np.zeros(0, np.uint32), *memory]))
            if sink is not None:
                sink.close()
            np.save(temporary / "song_ids.npy", song_ids)
            np.save(temporary / "starts.npy", first)
        except BaseException:
            if sink is not None:
                sink.discard()
            if temporary is not None:
                shutil.rmtree(temporary, ignore_errors=True)
            raise
        meta = {"format": SKETCH_SIDECAR_FORMAT}
        return publish(temporary, Path(directory), meta, signature or {}, cls.open)

    def __len__(self) -> int:
        return len(self.song_ids)

    def __repr__(self) -> str:
        return f"SongSketches({len(self):,} songs, {int(self.starts[-1]):,} frames)"

    def read(self, song_ids: Iterable[int]) -> dict[int, np.ndarray]:
        """The sketches of these songs, by id; songs without one are absent.

        Returns
        -------
        dict of int to np.ndarray, shape (n_frames,), uint32
            One read a song; each array is a new copy.
        """
        found: dict[int, np.ndarray] = {}
        for song_id in song_ids:
            where = int(np.searchsorted(self.song_ids, song_id))
            if where == len(self.song_ids) or self.song_ids[where] != song_id:
                continue
            first, last = int(self.starts[where]), int(self.starts[where + 1])
            if isinstance(self._frames, FileColumn):
                found[int(song_id)] = self._frames.slice(first, last)
            else:
                found[int(song_id)] = np.array(self._frames[first:last])
        return found

    # -- sidecar --------------------------------------------------------

    @classmethod
    def open(
        cls, directory: str | os.PathLike[str], signature: Mapping[str, Any]
    ) -> SongSketches | None:
        """Open a sidecar, or None if it is missing, unreadable or stale."""
        folder = Path(directory)
        try:
            meta = json.loads((folder / META).read_text())
        except (OSError, ValueError):
            return None
        if meta.get("format") != SKETCH_SIDECAR_FORMAT or meta.get("signature") != canonical(
            signature
        ):
            return None
        try:
            song_ids = np.load(folder / "song_ids.npy")
            starts = np.load(folder / "starts.npy")
            if len(starts) == 1 and int(starts[0]) == 0:  # no sketches: nothing to map
                return cls(song_ids, starts, np.zeros(0, np.uint32))
            frames = FileColumn(folder / "frames.npy")
        except (OSError, ValueError, IndexError):
            return None
        if len(starts) != len(song_ids) + 1 or int(starts[-1]) != len(frames):
            frames.close()
            return None
        return cls(song_ids, starts, frames)

    def close(self) -> None:
        """Release the sidecar's file (an in-memory one has none)."""
        if isinstance(self._frames, FileColumn):
            self._frames.close()
