"""Per-message and per-commit work on a Dask cluster, for archives one machine cannot carry.

`patchlens update --scheduler tcp://host:8786` (or `scheduler` under `[cluster]` in
patchlens.toml) connects to a running Dask scheduler (`dask scheduler`, then `dask worker
tcp://host:8786` on each machine, every one with the same patchlens installed). The stages then
send their pure batch work (parsing and compressing messages, the per-message analysis) to the
workers instead of local processes, through `stages.parallel.ordered_map`, which every stage
already uses. Results come back in input order and are written by this process, as in a local
run: the store (PostgreSQL, so that the dashboard can read it from anywhere while it grows) has
one writer, the update lock and the resumable cursors work unchanged, and a run on a cluster
gives the same store as a local one (tests/test_cluster.py checks it on a LocalCluster).

Without a scheduler nothing here is imported: Dask is an optional dependency (`pip install
'patchlens[cluster]'`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# The client of the scheduler `connect` opened, used by ordered_map while it is open.
_client: Any = None


class ClusterError(RuntimeError):
    """The scheduler cannot be used: unreachable, no workers, or workers that run another
    version of patchlens (their parsing would differ from this process's)."""


def _worker_versions() -> tuple[str, int, int]:
    """What a worker would compute with: patchlens's version and the versions of the
    per-message analysis and of fingerprints."""
    from patchlens import __version__
    from patchlens.review.analysis import ANALYSIS_VERSION
    from patchlens.stages.match import FINGERPRINT_VERSION

    return __version__, ANALYSIS_VERSION, FINGERPRINT_VERSION


@contextmanager
def connect(address: str, timeout: float = 10.0) -> Iterator[Any]:
    """Use the Dask scheduler at `address` for the batch work of the stages run inside."""
    global _client
    try:
        from distributed import Client
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ClusterError(
            "a scheduler was given but Dask is not installed: pip install 'patchlens[cluster]'"
        ) from e
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {e}") from e
    try:
        if not client.nthreads():
            client.wait_for_workers(1, timeout=timeout)
        mine = _worker_versions()
        for worker, theirs in client.run(_worker_versions).items():
            if tuple(theirs) != mine:
                raise ClusterError(
                    f"worker {worker} runs patchlens {theirs[0]} (analysis v{theirs[1]}, "
                    f"fingerprints v{theirs[2]}); this process runs {mine[0]} "
                    f"(analysis v{mine[1]}, fingerprints v{mine[2]}): install the same version"
                )
        previous, _client = _client, client
        try:
            yield client
        finally:
            _client = previous
    finally:
        client.close()


def current() -> Any:
    """The open client, or None for a local run."""
    return _client


def ordered_map(client: Any, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
    """(item, fn(item)) in input order, computed on the cluster's workers. At most twice as
    many batches as the cluster has threads are in flight, so memory stays flat here and on
    the workers however large the input; an error in a batch is raised here, as locally."""
    from patchlens.stages.parallel import in_order

    ahead = max(2, 2 * sum(client.nthreads().values()))
    return in_order(lambda item: client.submit(fn, item, pure=False), items, ahead)
