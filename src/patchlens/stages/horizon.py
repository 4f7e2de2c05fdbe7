"""Each repository's history horizon, kept true as mail arrives (match/horizon.py says which
commits are read without their diffs, and why no stage needs those).

The invariant: a repository's commits dated before its stored horizon (`repos.horizon`) are
exactly those stored without their diffs (`commits.diff_skipped`). The horizon follows the
mail: older mail moves the archives' start earlier, and the commits from the new horizon on
are read again with their diffs; a store whose lists first get enough mail to have a start
drops the diffs of the commits before the new horizon. A store is then the same whatever
order its mail and commits came in, as one built from scratch. Either change owes matching
everything, since those commits' patch-ids and fingerprints changed. Each part commits
with what it changed; the horizon is stored last, so an interrupted update finishes the
work on the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy import Connection, Engine, select, update

from patchlens.match.horizon import archive_start, horizon_of
from patchlens.sources.gitrepo import CommitRecord
from patchlens.stages import changes
from patchlens.stages.progress import Reporter
from patchlens.stages.records import drop_diffs, refill_commits
from patchlens.store import schema

# Dates read from the store at a time while looking for the archives' start.
DATE_PAGE = 2000


def current_horizon(conn: Connection) -> int | None:
    """The horizon the store's mail sets now (None: every diff is to be read). Reads the
    message dates from the earliest on, and stops at the archives' start: a few pages of
    the date index."""
    m = schema.messages
    q = (
        select(m.c.date_utc)
        .where(m.c.date_utc.is_not(None))
        .order_by(m.c.date_utc)
        .execution_options(yield_per=DATE_PAGE)
    )
    result = conn.execute(q)
    try:
        return horizon_of(archive_start(result.scalars()))
    finally:
        result.close()


def settle(
    engine: Engine,
    reporter: Reporter,
    name: str,
    repo_id: int,
    horizon: int | None,
    read: Callable[[list[str]], Iterator[list[CommitRecord]]],
) -> None:
    """Bring the repository's stored commits to `horizon` (see the module's docstring).
    `read(shas)` yields the records of `shas` read whole, a slice at a time (the ingest
    stage's worker processes)."""
    r, c = schema.repos, schema.commits
    with engine.connect() as conn:
        stored = conn.execute(select(r.c.horizon).where(r.c.id == repo_id)).scalar()
        if stored == horizon:
            return
        later = [c.c.repo_id == repo_id, c.c.diff_skipped]
        if horizon is not None:
            later.append(c.c.committer_date >= horizon)
        shas = list(conn.execute(select(c.c.sha).where(*later).order_by(c.c.id)).scalars())
    if shas:
        with reporter.task(f"{name}: diffs of older commits", len(shas)) as task:
            for records in read(shas):
                with engine.begin() as conn:
                    refill_commits(conn, repo_id, records)
                    changes.owe(conn, changes.MATCHING, changes.Work(full=True))
                task.advance(len(records))
    with engine.begin() as conn:
        if horizon is not None and drop_diffs(conn, repo_id, horizon):
            changes.owe(conn, changes.MATCHING, changes.Work(full=True))
        conn.execute(update(r).where(r.c.id == repo_id).values(horizon=horizon))
