"""Licenses: a short name (``"GPL-2+"``, ``"CC-BY-SA-3.0"``) from a Debian ``copyright`` file."""

from __future__ import annotations

import logging
import re
from pathlib import Path

logger = logging.getLogger(__name__)

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


def read_package_license(extracted_dir: Path, package: str) -> str:
    """Short license name from ``usr/share/doc/<package>/copyright``."""
    path = extracted_dir / "usr" / "share" / "doc" / package / "copyright"
    if not path.is_file():
        logger.warning("%s: no copyright file, license unknown", package)
        return "unknown"
    return parse_license(path.read_text(errors="replace"))
