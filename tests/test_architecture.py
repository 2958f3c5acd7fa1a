"""The package's shape: no import cycles, dependencies pointing down, old paths still import."""

from __future__ import annotations

import importlib
import warnings

import grimp
import pytest

from dejavu_lab._moved import MOVED_MODULES

#: Top to bottom: a layer may import from the layers below it, never above.
LAYERS = [
    "cli",
    "recognize",
    "live",
    "studies",
    "dejavu",
    "recognition",
    "fingerprinting",
    "store",
    "core",
    "exceptions",
]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("dejavu_lab", include_external_packages=False)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    deps = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in deps[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(deps):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    # Function-level and TYPE_CHECKING imports count too: a cycle is a cycle.
    assert _cycles(graph) == []


def test_the_cycle_check_can_fail() -> None:
    fake = grimp.ImportGraph()
    for a, b in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        fake.add_import(importer=a, imported=b)
    assert _cycles(fake) == [["p.a", "p.b", "p.c"]]


def test_dependencies_point_down(graph: grimp.ImportGraph) -> None:
    illegal = graph.find_illegal_dependencies_for_layers(layers=LAYERS, containers={"dejavu_lab"})
    described = sorted(
        f"{dep.importer} -> {dep.imported}: "
        + "; ".join(" -> ".join(route.heads | route.middle | route.tails) for route in dep.routes)
        for dep in illegal
    )
    assert not described, described


def test_every_subpackage_is_in_a_layer(graph: grimp.ImportGraph) -> None:
    top = {m.split(".")[1] for m in graph.modules if m.count(".") >= 1}
    private = {name for name in top if name.startswith("_")}
    assert top - private == set(LAYERS)


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_old_module_paths_give_the_moved_module(old: str) -> None:
    new = importlib.import_module(f"dejavu_lab.{MOVED_MODULES[old]}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        aliased = importlib.import_module(f"dejavu_lab.{old}")
    assert aliased is new
    assert aliased.__spec__ is not None
    assert aliased.__spec__.name == new.__name__
    parent, _, leaf = f"dejavu_lab.{old}".rpartition(".")
    assert getattr(importlib.import_module(parent), leaf) is new
    if caught:  # only the first import of an old path warns
        assert "has moved to" in str(caught[0].message)


def test_public_imports_of_the_readme_and_notebooks() -> None:
    from dejavu_lab import Dejavu, Recognition, dejavu, get_preset, recognition
    from dejavu_lab.live import MicrophoneRecognizer as LiveMic
    from dejavu_lab.recognize import FileRecognizer, MicrophoneRecognizer

    assert MicrophoneRecognizer is LiveMic
    assert FileRecognizer.__module__ == "dejavu_lab.dejavu"
    assert get_preset("default").get_params()
    assert Dejavu.__module__ == "dejavu_lab.dejavu"
    assert Recognition.__module__ == "dejavu_lab.recognition"
    # Its old home still gives it (and the --json keys).
    assert dejavu.Recognition is Recognition and dejavu.JSON_KEYS is recognition.JSON_KEYS
