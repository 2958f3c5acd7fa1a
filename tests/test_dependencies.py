"""Every dependency declared in pyproject.toml is used: imported, or run as a tool.

A distribution counts as used when one of its import names (from the installed
metadata, else the distribution name with ``-`` as ``_``) is imported by a
Python file or a notebook code cell of the project, including imports inside
functions and ``importlib.import_module("name")`` / ``__import__`` calls with
a literal name, or is named as a string in ``docs/conf.py`` (Sphinx extensions
and themes). Tools that are run rather than imported are in :data:`RUN_NOT_IMPORTED`,
each with the file and text where they are run; that text must be there.
"""

from __future__ import annotations

import ast
import json
import re
from importlib import metadata
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = ("dejavu_lab", "tests", "experiments", "benchmarks", "data", "notebooks", "docs")

#: Distribution -> (file, text showing it is run there, why it is never imported).
RUN_NOT_IMPORTED: dict[str, tuple[str, str, str]] = {
    "jupyterlab": ("README.md", "JupyterLab", "the notebook application users open"),
    "ipykernel": ("tests/test_notebooks.py", 'kernel_name="python3"', "the kernel nbclient starts"),
    "voila": ("tests/test_browser.py", '"voila",', "the widget server the browser test starts"),
    "ruff": ("Makefile", "ruff check", "linter run by make lint"),
    "mypy": ("Makefile", "/mypy", "type checker run by make lint"),
    "pandas-stubs": ("pyproject.toml", "[tool.mypy]", "type stubs read by mypy"),
    "types-tqdm": ("pyproject.toml", "[tool.mypy]", "type stubs read by mypy"),
    "pytest-timeout": ("pyproject.toml", "timeout = ", "pytest plugin: the timeout option"),
}


def _distribution(requirement: str) -> str:
    """``psycopg[binary]>=3.1`` -> ``psycopg``."""
    return re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].strip().lower()


def declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {_distribution(r) for r in project["dependencies"]}
    for extra in project.get("optional-dependencies", {}).values():
        names |= {_distribution(r) for r in extra}
    return names


def import_names(distribution: str) -> set[str]:
    """Top-level modules a distribution provides (installed metadata, else its name)."""
    canonical = re.sub(r"[-_.]+", "-", distribution).lower()
    names = {
        module
        for module, owners in metadata.packages_distributions().items()
        if any(re.sub(r"[-_.]+", "-", owner).lower() == canonical for owner in owners)
    }
    return names or {canonical.replace("-", "_")}


def imported_modules(source: str) -> set[str]:
    """Top-level names of every module ``source`` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id == "__import__")
            )
        ):
            found.add(node.args[0].value.split(".")[0])
    return found


def _notebook_source(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] == "code":
            text = "".join(cell["source"])
            # IPython magics and shell escapes are not Python.
            lines += [
                line for line in text.splitlines() if not line.lstrip().startswith(("%", "!"))
            ]
    return "\n".join(lines)


def project_imports() -> set[str]:
    found: set[str] = set()
    for folder in SOURCE_FOLDERS:
        for path in sorted((REPO / folder).rglob("*.py")):
            if ".venv" not in path.parts:
                found |= imported_modules(path.read_text())
        for path in sorted((REPO / folder).rglob("*.ipynb")):
            if ".ipynb_checkpoints" not in path.parts:
                found |= imported_modules(_notebook_source(path))
    conf = REPO / "docs" / "conf.py"
    if conf.exists():
        found |= set(re.findall(r"""["']([A-Za-z_][A-Za-z0-9_]*)[."']""", conf.read_text()))
    return found


def test_imported_modules_sees_imports_inside_functions_and_by_name() -> None:
    source = (
        "import a.b\nfrom c.d import e\nfrom . import local\n"
        "def f():\n    import g\n    importlib.import_module('h.i')\n    __import__('j')\n"
    )
    assert imported_modules(source) == {"a", "c", "g", "h", "j"}


def test_every_declared_dependency_is_imported_or_run() -> None:
    used = project_imports()
    unused = {}
    for distribution in sorted(declared() - set(RUN_NOT_IMPORTED)):
        names = import_names(distribution)
        if not names & used:
            unused[distribution] = sorted(names)
    assert not unused, f"declared in pyproject.toml but never imported: {unused}"


def test_tools_run_rather_than_imported_are_declared_and_run() -> None:
    stale = set(RUN_NOT_IMPORTED) - declared()
    assert not stale, f"RUN_NOT_IMPORTED lists {sorted(stale)}, which pyproject.toml lacks"
    for distribution, (file, text, _why) in RUN_NOT_IMPORTED.items():
        assert text in (REPO / file).read_text(), f"{distribution}: {file} lacks {text!r}"
