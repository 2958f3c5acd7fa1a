"""File names of the corpus MP3s: ``<package>__<slug of title>.mp3``, safe in any file system."""

from __future__ import annotations

import re
import unicodedata


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
