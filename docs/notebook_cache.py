"""The docs build's executed notebooks, trusted only while the code they ran on is unchanged.

myst-nb (``nb_execution_mode = "cache"``) keeps a notebook's outputs in
``docs/_build/.jupyter_cache`` while the notebook's code cells are unchanged,
and caches only runs that reached the end without an error (a failed ``assert``
fails the build). Its key ignores the package the notebooks import, so the docs
build clears the cache whenever the package, the project file or the small
corpus change (:func:`clear_if_stale`). Every cached record then ran the notebook,
as it is now, on today's code: ``tests/test_notebooks.py`` accepts such a run
(:func:`executed_by_docs_build`) instead of executing the notebook a second time
in ``make test``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "docs" / "_build" / ".jupyter_cache"
#: The digest of the sources the cached runs used, beside the cache.
STAMP = CACHE.parent / ".jupyter_cache.sources"


def sources_digest() -> str:
    """SHA-1 of what a notebook's run depends on besides its own cells.

    The package's Python files, ``pyproject.toml``, the corpus size the
    notebooks are asked to use and that corpus's manifest (none: the
    notebooks use synthetic songs).
    """
    from dejavu_lab.studies.corpus import default_corpus_dir

    size = os.environ.get("DEJAVU_LAB_CORPUS_SIZE", "small")
    digest = hashlib.sha1(size.encode())
    files = [*sorted((REPO / "dejavu_lab").rglob("*.py")), REPO / "pyproject.toml"]
    manifest = default_corpus_dir(size) / "manifest.csv"
    for path in [*files, manifest] if manifest.exists() else files:
        digest.update(str(path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def clear_if_stale() -> bool:
    """Empty the notebook cache if it was filled on other sources; True if it was cleared."""
    current = sources_digest()
    if STAMP.exists() and STAMP.read_text() == current:
        return False
    cleared = CACHE.exists()
    shutil.rmtree(CACHE, ignore_errors=True)
    STAMP.parent.mkdir(parents=True, exist_ok=True)
    STAMP.write_text(current)
    return cleared


def executed_by_docs_build(book: Any) -> bool:
    """Whether the docs build ran ``book`` (a notebook as read by nbformat) to its end on
    today's sources: a cached record of its code exists and the stamp matches.

    The cached copy must also show every code cell executed without an error output.
    """
    if not CACHE.exists() or not STAMP.exists() or STAMP.read_text() != sources_digest():
        return False
    from jupyter_cache import get_cache

    cache = get_cache(str(CACHE))
    try:
        _, executed = cache.merge_match_into_notebook(book)
    except KeyError:
        return False
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    return bool(code) and all(
        cell.get("execution_count") is not None
        and not any(output.get("output_type") == "error" for output in cell.get("outputs", []))
        for cell in code
    )
