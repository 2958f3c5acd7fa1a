"""Project hygiene: dependency lists in step, notebooks without outputs, no audio tracked."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name where they differ
CONDA_NAMES = {
    "soundfile": "pysoundfile",
    "soxr": "soxr-python",
    "duckdb": "python-duckdb",
    "psycopg[binary]": "psycopg",
    "playwright": "playwright-python",
    "dask[distributed]": "dask",
}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;]", requirement, maxsplit=1)[0].strip().lower()


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pip_names = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        pip_names |= {_name(r) for r in extra}
    wanted = {CONDA_NAMES.get(n, n) for n in pip_names}
    conda = set()
    text = (REPO / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        match = re.match(r"\s*-\s+([A-Za-z0-9_.\-\[\]]+)", line)
        if match and ":" not in line.split("#")[0].split("-", 1)[1]:
            conda.add(_name(match.group(1)))
    missing = wanted - conda
    assert not missing, f"environment.yml lacks {sorted(missing)}"
    extra = conda - wanted - {"python", "pip", "portaudio", "ffmpeg", "espeak-ng"}
    assert not extra, f"environment.yml has {sorted(extra)} that pyproject.toml lacks"


def _tracked() -> list[str]:
    result = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    return result.stdout.splitlines()


def test_notebooks_are_committed_without_outputs() -> None:
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        cells = json.loads(path.read_text())["cells"]
        with_output = [
            i
            for i, c in enumerate(cells)
            if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
        ]
        assert not with_output, f"{path.name}: cells {with_output} have outputs"


def test_no_audio_is_tracked() -> None:
    audio = [f for f in _tracked() if re.search(r"\.(wav|mp3|ogg|flac|m4a|aac|opus)$", f, re.I)]
    assert not audio, audio
