"""Running a pure function over batches in worker processes, results in input order.

Parsing and analysing mail is CPU-bound Python; the writer (SQLite) is one process. Workers
run ahead by a bounded number of batches, so memory stays flat however large the input.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_JOBS = int(os.environ.get("PATCHLENS_JOBS") or os.cpu_count() or 1)


def _worker_init() -> None:
    """Workers ignore Ctrl-C: the terminal sends SIGINT to the whole process group, and only
    the parent should react (roll back, say so once, exit 130). A worker ends when its parent
    shuts the pool down, or when it finds its parent gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], jobs: int = DEFAULT_JOBS
) -> Iterator[tuple[T, R]]:
    """(item, fn(item)) in input order; in-process when jobs <= 1."""
    if jobs <= 1:
        for item in items:
            yield item, fn(item)
        return
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init)
    pending: deque[tuple[T, Future[R]]] = deque()
    finished = False
    try:
        for item in items:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) > jobs + 1:
                done, fut = pending.popleft()
                yield done, fut.result()
        while pending:
            done, fut = pending.popleft()
            yield done, fut.result()
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:
            # Interrupted (Ctrl-C, an error, the consumer stopped): work in flight is of no
            # use, so the workers are stopped rather than waited for.
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.terminate()
