"""A query process keeps its freed heap: its next arrays do not fault pages in again."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from dejavu_lab.core import heap

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

#: Rounds of a query-like pattern: eight 2 MB arrays alive at once, then all freed.
FAULTS = """
import resource, sys
import numpy as np
from dejavu_lab.core.heap import retain_freed_memory
done = retain_freed_memory() if sys.argv[1] == "retain" else False
def round_():
    arrays = [np.ones(1 << 19, np.float32) for _ in range(8)]
    return sum(float(a[-1]) for a in arrays)
round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    round_()
print(done, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> tuple[bool, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt")
def test_freed_arrays_are_reused_without_page_faults() -> None:
    done, faults = _faults("retain")
    assert done
    # 20 rounds of 16 MB: 80,000 pages if each round faulted them in again.
    assert faults < 500
    _, faults_without = _faults("plain")
    assert faults_without > 10 * max(faults, 100)


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt")
def test_once_set_it_stays_set_and_the_users_setting_stands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(heap, "_done", False)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000000")
    assert heap.retain_freed_memory() is False
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    assert heap.retain_freed_memory() is True
    assert heap.retain_freed_memory() is True
