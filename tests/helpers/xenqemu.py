"""The xen-devel and qemu-devel sample threads as a store, built as `patchlens update` builds
one (ingest, then the pipeline of stages), and read back as version details: the `xq` fixture
of the reconstruction and metrics tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from patchlens.config import Config
from patchlens.queries.series import versions_detail
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store.db import open_store
from tests.conftest import data_path

XQ = ("xen-qemu-samples",)


def build(tmp_path: Path, *files: Path) -> Engine:
    """A store of these mailboxes after `update`: ingest, then every stage after it."""
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "l", [str(f) for f in files])
    reports = ingest.run_update(engine, tmp_path / "cache", Reporter(quiet=True), jobs=1)
    assert not [r.error for r in reports if r.error]
    run_stages(engine, Config(), tmp_path / "cache", Reporter(quiet=True), jobs=1)
    return engine


def all_versions(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return versions_detail(conn, None)


@pytest.fixture(scope="module")
def xq(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, dict[str, dict]]:
    """The eight sample threads as a store, and their versions by key."""
    files = sorted(data_path(*XQ).glob("*.mbox"))
    assert len(files) == 8
    engine = build(tmp_path_factory.mktemp("xq"), *files)
    return engine, {v["key"]: v for v in all_versions(engine)}
