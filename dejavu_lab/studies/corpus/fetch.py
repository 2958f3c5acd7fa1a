"""Getting the packages: ``apt-get download`` each .deb once, ``dpkg -x`` it once.

A folder ``<raw_dir>/extracted/<package>`` is complete when it holds the marker
file written by :func:`mark_extracted` (:func:`extracted_version` reads it back).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from ._tools import _run
from .errors import CorpusBuildError, DebianToolsUnavailable, DownloadError

logger = logging.getLogger(__name__)

EXTRACTED_MARKER = ".dejavu-lab-extracted"


def _require_tool(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise DebianToolsUnavailable(
            f"`{tool}` not found: building the real-music corpus needs Debian's apt-get "
            "and dpkg (use synthetic songs on other systems)"
        )
    return path


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
