"""Jobs run in order on local processes or any executor, in bounded memory.

:func:`ordered_results` works with ``concurrent.futures`` executors and Dask
clients alike (see ``docs/cluster.md``); the studies use it too. The functions
run must be module-level (they are pickled by reference).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

#: Jobs in flight per worker (results are taken in order: a long file at the head
#: must not leave the other workers idle).
JOBS_PER_WORKER = 8


def executor_width(executor: Any) -> int | None:
    """How many tasks an executor runs at once, where it says (else None).

    Knows ``concurrent.futures`` pools and Dask clients (threads of every
    worker now connected).
    """
    client = getattr(executor, "_client", executor)  # Client.get_executor() wraps a Client
    nthreads = getattr(client, "nthreads", None)
    if callable(nthreads):
        try:
            return max(1, sum(dict(nthreads()).values()))
        except Exception:  # not a Dask client after all
            return None
    width = getattr(executor, "_max_workers", None)
    return int(width) if isinstance(width, int) else None


def ordered_results(
    executor: Any, function: Any, jobs: Sequence[Any], *, window: int
) -> Iterator[tuple[Any, bool]]:
    """``function(job)`` for each job through ``executor.submit``, in order.

    At most ``window`` jobs are in flight, so results wait in bounded memory.
    Yields ``(result, next_ready)``: whether the next result is already done.
    Works with any executor whose ``submit`` returns an object with ``result()``
    and ``done()`` (``concurrent.futures``, a Dask ``Client``).
    """
    pending: deque[Any] = deque()
    queue = iter(jobs)
    for job in queue:
        pending.append(executor.submit(function, job))
        if len(pending) >= window:
            break
    while pending:
        result = pending.popleft().result()
        for job in queue:
            pending.append(executor.submit(function, job))
            break
        yield result, bool(pending) and pending[0].done()


def _results(
    function: Any, jobs: list[Any], nprocesses: int, executor: Any
) -> Iterator[tuple[Any, bool]]:
    """``function(job)`` for each job, in order: in the executor, local processes or here.

    Without an executor, one process (or one job) runs here; more run in a
    pool of ``nprocesses`` forked processes.
    """
    if executor is not None:
        width = executor_width(executor) or nprocesses
        yield from ordered_results(executor, function, jobs, window=JOBS_PER_WORKER * width)
        return
    if nprocesses <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield function(job), False
        return
    # fork: workers inherit the imported modules (fast start, no __main__ guard
    # needed in user scripts); they never touch the database.
    context = get_context("fork")
    with ProcessPoolExecutor(max_workers=nprocesses, mp_context=context) as pool:
        yield from ordered_results(pool, function, jobs, window=JOBS_PER_WORKER * nprocesses)
