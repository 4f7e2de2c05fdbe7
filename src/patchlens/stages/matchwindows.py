"""Matching everything a window of commits at a time: the links `match` gives, without every
posting and commit in memory at once.

`match` indexes every posting, gives each commit its candidates, then assigns. A commit's
candidates depend only on the postings of its neighbourhood (`matchclosure.neighbourhood`:
those its pointers name, of its patch-id, of its title or core title, of its files sent in its
diff window), so they can be drawn, commits in date order a window at a time, from an index of
that neighbourhood alone, read through the postings' lookup keys (written first, a batch at a
time). Assigning reads of a candidate only who sent it, when, under what title, in which
series and version (never its diff or files), and of the commit's index only the postings of
its patch-id (`twin_postings`): what is kept between windows is that much of each candidate
and of those postings, not the postings' line hashes and files, which were most of the 690 MB
a full match of a million postings held.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from sqlalchemy import Connection, select

from patchlens.identity.people import Identities
from patchlens.match.matcher import (
    Candidates,
    CommitInfo,
    Match,
    Posting,
    PostingIndex,
    assign,
    candidates,
)
from patchlens.stages.matchclosure import Loader, neighbourhood, posting_of, write_keys
from patchlens.stages.progress import Task
from patchlens.store import schema

# Commits whose candidates are drawn at a time (in committer date order): the postings read
# for them are those of about their dates plus the diff window before.
WINDOW = 2_000
# Postings read and keyed at a time.
KEY_BATCH = 5_000


@dataclass
class Windowed:
    """What matching everything in windows gives: the links, and how many postings and
    commits it read."""

    links: list[Match] = field(default_factory=list)
    postings: int = 0
    commits: int = 0


def match_in_windows(
    conn: Connection, people: Identities | None, posting_query, task: Task
) -> Windowed:
    """The links of every posting (rows of `posting_query`) against every non-merge commit,
    and the lookup keys of both written (the caller has removed the old ones). `people`
    names the senders and authors matched; it may be None only when there is no commit (a
    posting's keys, its title and files, do not depend on who sent it)."""
    who = people if people is not None else _by_address
    out = Windowed(postings=_write_posting_keys(conn, posting_query, who, task))
    proposed: list[tuple[CommitInfo, Candidates]] = []
    kept = _Kept()
    for window in _windows(conn):
        assert people is not None, "commits to match need identities"
        load = Loader(conn, people)
        commits = load.load_commits(window)
        write_keys(conn, [], commits)
        idx = PostingIndex(load.load_postings(sorted(neighbourhood(conn, commits))))
        for c in commits:
            cands = candidates(c, idx)
            if cands:
                light = [(r, s, kept.posting(p), e) for r, s, p, e in cands]
                proposed.append((kept.commit(c), light))
                kept.same_diff(idx.by_pid.get(c.patch_id, ()) if c.patch_id else ())
        out.commits += len(commits)
        task.advance(len(commits))
    out.links = assign(proposed, kept.index)
    return out


def _write_posting_keys(conn: Connection, posting_query, who, task: Task) -> int:
    """The lookup keys of every posting, written `KEY_BATCH` postings at a time (read through
    a server-side cursor on PostgreSQL, which a plain one would buffer whole); how many."""
    found = conn.execute(posting_query().execution_options(yield_per=KEY_BATCH))
    n = 0
    for rows in found.partitions():
        write_keys(conn, [posting_of(r, who, ()) for r in rows], [])
        n += len(rows)
        task.advance(len(rows))
    return n


def _by_address(name: str, addr: str) -> str:
    """Who sent a posting when no identities are given (a store without commits)."""
    return addr


def _windows(conn: Connection) -> Iterator[list[int]]:
    """The non-merge commits' primary keys in committer date order, `WINDOW` at a time."""
    c = schema.commits
    pks = list(
        conn.execute(
            select(c.c.id).where(~c.c.is_merge).order_by(c.c.committer_date, c.c.id)
        ).scalars()
    )
    for i in range(0, len(pks), WINDOW):
        yield pks[i : i + WINDOW]


class _Kept:
    """What assigning reads, kept once per posting and commit: no line hashes, no files."""

    def __init__(self) -> None:
        self.postings: dict[int, Posting] = {}
        self.index = PostingIndex()  # the postings of the candidates' patch-ids (their twins)

    def posting(self, p: Posting) -> Posting:
        kept = self.postings.get(p.pk)
        if kept is None:
            kept = self.postings[p.pk] = replace(p, hashes=(), files=frozenset())
        return kept

    def commit(self, c: CommitInfo) -> CommitInfo:
        return replace(c, hashes=(), files=frozenset(), aliases={})

    def same_diff(self, postings) -> None:
        for p in postings:
            self.index.add(self.posting(p))
