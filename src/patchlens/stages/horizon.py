"""Each repository's history horizon, kept true as mail arrives (match/horizon.py says which
commits are read without their diffs, and why no stage needs those).

The invariant: a repository's commits dated before the horizon the store's mail sets are
exactly those stored without their diffs (`commits.diff_skipped`), each stored as a first
reading without its diff would store it. Every update checks it by two index lookups
(`ix_commits_repo_id_diff_skipped_committer_date`) and mends what breaks it: older mail moves
the archives' start earlier, and the commits from the new horizon on are read again with
their diffs; a store whose lists first get enough mail to have a start reads the commits
before the horizon again without theirs (the names of their files then come from the same
reading as a cold build's). Either owes matching everything, since those commits' patch-ids
and fingerprints changed. Each slice commits with what it changed, so an interrupted update
leaves commits on both sides, which the next update's check finds: a store is the same
whatever order its mail and commits came in, and however often an update stopped.
`repos.horizon` records the horizon last settled, for `patchlens status`.

A commit the repository no longer has (history rewritten, a branch pruned) cannot be read
again: it stays as stored, and the repository's other commits are still brought to the
horizon.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy import Connection, Engine, select, update

from patchlens.match.horizon import archive_start, horizon_of
from patchlens.sources.gitrepo import CommitRecord
from patchlens.stages import changes
from patchlens.stages.progress import Reporter
from patchlens.stages.records import refill_commits
from patchlens.store import schema

# Dates read from the store at a time while looking for the archives' start.
DATE_PAGE = 2000

# read(shas, without_diffs) -> the records of `shas`, a slice at a time.
Read = Callable[[list[str], bool], Iterator[list[CommitRecord]]]


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


def misplaced(conn: Connection, repo_id: int, horizon: int | None) -> tuple[list[str], list[str]]:
    """The repository's commits on the wrong side of `horizon`: (stored without their
    diffs but dated from it on, stored with them but dated before it), oldest first."""
    c = schema.commits
    later = [c.c.repo_id == repo_id, c.c.diff_skipped]
    if horizon is not None:
        later.append(c.c.committer_date >= horizon)
    order = (c.c.committer_date, c.c.id)
    to_read = list(conn.execute(select(c.c.sha).where(*later).order_by(*order)).scalars())
    to_drop: list[str] = []
    if horizon is not None:
        earlier = (c.c.repo_id == repo_id, ~c.c.diff_skipped, c.c.committer_date < horizon)
        to_drop = list(conn.execute(select(c.c.sha).where(*earlier).order_by(*order)).scalars())
    return to_read, to_drop


def settle(
    engine: Engine,
    reporter: Reporter,
    name: str,
    repo_id: int,
    horizon: int | None,
    read: Read,
    keep: Callable[[list[str]], set[str]],
) -> None:
    """Bring the repository's stored commits to `horizon` (see the module's docstring).
    `read(shas, without_diffs)` yields their records read again, a slice at a time (the
    ingest stage's worker processes); `keep(shas)` says which the repository still has."""
    r = schema.repos
    with engine.connect() as conn:
        to_read, to_drop = misplaced(conn, repo_id, horizon)
        stored = conn.execute(select(r.c.horizon).where(r.c.id == repo_id)).scalar()
    for shas, without, what in (
        (to_read, False, "diffs of older commits"),
        (to_drop, True, "commits before the horizon"),
    ):
        if shas:
            readable = keep(shas)
            shas = [s for s in shas if s in readable]
        if not shas:
            continue
        with reporter.task(f"{name}: {what}", len(shas)) as task:
            for records in read(shas, without):
                with engine.begin() as conn:
                    refill_commits(conn, repo_id, records)
                    changes.owe(conn, changes.MATCHING, changes.Work(full=True))
                task.advance(len(records))
    if stored != horizon:
        with engine.begin() as conn:
            conn.execute(update(r).where(r.c.id == repo_id).values(horizon=horizon))
