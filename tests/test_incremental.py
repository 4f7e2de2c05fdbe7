"""Updating day by day gives the store one update of the whole gives (issue 11).

The EROFS archive and erofs-utils are replayed over their last month: both are set back to the
state of 30 days before their end, ingested, then moved forward one day at a time, as a mirror
of lore and of the project's repository would be, with an `update` after each day. Every table
of the store, derived ones included, must then equal the store of one update over everything:
whatever an update skips or reuses, it may not change the answer.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from patchlens.config import Config
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store.db import open_store
from tests.helpers.storedump import logical_dump

pytestmark = pytest.mark.slow

DAY = 86400
DAYS = 30
BRANCH = "dev"  # erofs-utils' development branch, as the other EROFS tests register it


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def _clone(src: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", "--mirror", str(src), str(dest)], check=True)
    return dest


def _last_before(repo: Path, ref: str, ts: int) -> str | None:
    """The newest first-parent commit of `ref` committed at or before `ts`."""
    out = _git(repo, "rev-list", "-1", "--first-parent", f"--before={ts}", ref)
    return out or None


def _update(engine, cache: Path) -> bool:
    """One `update`; whether its reconstruction and its matching redid only what the new mail
    and commits changed."""
    quiet = Reporter(quiet=True)
    reports = ingest.run_update(engine, cache, quiet, jobs=2)
    assert not [r.error for r in reports if r.error]
    rep = run_stages(engine, Config(), cache, quiet, jobs=2)
    return rep.review.incremental and rep.matching.incremental


def _register(db: Path, archive: Path, utils: Path):
    engine = open_store(str(db))
    ingest.add_list(engine, "linux-erofs", [str(archive)])
    ingest.add_repo(engine, "erofs-utils", str(utils), [BRANCH])
    return engine


def test_daily_updates_equal_one_update(
    tmp_path: Path, erofs_archive: Path, erofs_utils: Path
) -> None:
    archive = _clone(erofs_archive, tmp_path / "archive.git")
    utils = _clone(erofs_utils, tmp_path / "utils.git")
    heads = {archive: _git(archive, "rev-parse", "master"), utils: _git(utils, "rev-parse", BRANCH)}
    end = int(_git(archive, "log", "-1", "--format=%ct", "master"))
    start = end - DAYS * DAY

    # Day by day: both sources as they stood at the end of each day.
    (tmp_path / "daily").mkdir()
    daily_db = tmp_path / "daily" / "s.db"
    daily = None
    days_with_mail = 0
    incremental = []
    for day in range(DAYS + 1):
        cutoff = start + day * DAY
        moved = False
        for repo, ref in ((archive, "master"), (utils, BRANCH)):
            sha = _last_before(repo, heads[repo], cutoff) if day < DAYS else heads[repo]
            if sha is not None and sha != _git(repo, "rev-parse", ref):
                _git(repo, "update-ref", f"refs/heads/{ref}", sha)
                moved = True
        if daily is None:
            daily = _register(daily_db, archive, utils)
        elif not moved:
            continue
        incremental.append(_update(daily, daily_db.with_name("cache")))
        days_with_mail += 1
    daily.dispose()
    assert days_with_mail >= 10, "the last month of the archive should have mail on many days"
    # After the first, every update redid only what its day changed (none fell back).
    assert all(incremental[1:]), incremental

    # One update over everything.
    (tmp_path / "once").mkdir()
    once_db = tmp_path / "once" / "s.db"
    once = _register(once_db, archive, utils)
    _update(once, once_db.with_name("cache"))
    once.dispose()

    a, b = logical_dump(once_db), logical_dump(daily_db)
    assert len(a["messages"]) > 15_000 and len(a["series"]) > 1_000
    differing = [t for t in a if a[t] != b[t]]
    assert not differing, f"tables that differ after daily updates: {differing}"
    # The time-to-merge model, which the daily run refitted each time the week turned
    # (stages/prediction.py), is among the tables compared, and holds a fitted model: the
    # equality is not that of two stores without one.
    (model,) = a["prediction_model"]
    assert model[1] is not None
