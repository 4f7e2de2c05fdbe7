"""A store rebuilt from nothing a batch of messages at a time equals one rebuilt at once.

Above `stages.review.COLD_BATCH` messages, reconstruction from an empty store goes in date
order, a batch at a time, each batch an incremental update on those before it, so that its
memory is that of a batch and not of the whole archive (issue 11). Here the EROFS archive is
reconstructed once in memory and once in batches of 1,500 messages (ten batches), and every
table must agree.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from patchlens.config import Config
from patchlens.stages import ingest
from patchlens.stages import review as review_stage
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store.db import open_store
from tests.helpers.storedump import logical_dump

pytestmark = pytest.mark.slow


def _store(tmp: Path, mirror: Path) -> tuple[Path, bool]:
    db = tmp / "s.db"
    engine = open_store(str(db))
    ingest.add_list(engine, "linux-erofs", [str(mirror)])
    quiet = Reporter(quiet=True)
    ingest.run_update(engine, tmp / "cache", quiet, jobs=2)
    rep = run_stages(engine, Config(), tmp / "cache", quiet, jobs=2)
    engine.dispose()
    return db, rep.review.fallback == ""


def test_batches_equal_one_rebuild(
    tmp_path: Path, erofs_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "archive.git"
    subprocess.run(["git", "clone", "-q", "--mirror", str(erofs_archive), str(mirror)], check=True)
    (tmp_path / "once").mkdir()
    once, _ = _store(tmp_path / "once", mirror)
    monkeypatch.setattr(review_stage, "COLD_BATCH", 1500)
    (tmp_path / "batches").mkdir()
    batches, _ = _store(tmp_path / "batches", mirror)
    a, b = logical_dump(once), logical_dump(batches)
    assert len(a["messages"]) > 15_000
    differing = [t for t in a if a[t] != b[t]]
    assert not differing, f"tables that differ: {differing}"
