"""Every notebook runs headless on the small corpus; its last cell asserts what must hold."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_its_checks_hold(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEJAVU_LAB_CORPUS_SIZE", os.environ.get("DEJAVU_LAB_CORPUS_SIZE", "small"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    book = nbformat.read(path, as_version=4)
    assert book.cells[-1].cell_type == "code" and "assert" in book.cells[-1].source
    client = NotebookClient(
        book,
        timeout=900,
        startup_timeout=180,  # a loaded 2-core machine can be slow to start a kernel
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the failing cell, if an assert fails
