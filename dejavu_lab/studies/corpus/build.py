"""Building a corpus: fetch, scan, split, encode and list the tracks of a spec.

:func:`build_corpus` is idempotent: what is already there is kept, and the
:class:`BuildReport` it returns says what was done. ``data/build_corpus.py`` is its
command line.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

from ...exceptions import ParameterError
from .audio import SAMPLE_RATE, decode_mix, find_encoder, write_mp3
from .fetch import fetch_package
from .manifest import MANIFEST_COLUMNS, MANIFEST_NAME, SETS, file_sha1
from .scan import SkippedFile, SourceTrack, scan_package
from .spec import CorpusSpec
from .split import _spread, split_tracks

logger = logging.getLogger(__name__)


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
