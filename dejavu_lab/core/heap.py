"""Keep freed memory in a query process, so each query does not fault its arrays in again.

A query allocates a few dozen arrays of 0.1-2 MB (the WAV's samples, the
spectrogram's blocks, the lookup's rows, the vote's work arrays) and frees
them at its end. glibc's malloc maps allocations past its threshold (128 kB
at first, raised as mapped ones are freed) and returns the top of its heap
to the system once more than twice that is free. Either way the next
query's arrays come from fresh pages: about 330 minor page faults a 5 s
query at 45 songs, 0.8-1.1 ms of system time out of about 10 ms (measured
with ``getrusage``; ``docs/notes/latency-history.md``, fifth round).

:func:`retain_freed_memory` raises both thresholds once (``mallopt``): arrays
of up to :data:`MMAP_THRESHOLD` come from the heap, and up to
:data:`TRIM_THRESHOLD` of freed heap is kept for the next query (6 faults a
query instead of about 330). The process may hold that much more resident
memory. Nothing is done outside glibc, or when the glibc variables
``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` are set (the user's
choice stands).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

#: Allocations up to this size (bytes) come from the heap, not a fresh mapping.
MMAP_THRESHOLD = 32 << 20
#: Freed heap kept for reuse before any is returned to the system (bytes).
TRIM_THRESHOLD = 64 << 20
#: ``mallopt`` parameter numbers (glibc ``malloc.h``).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

_done = False


def retain_freed_memory(
    *, mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD
) -> bool:
    """Raise glibc's mapping and trimming thresholds, once a process.

    Parameters
    ----------
    mmap_threshold : int
        Bytes: smaller allocations come from the heap.
    trim_threshold : int
        Bytes of free heap kept before the top is returned to the system.

    Returns
    -------
    bool
        True if the thresholds are set (now or by an earlier call), False if
        left alone (not glibc, the user set them, or ``mallopt`` refused).
    """
    global _done
    if _done:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(name in os.environ for name in _USER_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; the mapping threshold first: setting
    # either turns glibc's own adjustment of both off.
    _done = bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(
        mallopt(_M_TRIM_THRESHOLD, int(trim_threshold))
    )
    return _done
