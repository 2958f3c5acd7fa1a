"""Every notebook runs headless on the small corpus; its last cell asserts what must hold."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_its_checks_hold(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEJAVU_LAB_CORPUS_SIZE", os.environ.get("DEJAVU_LAB_CORPUS_SIZE", "small"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    book = nbformat.read(path, as_version=4)
    assert book.cells[-1].cell_type == "code" and "assert" in book.cells[-1].source
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
