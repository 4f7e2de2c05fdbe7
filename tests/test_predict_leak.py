"""No prediction feature leaks the future (issue 15, acceptance 2).

A store CUT at a date D is built from what was known at D: the EROFS messages dated <= D
(written as a Maildir from the full store's raw bytes) and erofs-utils as its branch stood at
D (only commits committed <= D). The features of every series posted by D, as of D and as of
earlier moments, must be the same from the cut store as from the full store: anything the
full store knows of later mail, later commits or later outcomes that reached a feature would
show as a difference.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from patchlens.config import Config
from patchlens.metrics.prediction import LANDMARKS, Corpus
from patchlens.queries.prediction import load_corpus
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store

pytestmark = pytest.mark.slow

DAY = 86400
# The cut: mid-2023, when erofs-utils' Link: trailers begin and the list is busy.
CUT = int(datetime(2023, 7, 1, tzinfo=UTC).timestamp())


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def cut_store(tmp_path_factory, erofs_store, erofs_utils):
    """The EROFS store as it would have been built on the day of the cut."""
    _db, full, _reports = erofs_store
    tmp = tmp_path_factory.mktemp("cut")
    maildir = tmp / "mail"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    m = schema.messages
    written = 0
    with full.connect() as conn:
        for pk, raw in conn.execute(
            select(m.c.id, m.c.raw).where(m.c.date_utc <= CUT).order_by(m.c.id)
        ):
            (maildir / "cur" / f"{pk}.eml").write_bytes(raw)
            written += 1
    utils = tmp / "utils.git"
    subprocess.run(
        ["git", "clone", "--quiet", "--mirror", str(erofs_utils), str(utils)], check=True
    )
    head = _git(utils, "rev-list", "-1", "--first-parent", f"--before={CUT}", "dev")
    _git(utils, "update-ref", "refs/heads/dev", head)
    dates = [int(d) for d in _git(utils, "log", "--format=%ct", "dev").split()]
    assert dates and max(dates) <= CUT, "the cut branch holds a commit committed after the cut"
    db = tmp / "cut.db"
    engine = open_store(str(db))
    ingest.add_list(engine, "linux-erofs", [str(maildir)])
    ingest.add_repo(engine, "erofs-utils", str(utils), ["dev"])
    quiet = Reporter(quiet=True)
    reports = ingest.run_update(engine, tmp / "cache", quiet)
    assert not [r.error for r in reports if r.error]
    run_stages(engine, Config(), tmp / "cache", quiet)
    return engine, written, len(dates)


def _compare(full: Corpus, cut: Corpus, moments) -> tuple[int, list[str]]:
    """Features of every series posted by each moment, from both corpora: how many were
    compared, and the differences."""
    compared, differences = 0, []
    for key, se in sorted(full.all.items()):
        for t in moments(se.first_date):
            if se.first_date > t or t > CUT:
                continue
            assert key in cut.all, f"series {key} posted by the cut is missing from the cut store"
            a, b = full.features(key, t), cut.features(key, t)
            compared += 1
            if a != b:
                diff = {k: (a[k], b[k]) for k in a if a[k] != b[k]} if a and b else (a, b)
                differences.append(f"{key} as of {t}: {diff}")
    return compared, differences


def test_features_from_a_store_cut_at_the_date_equal_the_full_stores(erofs_store, cut_store):
    _db, full_engine, _reports = erofs_store
    cut_engine, written, commits = cut_store
    assert written > 5_000 and commits > 300  # a real cut, not an empty store
    with full_engine.connect() as conn:
        full = load_corpus(conn, end=CUT)
    with cut_engine.connect() as conn:
        cut = load_corpus(conn, end=CUT)
    # The full store knows much the cut does not: later series, later merges.
    assert len(full.all) > len(cut.all) + 300
    later_merges = [
        k
        for k, r in full.history.records.items()
        if k in cut.history.records
        and r.merged is not None
        and r.merged > CUT
        and cut.history.records[k].merged is None
    ]
    assert later_merges, "no series posted before the cut was merged after it: nothing tested"

    def at_cut(first: int) -> list[int]:
        return [CUT]

    def in_their_life(first: int) -> list[int]:
        return [first + d * DAY for d in LANDMARKS] + [CUT - 30 * DAY]

    for moments, many in ((at_cut, 500), (in_their_life, 2_000)):
        compared, differences = _compare(full, cut, moments)
        assert compared > many, moments.__name__
        assert not differences, f"{len(differences)} of {compared}: " + "\n".join(differences[:20])


def test_the_check_sees_a_leak(erofs_store, cut_store):
    """The comparison above can fail: features taken as of a later date than the cut (what a
    leak of the future would give) differ from the cut store's for many series."""
    _db, full_engine, _reports = erofs_store
    cut_engine, _written, _commits = cut_store
    with full_engine.connect() as conn:
        full = load_corpus(conn, end=CUT)
    with cut_engine.connect() as conn:
        cut = load_corpus(conn, end=CUT)
    leaked = sum(
        1
        for key, se in full.all.items()
        if se.first_date <= CUT - 90 * DAY
        and full.features(key, CUT + 90 * DAY) != cut.features(key, CUT + 90 * DAY)
    )
    assert leaked > 50
