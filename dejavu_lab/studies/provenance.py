"""Where a result came from: parameters, corpus, code version, date."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._version import __version__

REPO = Path(__file__).resolve().parents[2]


def git_commit(root: Path = REPO, *, digits: int = 12) -> str:
    """The commit of the checkout at ``root`` (at least ``digits`` hex digits, with
    ``+dirty`` for local changes), or ``"unknown"``.

    Changes under ``experiments/results`` do not count: they are the studies' outputs (a
    study that rewrites its committed CSV before its provenance would mark itself dirty).
    """
    try:
        commit = subprocess.run(
            ["git", "rev-parse", f"--short={digits}", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":(exclude)experiments/results",
            ],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def provenance(params: dict[str, Any], manifest_hash: str) -> dict[str, str]:
    """The columns recorded beside every result row."""
    return {
        "params": json.dumps(params, sort_keys=True),
        "manifest_hash": manifest_hash,
        "git_commit": git_commit(),
        "package_version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
