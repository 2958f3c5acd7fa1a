"""Every notebook runs headless on the small corpus; its last cell asserts what must hold."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
from notebook_cache import executed_by_docs_build

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_its_checks_hold(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEJAVU_LAB_CORPUS_SIZE", os.environ.get("DEJAVU_LAB_CORPUS_SIZE", "small"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    book = nbformat.read(path, as_version=4)
    assert book.cells[-1].cell_type == "code" and "assert" in book.cells[-1].source
    # make test builds the docs first: their build ran this notebook, as it is, on today's
    # sources, to its end (asserts included), unless DEJAVU_LAB_NOTEBOOKS_RERUN=1.
    if os.environ.get("DEJAVU_LAB_NOTEBOOKS_RERUN") != "1" and executed_by_docs_build(book):
        return
    # No retry: a hang is a failure. Notebook 01's widgets never capture output inside an
    # Output widget (nbclient answers each captured output on the shell channel it is waiting
    # on, and now and then missed the cell's reply: jupyter/nbclient#312).
    client = NotebookClient(
        book,
        timeout=150,  # the longest cell takes under a minute on the small corpus
        startup_timeout=180,  # a loaded 2-core machine can be slow to start a kernel
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the failing cell, if an assert fails


def test_no_notebook_captures_output_in_a_widget_while_it_runs() -> None:
    """``interact``/``interactive_output`` run their function inside an Output widget as the
    cell runs, which makes a headless runner hang now and then (see above): draw with
    ``Output.append_display_data`` from ``observe`` callbacks instead."""
    offenders = []
    for path in NOTEBOOKS:
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code" and (
                "interact(" in cell.source
                or "interactive(" in cell.source
                or "interactive_output(" in cell.source
            ):
                offenders.append(f"{path.name} cell {index}")
    assert not offenders, f"widget output captured during the run in {offenders}"


def test_a_docs_build_run_counts_only_for_the_same_cells_on_the_same_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import notebook_cache
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    monkeypatch.setattr(notebook_cache, "CACHE", tmp_path / ".jupyter_cache")
    monkeypatch.setattr(notebook_cache, "STAMP", tmp_path / ".jupyter_cache.sources")
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("assert 1 + 1 == 2")])
    assert not executed_by_docs_build(book)  # no cache yet
    assert not notebook_cache.clear_if_stale()  # nothing to clear; the stamp is written
    executed = nbformat.from_dict(book)
    executed.cells[0].execution_count = 1
    get_cache(str(notebook_cache.CACHE)).cache_notebook_bundle(
        CacheBundleIn(executed, "book.ipynb"), check_validity=False
    )
    assert executed_by_docs_build(book)
    edited = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("assert 1 + 1 == 3")])
    assert not executed_by_docs_build(edited)
    # Another package source: the stamp no longer matches, and the next build clears the cache.
    notebook_cache.STAMP.write_text("other sources")
    assert not executed_by_docs_build(book)
    assert notebook_cache.clear_if_stale() and not notebook_cache.CACHE.exists()
