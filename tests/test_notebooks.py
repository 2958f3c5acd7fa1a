"""Every notebook runs headless on the small corpus; its last cell asserts what must hold."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_its_checks_hold(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEJAVU_LAB_CORPUS_SIZE", os.environ.get("DEJAVU_LAB_CORPUS_SIZE", "small"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    book = nbformat.read(path, as_version=4)
    assert book.cells[-1].cell_type == "code" and "assert" in book.cells[-1].source
    # nbclient sometimes never sees the reply to a cell that displays a widget
    # (jupyter/nbclient#312: here 2 runs of notebook 01 in 10 hung on its
    # ``interact`` cell). A hang is retried; a failing cell is not.
    hangs = []
    for _ in range(3):
        client = NotebookClient(
            nbformat.read(path, as_version=4),
            timeout=150,  # the longest cell takes under a minute on the small corpus
            startup_timeout=180,  # a loaded 2-core machine can be slow to start a kernel
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        try:
            client.execute()  # raises CellExecutionError, with the failing cell, if an assert fails
            return
        except (CellTimeoutError, DeadKernelError) as error:
            hangs.append(f"{type(error).__name__}: {str(error)[:200]}")
    pytest.fail(f"{path.name} hung three times: {hangs}")
