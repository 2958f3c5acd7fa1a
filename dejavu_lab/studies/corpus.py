"""The free-music corpus: build it from Debian soundtrack packages, read it back.

A built corpus is a folder ``<out>/<size>/`` holding ``reference/*.mp3`` (songs
to fingerprint), ``unseen/*.mp3`` (same-genre songs that are never
fingerprinted, to measure false matches) and ``manifest.csv``, one row a file.
``data/build_corpus.py`` is the command line over :func:`build_corpus`;
``data/README.md`` says what is in the corpus and why.

Reading a corpus::

    from dejavu_lab.studies import corpus
    corpus_dir = corpus.default_corpus_dir("small")
    for track in corpus.tracks(corpus_dir, set="reference"):
        print(track.name, track.duration_s, track.license)
    provenance = corpus.manifest_hash(corpus_dir)
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import soxr
from tqdm import tqdm

from ..exceptions import DejavuLabError, ParameterError

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
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

SAMPLE_RATE = 44_100
MP3_BITRATE_KBPS = 192
#: Mixed stems and Vorbis overshoot can exceed full scale; such tracks are scaled
#: down to this peak so the encoder never clips. Quieter tracks are left as is.
PEAK_CEILING = 0.99
AUDIO_SUFFIXES = frozenset({".ogg", ".oga", ".opus", ".mp3", ".flac", ".wav"})
#: Frets on Fire ships each song as separate stems in one folder; song.ogg is
#: the backing track *without* the lead guitar (their correlation is ~0), so the
#: full song is their sum.
FOF_STEMS = ("song.ogg", "guitar.ogg", "rhythm.ogg")
EXTRACTED_MARKER = ".dejavu-lab-extracted"

EXIT_DEBIAN_TOOLS_UNAVAILABLE = 3
EXIT_ENCODER_UNAVAILABLE = 4
EXIT_DOWNLOAD_FAILED = 5


# --------------------------------------------------------------------------
# Reading a built corpus
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# What to build
# --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CorpusSpec:
    """Which packages a corpus draws from and how many tracks go to each set.

    Attributes
    ----------
    packages : tuple of str
        Debian packages, in the order they are listed.
    n_reference, n_unseen : int
        Wanted set sizes; see :func:`split_tracks` for the rule.
    unseen_packages : tuple of str
        Packages whose music only widens the unseen set: split apart from
        ``packages``, so adding one leaves the reference set and the unseen
        tracks of ``packages`` unchanged.
    unseen_per_package : int
        Tracks taken from each of ``unseen_packages`` (evenly spread over the
        package's sorted list; all of them if it has fewer).
    min_duration_s : float
        Shorter files (jingles, stingers, sound effects) are left out.
    """

    packages: tuple[str, ...]
    n_reference: int
    n_unseen: int
    unseen_packages: tuple[str, ...] = ()
    unseen_per_package: int = 0
    min_duration_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.packages:
            raise ParameterError("packages=(): name at least one Debian package")
        if set(self.packages) & set(self.unseen_packages):
            raise ParameterError("a package cannot be in both packages and unseen_packages")
        for name in ("n_reference", "n_unseen", "unseen_per_package"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ParameterError(f"{name}={value!r}: must be an int >= 0")
        if not self.min_duration_s >= 0:
            raise ParameterError(f"min_duration_s={self.min_duration_s!r}: must be >= 0")


_SMALL_PACKAGES = ("asc-music", "fretsonfire-songs-muldjord", "fretsonfire-songs-sectoid")
#: Soundtracks that only add unseen music to the full corpus (no reference track).
WIDE_UNSEEN_PACKAGES = (
    "hyperrogue-music",
    "nexuiz-music",
    "planetblupi-music-ogg",
    "ufoai-music",
)
SIZES: dict[str, CorpusSpec] = {
    # 11 eligible tracks, ~70 MB of .deb: quick enough for CI.
    "small": CorpusSpec(packages=_SMALL_PACKAGES, n_reference=8, n_unseen=3),
    # 57 eligible tracks: 45 reference like the Dejavu write-up, 12 unseen; plus
    # 8 unseen tracks from each of four more soundtracks, for false matches.
    "full": CorpusSpec(
        packages=(*_SMALL_PACKAGES, "singularity-music", "wesnoth-1.16-music"),
        n_reference=45,
        n_unseen=12,
        unseen_packages=WIDE_UNSEEN_PACKAGES,
        unseen_per_package=8,
    ),
}


# --------------------------------------------------------------------------
# Errors of a build (the CLI turns exit_code into its exit status)
# --------------------------------------------------------------------------


class CorpusBuildError(DejavuLabError):
    """The corpus could not be built."""

    exit_code = 1


class DebianToolsUnavailable(CorpusBuildError):
    """apt-get or dpkg is missing: not a Debian-like system."""

    exit_code = EXIT_DEBIAN_TOOLS_UNAVAILABLE


class EncoderUnavailable(CorpusBuildError):
    """Neither ffmpeg (with libmp3lame) nor lame is installed."""

    exit_code = EXIT_ENCODER_UNAVAILABLE


class DownloadError(CorpusBuildError):
    """``apt-get download`` failed."""

    exit_code = EXIT_DOWNLOAD_FAILED


# --------------------------------------------------------------------------
# Small text helpers
# --------------------------------------------------------------------------


def slugify(text: str) -> str:
    """A lower-case ASCII name made of ``[a-z0-9.-]``, safe in any file system.

    >>> slugify("Escape from Chaosland")
    'escape-from-chaosland'
    >>> slugify("breaking_the_chains")
    'breaking-the-chains'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9.]+", "-", ascii_text.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-.")
    return slug or "untitled"


def output_file_name(package: str, title: str) -> str:
    """``<package>__<slug of title>.mp3``, e.g. ``wesnoth-1.16-music__battle-epic.mp3``."""
    return f"{slugify(package)}__{slugify(title)}.mp3"


_DEP5_FORMAT = re.compile(r"^Format:\s*\S*copyright-format", re.IGNORECASE)
_CC_ELEMENTS = (("-NC", r"non-?commercial"), ("-SA", r"share-?\s?alike"), ("-ND", r"no-?deriv"))


def _dep5_license(text: str) -> str | None:
    """License of the ``Files: *`` stanza of a DEP-5 copyright file, if any."""
    stanzas = [block for block in re.split(r"\n\s*\n", text) if block.strip()]
    fallback = None
    for stanza in stanzas:
        fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", stanza, flags=re.MULTILINE))
        files, license_name = fields.get("Files", "").split(), fields.get("License", "").strip()
        if not files or not license_name:
            continue
        if "*" in files:
            return license_name
        if fallback is None and not all(f.startswith("debian/") for f in files):
            fallback = license_name
    return fallback


def _cc_name(text: str) -> str:
    elements = "".join(tag for tag, pattern in _CC_ELEMENTS if re.search(pattern, text, re.I))
    version = re.search(
        r"(?:by(?:-nc)?(?:-sa|-nd)?/|attribution[\w\s-]{0,30}?)(\d\.\d)", text, re.IGNORECASE
    )
    return f"CC-BY{elements}" + (f"-{version.group(1)}" if version else "")


def _gpl_name(text: str, start: int) -> str:
    window = text[start : start + 400]
    kind = "LGPL" if re.match(r"GNU\s+(Library|Lesser)", window, re.IGNORECASE) else "GPL"
    version = re.search(r"version\s+(\d(?:\.\d)?)", window, re.IGNORECASE)
    later = re.search(r"(any\s+later|later\s+version)", window, re.IGNORECASE)
    return kind + (f"-{version.group(1)}" if version else "") + ("+" if later else "")


def parse_license(copyright_text: str) -> str:
    """A short license name from a Debian ``copyright`` file.

    Machine-readable (DEP-5) files give the ``License:`` of their ``Files: *``
    stanza. Free-form files are searched for the first license statement,
    which in Debian's files is the upstream work's (the packaging's license
    comes last).

    Returns
    -------
    str
        e.g. ``"GPL-2+"``, ``"CC-BY-SA-3.0"``, ``"MIT"``, or ``"unknown"``.
    """
    first_line = copyright_text.lstrip().split("\n", 1)[0]
    if _DEP5_FORMAT.match(first_line):
        found = _dep5_license(copyright_text)
        if found:
            return found
    candidates: list[tuple[int, str]] = []
    if cc := re.search(r"creative\s+commons", copyright_text, re.IGNORECASE):
        candidates.append((cc.start(), _cc_name(copyright_text)))
    if gpl := re.search(r"GNU\s+(?:Library\s+|Lesser\s+)?General\s+Public", copyright_text):
        candidates.append((gpl.start(), _gpl_name(copyright_text, gpl.start())))
    if mit := re.search(r"Permission is hereby granted, free of charge", copyright_text):
        candidates.append((mit.start(), "MIT"))
    return min(candidates)[1] if candidates else "unknown"


# --------------------------------------------------------------------------
# Getting the packages
# --------------------------------------------------------------------------


def _require_tool(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise DebianToolsUnavailable(
            f"`{tool}` not found: building the real-music corpus needs Debian's apt-get "
            "and dpkg (use synthetic songs on other systems)"
        )
    return path


def _run(cmd: Sequence[str], *, cwd: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool with C locale messages; callers read the return code."""
    env = {**os.environ, "LC_ALL": "C"}
    return subprocess.run(list(cmd), capture_output=True, text=True, env=env, cwd=cwd)


def download_deb(package: str, debs_dir: Path) -> Path:
    """``apt-get download`` one package into `debs_dir`, unless its .deb is there.

    An interrupted download leaves nothing behind: the file is fetched in a
    private folder and moved in when complete. When apt has no package lists
    yet and we are root, ``apt-get update`` is run once and the download retried.
    """
    existing = sorted(debs_dir.glob(f"{package}_*.deb"))
    if existing:
        return existing[-1]
    apt_get = _require_tool("apt-get")
    debs_dir.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s (apt-get download)", package)
    with tempfile.TemporaryDirectory(prefix=f".{package}.", dir=debs_dir) as partial:
        result = _run([apt_get, "-q", "download", package], cwd=partial)
        if result.returncode != 0 and _lists_missing(result.stderr) and os.geteuid() == 0:
            logger.info("apt has no list for %s: running apt-get update once", package)
            _run([apt_get, "-q", "update"])
            result = _run([apt_get, "-q", "download", package], cwd=partial)
        fetched = sorted(Path(partial).glob("*.deb"))
        if result.returncode != 0 or not fetched:
            detail = (result.stderr or result.stdout).strip().splitlines()
            errors = [line for line in detail if not line.startswith("W:")] or detail
            raise DownloadError(
                f"apt-get download {package} failed: {' | '.join(errors[-3:])}. "
                "Debian's package registry must be reachable (and `apt-get update` "
                "must have been run as root)."
            )
        target = debs_dir / fetched[0].name
        os.replace(fetched[0], target)
    return target


def _lists_missing(stderr: str) -> bool:
    return "Unable to locate package" in stderr or "has no installation candidate" in stderr


def mark_extracted(extracted_dir: Path, *, deb_name: str, version: str) -> None:
    """Record that `extracted_dir` holds the complete contents of a .deb."""
    (extracted_dir / EXTRACTED_MARKER).write_text(f"deb: {deb_name}\nversion: {version}\n")


def extracted_version(extracted_dir: Path) -> str | None:
    """Package version of a completely extracted tree, or None if it is not one."""
    marker = extracted_dir / EXTRACTED_MARKER
    if not marker.is_file():
        return None
    fields = dict(re.findall(r"^(\w+):\s*(.*)$", marker.read_text(), flags=re.MULTILINE))
    return fields.get("version", "")


def fetch_package(package: str, raw_dir: Path) -> tuple[Path, list[str]]:
    """Make sure ``<raw_dir>/extracted/<package>`` holds the package's files.

    Downloads to ``<raw_dir>/debs/`` and extracts with ``dpkg -x`` only what is
    not there yet. Extraction goes to a temporary folder renamed when done, so
    a tree with its marker file is always complete.

    Returns
    -------
    extracted_dir : pathlib.Path
    actions : list of str
        What was done, e.g. ``["downloaded asc-music_1.3-6_all.deb"]``; empty
        when everything was already there.
    """
    extracted_dir = raw_dir / "extracted" / package
    if extracted_version(extracted_dir) is not None:
        return extracted_dir, []
    actions = []
    debs_dir = raw_dir / "debs"
    had_deb = any(debs_dir.glob(f"{package}_*.deb"))
    deb = download_deb(package, debs_dir)
    if not had_deb:
        actions.append(f"downloaded {deb.name} ({deb.stat().st_size / 1e6:.1f} MB)")
    dpkg = _require_tool("dpkg")
    dpkg_deb = _require_tool("dpkg-deb")
    extracted_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = extracted_dir.with_name(f".{package}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    logger.info("extracting %s", deb.name)
    result = _run([dpkg, "-x", str(deb), str(partial)])
    version = _run([dpkg_deb, "-f", str(deb), "Version"])
    if result.returncode != 0 or version.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise CorpusBuildError(
            f"dpkg -x {deb} failed: {(result.stderr or version.stderr).strip()}; "
            "delete the file to download it again"
        )
    mark_extracted(partial, deb_name=deb.name, version=version.stdout.strip())
    shutil.rmtree(extracted_dir, ignore_errors=True)
    partial.rename(extracted_dir)
    actions.append(f"extracted {deb.name}")
    return extracted_dir, actions


# --------------------------------------------------------------------------
# Finding the music in a package
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceTrack:
    """One piece of music found in an extracted package.

    Attributes
    ----------
    package, package_version : str
    original_path : str
        Where the package installs it, e.g. ``/usr/share/games/.../battle.ogg``;
        for a multi-stem song, the path of its first stem.
    stems : tuple of pathlib.Path
        The extracted file(s) summed to make the song (one for most songs).
    duration_s : float
        Duration of the longest stem.
    license : str
    file_name : str
        Name of the MP3 to write.
    """

    package: str
    package_version: str
    original_path: str
    stems: tuple[Path, ...]
    duration_s: float
    license: str
    file_name: str

    @property
    def stems_label(self) -> str:
        """``"song.ogg+guitar.ogg"`` for a multi-stem song, ``""`` otherwise."""
        return "+".join(p.name for p in self.stems) if len(self.stems) > 1 else ""


@dataclass(frozen=True)
class SkippedFile:
    """An audio file left out, and why."""

    package: str
    original_path: str
    reason: str


def read_package_license(extracted_dir: Path, package: str) -> str:
    """Short license name from ``usr/share/doc/<package>/copyright``."""
    path = extracted_dir / "usr" / "share" / "doc" / package / "copyright"
    if not path.is_file():
        logger.warning("%s: no copyright file, license unknown", package)
        return "unknown"
    return parse_license(path.read_text(errors="replace"))


#: Suffix of the folder a game archive's audio members are unpacked into.
ARCHIVE_DIR_SUFFIX = ".unpacked"


def unpack_archives(extracted_dir: Path) -> list[Path]:
    """Unpack the audio of game archives (``.pk3``: zip files) next to them, once.

    Nexuiz and UFO:AI ship their music inside ``.pk3`` archives. Each archive's
    audio members go to ``<archive>.unpacked/`` (written under a temporary
    name, then renamed, so an interrupted run starts again).

    Returns
    -------
    list of pathlib.Path
        The unpacked folders.
    """
    folders = []
    for archive in sorted(extracted_dir.rglob("*.pk3")):
        target = archive.with_name(archive.name + ARCHIVE_DIR_SUFFIX)
        if not target.is_dir():
            partial = archive.with_name(archive.name + ARCHIVE_DIR_SUFFIX + ".part")
            shutil.rmtree(partial, ignore_errors=True)
            with zipfile.ZipFile(archive) as bundle:
                members = [m for m in bundle.namelist() if Path(m).suffix.lower() in AUDIO_SUFFIXES]
                bundle.extractall(partial, members=members)
            os.replace(partial, target)
        folders.append(target)
    return folders


def scan_package(
    extracted_dir: Path, package: str, *, min_duration_s: float = 60.0
) -> tuple[list[SourceTrack], list[SkippedFile]]:
    """Find the music in an extracted package, sorted by original path.

    Every audio file outside ``usr/share/doc`` is a candidate, including those
    of game archives (:func:`unpack_archives`). A folder that
    holds ``song.ogg`` is a Frets on Fire song: its stems (:data:`FOF_STEMS`)
    make one track and its other audio files are ignored. Tracks shorter than
    `min_duration_s` are skipped.
    """
    version = extracted_version(extracted_dir) or ""
    license_name = read_package_license(extracted_dir, package)
    unpack_archives(extracted_dir)
    audio = sorted(
        p
        for p in extracted_dir.rglob("*")
        if p.suffix.lower() in AUDIO_SUFFIXES
        and p.is_file()
        and "doc" not in p.relative_to(extracted_dir).parts[:3]
    )
    groups: dict[Path, tuple[Path, ...]] = {}
    for path in audio:
        if (path.parent / FOF_STEMS[0]).is_file():
            stems = tuple(path.parent / s for s in FOF_STEMS if (path.parent / s).is_file())
            groups[stems[0]] = stems
        else:
            groups[path] = (path,)

    found, skipped, names = [], [], set()
    for first, stems in sorted(groups.items()):
        original = "/" + first.relative_to(extracted_dir).as_posix()
        try:
            duration = max(sf.info(str(p)).duration for p in stems)
        except (sf.LibsndfileError, RuntimeError) as error:
            skipped.append(SkippedFile(package, original, f"unreadable: {error}"))
            continue
        if duration < min_duration_s:
            reason = f"{duration:.1f} s < {min_duration_s:g} s"
            skipped.append(SkippedFile(package, original, reason))
            continue
        title = first.parent.name if len(stems) > 1 else first.stem
        name = output_file_name(package, title)
        if name in names:  # same title in two folders: add the folder
            name = output_file_name(package, f"{first.parent.name}-{title}")
        names.add(name)
        found.append(SourceTrack(package, version, original, stems, duration, license_name, name))
    return found, skipped


def _allocate(sizes: dict[str, int], total: int, *, at_least_one: bool) -> dict[str, int]:
    """Share `total` picks among packages in proportion to their sizes.

    Picks go one at a time to the package furthest below its proportional
    share (ties: package name order); with `at_least_one`, every package with
    two tracks or more first gets one pick, so both sets see every package.
    """
    available = sum(sizes.values())
    total = min(total, available)
    counts = {name: 0 for name in sizes}
    if at_least_one:
        for name in sorted(sizes):
            if sizes[name] >= 2 and sum(counts.values()) < total:
                counts[name] = 1
    while sum(counts.values()) < total:
        need = {
            name: sizes[name] * total / available - counts[name]
            for name in sorted(sizes)
            if counts[name] < sizes[name]
        }
        counts[min(need, key=lambda name: (-need[name], name))] += 1
    return counts


def _spread(n: int, k: int) -> list[int]:
    """`k` indices spread evenly over ``range(n)``, e.g. ``_spread(4, 1) == [2]``."""
    return [int((i + 0.5) * n / k) for i in range(k)]


def split_tracks(
    sources: Iterable[SourceTrack], *, n_reference: int, n_unseen: int
) -> dict[str, list[SourceTrack]]:
    """Deterministically split tracks into the reference and unseen sets.

    Tracks are sorted by (package, original path). The unseen set takes
    `n_unseen` tracks shared among packages in proportion to their sizes, at
    least one from each package with two tracks or more, picked at evenly
    spaced positions of each package's sorted list. The reference set is the
    rest, thinned the same way if there are more than `n_reference` (a warning
    is logged if there are fewer).

    Returns
    -------
    dict
        ``{"reference": [...], "unseen": [...]}``, each sorted by
        (package, original path).
    """
    by_package: dict[str, list[SourceTrack]] = {}
    for source in sorted(sources, key=lambda s: (s.package, s.original_path)):
        by_package.setdefault(source.package, []).append(source)
    sizes = {name: len(items) for name, items in by_package.items()}
    unseen_counts = _allocate(sizes, n_unseen, at_least_one=True)
    unseen: list[SourceTrack] = []
    rest: dict[str, list[SourceTrack]] = {}
    for name, items in by_package.items():
        picked = set(_spread(len(items), unseen_counts[name]))
        unseen += [s for i, s in enumerate(items) if i in picked]
        rest[name] = [s for i, s in enumerate(items) if i not in picked]
    rest_sizes = {name: len(items) for name, items in rest.items()}
    if sum(rest_sizes.values()) < n_reference:
        logger.warning(
            "only %d tracks left for the reference set (%d wanted)",
            sum(rest_sizes.values()),
            n_reference,
        )
    reference_counts = _allocate(rest_sizes, n_reference, at_least_one=False)
    reference: list[SourceTrack] = []
    for name, items in rest.items():
        kept = set(_spread(len(items), reference_counts[name]))
        reference += [s for i, s in enumerate(items) if i in kept]
    return {"reference": reference, "unseen": unseen}


# --------------------------------------------------------------------------
# Decoding and encoding
# --------------------------------------------------------------------------


def decode_mix(stems: Sequence[Path], *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode, sum and resample the stems of one track.

    Returns
    -------
    numpy.ndarray, shape (frames, channels), float32
        At `sample_rate` Hz; mono stays mono. Scaled down to a peak of
        :data:`PEAK_CEILING` only if it would otherwise exceed full scale.
    """
    decoded = [sf.read(str(p), dtype="float32", always_2d=True) for p in stems]
    source_rate = decoded[0][1]
    if any(rate != source_rate for _, rate in decoded):
        raise CorpusBuildError(f"stems of {stems[0].parent} differ in sample rate")
    frames = max(x.shape[0] for x, _ in decoded)
    channels = max(x.shape[1] for x, _ in decoded)
    mix = np.zeros((frames, channels), dtype=np.float32)
    for samples, _ in decoded:
        mix[: samples.shape[0]] += samples  # a mono stem broadcasts to every channel
    if source_rate != sample_rate:
        mix = soxr.resample(mix, source_rate, sample_rate, quality="HQ").astype(np.float32)
    peak = float(np.max(np.abs(mix))) if mix.size else 0.0
    if peak > 1.0:
        mix *= PEAK_CEILING / peak
    return mix


def find_encoder(preferred: str = "auto") -> str:
    """``"ffmpeg"`` (with libmp3lame) or ``"lame"``, whichever is installed.

    Parameters
    ----------
    preferred : {"auto", "ffmpeg", "lame"}
        ``"auto"`` takes ffmpeg if it has libmp3lame, else lame.
    """
    if preferred not in ("auto", "ffmpeg", "lame"):
        raise ParameterError(f"encoder={preferred!r}: must be 'auto', 'ffmpeg' or 'lame'")
    if preferred in ("auto", "ffmpeg") and shutil.which("ffmpeg"):
        listing = _run(["ffmpeg", "-hide_banner", "-encoders"])
        if "libmp3lame" in listing.stdout:
            return "ffmpeg"
    if preferred in ("auto", "lame") and shutil.which("lame"):
        return "lame"
    raise EncoderUnavailable(
        f"no MP3 encoder ({'ffmpeg with libmp3lame or lame' if preferred == 'auto' else preferred}"
        "): install one, e.g. `apt-get install -y lame`"
    )


def write_mp3(samples: np.ndarray, dest: Path, *, sample_rate: int, encoder: str) -> None:
    """Encode float samples of shape (frames, channels) to a CBR MP3 at `dest`.

    The file appears only when complete (written as ``<dest>.part``, then renamed).
    """
    channels = samples.shape[1]
    partial = dest.with_name(dest.name + ".part")
    if encoder == "ffmpeg":
        # bitexact: no encoder version in the file, so the same input gives the same bytes.
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
        cmd += ["-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels), "-i", "pipe:0"]
        cmd += ["-map_metadata", "-1", "-c:a", "libmp3lame", "-b:a", f"{MP3_BITRATE_KBPS}k"]
        cmd += ["-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "mp3", str(partial)]
        payload = np.ascontiguousarray(samples, dtype="<f4").tobytes()
    elif encoder == "lame":
        mode = "m" if channels == 1 else "j"
        cmd = ["lame", "--quiet", "-r", "-s", f"{sample_rate / 1000:g}", "--bitwidth", "16"]
        cmd += ["--signed", "--little-endian", "-m", mode, "-b", str(MP3_BITRATE_KBPS)]
        cmd += ["--cbr", "--noreplaygain", "-", str(partial)]
        pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
        payload = np.ascontiguousarray(pcm).tobytes()
    else:
        raise ParameterError(f"encoder={encoder!r}: must be 'ffmpeg' or 'lame'")
    result = subprocess.run(cmd, input=payload, capture_output=True)
    if result.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        message = result.stderr.decode(errors="replace").strip()
        raise CorpusBuildError(f"{encoder} failed on {dest.name}: {message}")
    os.replace(partial, dest)


def file_sha1(path: Path) -> str:
    """SHA-1 (hex) of a file's bytes."""
    digest = hashlib.sha1()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------
# Building a corpus
# --------------------------------------------------------------------------


@dataclass
class BuildReport:
    """What :func:`build_corpus` did; empty action lists mean nothing to do."""

    corpus_dir: Path
    fetched: list[str] = field(default_factory=list)
    encoded: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    manifest_written: bool = False


def _row(source: SourceTrack, set_name: str, rel: str, mp3: Path, sha1: str) -> dict[str, str]:
    info = sf.info(str(mp3))
    return {
        "file": rel,
        "set": set_name,
        "package": source.package,
        "package_version": source.package_version,
        "original_path": source.original_path,
        "stems": source.stems_label,
        "duration_s": f"{info.duration:.3f}",
        "sample_rate": str(info.samplerate),
        "license": source.license,
        "sha1": sha1,
    }


def _old_rows(corpus_dir: Path) -> dict[str, dict[str, str]]:
    path = corpus_dir / MANIFEST_NAME
    if not path.is_file():
        return {}
    with path.open(newline="") as stream:
        return {row["file"]: row for row in csv.DictReader(stream) if "file" in row}


def _manifest_text(rows: Sequence[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def build_corpus(
    spec: CorpusSpec,
    *,
    out_dir: Path,
    raw_dir: Path,
    jobs: int = 1,
    encoder: str = "auto",
    progress: bool = True,
) -> BuildReport:
    """Download, select, encode and list the tracks of one corpus.

    Idempotent: a .deb, an extracted tree or an MP3 that is already there (and
    whose SHA-1 matches its manifest row) is kept; the manifest is rewritten
    only when its content changes. MP3s of the corpus that the spec no longer
    selects are removed.

    Parameters
    ----------
    spec : CorpusSpec
    out_dir : pathlib.Path
        The corpus folder itself, e.g. ``data/corpus/full``.
    raw_dir : pathlib.Path
        Shared download/extraction folder, e.g. ``data/raw``.
    jobs : int
        Tracks encoded in parallel.
    encoder : {"auto", "ffmpeg", "lame"}
    progress : bool
        Show a tqdm progress bar while encoding.
    """
    if jobs < 1:
        raise ParameterError(f"jobs={jobs!r}: must be >= 1")
    report = BuildReport(corpus_dir=out_dir)
    sources: list[SourceTrack] = []
    wide: list[SourceTrack] = []
    for package in (*spec.packages, *spec.unseen_packages):
        extracted_dir, actions = fetch_package(package, raw_dir)
        report.fetched += actions
        found, skipped = scan_package(extracted_dir, package, min_duration_s=spec.min_duration_s)
        if not found:
            logger.warning("%s: no music of %g s or more", package, spec.min_duration_s)
        if package in spec.unseen_packages:
            picked = set(_spread(len(found), min(len(found), spec.unseen_per_package)))
            wide += [s for i, s in enumerate(found) if i in picked]
            skipped += [
                SkippedFile(package, s.original_path, "not picked for the unseen set")
                for i, s in enumerate(found)
                if i not in picked
            ]
        else:
            sources += found
        report.skipped += skipped
    split = split_tracks(sources, n_reference=spec.n_reference, n_unseen=spec.n_unseen)
    split["unseen"] += wide

    old_rows = _old_rows(out_dir)
    planned = [(set_name, s) for set_name in SETS for s in split[set_name]]
    rows: dict[str, dict[str, str]] = {}
    to_encode: list[tuple[str, SourceTrack]] = []
    for set_name, source in planned:
        rel = f"{set_name}/{source.file_name}"
        mp3 = out_dir / rel
        if not mp3.is_file():
            to_encode.append((set_name, source))
            continue
        sha1 = file_sha1(mp3)
        old = old_rows.get(rel)
        same_source = old is not None and all(
            old.get(key) == value
            for key, value in (
                ("package_version", source.package_version),
                ("original_path", source.original_path),
                ("stems", source.stems_label),
            )
        )
        if old is not None and (not same_source or old.get("sha1") != sha1):
            to_encode.append((set_name, source))  # changed source, or file altered
            continue
        # No row but a complete file (renamed in only when done): an interrupted
        # earlier run; keep the file and list it.
        row = dict(old) if old is not None else _row(source, set_name, rel, mp3, sha1)
        row["license"] = source.license
        rows[rel] = row
        report.reused.append(rel)

    planned_files = {f"{set_name}/{s.file_name}" for set_name, s in planned}
    for set_name in SETS:
        folder = out_dir / set_name
        for path in sorted(folder.glob("*.mp3*")) if folder.is_dir() else []:
            if f"{set_name}/{path.name}" not in planned_files:
                path.unlink()
                report.removed.append(f"{set_name}/{path.name}")

    if to_encode:
        chosen = find_encoder(encoder)
        for set_name in SETS:
            (out_dir / set_name).mkdir(parents=True, exist_ok=True)

        def encode(item: tuple[str, SourceTrack]) -> tuple[str, dict[str, str]]:
            set_name, source = item
            rel = f"{set_name}/{source.file_name}"
            mp3 = out_dir / rel
            samples = decode_mix(source.stems, sample_rate=SAMPLE_RATE)
            write_mp3(samples, mp3, sample_rate=SAMPLE_RATE, encoder=chosen)
            return rel, _row(source, set_name, rel, mp3, file_sha1(mp3))

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(encode, item) for item in to_encode]
            bar = tqdm(
                as_completed(futures),
                total=len(futures),
                desc=f"encoding ({chosen}, {jobs} jobs)",
                unit="track",
                disable=not progress,
            )
            for future in bar:
                rel, row = future.result()
                rows[rel] = row
                report.encoded.append(rel)
        report.encoded.sort()

    ordered = [rows[f"{set_name}/{s.file_name}"] for set_name, s in planned]
    text = _manifest_text(ordered)
    manifest = out_dir / MANIFEST_NAME
    if not manifest.is_file() or manifest.read_text() != text:
        out_dir.mkdir(parents=True, exist_ok=True)
        partial = manifest.with_name(MANIFEST_NAME + ".part")
        partial.write_text(text)
        os.replace(partial, manifest)
        report.manifest_written = True
    return report
