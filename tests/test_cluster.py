"""An update on a Dask cluster gives the store a local update gives (issue 11).

A LocalCluster of two worker processes stands for the cluster: the batches travel to the workers
and back exactly as they would to remote ones (pickled, through the scheduler).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from patchlens.config import Config
from patchlens.stages import cluster, ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store.db import open_store
from tests.conftest import data_path
from tests.helpers.storedump import logical_dump

distributed = pytest.importorskip("distributed", reason="Dask is a test dependency")


@pytest.fixture(scope="module")
def local_cluster():
    cl = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        yield cl
    finally:
        cl.close()


def _build(db: str, cache: Path, archive: Path, scheduler: str | None) -> dict[str, list[tuple]]:
    engine = open_store(db)
    ingest.add_list(engine, "xen-devel", [str(archive)])
    quiet = Reporter(quiet=True)
    if scheduler is None:
        ingest.run_update(engine, cache, quiet, jobs=2)
        run_stages(engine, Config(), cache, quiet, jobs=2)
    else:
        with cluster.connect(scheduler):
            ingest.run_update(engine, cache, quiet, jobs=2)
            run_stages(engine, Config(), cache, quiet, jobs=2)
    engine.dispose()
    return logical_dump(db)


ARCHIVE = ("xen", "xen-devel-posted-patches-2019-2020.mbox.gz")


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> dict[str, list[tuple]]:
    """The store a local update (worker processes of this machine) gives, as a logical dump."""
    where = tmp_path_factory.mktemp("local")
    return _build(str(where / "s.db"), where / "cache", data_path(*ARCHIVE), None)


@pytest.mark.slow
def test_cluster_update_equals_local_update(tmp_path: Path, local_cluster, local) -> None:
    on_cluster = _build(
        str(tmp_path / "s.db"),
        tmp_path / "cache",
        data_path(*ARCHIVE),
        local_cluster.scheduler_address,
    )
    assert len(local["messages"]) > 1000
    assert len(local["series"]) > 100
    for table, rows in local.items():
        assert on_cluster[table] == rows, f"{table} differs between the local and cluster runs"
    # The work really went to the workers: parsing and the per-message analysis ran there.
    with distributed.Client(local_cluster.scheduler_address) as client:
        ran = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert any("parse" in name for name in ran), ran
    assert any("analyse" in name for name in ran), ran


@pytest.mark.slow
def test_cluster_on_postgresql_equals_local_update(
    tmp_path: Path, local_cluster, local, postgres: str
) -> None:
    """The deployment issue 11 describes: workers of a Dask cluster, PostgreSQL as the store.
    The store is the one a local update into SQLite gives, table by table."""
    on_pg = _build(
        postgres, tmp_path / "cache", data_path(*ARCHIVE), local_cluster.scheduler_address
    )
    assert len(on_pg["series"]) > 100
    for table, rows in local.items():
        assert on_pg[table] == rows, f"{table} differs between SQLite (local) and PostgreSQL (Dask)"


def test_cluster_batches_come_back_in_order(local_cluster) -> None:
    from patchlens.stages.parallel import ordered_map

    with cluster.connect(local_cluster.scheduler_address):
        out = [r for _, r in ordered_map(abs, range(-40, 0), jobs=1)]
    assert out == [abs(i) for i in range(-40, 0)]
    assert cluster.current() is None  # closed with its block


def test_unreachable_scheduler_is_a_clear_error() -> None:
    with (
        pytest.raises(cluster.ClusterError, match="cannot reach the Dask scheduler"),
        cluster.connect("tcp://127.0.0.1:9", timeout=2),
    ):
        pass


def test_cli_update_on_a_scheduler(tmp_path: Path, local_cluster) -> None:
    """`patchlens update --scheduler ADDRESS` runs the update with the cluster's workers."""
    from typer.testing import CliRunner

    from patchlens.cli import app

    mbox = data_path("xen-qemu-samples", "xen-ctrl-ballooned-dump.mbox")
    db = str(tmp_path / "s.db")
    runner = CliRunner()
    assert runner.invoke(app, ["--db", db, "-q", "add-list", "xen", str(mbox)]).exit_code == 0
    res = runner.invoke(
        app, ["--db", db, "-q", "update", "--scheduler", local_cluster.scheduler_address]
    )
    assert res.exit_code == 0, res.output
    assert "Dask cluster" in res.output
    engine = open_store(db)
    with engine.connect() as conn:
        from sqlalchemy import func, select

        from patchlens.store import schema

        assert conn.execute(select(func.count()).select_from(schema.series)).scalar_one() >= 1
    engine.dispose()
    bad = runner.invoke(app, ["--db", db, "-q", "update", "--scheduler", "tcp://127.0.0.1:9"])
    assert bad.exit_code == 1 and "cannot reach the Dask scheduler" in bad.output
