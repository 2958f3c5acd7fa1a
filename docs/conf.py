"""Sphinx configuration of the dejavu-lab documentation (``make docs``)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO))

import dejavu_lab  # noqa: E402

sys.path.insert(0, str(DOCS))
import notebook_cache  # noqa: E402

project = "dejavu-lab"
author = "dejavu-lab contributors"
copyright = "2026, dejavu-lab contributors"
release = dejavu_lab.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

# --- API reference --------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# --- Markdown pages and notebooks ------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
# The notebooks run on the small corpus (DEJAVU_LAB_CORPUS_SIZE=small) when the docs build;
# outputs are cached in docs/_build/.jupyter_cache, so a rebuild re-runs only edited notebooks
# (all of them after a change to the package: docs/notebook_cache.py).
# DEJAVU_LAB_DOCS_EXECUTE=off skips them (pages without outputs).
nb_execution_mode = os.environ.get("DEJAVU_LAB_DOCS_EXECUTE", "cache")
nb_execution_cache_path = str(notebook_cache.CACHE)
nb_execution_timeout = 600  # a cell building a cached database on a loaded machine
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
os.environ.setdefault("DEJAVU_LAB_CORPUS_SIZE", "small")
os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
# Cached outputs are kept only while the package is unchanged too, so that they show what
# today's code draws and tests/test_notebooks.py can accept them instead of a second run.
if nb_execution_mode == "cache":
    notebook_cache.clear_if_stale()

# --- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"dejavu-lab {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "header_links_before_dropdown": 5,
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# The guide's pages are flat: no left sidebar (the API pages keep theirs, listing the modules).
html_sidebars = {page.stem: [] for page in DOCS.glob("*.md") if page.stem != "api"}
toc_object_entries_show_parents = "hide"  # "close()" rather than "Dejavu.close()" in page tocs


def _copy_study_figures() -> None:
    """The studies' figures, as committed under experiments/results/full/, into docs/figures/."""
    target = DOCS / "figures"
    target.mkdir(exist_ok=True)
    for png in sorted((REPO / "experiments" / "results" / "full").glob("*.png")):
        copy = target / png.name
        if not copy.exists() or png.stat().st_mtime > copy.stat().st_mtime:
            shutil.copy2(png, copy)


_copy_study_figures()

#: Pages other work adds; listed in the home page's toctree only when present.
OPTIONAL_PAGES = ("robustness", "speed", "cluster", "latency")


def _list_optional_pages(app: object, docname: str, source: list[str]) -> None:
    if docname == "index":
        present = [name for name in OPTIONAL_PAGES if (DOCS / f"{name}.md").exists()]
        source[0] = source[0].replace("OPTIONAL_PAGES\n", "".join(f"{n}\n" for n in present))


def setup(app: object) -> None:
    app.connect("source-read", _list_optional_pages)  # type: ignore[attr-defined]
