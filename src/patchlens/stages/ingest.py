"""The ingest stage: register lists and repositories, and bring the store up to date with them.

Each batch of messages or commits is written in one transaction together with the source
cursor that follows it, so an interrupted run resumes where the last commit left off and a
re-read batch stores nothing twice.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape
from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update

from patchlens.sources import gitrepo
from patchlens.sources.base import Batch, Damage, Plan, SourceError
from patchlens.sources.detect import detect_format, open_source
from patchlens.sources.gitrepo import CommitRecord
from patchlens.sources.gitutil import check_remote, check_repo, is_url, resolve_repo
from patchlens.stages import changes
from patchlens.stages.horizon import current_horizon, settle
from patchlens.stages.parallel import DEFAULT_JOBS, ordered_map
from patchlens.stages.progress import Reporter
from patchlens.stages.recipients import MARK as RECIPIENTS_MARK
from patchlens.stages.records import (
    MessageCounts,
    Parsed,
    add_branch,
    known_commits,
    parse_batch,
    save_source_cursor,
    store_commits,
    store_messages,
)
from patchlens.store import schema

# 250 messages a batch: as fast as 1,000 and a third less memory with parse workers in
# flight (docs/PERFORMANCE.md).
MESSAGE_BATCH = int(os.environ.get("PATCHLENS_BATCH") or 250)
# Commits a worker reads at a time (one `git log` and one `git patch-id` each). Memory does
# not depend on it (a slice streams through its worker, and comes back compressed); small
# enough that the workers' shares stay even, large enough that git's start-up is amortised.
COMMIT_SLICE = int(os.environ.get("PATCHLENS_COMMIT_SLICE") or 200)


def _location(source: str) -> str:
    """Local paths are stored absolute, so the store works from any directory."""
    return source if is_url(source) else str(Path(source).expanduser().resolve())


def add_list(
    engine: Engine, name: str, sources: list[str], replace: bool = False
) -> list[tuple[str, str]]:
    """Register a list (or add sources to one); returns (location, format) per source.

    Every source is checked first (it exists, its format is known, a URL answers) and nothing
    is registered unless all are readable. With `replace`, the list's sources become exactly
    these: any other source of the list is removed as `remove_list` removes one."""
    detected = []
    for src in sources:
        fmt = detect_format(src)
        if is_url(src):
            check_remote(src)
        detected.append((_location(src), fmt))
    now = int(time.time())
    with engine.begin() as conn:
        list_id = conn.execute(
            select(schema.mailing_lists.c.id).where(schema.mailing_lists.c.name == name)
        ).scalar()
        if list_id is None:
            list_id = conn.execute(
                insert(schema.mailing_lists).values(name=name, created_at=now)
            ).inserted_primary_key[0]
        if replace:
            wanted = {loc for loc, _fmt in detected}
            gone = [
                sid
                for sid, loc in conn.execute(
                    select(schema.list_sources.c.id, schema.list_sources.c.location).where(
                        schema.list_sources.c.list_id == list_id
                    )
                )
                if loc not in wanted
            ]
            drop_list_sources(conn, gone)
        for loc, fmt in detected:
            exists = conn.execute(
                select(schema.list_sources.c.id).where(
                    schema.list_sources.c.list_id == list_id, schema.list_sources.c.location == loc
                )
            ).scalar()
            if exists is None:
                conn.execute(
                    insert(schema.list_sources).values(list_id=list_id, location=loc, format=fmt)
                )
    return detected


def add_repo(
    engine: Engine, name: str, location: str, branches: list[str], replace: bool = False
) -> None:
    """Register a repository, after checking git can read it. A name already registered
    keeps its commits when the location is the same (the branches are updated); another
    location needs `replace`, which drops the old commits so the new source is read anew."""
    check_repo(location)
    loc = _location(location)
    with engine.begin() as conn:
        row = conn.execute(
            select(schema.repos.c.id, schema.repos.c.location).where(schema.repos.c.name == name)
        ).first()
        values: dict[str, Any] = {"location": loc, "branches": json.dumps(sorted(set(branches)))}
        if row is None:
            conn.execute(
                insert(schema.repos).values(name=name, created_at=int(time.time()), **values)
            )
            return
        if row.location != loc:
            if not replace:
                raise SourceError(
                    f"{name} is already registered with {row.location}; add --replace to use "
                    f"{location} instead (its commits are then read again from there)"
                )
            drop_repo_commits(conn, row.id)
            values.update(cursor=None, last_update=None)
        conn.execute(update(schema.repos).where(schema.repos.c.id == row.id).values(**values))


@dataclass
class Removed:
    sources: int = 0
    messages: int = 0  # only this list had them: removed with all that was derived from them
    kept: int = 0  # another list also has them: kept
    commits: int = 0


def _registered(conn: Connection, table: Table, name: str, what: str) -> int:
    """The id of the list or repository registered as `name`; a SourceError naming it if none."""
    pk = conn.execute(select(table.c.id).where(table.c.name == name)).scalar()
    if pk is None:
        raise SourceError(f"{name}: no such {what} (see 'patchlens status')")
    return pk


def remove_list(engine: Engine, name: str) -> Removed:
    """Unregister a list. Its messages that no other list has seen go, with everything
    derived from them; those another list also has stay, attributed to that list."""
    with engine.begin() as conn:
        list_id = _registered(conn, schema.mailing_lists, name, "list")
        ids = [
            sid
            for (sid,) in conn.execute(
                select(schema.list_sources.c.id).where(schema.list_sources.c.list_id == list_id)
            )
        ]
        rem = drop_list_sources(conn, ids)
        conn.execute(delete(schema.mailing_lists).where(schema.mailing_lists.c.id == list_id))
    return rem


def remove_repo(engine: Engine, name: str) -> Removed:
    """Unregister a repository with its commits and everything derived from them (links to
    postings included). Its mirror in the cache stays, as any cache entry does."""
    with engine.begin() as conn:
        repo_id = _registered(conn, schema.repos, name, "repository")
        rem = Removed(commits=drop_repo_commits(conn, repo_id))
        conn.execute(delete(schema.source_damage).where(schema.source_damage.c.repo_id == repo_id))
        conn.execute(delete(schema.repos).where(schema.repos.c.id == repo_id))
    return rem


def _chunks(items: list[int], n: int = 500) -> Iterator[list[int]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _delete_referring(conn: Connection, target: Table, pks: list[int]) -> None:
    """Delete rows of every table with a foreign key to `target`'s primary key among `pks`,
    children first (found from the schema, so a table added later is not forgotten)."""
    for table in reversed(schema.metadata.sorted_tables):
        for fk in table.foreign_keys:
            if fk.column.table is target and table is not target:
                for chunk in _chunks(pks):
                    conn.execute(delete(table).where(fk.parent.in_(chunk)))


def drop_list_sources(conn: Connection, source_ids: list[int]) -> Removed:
    """Remove list sources: their sightings, variants and quarantined messages; the messages
    no remaining source has seen, with every row derived from them."""
    rem = Removed(sources=len(source_ids))
    if not source_ids:
        return rem
    # The stages redo everything: a source replaced may leave the digest's numbers as they
    # were (SQLite hands a removed largest id out again), so it cannot tell them.
    changes.owe_everyone_everything(conn)
    m, sg = schema.messages, schema.message_sightings
    touched: set[int] = set()
    for chunk in _chunks(source_ids):
        touched.update(
            pk for (pk,) in conn.execute(select(sg.c.message_pk).where(sg.c.source_id.in_(chunk)))
        )
        touched.update(
            pk for (pk,) in conn.execute(select(m.c.id).where(m.c.first_source_id.in_(chunk)))
        )
    for table in (sg, schema.message_variants, schema.quarantine, schema.source_damage):
        for chunk in _chunks(source_ids):
            conn.execute(delete(table).where(table.c.source_id.in_(chunk)))
    still_seen: dict[int, int] = {}  # message -> a source that still has it
    for chunk in _chunks(sorted(touched)):
        for pk, source_id in conn.execute(
            select(sg.c.message_pk, func.min(sg.c.source_id))
            .where(sg.c.message_pk.in_(chunk))
            .group_by(sg.c.message_pk)
        ):
            still_seen[pk] = source_id
    orphans = sorted(touched - still_seen.keys())
    moved: dict[int, list[int]] = {}  # remaining source -> messages now first seen there
    for pk, source_id in still_seen.items():
        moved.setdefault(source_id, []).append(pk)
    for source_id, pks in moved.items():
        for chunk in _chunks(sorted(pks)):
            conn.execute(
                update(m)
                .where(m.c.id.in_(chunk), m.c.first_source_id.in_(source_ids))
                .values(first_source_id=source_id)
            )
    fp = schema.diff_fingerprints
    for chunk in _chunks(orphans):
        conn.execute(delete(fp).where(fp.c.kind == "m", fp.c.pk.in_(chunk)))
    _delete_referring(conn, m, orphans)
    for chunk in _chunks(orphans):
        conn.execute(delete(m).where(m.c.id.in_(chunk)))
    for chunk in _chunks(source_ids):
        conn.execute(delete(schema.list_sources).where(schema.list_sources.c.id.in_(chunk)))
    # The recipient keys' mark (stages/recipients.py) back to the newest message left: SQLite
    # hands removed ids out again, and the messages that get them need their keys.
    filled = changes.mark(conn, RECIPIENTS_MARK)
    newest = conn.execute(select(func.max(m.c.id))).scalar() or 0
    if filled is not None and filled > newest:
        changes.set_mark(conn, RECIPIENTS_MARK, newest, int(time.time()))
    rem.messages, rem.kept = len(orphans), len(still_seen)
    return rem


def drop_repo_commits(conn: Connection, repo_id: int) -> int:
    """Remove a repository's commits with every row derived from them; returns how many."""
    c = schema.commits
    pks = [pk for (pk,) in conn.execute(select(c.c.id).where(c.c.repo_id == repo_id))]
    changes.owe_everyone_everything(conn)  # as drop_list_sources
    fp = schema.diff_fingerprints
    for chunk in _chunks(pks):
        conn.execute(delete(fp).where(fp.c.kind == "c", fp.c.pk.in_(chunk)))
    _delete_referring(conn, c, pks)
    conn.execute(delete(schema.patch_commits).where(schema.patch_commits.c.repo_id == repo_id))
    for chunk in _chunks(pks):
        conn.execute(delete(c).where(c.c.id.in_(chunk)))
    return len(pks)


@dataclass(kw_only=True)
class SourceReport(MessageCounts):
    """What an update did with one source: the counts of its messages, notes, and what could
    not be read."""

    kind: str  # list | repo
    name: str
    location: str
    notes: list[str] = field(default_factory=list)
    # The source could not be read at all (nothing of it was updated) ...
    error: str | None = None
    # ... or was read around parts it could not read (recorded in source_damage).
    damage: list[Damage] = field(default_factory=list)


def record_damage(
    engine: Engine,
    damage: list[Damage],
    source_id: int | None = None,
    repo_id: int | None = None,
    error: str | None = None,
) -> None:
    """Replace what is recorded as unreadable for one source by what this run found: a
    part read again since (a retried blob, a mended file) drops out of the record."""
    tbl = schema.source_damage
    rows = [(d.position, d.reason) for d in damage]
    if error is not None:
        rows.append(("", error))
    now = int(time.time())
    with engine.begin() as conn:
        if source_id is not None:
            conn.execute(delete(tbl).where(tbl.c.source_id == source_id))
        else:
            conn.execute(delete(tbl).where(tbl.c.repo_id == repo_id))
        if rows:
            conn.execute(
                insert(tbl),
                [
                    {
                        "source_id": source_id,
                        "repo_id": repo_id,
                        "position": pos,
                        "reason": why,
                        "seen_at": now,
                    }
                    for pos, why in rows
                ],
            )


def update_lists(
    engine: Engine, cache: Path, reporter: Reporter, jobs: int = DEFAULT_JOBS
) -> list[SourceReport]:
    ls, ml = schema.list_sources, schema.mailing_lists
    with engine.connect() as conn:
        rows = conn.execute(
            select(*ls.c["id", "list_id", "location", "format", "cursor"], ml.c.name)
            .join(ml)
            .order_by(ls.c.id)
        ).all()
    work = []
    for source_id, list_id, location, fmt, cursor, list_name in rows:
        rep = SourceReport(kind="list", name=list_name, location=location)
        read = functools.partial(
            _update_list_source,
            engine,
            cache,
            reporter,
            rep,
            source_id,
            list_id,
            location,
            fmt,
            json.loads(cursor) if cursor else None,
            jobs,
        )
        work.append((rep, {"source_id": source_id}, read))
    return _read_each(engine, reporter, work)


def _read_each(
    engine: Engine,
    reporter: Reporter,
    work: list[tuple[SourceReport, dict[str, int], Callable[[], None]]],
) -> list[SourceReport]:
    """Each source read in turn. One that cannot be read is reported for itself (the error
    kept as its damage, for `status`), and the next source is read all the same: anything the
    file system says about a source (OSError) too."""
    for rep, owner, read in work:
        try:
            read()
        except (SourceError, OSError) as e:
            why = str(e) if isinstance(e, SourceError) else f"{rep.location}: {e.strerror or e}"
            rep.error = why
            reporter.note(f"[red]error[/red] {escape(f'{rep.name}: {rep.error}')}")
            record_damage(engine, rep.damage, error=rep.error, **owner)
    return [rep for rep, _, _ in work]


def _update_list_source(
    engine: Engine,
    cache: Path,
    reporter: Reporter,
    rep: SourceReport,
    source_id: int,
    list_id: int,
    location: str,
    fmt: str,
    cursor: dict[str, Any] | None,
    jobs: int,
) -> None:
    source = open_source(location, fmt, cache)
    plan = source.plan(cursor, MESSAGE_BATCH)
    rep.notes.extend(plan.notes)
    for n in plan.notes:
        reporter.note(escape(n))
    if plan.total == 0:
        # Untouched since the last run: the parts recorded as unreadable still are, but a
        # failure of the whole source (it was read now) is over.
        with engine.begin() as conn:
            tbl = schema.source_damage
            conn.execute(delete(tbl).where(tbl.c.source_id == source_id, tbl.c.position == ""))
        return
    with reporter.task(f"{rep.name}: {Path(location).name}", plan.total) as task:
        for batch, parsed in _parsed_batches(plan, jobs):
            for d in batch.damage:
                rep.damage.append(d)
                reporter.note(
                    f"[yellow]damaged[/yellow] {escape(f'{rep.name}: {d.position}: {d.reason}')}"
                )
            with engine.begin() as conn:
                res: MessageCounts = store_messages(conn, source_id, list_id, parsed)
                if batch.cursor is not None:
                    save_source_cursor(conn, source_id, batch.cursor)
            rep.add(res)
            task.advance(res.read)
    record_damage(engine, rep.damage, source_id=source_id)


def _parsed_batches(plan: Plan, jobs: int) -> Iterator[tuple[Batch, list[Parsed]]]:
    """Batches with their parses and analyses, in order; that work (most of it, and pure)
    runs in worker processes while this one writes. Small sources are parsed in-process."""
    if plan.total is not None and plan.total < 2 * MESSAGE_BATCH:
        jobs = 1
    yield from ordered_map(_parse_and_analyse, plan.batches, jobs)


def _parse_and_analyse(batch: Batch) -> list[Parsed]:
    """A batch's parse, compression and per-message analysis (records.parse_batch): the work
    of the parse workers, on this machine or the cluster's."""
    return parse_batch(batch.messages)


def update_repos(
    engine: Engine, cache: Path, reporter: Reporter, jobs: int = DEFAULT_JOBS
) -> list[SourceReport]:
    """Read every registered repository's new commits; those dated before the history
    horizon that the store's mail sets (stages/horizon.py) without their diffs."""
    repos = schema.repos
    with engine.connect() as conn:
        rows = conn.execute(
            select(*repos.c["id", "name", "location", "branches", "cursor"]).order_by(repos.c.id)
        ).all()
        limit = current_horizon(conn) if rows else None
    work = []
    for repo_id, name, location, branches, cursor in rows:
        rep = SourceReport(kind="repo", name=name, location=location)

        def read(rep=rep, repo_id=repo_id, location=location, branches=branches, cursor=cursor):
            _update_repo(
                engine,
                cache,
                reporter,
                rep,
                repo_id,
                location,
                json.loads(branches),
                json.loads(cursor) if cursor else {},
                jobs,
                limit,
            )
            record_damage(engine, [], repo_id=repo_id)  # read whole: nothing is damaged

        work.append((rep, {"repo_id": repo_id}, read))
    return _read_each(engine, reporter, work)


def _update_repo(
    engine: Engine,
    cache: Path,
    reporter: Reporter,
    rep: SourceReport,
    repo_id: int,
    location: str,
    branches: list[str],
    cursor: dict[str, str],
    jobs: int = DEFAULT_JOBS,
    limit: int | None = None,
) -> None:
    """The repository's new commits on each branch; those committed before `limit` (the
    history horizon) without their diffs."""
    gitdir = resolve_repo(location, cache)

    def again(shas: list[str], without_diffs: bool) -> Iterator[list[CommitRecord]]:
        return _read_parts(gitdir, _sliced(without_diffs, shas), jobs)

    keep = functools.partial(gitrepo.present, gitdir)
    settle(engine, reporter, rep.name, repo_id, limit, again, keep)
    for branch in branches or [gitrepo.default_branch(gitdir)]:
        head = gitrepo.branch_head(gitdir, branch)
        old = cursor.get(branch)
        if old == head:
            continue
        exclude = [old] if old and gitrepo.has_commit(gitdir, old) else []
        dated = gitrepo.rev_list_dated(gitdir, head, exclude)
        with engine.connect() as conn:
            known = known_commits(conn, repo_id, [sha for sha, _ in dated])
        todo = [(sha, ts) for sha, ts in dated if sha not in known]
        with reporter.task(f"{rep.name}: {branch}", len(todo)) as task:
            for records in _read_parts(gitdir, _parts(todo, limit), jobs):
                with engine.begin() as conn:
                    rep.new += store_commits(conn, repo_id, branch, records)
                rep.read += len(records)
                task.advance(len(records))
        cursor[branch] = head
        with engine.begin() as conn:
            # Commits read before through another branch are on this one too.
            add_branch(conn, branch, list(known.values()))
            conn.execute(
                update(schema.repos)
                .where(schema.repos.c.id == repo_id)
                .values(cursor=json.dumps(cursor, sort_keys=True), last_update=int(time.time()))
            )


# Commits read without their diffs at a time: git compares trees only, about 7,000 commits a
# second here, so a slice of them is as quick as a few whole commits.
HISTORY_SLICE = 5000


def _parts(todo: list[tuple[str, int]], limit: int | None) -> list[tuple[bool, list[str]]]:
    """`todo` (sha, commit date), in its order, cut into slices to read: runs of commits
    before `limit` (read without diffs) and of the others (whole)."""
    parts: list[tuple[bool, list[str]]] = []
    for skip, run in itertools.groupby(todo, key=lambda x: limit is not None and x[1] < limit):
        parts += _sliced(skip, [sha for sha, _ in run])
    return parts


def _sliced(without_diffs: bool, shas: list[str]) -> list[tuple[bool, list[str]]]:
    """`shas` in slices of the size their reading takes, each marked with how it is read."""
    size = HISTORY_SLICE if without_diffs else COMMIT_SLICE
    return [(without_diffs, part) for part in gitrepo.slices(shas, size)]


def _read_parts(
    gitdir: Path, parts: list[tuple[bool, list[str]]], jobs: int
) -> Iterator[list[CommitRecord]]:
    """The commits of `parts` in order, a slice at a time, each slice read (and, read whole,
    parsed, compressed and fingerprinted) by a local worker process (gitrepo.read_part)
    while this one writes. Always local: the repository (or its mirror in the cache) is a
    path on this machine."""
    if len(parts) < 2:
        jobs = 1
    read = functools.partial(gitrepo.read_part, gitdir)
    # A repository's slices take very unequal times (a slice of translation updates holds
    # hundreds of MB of diff, its neighbours a few), so with one item ahead per worker the
    # other worker soon waits for the slow one to be taken. Four per worker: the cold 35k
    # case's repository reading 29-30 s -> 24-26 s, the whole update 5-9 s less in
    # alternating pairs, the tree's peak about 30 MB higher (both workers more often hold a
    # large slice at once; docs/PERFORMANCE.md). At most eight beyond the workers on a
    # larger machine: the results finished and not yet taken are held here.
    ahead = jobs + min(3 * jobs, 8)
    for _, records in ordered_map(read, parts, jobs, local=True, ahead=ahead):
        yield records


def run_update(
    engine: Engine, cache: Path, reporter: Reporter, jobs: int = DEFAULT_JOBS
) -> list[SourceReport]:
    """Ingest only: lists, then repositories."""
    return update_lists(engine, cache, reporter, jobs) + update_repos(engine, cache, reporter, jobs)
