"""Running the external programs of a build (apt-get, dpkg, ffmpeg) with C locale messages."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path


def _run(cmd: Sequence[str], *, cwd: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool with C locale messages; callers read the return code."""
    env = {**os.environ, "LC_ALL": "C"}
    return subprocess.run(list(cmd), capture_output=True, text=True, env=env, cwd=cwd)
