"""Reading a built corpus: where it lives, its manifest and the tracks it lists.

A built corpus is a folder ``<out>/<size>/`` holding ``reference/*.mp3``,
``unseen/*.mp3`` and ``manifest.csv``, one row a file with the columns of
:data:`MANIFEST_COLUMNS`. :func:`tracks` gives its rows as :class:`Track` objects,
:func:`manifest_hash` the SHA-1 to record which corpus a result used, and
:func:`file_sha1` the SHA-1 of a file, as its row lists it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ...exceptions import ParameterError
from .spec import SIZES

REPO_ROOT = Path(__file__).resolve().parents[3]
ENV_CORPUS_DIR = "DEJAVU_LAB_CORPUS"
MANIFEST_NAME = "manifest.csv"
#: Columns of the corpus manifest, one row a track.
MANIFEST_COLUMNS = (
    "file",
    "set",
    "package",
    "package_version",
    "original_path",
    "stems",
    "duration_s",
    "sample_rate",
    "license",
    "sha1",
)
SETS = ("reference", "unseen")


@dataclass(frozen=True)
class Track:
    """One MP3 of a built corpus, as listed in its manifest.

    Attributes
    ----------
    path : pathlib.Path
        Absolute path of the MP3 file (44.1 kHz).
    set : str
        ``"reference"`` (to be fingerprinted) or ``"unseen"`` (never fingerprinted).
    package : str
        Debian package the music comes from.
    original_path : str
        Where the package installs the source file(s).
    duration_s : float
        Duration of the MP3 in seconds.
    license : str
        Short license name, e.g. ``"GPL-2+"`` or ``"CC-BY-SA-3.0"``.
    sha1 : str
        SHA-1 of the MP3 file.
    """

    path: Path
    set: str
    package: str
    original_path: str
    duration_s: float
    license: str
    sha1: str

    @property
    def name(self) -> str:
        """File name without extension, e.g. ``"wesnoth-1.16-music__battle"``."""
        return self.path.stem


def default_corpus_dir(size: str = "full") -> Path:
    """Where the corpus of a size lives.

    Parameters
    ----------
    size : {"full", "small"}
        Which corpus.

    Returns
    -------
    pathlib.Path
        ``$DEJAVU_LAB_CORPUS`` when that environment variable is set (it names
        the corpus folder itself, whatever the size), else
        ``<repo>/data/corpus/<size>``.
    """
    if size not in SIZES:
        raise ParameterError(f"size={size!r}: must be one of {sorted(SIZES)}")
    override = os.environ.get(ENV_CORPUS_DIR)
    if override:
        return Path(override).expanduser()
    return REPO_ROOT / "data" / "corpus" / size


def _manifest_path(corpus_dir: str | os.PathLike[str]) -> Path:
    path = Path(corpus_dir) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no corpus manifest. Build the corpus first with `make corpus` "
            "(45 reference songs) or `make corpus-small` (8 songs), i.e. "
            "`python data/build_corpus.py --size full|small`."
        )
    return path


def load_manifest(corpus_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``manifest.csv`` of a built corpus.

    Parameters
    ----------
    corpus_dir : path-like
        The corpus folder, e.g. ``data/corpus/full``.

    Returns
    -------
    pandas.DataFrame
        One row a file with the columns of :data:`MANIFEST_COLUMNS`; ``file``
        is relative to `corpus_dir`.

    Raises
    ------
    FileNotFoundError
        When there is no manifest (the corpus was never built).
    ValueError
        When the manifest lacks columns or names an unknown set.
    """
    path = _manifest_path(corpus_dir)
    dtypes: dict[str, type] = {name: str for name in MANIFEST_COLUMNS}
    dtypes.update(duration_s=float, sample_rate=int)
    frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False)
    missing = [name for name in MANIFEST_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; rebuild the corpus")
    bad_sets = sorted(set(frame["set"]) - set(SETS))
    if bad_sets:
        raise ValueError(f"{path}: unknown set(s) {bad_sets}, expected {list(SETS)}")
    return frame


def tracks(corpus_dir: str | os.PathLike[str], set: str | None = None) -> list[Track]:
    """The tracks of a built corpus, in manifest order.

    Parameters
    ----------
    corpus_dir : path-like
        The corpus folder.
    set : {"reference", "unseen"}, optional
        Keep only this set; all tracks when omitted.

    Returns
    -------
    list of Track
    """
    if set is not None and set not in SETS:
        raise ParameterError(f"set={set!r}: must be one of {list(SETS)} or None")
    root = Path(corpus_dir).resolve()
    frame = load_manifest(root)
    if set is not None:
        frame = frame[frame["set"] == set]
    return [
        Track(
            path=root / str(row["file"]),
            set=str(row["set"]),
            package=str(row["package"]),
            original_path=str(row["original_path"]),
            duration_s=float(row["duration_s"]),
            license=str(row["license"]),
            sha1=str(row["sha1"]),
        )
        for row in frame.to_dict("records")
    ]


def manifest_hash(corpus_dir: str | os.PathLike[str]) -> str:
    """SHA-1 (hex) of the manifest file, to record which corpus a result used."""
    return hashlib.sha1(_manifest_path(corpus_dir).read_bytes()).hexdigest()


def file_sha1(path: Path) -> str:
    """SHA-1 (hex) of a file's bytes."""
    digest = hashlib.sha1()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
