"""Running a pure function over batches in worker processes, results in input order.

Parsing and analysing mail is CPU-bound Python; the writer (SQLite) is one process. Workers
run ahead by a bounded number of batches, so memory stays flat however large the input. With a
Dask scheduler (stages/cluster.py) the same batches go to the cluster's workers.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_JOBS = int(os.environ.get("PATCHLENS_JOBS") or os.cpu_count() or 1)


# Pools with workers alive, and workers of pools stopped early that may still be finishing
# a batch, so that an interrupted run can stop them all (stop_workers).
_live: weakref.WeakSet[ProcessPoolExecutor] = weakref.WeakSet()
_finishing: weakref.WeakSet[BaseProcess] = weakref.WeakSet()


def _workers(pool: ProcessPoolExecutor) -> list[BaseProcess]:
    return list((getattr(pool, "_processes", None) or {}).values())


def _worker_init(parent: int) -> None:
    """Workers ignore Ctrl-C: the terminal sends SIGINT to the whole process group, and only
    the parent should react (roll back, say so once, exit 130); the parent stops them. On
    Linux a worker also dies with its parent however the parent ends (kill -9 included),
    rather than waiting forever for work that will not come."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def stop_workers() -> None:
    """Kill every worker process of this process's pools, for a run that is about to end
    at once (Ctrl-C). Their queues are then unusable: call this only before exiting with
    os._exit, which does not wait for the pools' threads."""
    procs = [*(p for pool in list(_live) for p in _workers(pool)), *list(_finishing)]
    for proc in procs:
        if proc.is_alive():
            proc.kill()
    for proc in procs:
        proc.join(timeout=5)  # reap them: no zombie is left behind


def _ready() -> int:
    """A worker's first task: that it runs at all (see `ordered_map`)."""
    return os.getpid()


def ordered_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    jobs: int = DEFAULT_JOBS,
    *,
    local: bool = False,
    ahead: int | None = None,
) -> Iterator[tuple[T, R]]:
    """(item, fn(item)) in input order: on the Dask cluster `stages.cluster.connect` opened
    (unless `local`: work that reads this machine's files), else in `jobs` local worker
    processes, or in this process when jobs <= 1. Locally, at most `ahead` items (default
    jobs + 1) are given to the workers beyond the one whose result is awaited: more lets a
    worker go on past a slow item, at the cost of holding the results it finishes."""
    from patchlens.stages import cluster

    client = None if local else cluster.current()
    if client is not None:
        yield from cluster.ordered_map(client, fn, items)
        return
    if jobs <= 1:
        for item in items:
            yield item, fn(item)
        return
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
    )
    _live.add(pool)
    finished = False
    try:
        # Fork every worker now, before `items` starts: a source that is read lazily opens
        # pipes to git (`cat-file --batch` fed on its stdin), and a worker forked later would
        # hold a copy of that stdin's writing end, so git would never see it close and wait
        # for more names forever while this process waits for its answers.
        for fut in [pool.submit(_ready) for _ in range(jobs)]:
            fut.result()
        yield from in_order(lambda item: pool.submit(fn, item), items, ahead or jobs + 1)
        finished = True
    finally:
        # Stopped early (an error, the consumer stopped): nothing queued is started, and the
        # workers end after the batch in hand.
        if not finished:
            _finishing.update(_workers(pool))
        pool.shutdown(wait=finished, cancel_futures=not finished)
        _live.discard(pool)


def in_order(submit: Callable[[T], Any], items: Iterable[T], ahead: int) -> Iterator[tuple[T, Any]]:
    """(item, result) in input order, from futures `submit` returns, with at most `ahead`
    submitted and not yet taken: workers run ahead, memory stays flat. Stopped early, the
    futures not taken are cancelled (those not started yet never start)."""
    pending: deque[tuple[T, Any]] = deque()
    try:
        for item in items:
            pending.append((item, submit(item)))
            if len(pending) > ahead:
                done, fut = pending.popleft()
                yield done, fut.result()
        while pending:
            done, fut = pending.popleft()
            yield done, fut.result()
    finally:
        for _, fut in pending:
            fut.cancel()
