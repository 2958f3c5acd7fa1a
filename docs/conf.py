"""Sphinx configuration of the dejavu-lab documentation (``make docs``)."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import pkgutil
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sphinx.pycode import ModuleAnalyzer
from sphinx.util.inspect import object_description

if TYPE_CHECKING:
    from docutils.nodes import Element
    from sphinx.addnodes import pending_xref
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

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

#: A module datum whose value prints longer than this is documented without its value
#: (a dict of channels, a table): about three lines of a page.
VALUE_CHARS = 250


def _assigned(body: list[ast.stmt]) -> set[str]:
    """Names a module's code assigns (rather than imports), also under ``if`` and ``try``."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.If | ast.Try):
            names |= _assigned(node.body + node.orelse)
            if isinstance(node, ast.Try):
                names |= _assigned(node.finalbody)
                for handler in node.handlers:
                    names |= _assigned(handler.body)
    return names


def _module_data(package: str) -> dict[str, list[tuple[str, bool]]]:
    """The public data of every module of ``package``, for ``_templates/autosummary/module.rst``.

    ``{module: [(name, show_value), ...]}``, in source order: the constants a module
    assigns itself (not those it imports) that are in its ``__all__`` or documented with a
    ``#:`` comment, private names and classes, functions and modules left out (the template
    lists those already). ``show_value`` is False when the value prints longer than
    :data:`VALUE_CHARS`. autosummary's own ``attributes`` has the ``#:`` ones only.
    """
    names = [package]
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, f"{package}.", onerror=lambda name: None):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    found: dict[str, list[tuple[str, bool]]] = {}
    for name in names:
        try:
            module = importlib.import_module(name)
            analyzer = ModuleAnalyzer.for_module(name)
            commented = {attr for scope, attr in analyzer.find_attr_docs() if not scope}
            listed = set(getattr(module, "__all__", ())) & _assigned(
                ast.parse(inspect.getsource(module)).body
            )
        except Exception:  # a module that does not import: autosummary reports it
            continue
        data = []
        for attr in sorted(commented | listed, key=lambda a: analyzer.tagorder.get(a, 1 << 30)):
            value = getattr(module, attr, None)
            if attr.startswith("_") or inspect.isclass(value) or inspect.isroutine(value):
                continue
            if inspect.ismodule(value):
                continue
            data.append((attr, len(object_description(value)) <= VALUE_CHARS))
        if data:
            found[name] = data
    return found


autosummary_context = {"module_data": _module_data("dejavu_lab")}

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
html_sidebars |= {f"notes/{page.stem}": [] for page in (DOCS / "notes").glob("*.md")}
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


def _link_reexport(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: Element
) -> Element | None:
    """Link a name given where it is imported to where the API pages document it.

    Each object has one entry, in the module that defines it (``imported_members`` is off):
    ``dejavu_lab.studies.channel.conditions.CONDITIONS``. A reference through a package
    that re-exports it (``dejavu_lab.studies.channel.CONDITIONS``), or in a module that
    imports it (``:data:`DEJAVU_PUBLISHED_ACCURACY``` in ``plots.accuracy``), links to the
    documented object of that name that is the very same object, if there is one only.
    """
    if node.get("refdomain") != "py":
        return None
    target, current = node["reftarget"], node.get("py:module")
    domain = env.get_domain("py")
    objtypes = domain.objtypes_for_role(node["reftype"]) or ()
    missing = object()
    for path in (target, f"{current}.{target}" if current else ""):
        module_name, _, name = path.rpartition(".")
        module: Any = sys.modules.get(module_name) if module_name.startswith("dejavu_lab") else None
        value = getattr(module, name, missing)
        if module is None or value is missing:
            continue
        matches = [
            full
            for full, entry in domain.objects.items()  # type: ignore[attr-defined]
            if entry.objtype in objtypes
            and full.rpartition(".")[2] == name
            and getattr(sys.modules.get(full.rpartition(".")[0]), name, missing) is value
        ]
        if len(matches) == 1:
            return domain.resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"], matches[0], node, contnode
            )
    return None


def _no_signature_for_data(
    app: Sphinx, what: str, name: str, obj: object, options: object, args: str | None, ret: str
) -> tuple[None, None] | None:
    """Data has no signature: end the event before numpydoc gives a callable datum one.

    numpydoc answers with the class's signature for a ``tuple[...]`` alias
    (``queries.SongInput``), and Sphinx 9 then fails on data, which has no signature to
    replace ("list assignment index out of range", sphinx-doc/sphinx#14576) and drops its
    docstring. A result that is not a pair of strings ends the event and changes nothing.
    """
    return (None, None) if what == "data" else None


def setup(app: Sphinx) -> None:
    app.connect("source-read", _list_optional_pages)
    app.connect("missing-reference", _link_reexport)
    # Before numpydoc's handler (priority 500).
    app.connect("autodoc-process-signature", _no_signature_for_data, priority=400)
