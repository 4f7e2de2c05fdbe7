"""The ingest stage: register lists and repositories, and bring the store up to date with them.

Each batch of messages or commits is written in one transaction together with the source
cursor that follows it, so an interrupted run resumes where the last commit left off and a
re-read batch stores nothing twice.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape
from sqlalchemy import Engine, insert, select, update

from patchlens.parallel import DEFAULT_JOBS, ordered_map
from patchlens.progress import Reporter
from patchlens.sources import gitrepo
from patchlens.sources.base import Batch, Plan, SourceError
from patchlens.sources.detect import detect_format, open_source
from patchlens.sources.gitutil import is_url, resolve_repo
from patchlens.store import schema as s
from patchlens.store.writer import (
    BatchResult,
    Parsed,
    add_branch,
    known_commits,
    parse_batch,
    save_source_cursor,
    store_commits,
    store_messages,
)

# 250 messages a batch: as fast as 1,000 and a third less memory with parse workers in
# flight (docs/PERFORMANCE.md).
MESSAGE_BATCH = int(os.environ.get("PATCHLENS_BATCH") or 250)


def _location(source: str) -> str:
    """Local paths are stored absolute, so the store works from any directory."""
    return source if is_url(source) else str(Path(source).expanduser().resolve())


def add_list(engine: Engine, name: str, sources: list[str]) -> list[tuple[str, str]]:
    """Register a list (or add sources to one); returns (location, format) per source."""
    detected = [(_location(src), detect_format(src)) for src in sources]
    now = int(time.time())
    with engine.begin() as conn:
        list_id = conn.execute(
            select(s.mailing_lists.c.id).where(s.mailing_lists.c.name == name)
        ).scalar()
        if list_id is None:
            list_id = conn.execute(
                insert(s.mailing_lists).values(name=name, created_at=now)
            ).inserted_primary_key[0]
        for loc, fmt in detected:
            exists = conn.execute(
                select(s.list_sources.c.id).where(
                    s.list_sources.c.list_id == list_id, s.list_sources.c.location == loc
                )
            ).scalar()
            if exists is None:
                conn.execute(
                    insert(s.list_sources).values(list_id=list_id, location=loc, format=fmt)
                )
    return detected


def add_repo(engine: Engine, name: str, location: str, branches: list[str]) -> None:
    loc = _location(location)
    if not is_url(location) and not Path(loc).exists():
        raise SourceError(f"{location}: no such file or directory")
    with engine.begin() as conn:
        row = conn.execute(select(s.repos.c.id).where(s.repos.c.name == name)).scalar()
        values = {"location": loc, "branches": json.dumps(sorted(set(branches)))}
        if row is None:
            conn.execute(insert(s.repos).values(name=name, created_at=int(time.time()), **values))
        else:
            conn.execute(update(s.repos).where(s.repos.c.id == row).values(**values))


@dataclass
class SourceReport:
    kind: str  # list | repo
    name: str
    location: str
    read: int = 0
    new: int = 0
    duplicates: int = 0
    variants: int = 0
    quarantined: int = 0
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def update_lists(
    engine: Engine, cache: Path, reporter: Reporter, jobs: int = DEFAULT_JOBS
) -> list[SourceReport]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                s.list_sources.c.id,
                s.list_sources.c.list_id,
                s.list_sources.c.location,
                s.list_sources.c.format,
                s.list_sources.c.cursor,
                s.mailing_lists.c.name,
            )
            .join(s.mailing_lists)
            .order_by(s.list_sources.c.id)
        ).all()
    reports = []
    for source_id, list_id, location, fmt, cursor, list_name in rows:
        rep = SourceReport("list", list_name, location)
        reports.append(rep)
        try:
            _update_list_source(
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
        except SourceError as e:
            rep.error = str(e)
            reporter.note(f"[red]error[/red] {escape(f'{list_name}: {e}')}")
    return reports


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
        return
    with reporter.task(f"{rep.name}: {Path(location).name}", plan.total) as task:
        for batch, parsed in _parsed_batches(plan, jobs):
            with engine.begin() as conn:
                res: BatchResult = store_messages(conn, source_id, list_id, parsed)
                if batch.cursor is not None:
                    save_source_cursor(conn, source_id, batch.cursor)
            rep.read += res.read
            rep.new += res.new
            rep.duplicates += res.duplicates
            rep.variants += res.variants
            rep.quarantined += res.quarantined
            task.advance(res.read)


def _parsed_batches(plan: Plan, jobs: int) -> Iterator[tuple[Batch, list[Parsed]]]:
    """Batches with their parses, in order; parsing (most of the work, and pure) runs in
    worker processes while this one writes. Small sources are parsed in-process."""
    if plan.total is not None and plan.total < 2 * MESSAGE_BATCH:
        jobs = 1
    yield from ordered_map(_parse, plan.batches, jobs)


def _parse(batch: Batch) -> list[Parsed]:
    return parse_batch(batch.messages)


def update_repos(engine: Engine, cache: Path, reporter: Reporter) -> list[SourceReport]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                s.repos.c.id,
                s.repos.c.name,
                s.repos.c.location,
                s.repos.c.branches,
                s.repos.c.cursor,
            ).order_by(s.repos.c.id)
        ).all()
    reports = []
    for repo_id, name, location, branches, cursor in rows:
        rep = SourceReport("repo", name, location)
        reports.append(rep)
        try:
            _update_repo(
                engine,
                cache,
                reporter,
                rep,
                repo_id,
                location,
                json.loads(branches),
                json.loads(cursor) if cursor else {},
            )
        except SourceError as e:
            rep.error = str(e)
            reporter.note(f"[red]error[/red] {escape(f'{name}: {e}')}")
    return reports


def _update_repo(
    engine: Engine,
    cache: Path,
    reporter: Reporter,
    rep: SourceReport,
    repo_id: int,
    location: str,
    branches: list[str],
    cursor: dict[str, str],
) -> None:
    gitdir = resolve_repo(location, cache)
    for branch in branches or [gitrepo.default_branch(gitdir)]:
        head = gitrepo.branch_head(gitdir, branch)
        old = cursor.get(branch)
        if old == head:
            continue
        exclude = [old] if old and gitrepo.has_commit(gitdir, old) else []
        shas = gitrepo.rev_list(gitdir, head, exclude)
        with engine.connect() as conn:
            known = known_commits(conn, repo_id, shas)
        todo = [sha for sha in shas if sha not in known]
        with reporter.task(f"{rep.name}: {branch}", len(todo)) as task:
            for records in gitrepo.read_commits(gitdir, todo):
                with engine.begin() as conn:
                    rep.new += store_commits(conn, repo_id, branch, records)
                rep.read += len(records)
                task.advance(len(records))
        cursor[branch] = head
        with engine.begin() as conn:
            # Commits read before through another branch are on this one too.
            add_branch(conn, branch, list(known.values()))
            conn.execute(
                update(s.repos)
                .where(s.repos.c.id == repo_id)
                .values(cursor=json.dumps(cursor, sort_keys=True), last_update=int(time.time()))
            )


def run_update(
    engine: Engine, cache: Path, reporter: Reporter, jobs: int = DEFAULT_JOBS
) -> list[SourceReport]:
    """Ingest only: lists, then repositories."""
    return update_lists(engine, cache, reporter, jobs) + update_repos(engine, cache, reporter)
