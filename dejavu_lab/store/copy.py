"""Copy a fingerprint database into another, whatever the engines.

>>> from dejavu_lab.store import open_store
>>> report = copy_store(open_store(":memory:"), open_store(":memory:"), progress=False)
>>> report.added, report.skipped
(0, 0)

Songs are copied one transaction each (hashes and sketch), in song id order,
through the store protocol: a copy into an empty database keeps gap-free song
ids; songs whose content hash the target already has are skipped, so an
interrupted copy is simply started again. The pipeline parameters go first:
a target holding other parameters is refused.

Command line: ``dejavu-lab copy --from duckdb:fingerprints.duckdb --to
postgresql://me@db.example.org/dejavu``.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from ..exceptions import StoreError
from .base import DuplicateSongError, SongInfo, check_compatible

logger = logging.getLogger(__name__)


@dataclass
class CopyReport:
    """What a copy did.

    Attributes
    ----------
    added : int
        Songs copied.
    skipped : int
        Songs the target already had (same content hash).
    num_hashes : int
        Hashes copied.
    num_sketches : int
        Sketches copied (songs stored without one are copied without one).
    elapsed_s : float
        Wall-clock time (s).
    """

    added: int = 0
    skipped: int = 0
    num_hashes: int = 0
    num_sketches: int = 0
    elapsed_s: float = 0.0

    def summary(self) -> str:
        """One line for people."""
        rate = self.num_hashes / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return (
            f"{self.added} songs copied, {self.skipped} already there; {self.num_hashes:,} "
            f"hashes in {self.elapsed_s:.1f} s ({rate:,.0f} hashes/s)"
        )


def copy_store(source: Any, target: Any, progress: bool = True) -> CopyReport:
    """Copy every song, its hashes, its sketch and the pipeline parameters to another store.

    Parameters
    ----------
    source, target : Store, or anything :func:`~dejavu_lab.store.open_store` accepts
        Stores given open stay open; specs are opened and closed here.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    CopyReport

    Raises
    ------
    IncompatibleStoreError
        If the target was fingerprinted with other parameters.
    StoreError
        If the source has songs but no parameters, or a store fails.
    """
    from . import open_store

    opened = []
    try:
        if isinstance(source, (str, Mapping)) or hasattr(source, "__fspath__"):
            source = open_store(source, read_only=True)
            opened.append(source)
        if isinstance(target, (str, Mapping)) or hasattr(target, "__fspath__"):
            target = open_store(target)
            opened.append(target)
        return _copy(source, target, progress)
    finally:
        for store in opened:
            store.close()


def _copy(source: Any, target: Any, progress: bool) -> CopyReport:
    start = time.perf_counter()
    report = CopyReport()
    stored = source.read_params()
    songs = source.songs()
    if stored is None and songs:
        raise StoreError(f"{source!r} has songs but no pipeline parameters: nothing to copy")
    if stored is not None:
        if target.read_params() is None:
            target.write_params(stored["params"], stored.get("version") or "unknown")
        check_compatible(target.read_params(), stored["params"], f"target {target!r}")
    present = target.content_hashes()
    bar = tqdm(total=len(songs), unit="song", desc="copying", disable=not progress)
    try:
        for song in songs:
            if song.content_hash in present:
                report.skipped += 1
            else:
                info = SongInfo(song.name, song.path, song.content_hash, song.duration_s)
                fingerprints = source.song_fingerprints(song.song_id)
                sketch = source.song_sketches([song.song_id]).get(song.song_id)
                try:
                    target.add_song(info, fingerprints, sketch=sketch)
                except DuplicateSongError:
                    report.skipped += 1  # another writer stored it meanwhile
                else:
                    report.added += 1
                    report.num_hashes += len(fingerprints)
                    report.num_sketches += int(sketch is not None)
            bar.update(1)
    finally:
        bar.close()
    report.elapsed_s = time.perf_counter() - start
    logger.info("copy %r -> %r: %s", source, target, report.summary())
    return report


def cmd_copy(args: argparse.Namespace) -> int:
    """``dejavu-lab copy --from SPEC --to SPEC``."""
    report = copy_store(args.source, args.target, progress=not args.quiet)
    print(report.summary())
    return 0


def add_cli(commands: Any) -> None:
    """Add the ``copy`` command to the ``dejavu-lab`` subcommands."""
    parser = commands.add_parser(
        "copy",
        help="copy a fingerprint database into another (DuckDB, MySQL, PostgreSQL)",
        description="Copy every song, its hashes and the pipeline parameters from one "
        "database to another, e.g. from a DuckDB file to a shared PostgreSQL server. "
        "Songs the target already has are skipped, so an interrupted copy can simply be "
        "started again.",
    )
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="SPEC",
        help="source: a DuckDB file, duckdb:PATH, mysql://user@host/db or "
        "postgresql://user@host/db",
    )
    parser.add_argument(
        "--to", dest="target", required=True, metavar="SPEC", help="target, as --from"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.set_defaults(func=cmd_copy)
