"""Finding the music in an extracted package: one :class:`SourceTrack` a song.

Files too short, or unreadable, are listed as :class:`SkippedFile`; game archives
(``.pk3``) are unpacked first, and a Frets on Fire song's stems make one track.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from .fetch import extracted_version
from .licenses import read_package_license
from .naming import output_file_name

AUDIO_SUFFIXES = frozenset({".ogg", ".oga", ".opus", ".mp3", ".flac", ".wav"})
#: Frets on Fire ships each song as separate stems in one folder; song.ogg is
#: the backing track *without* the lead guitar (their correlation is ~0), so the
#: full song is their sum.
FOF_STEMS = ("song.ogg", "guitar.ogg", "rhythm.ogg")


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
