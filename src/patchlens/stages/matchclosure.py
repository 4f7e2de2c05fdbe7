"""Which links new commits and changed postings can change: the closure incremental matching
redoes (docs/MATCHING.md, "Incremental matching").

The matcher gives each commit its candidates (`match.matcher.candidates`), then lets commits
choose in order of their best candidate, each taking its best posting still free. A commit's
link therefore depends on the commits it shares a candidate with, transitively, and on
nothing else; twins and rivals are read from its own candidates and from the postings of its
patch-id. A commit's candidates depend only on the postings of its neighbourhood: those its
pointers name, of its patch-id, of its title or core title, and those of its files (or their
earlier names) sent in its diff window.

So the closure of the new commits and the owed postings (added, changed or removed) is:
  1. seeds: the new commits; every commit whose neighbourhood holds an owed posting; the
     commits linked to one; the commits whose earlier file names a new commit's rename changes;
  2. every candidate of a commit of the closure, and every commit that may have a posting of
     the closure as a candidate (`may_be_candidate`, a superset), until nothing is added.
Matching the closure's commits on their candidates gives their links as matching everything
does, and no link outside it can change. Lookups go through `match_keys` (64-bit hashes of
titles, core titles, files and pointed Message-IDs; a collision only widens the closure),
`commits.patch_id` and `message_analysis.patch_id`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, delete, or_, select

from patchlens.identity.people import Identities, commit_author
from patchlens.mail.fingerprint import unpack_packed
from patchlens.mail.keys import key_hash
from patchlens.mail.subject import normalize_title
from patchlens.match.matcher import (
    DIFF_WINDOW,
    EARLY,
    Candidates,
    CommitInfo,
    Posting,
    PostingIndex,
    as_set,
    candidates,
    core_title,
    may_be_candidate,
)
from patchlens.match.pointers import pointer_ids
from patchlens.match.renames import MAX_DEPTH, Renames, _dir_move, commit_aliases
from patchlens.queries.sql import bound, dated_between
from patchlens.store import schema

IN_CHUNK = 500
# A closure larger than this is matched by matching everything (one pass is cheaper then).
MAX_CLOSURE_COMMITS = 20_000


def _posting_columns() -> list[Any]:
    """What the matcher reads of a posted patch: its message and analysis."""
    m, a = schema.messages, schema.message_analysis
    return [
        m.c.id,
        m.c.message_id,
        m.c.from_name,
        m.c.from_addr,
        m.c.date_utc,
        a.c.author_name,
        a.c.author_addr,
        a.c.normalized_title,
        a.c.patch_id,
        a.c.files,
    ]


def posting_query():
    """Postings under review, as the matcher sees them."""
    vm, sv, m, a = (
        schema.version_members,
        schema.series_versions,
        schema.messages,
        schema.message_analysis,
    )
    return (
        select(
            *_posting_columns(),
            sv.c.series_key,
            sv.c.version,
            sv.c.resend,
        )
        .select_from(vm)
        .join(sv, sv.c.key == vm.c.version_key)
        .join(m, m.c.id == vm.c.message_pk)
        .join(a, a.c.message_pk == m.c.id)
        # Pull requests and backports re-send patches posted (and matched) elsewhere.
        .where(vm.c.idx > 0, ~sv.c.pull, ~sv.c.backport, m.c.has_patch)
    )


@lru_cache(maxsize=1 << 16)
def file_set(text: str) -> frozenset[str]:
    """The files of a stored JSON list, one shared set per list seen recently: most patches
    touch a set of files others touch too, and a full match holds every posting's."""
    return frozenset(sys.intern(f) for f in json.loads(text))


def posting_of(r, people: Identities, hashes: Collection[int]) -> Posting:
    """A Posting from a row of `posting_query` (or of a message outside any series)."""
    return Posting(
        pk=r.id,
        message_id=r.message_id,
        series_key=sys.intern(r.series_key) if r.series_key else r.series_key,
        version=r.version,
        resend=r.resend,
        author=people(r.author_name or r.from_name, r.author_addr or r.from_addr),
        date=r.date_utc or 0,
        title=r.normalized_title,
        patch_id=r.patch_id,
        files=file_set(r.files),
        hashes=hashes,
    )


def commit_query():
    c = schema.commits
    return select(
        c.c.id,
        c.c.repo_id,
        c.c.author_name,
        c.c.author_email,
        c.c.committer_date,
        c.c.subject,
        c.c.patch_id,
    ).where(~c.c.is_merge)


def rename_rows(conn: Connection, lo: int | None = None, hi: int | None = None):
    """(commit pk, committer date, path, old path) of renamed files, of commits in [lo, hi]."""
    cf, c = schema.commit_files, schema.commits
    q = (
        select(cf.c.commit_pk, c.c.committer_date, cf.c.path, cf.c.old_path)
        .join(c, c.c.id == cf.c.commit_pk)
        .where(cf.c.old_path.is_not(None))
    )
    if lo is not None and hi is not None:
        q = q.where(c.c.committer_date.between(lo, hi))
    return conn.execute(q).all()


# --- lookup keys ---------------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def _h(text: str) -> int:
    """`key_hash`, remembered: the same paths and titles come back for many rows."""
    return key_hash(text)


def posting_keys(p: Posting) -> set[tuple[str, int]]:
    """(kind, hash) a posting is found by: its title, its core title, its files."""
    out = {("f", _h(f)) for f in p.files}
    if p.title:
        out |= {("t", _h(p.title)), ("k", _h(core_title(p.title)))}
    return out


def commit_keys(c: CommitInfo) -> set[tuple[str, int]]:
    """(kind, hash) a commit is found by: its title, its core title, its files and their
    earlier names, the Message-IDs its pointers name."""
    out = {("f", _h(f)) for f in (*c.files, *c.aliases)}
    out |= {("p", _h(m)) for m in c.pointers}
    out |= {("t", _h(c.title)), ("k", _h(core_title(c.title)))}
    return out


def write_keys(
    conn: Connection, postings: Iterable[Posting], commits: Iterable[CommitInfo]
) -> None:
    """Store the lookup keys of postings (side "m") and commits (side "c") that have none
    (the caller removes the old keys of rows it keys again). Straight through the driver:
    there are several keys a row, and SQLAlchemy's per-row binding would cost more than the
    matching."""
    rows = [("m", k, h, p.pk) for p in postings for k, h in posting_keys(p)]
    rows += [("c", k, h, c.pk) for c in commits for k, h in commit_keys(c)]
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO match_keys (side, kind, hash, pk) VALUES ({', '.join([mark] * 4)})"
    for i in range(0, len(rows), 20_000):
        conn.exec_driver_sql(sql, rows[i : i + 20_000])


def _chunks(items: Iterable, n: int = IN_CHUNK) -> Iterator[list]:
    items = list(items)
    for i in range(0, len(items), n):
        yield items[i : i + n]


# --- loading by primary key ------------------------------------------------------------------


class Loader:
    """Postings and commits read by primary key, once each, with the renames their dates
    need (only those of the windows asked for, not the whole history)."""

    def __init__(self, conn: Connection, people: Identities) -> None:
        self.conn, self.people = conn, people
        self.postings: dict[int, Posting] = {}
        self.not_postings: set[int] = set()
        self.commits: dict[int, CommitInfo] = {}
        self._renames = Renames()
        self._span: tuple[int, int] | None = None

    def _hashes(self, kind: str, pks: list[int]) -> dict[int, Collection[int]]:
        """Line hashes kept packed, as `stages.match.load` keeps them: a frozenset costs ~10x
        more, and a window of commits holds translation updates of 100,000 lines each."""
        fp = schema.diff_fingerprints
        return {
            pk: unpack_packed(h)
            for pk, h in self.conn.execute(
                select(fp.c.pk, fp.c.hashes).where(
                    fp.c.kind == kind, fp.c.pk.in_(bound(self.conn, pks))
                )
            )
        }

    def load_postings(self, pks: Iterable[int]) -> list[Posting]:
        """The postings (as matched) among `pks`; the others are remembered as none."""
        todo = sorted({pk for pk in pks} - self.postings.keys() - self.not_postings)
        m = schema.messages
        for part in _chunks(todo):
            hashes = self._hashes("m", part)
            for r in self.conn.execute(posting_query().where(m.c.id.in_(bound(self.conn, part)))):
                self.postings[r.id] = posting_of(r, self.people, hashes.get(r.id, frozenset()))
            self.not_postings.update(pk for pk in part if pk not in self.postings)
        return [self.postings[pk] for pk in pks if pk in self.postings]

    def load_messages(self, pks: Iterable[int]) -> list[Posting]:
        """Messages as postings whatever their series (none: a posting no more): what a
        commit could have seen of them."""
        m, a = schema.messages, schema.message_analysis
        out = []
        for part in _chunks(sorted(set(pks))):
            hashes = self._hashes("m", part)
            q = (
                select(
                    *_posting_columns(),
                )
                .join(a, a.c.message_pk == m.c.id)
                .where(m.c.id.in_(bound(self.conn, part)))
            )
            for r in self.conn.execute(q).mappings():
                row = _Row({**r, "series_key": "", "version": 0, "resend": False})
                out.append(posting_of(row, self.people, hashes.get(r["id"], frozenset())))
        return out

    def _cover(self, lo: int, hi: int) -> None:
        """Renames of [lo - DIFF_WINDOW, hi] loaded (the aliases of commits dated in
        [lo, hi] need them)."""
        lo -= DIFF_WINDOW
        if self._span is not None and self._span[0] <= lo and hi <= self._span[1]:
            return
        if self._span is not None:
            lo, hi = min(lo, self._span[0]), max(hi, self._span[1])
        self._renames = Renames.from_rows(rename_rows(self.conn, lo, hi))
        self._span = (lo, hi)

    def load_commits(self, pks: Iterable[int]) -> list[CommitInfo]:
        """The non-merge commits among `pks`, with files, pointers, fingerprints, aliases."""
        wanted = list(dict.fromkeys(pks))
        todo = sorted(set(wanted) - self.commits.keys())
        c, cf, ct = schema.commits, schema.commit_files, schema.commit_trailers
        found = [
            (
                part,
                self.conn.execute(commit_query().where(c.c.id.in_(bound(self.conn, part)))).all(),
            )
            for part in _chunks(todo)
        ]
        dates = [r.committer_date for _, rows in found for r in rows]
        if dates:
            # The renames of all of them read once: per chunk, a span widened chunk after
            # chunk read the renames again each time (most of a full match's reading).
            self._cover(min(dates), max(dates))
        for part, rows in found:
            if not rows:
                continue
            hashes = self._hashes("c", part)
            files: dict[int, set[str]] = {}
            own: dict[int, list[tuple[str, str]]] = {}
            for pk, path, old in self.conn.execute(
                select(cf.c.commit_pk, cf.c.path, cf.c.old_path).where(
                    cf.c.commit_pk.in_(bound(self.conn, part))
                )
            ):
                files.setdefault(pk, set()).add(path)
                if old and old != path:
                    own.setdefault(pk, []).append((old, path))
            trailers: dict[int, list[tuple[str, str]]] = {}
            for pk, key, value in self.conn.execute(
                select(ct.c.commit_pk, ct.c.key, ct.c.value).where(
                    ct.c.commit_pk.in_(bound(self.conn, part)), ct.c.key.in_(("Link", "Message-ID"))
                )
            ):
                trailers.setdefault(pk, []).append((key, value))
            for r in rows:
                self.commits[r.id] = commit_info(
                    r, self.people, files, own, trailers, hashes, self._renames
                )
        return [self.commits[pk] for pk in wanted if pk in self.commits]


class _Row(dict):
    """A mapping read by attribute, as the rows `posting_of` takes."""

    def __getattr__(self, name: str):
        return self[name]


def commit_info(r, people, files, own, trailers, hashes, renames: Renames) -> CommitInfo:
    """A CommitInfo from a row of `commit_query` and what was read about its files."""
    return CommitInfo(
        pk=r.id,
        repo_id=r.repo_id,
        author=people(*commit_author(r.author_name, r.author_email)),
        date=r.committer_date,
        title=normalize_title(r.subject),
        patch_id=r.patch_id,
        files=frozenset(files.get(r.id, ())),
        hashes=hashes.get(r.id, frozenset()),
        pointers=frozenset(pointer_ids(trailers.get(r.id, ()))),
        aliases=commit_aliases(
            files.get(r.id, ()), own.get(r.id, ()), renames, r.committer_date, DIFF_WINDOW
        ),
    )


# --- lookups -------------------------------------------------------------------------------


def _keyed(
    conn: Connection, side: str, keys: dict[str, set[int]], window=None, undated: bool = False
) -> set[int]:
    """Primary keys of `side` rows holding one of `keys` (kind -> hashes); file keys only
    for rows dated in `window` (lo, hi), and messages without a date too when `undated`
    (others date those by their version: the metrics, stages/match.py _postings_inside)."""
    mk = schema.match_keys
    out: set[int] = set()
    for kind, hashes in keys.items():
        for part in _chunks(sorted(hashes)):
            q = select(mk.c.pk).where(
                mk.c.side == side, mk.c.kind == kind, mk.c.hash.in_(bound(conn, part))
            )
            if kind == "f" and window is not None:
                if side == "m":
                    m = schema.messages
                    # A message without a date is dated 0 by the matcher (`posting_of`).
                    dated = dated_between(m.c.date_utc, *window)
                    q = q.join(m, m.c.id == mk.c.pk).where(
                        or_(dated, m.c.date_utc.is_(None)) if undated else dated
                    )
                else:
                    c = schema.commits
                    q = q.join(c, c.c.id == mk.c.pk).where(c.c.committer_date.between(*window))
            out.update(conn.execute(q).scalars())
    return out


def neighbourhood(conn: Connection, commits: list[CommitInfo]) -> set[int]:
    """Message pks of every posting the commits' candidates are chosen among (a superset):
    named by their pointers, of their patch-ids, titles and core titles, and of their files
    (or earlier names) sent in their diff windows."""
    if not commits:
        return set()
    keys: dict[str, set[int]] = {"t": set(), "k": set(), "f": set()}
    pids, mids = set(), set()
    for c in commits:
        core = core_title(c.title)
        keys["t"] |= {_h(c.title), _h(core)}
        keys["k"].add(_h(core))
        if c.files and c.hashes:
            keys["f"] |= {_h(f) for f in (*c.files, *c.aliases)}
        if c.patch_id:
            pids.add(c.patch_id)
        mids |= c.pointers
    lo = min(c.date for c in commits) - DIFF_WINDOW
    hi = max(c.date for c in commits) + EARLY
    out = _keyed(conn, "m", keys, (lo, hi))
    m, a = schema.messages, schema.message_analysis
    for part in _chunks(sorted(pids)):
        out.update(conn.execute(select(a.c.message_pk).where(a.c.patch_id.in_(part))).scalars())
    for part in _chunks(sorted(mids)):
        out.update(conn.execute(select(m.c.id).where(m.c.message_id.in_(part))).scalars())
    return out


def reverse_neighbourhood(conn: Connection, postings: list[Posting]) -> set[int]:
    """Commit pks whose neighbourhood may hold one of the postings (a superset)."""
    if not postings:
        return set()
    keys: dict[str, set[int]] = {"t": set(), "k": set(), "f": set(), "p": set()}
    pids = set()
    for p in postings:
        keys["p"].add(_h(p.message_id))
        if p.title:
            keys["t"].add(_h(p.title))
            keys["k"] |= {_h(p.title), _h(core_title(p.title))}
        keys["f"] |= {_h(f) for f in p.files}
        if p.patch_id:
            pids.add(p.patch_id)
    lo = min(p.date for p in postings) - EARLY
    hi = max(p.date for p in postings) + DIFF_WINDOW
    out = _keyed(conn, "c", keys, (lo, hi))
    c = schema.commits
    for part in _chunks(sorted(pids)):
        out.update(
            conn.execute(select(c.c.id).where(c.c.patch_id.in_(part), ~c.c.is_merge)).scalars()
        )
    return out


def _in_neighbourhood(c: CommitInfo, p: Posting) -> bool:
    """Whether `p` is in `c`'s neighbourhood (see `neighbourhood`)."""
    if p.message_id in c.pointers or (c.patch_id and p.patch_id == c.patch_id):
        return True
    core = core_title(c.title)
    if p.title and (p.title in (c.title, core) or core_title(p.title) == core):
        return True
    return bool(
        c.files
        and c.hashes
        and p.files & {*c.files, *c.aliases}
        and c.date - DIFF_WINDOW <= p.date <= c.date + EARLY
    )


def renamed_since(conn: Connection, new: list[CommitInfo], since: int) -> set[int]:
    """Stored commits (pk <= since) whose earlier file names the new commits' renames may
    change: dated within DIFF_WINDOW after a rename, touching its new name, a name it was
    renamed to later, or a path under a directory it moved."""
    cf, c = schema.commit_files, schema.commits
    out: set[int] = set()
    rows = []
    for part in _chunks([x.pk for x in new]):
        rows += conn.execute(
            select(cf.c.commit_pk, c.c.committer_date, cf.c.path, cf.c.old_path)
            .join(c, c.c.id == cf.c.commit_pk)
            .where(cf.c.commit_pk.in_(part), cf.c.old_path.is_not(None))
        ).all()
    by_commit: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for pk, date, path, old in rows:
        if old and old != path:
            by_commit.setdefault((pk, date), []).append((old, path))
    for (_pk, date), pairs in by_commit.items():
        names = {path for _old, path in pairs}
        prefixes = {d[1] for d in (_dir_move(o, n) for o, n in pairs) if d}
        for _ in range(MAX_DEPTH):  # later renames of those names
            conds = [cf.c.old_path.in_(sorted(names))] + [
                cf.c.old_path.startswith(pre, autoescape=True) for pre in prefixes
            ]
            found = set(
                conn.execute(
                    select(cf.c.path)
                    .join(c, c.c.id == cf.c.commit_pk)
                    .where(or_(*conds), c.c.committer_date >= date)
                ).scalars()
            )
            if found <= names:
                break
            names |= found
        # LIKE, not a range: a range depends on the database's collation (PostgreSQL's
        # need not be bytewise), and SQLite's case-blind LIKE only widens the set.
        conds = [cf.c.path.in_(sorted(names))] + [
            cf.c.path.startswith(pre, autoescape=True) for pre in prefixes
        ]
        out.update(
            conn.execute(
                select(c.c.id)
                .join(cf, cf.c.commit_pk == c.c.id)
                .where(
                    or_(*conds),
                    c.c.committer_date >= date,
                    c.c.committer_date <= date + DIFF_WINDOW,
                    c.c.id <= since,
                    ~c.c.is_merge,
                )
            ).scalars()
        )
    return out


# --- the closure ---------------------------------------------------------------------------


@dataclass
class Closure:
    """The commits to match again with their candidates, the postings they involve, the
    index those candidates were drawn from; or why everything must be matched instead."""

    proposed: list[tuple[CommitInfo, Candidates]] = field(default_factory=list)
    postings: set[int] = field(default_factory=set)
    index: PostingIndex = field(default_factory=PostingIndex)
    fallback: str = ""


def find_closure(
    conn: Connection, people: Identities, owed: set[int], since: int, newest: int
) -> Closure:
    """The closure of the commits above `since` (up to `newest`) and the owed postings; the
    new commits' lookup keys, and those of the owed postings and of commits whose earlier
    file names changed, are written first (in the caller's transaction)."""
    load = Loader(conn, people)
    out = Closure()
    c = schema.commits
    new_pks = list(
        conn.execute(
            select(c.c.id).where(c.c.id > since, c.c.id <= newest, ~c.c.is_merge).order_by(c.c.id)
        ).scalars()
    )
    new = load.load_commits(new_pks)
    renamed = renamed_since(conn, new, since) if new else set()
    rekeyed = load.load_commits(sorted(renamed))
    mk = schema.match_keys
    for part in _chunks(sorted(renamed)):
        conn.execute(delete(mk).where(mk.c.pk.in_(part), mk.c.side == "c"))
    for part in _chunks(sorted(owed)):
        conn.execute(delete(mk).where(mk.c.pk.in_(part), mk.c.side == "m"))
    owed_now = load.load_postings(sorted(owed))
    write_keys(conn, owed_now, new + rekeyed)

    # Seeds: commits whose neighbourhood holds an owed posting (as a message: a posting
    # removed from review still was in the neighbourhoods it leaves) or which link one.
    seeds: set[int] = set(new_pks) | renamed
    as_messages = load.load_messages(owed)
    for part in _chunks(as_messages, 200):
        near = load.load_commits(sorted(reverse_neighbourhood(conn, part)))
        by_key = _by_lookup(part)
        for ci in near:
            if any(_in_neighbourhood(ci, p) for p in _sharing(ci, by_key)):
                seeds.add(ci.pk)
    pc = schema.patch_commits
    for part in _chunks(sorted(owed)):
        seeds.update(
            conn.execute(select(pc.c.commit_pk).where(pc.c.message_pk.in_(part))).scalars()
        )

    queued_c = set(seeds)
    todo_c = sorted(seeds)
    todo_p: list[int] = [p.pk for p in owed_now]
    queued_p: set[int] = set(todo_p)
    done_c: dict[int, Candidates] = {}
    while todo_c or todo_p:
        if len(queued_c) > MAX_CLOSURE_COMMITS:
            out.fallback = f"closure over {MAX_CLOSURE_COMMITS} commits"
            return out
        if todo_c:
            batch, todo_c = todo_c[:IN_CHUNK], todo_c[IN_CHUNK:]
            infos = load.load_commits(batch)
            for p in load.load_postings(sorted(neighbourhood(conn, infos))):
                out.index.add(p)
            for ci in infos:
                cands = candidates(ci, out.index)
                done_c[ci.pk] = cands
                for x in cands:
                    if x[2].pk not in queued_p:
                        queued_p.add(x[2].pk)
                        todo_p.append(x[2].pk)
            continue
        batch, todo_p = todo_p[:200], todo_p[200:]
        posts = load.load_postings(batch)
        by_key = _by_lookup(posts)
        near = sorted(reverse_neighbourhood(conn, posts) - queued_c)
        for ci in load.load_commits(near):
            sharing = _sharing(ci, by_key)
            if not sharing:
                continue
            # The commit's hashes are kept packed: made a set once for all the postings it
            # is tested against (per pair, a translation update's 100,000 against 200
            # postings took 4 s), and let go with the commit (7 MB for such a set).
            hs = as_set(ci.hashes) if ci.files and ci.hashes else frozenset()
            if any(may_be_candidate(ci, p, c_hashes=hs) for p in sharing):
                queued_c.add(ci.pk)
                todo_c.append(ci.pk)
    out.proposed = [(load.commits[pk], done_c[pk]) for pk in sorted(done_c)]
    out.postings = {x[2].pk for cands in done_c.values() for x in cands}
    # A stored link to a posting of the closure from a commit outside it would mean the
    # closure is not closed: match everything rather than leave two links to one posting.
    for part in _chunks(sorted(out.postings)):
        leak = conn.execute(
            select(pc.c.commit_pk).where(
                pc.c.message_pk.in_(part), pc.c.commit_pk.not_in(sorted(done_c))
            )
        ).first()
        if leak is not None:
            out.fallback = f"commit {leak[0]} links a posting of the closure from outside it"
            return out
    return out


def _lookup_of_posting(p: Posting) -> set[tuple[str, str]]:
    out = {("m", p.message_id)} | {("f", f) for f in p.files}
    if p.patch_id:
        out.add(("i", p.patch_id))
    if p.title:
        out |= {("t", p.title), ("t", core_title(p.title))}
    return out


def _lookup_of_commit(c: CommitInfo) -> set[tuple[str, str]]:
    out = {("m", m) for m in c.pointers} | {("f", f) for f in (*c.files, *c.aliases)}
    if c.patch_id:
        out.add(("i", c.patch_id))
    out |= {("t", c.title), ("t", core_title(c.title))}
    return out


def _by_lookup(postings: Iterable[Posting]) -> dict[tuple[str, str], list[Posting]]:
    out: dict[tuple[str, str], list[Posting]] = {}
    for p in postings:
        for k in _lookup_of_posting(p):
            out.setdefault(k, []).append(p)
    return out


def _sharing(c: CommitInfo, by_key: dict[tuple[str, str], list[Posting]]) -> list[Posting]:
    """The postings that share a lookup with `c`: the only ones it can be related to."""
    seen: dict[int, Posting] = {}
    for k in _lookup_of_commit(c):
        for p in by_key.get(k, ()):
            seen[p.pk] = p
    return list(seen.values())
