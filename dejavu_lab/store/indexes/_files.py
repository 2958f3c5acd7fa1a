"""The files every sidecar is made of, and how a sidecar is put in place.

A sidecar is a directory of 1-D ``.npy`` files beside a database file, with a
``meta.json`` recording its format and the *signature* of the rows it was built
from. It is written in a scratch directory beside its place
(:func:`scratch_beside`), then renamed into place (:func:`publish`), so a reader
sees a whole old sidecar or a whole new one, never a part.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

__all__ = ["META", "FileColumn", "NpyFile", "canonical", "publish", "scratch_beside"]

#: A sidecar's record of its format and signature.
META = "meta.json"
Opened = TypeVar("Opened")


class NpyFile:
    """A 1-D ``.npy`` file of known length, written front to back."""

    def __init__(self, path: Path, dtype: Any, length: int) -> None:
        self.dtype = np.dtype(dtype)
        self.length = length
        self.filled = 0
        self.handle = open(path, "wb")  # noqa: SIM115 (closed by close())
        header = {
            "descr": np.lib.format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": (length,),
        }
        np.lib.format.write_array_header_2_0(self.handle, header)

    def append(self, values: np.ndarray) -> None:
        np.ascontiguousarray(values, dtype=self.dtype).tofile(self.handle)
        self.filled += len(values)

    def close(self) -> np.ndarray:
        self.handle.close()
        if self.filled != self.length:
            raise ValueError(f"{self.handle.name}: {self.filled} values written, {self.length} due")
        return np.zeros(0, self.dtype)  # the index is reopened from the files

    def discard(self) -> None:
        self.handle.close()


def canonical(signature: Mapping[str, Any]) -> Any:
    """The signature as it reads back from JSON (tuples become lists, ...)."""
    return json.loads(json.dumps(dict(signature), sort_keys=True, default=str))


def scratch_beside(directory: Path, owner: object) -> Path:
    """A new, empty temporary directory beside a sidecar, for one writer."""
    scratch = directory.with_name(f"{directory.name}.tmp-{os.getpid()}-{id(owner)}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    return scratch


def publish(
    temporary: Path,
    directory: Path,
    meta: Mapping[str, Any],
    signature: Mapping[str, Any],
    opener: Callable[[Path, Mapping[str, Any]], Opened | None],
) -> Opened:
    """Write a sidecar's ``meta.json`` (with its signature), move it into place, open it.

    Raises
    ------
    OSError
        If what ``opener`` finds there is not this build (another process
        replaced it with a different one).
    """
    record = {**meta, "signature": canonical(signature)}
    (temporary / META).write_text(json.dumps(record, indent=1))
    replace_directory(temporary, directory)
    opened = opener(directory, signature)
    if opened is None:
        raise OSError(f"sidecar {directory} changed while it was being written")
    return opened


def replace_directory(source: Path, target: Path) -> None:
    """Move ``source`` to ``target``, replacing an older ``target``.

    Readers that mapped the old files keep them until they close: unlinked
    files live on while mapped.
    """
    if target.exists():
        stale = target.with_name(f"{target.name}.old-{os.getpid()}")
        shutil.rmtree(stale, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            target.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        source.rename(target)
    except OSError:
        # Another process put its sidecar in place first; keep that one.
        shutil.rmtree(source, ignore_errors=True)


class FileColumn:
    """A 1-D ``.npy`` array read in slices with ``pread`` (no memory map)."""

    def __init__(self, path: Path) -> None:
        # The header, through a map dropped at once: where the data start, and their type.
        mapped = np.load(path, mmap_mode="r")
        if not isinstance(mapped, np.memmap) or mapped.ndim != 1:
            raise ValueError(f"{path}: not a 1-D array")
        self.data_start = int(mapped.offset)
        self.dtype = np.dtype(mapped.dtype)
        self.length = len(mapped)
        del mapped
        self.fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.length

    def slice(self, start: int, stop: int) -> np.ndarray:
        """Elements ``[start, stop)``, read into a new array."""
        out = np.empty(max(0, stop - start), self.dtype)
        self.read_into(out, start)
        return out

    def read_into(self, out: np.ndarray, start: int) -> None:
        """Elements ``[start, start + len(out))`` into ``out`` (contiguous, this dtype)."""
        size = self.dtype.itemsize
        view = out.view(np.uint8).data
        done = 0
        while done < len(view):
            got = os.preadv(self.fd, [view[done:]], self.data_start + start * size + done)
            if got <= 0:
                raise OSError(f"song index: short read at element {start} of {self.length}")
            done += got

    def close(self) -> None:
        os.close(self.fd)
