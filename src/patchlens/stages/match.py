"""The matching step of `update`: fingerprint what is new, match what it can change (or
everything), store the links that changed."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, func, select

from patchlens.identity.people import Identities, commit_author
from patchlens.mail.fingerprint import fingerprint, pack, unpack_packed
from patchlens.match.inside import INSIDE_WINDOW
from patchlens.match.matcher import CommitInfo, Match, Posting, assign
from patchlens.match.renames import Renames
from patchlens.stages import changes
from patchlens.stages.matchclosure import (
    IN_CHUNK,
    Closure,
    _h,
    _keyed,
    commit_info,
    commit_query,
    file_set,
    find_closure,
    posting_of,
    posting_query,
    rename_rows,
)
from patchlens.stages.matchwindows import match_in_windows
from patchlens.stages.progress import Reporter, StepReport, Task, advancing
from patchlens.store import schema
from patchlens.store.writer import insert_ignore, sync_table

FP_BATCH = 500
# Bump when mail/fingerprint.py changes what it computes: `update` then recomputes every
# stored fingerprint (of postings and of commits) and matches again.
FINGERPRINT_VERSION = 1


@dataclass
class MatchReport(StepReport):
    """How many postings and commits were matched, into how many links, how many of them
    ambiguous (another series' posting fits as well)."""

    postings: int = 0
    commits: int = 0
    links: int = 0
    ambiguous: int = 0
    # True when only the closure of what is new was matched (the counts above are its own).
    incremental: bool = False
    # Why an update that could have matched incrementally matched everything instead.
    fallback: str = ""


_posting_query = posting_query


def fingerprint_new(engine: Engine, reporter: Reporter, everything: bool = False) -> int:
    """Fingerprints for postings and commits that have none yet, or one computed by an older
    FINGERPRINT_VERSION (replaced).

    With "full" owed to matching, no mark of commits yet, or `everything`, every posting and
    commit is looked at; otherwise only the owed postings and the commits above the mark (a newer
    FINGERPRINT_VERSION changes the inputs digest, so the pipeline owes "full" then)."""
    with engine.connect() as conn:
        work = changes.pending(conn, changes.MATCHING)
        since = changes.mark(conn, "commits")
        if work.full or since is None or everything:
            todo = _stale_everywhere(conn)
        else:
            todo = _stale_among(conn, sorted(work.postings), since)
    if not todo:
        return 0
    with reporter.task("fingerprinting diffs", len(todo)) as task:
        for i in range(0, len(todo), FP_BATCH):
            chunk = todo[i : i + FP_BATCH]
            with engine.begin() as conn:
                _fingerprint(conn, chunk)
            task.advance(len(chunk))
    return len(todo)


def _stale_everywhere(conn: Connection) -> list[tuple[str, int]]:
    """(kind, pk) of every posting and non-merge commit without a current fingerprint (a
    commit read without its diff has none: match/horizon.py)."""
    fp = schema.diff_fingerprints
    # Their keys only: PostgreSQL hands a plain query's result over whole, and the postings'
    # other columns (files, titles) would weigh hundreds of megabytes at a million messages.
    posted = set(conn.execute(_posting_query().with_only_columns(schema.messages.c.id)).scalars())
    have: dict[str, set[int]] = {"m": set(), "c": set()}
    stale: dict[str, set[int]] = {"m": set(), "c": set()}
    for kind, pk, version in conn.execute(select(fp.c.kind, fp.c.pk, fp.c.fp_version)):
        (stale if version < FINGERPRINT_VERSION else have)[kind].add(pk)
    c = schema.commits
    commits = {pk for (pk,) in conn.execute(select(c.c.id).where(~c.c.is_merge, ~c.c.diff_skipped))}
    return [("m", pk) for pk in sorted((posted - have["m"]) | stale["m"])] + [
        ("c", pk) for pk in sorted((commits - have["c"]) | stale["c"])
    ]


def _stale_among(conn: Connection, owed: list[int], since: int) -> list[tuple[str, int]]:
    """(kind, pk) of the owed postings and the commits above `since` without a current
    fingerprint: read by key, not by scanning the store."""
    fp, c, m = schema.diff_fingerprints, schema.commits, schema.messages
    todo: list[tuple[str, int]] = []
    for i in range(0, len(owed), IN_CHUNK):
        part = owed[i : i + IN_CHUNK]
        posted = set(conn.execute(_posting_query().where(m.c.id.in_(part))).scalars())
        have = set(
            conn.execute(
                select(fp.c.pk).where(
                    fp.c.kind == "m", fp.c.pk.in_(part), fp.c.fp_version >= FINGERPRINT_VERSION
                )
            ).scalars()
        )
        todo += [("m", pk) for pk in sorted(posted - have)]
    current = select(fp.c.pk).where(
        fp.c.kind == "c", fp.c.pk == c.c.id, fp.c.fp_version >= FINGERPRINT_VERSION
    )
    todo += [
        ("c", pk)
        for pk in conn.execute(
            select(c.c.id)
            .where(c.c.id > since, ~c.c.is_merge, ~c.c.diff_skipped, ~current.exists())
            .order_by(c.c.id)
        ).scalars()
    ]
    return todo


def _fingerprint(conn: Connection, chunk: list[tuple[str, int]]) -> None:
    fp = schema.diff_fingerprints
    rows = []
    for kind, table in (("m", schema.messages), ("c", schema.commits)):
        pks = [pk for k, pk in chunk if k == kind]
        if not pks:
            continue
        conn.execute(delete(fp).where(fp.c.kind == kind, fp.c.pk.in_(pks)))
        for pk, diff in conn.execute(select(table.c.id, table.c.diff).where(table.c.id.in_(pks))):
            rows.append(
                {
                    "kind": kind,
                    "pk": pk,
                    "hashes": pack(fingerprint(diff)),
                    "fp_version": FINGERPRINT_VERSION,
                }
            )
    insert_ignore(conn, schema.diff_fingerprints, rows)


def load(
    conn: Connection, people: Identities | None = None, task: Task | None = None
) -> tuple[list[Posting], list[CommitInfo]]:
    """The matcher's inputs: every posting under review and every non-merge commit, with
    their fingerprints, kept packed (a set per diff made every posting of a million-message
    store cost 2.4 GB); `task` advances per posting read."""
    fp = schema.diff_fingerprints
    hashes = {
        (k, pk): unpack_packed(h)
        for k, pk, h in conn.execute(select(fp.c.kind, fp.c.pk, fp.c.hashes))
    }
    if people is None:
        people = _people(conn)
    postings = [
        posting_of(r, people, hashes.pop(("m", r.id), ()))
        for r in advancing(conn.execute(_posting_query()), task)
    ]
    trailers: dict[int, list[tuple[str, str]]] = {}
    ct = schema.commit_trailers
    for pk, key, value in conn.execute(
        select(ct.c.commit_pk, ct.c.key, ct.c.value).where(ct.c.key.in_(("Link", "Message-ID")))
    ):
        trailers.setdefault(pk, []).append((key, value))
    files: dict[int, set[str]] = {}
    own: dict[int, list[tuple[str, str]]] = {}
    cf = schema.commit_files
    for pk, path, old in conn.execute(select(cf.c.commit_pk, cf.c.path, cf.c.old_path)):
        files.setdefault(pk, set()).add(path)
        if old and old != path:
            own.setdefault(pk, []).append((old, path))
    renames = Renames.from_rows(rename_rows(conn))
    chashes = {pk: h for (k, pk), h in hashes.items() if k == "c"}
    commits = [
        commit_info(r, people, files, own, trailers, chashes, renames)
        for r in conn.execute(commit_query())
    ]
    return postings, commits


def _people(conn: Connection) -> Identities:
    """Identities of every sender and commit author alone (no configuration, no mailmap):
    what matching goes by when the caller gives none."""
    m, c = schema.messages, schema.commits
    people = Identities()
    # Dated and counted, as stages/context.py adds them: a relay's address is told apart.
    senders = select(
        m.c.from_name, m.c.from_addr, func.min(m.c.date_utc), func.max(m.c.date_utc), func.count()
    ).group_by(m.c.from_name, m.c.from_addr)
    authors = select(
        c.c.author_name,
        c.c.author_email,
        func.min(c.c.author_date),
        func.max(c.c.author_date),
        func.count(),
    ).group_by(c.c.author_name, c.c.author_email)
    people.add_spans(
        [
            *conn.execute(senders),
            # Not a commit author a list rewrote: found by name (identity/people.commit_author).
            *(r for r in conn.execute(authors) if commit_author(r[0], r[1]) == (r[0], r[1])),
        ]
    )
    return people


def link_rows(links: list[Match]) -> list[dict[str, object]]:
    return [
        {
            "message_pk": lk.posting,
            "commit_pk": lk.commit,
            "repo_id": lk.repo_id,
            "method": lk.method,
            "score": lk.score,
            "evidence": json.dumps(lk.evidence, sort_keys=True),
            "ambiguous": lk.ambiguous,
        }
        for lk in links
    ]


def run_matching(
    engine: Engine, reporter: Reporter, people: Identities | None = None
) -> MatchReport:
    """Match what is new and store the links that changed, in one transaction with the keys,
    the mark of commits taken in, the items owed to the metrics and `changes.done`.

    With "full" owed, no mark yet or no identities given, every posting against every commit
    (progress: postings as they are read, then the commits once matched). Otherwise only the
    closure of the new commits and the owed postings (`matchclosure`), or everything again
    when that closure cannot be proved closed (`MatchReport.fallback` says why)."""
    rep = MatchReport()
    with engine.begin() as conn:
        work = changes.pending(conn, changes.MATCHING)
        since = changes.mark(conn, "commits")
        newest = conn.execute(select(func.max(schema.commits.c.id))).scalar() or 0
        touched: list[dict[str, object]] = []
        if work.full or since is None or people is None:
            _match_all(conn, reporter, people, rep, touched)
        else:
            closure = find_closure(conn, people, work.postings, since, newest)
            if closure.fallback:
                rep.fallback = closure.fallback
                _match_all(conn, reporter, people, rep, touched)
            else:
                _match_closure(conn, closure, rep, touched)
        if (touched or since is not None) and not _owes_full(conn, changes.METRICS):
            owed = _series_of(conn, touched, people) if touched else set()
            if since is not None:
                owed |= _series_fixed_by(conn, since, newest)
            if owed:
                changes.owe(conn, changes.METRICS, changes.Work(series=owed))
        changes.set_mark(conn, "commits", newest, int(time.time()))
        changes.done(conn, changes.MATCHING)
    return rep


def _match_all(
    conn: Connection,
    reporter: Reporter,
    people: Identities | None,
    rep: MatchReport,
    touched: list[dict[str, object]],
) -> None:
    """Every posting against every commit, a window of commits at a time
    (stages/matchwindows.py); the lookup keys rebuilt from the same rows."""
    c = schema.commits
    n_postings = conn.execute(
        select(func.count()).select_from(_posting_query().subquery())
    ).scalar_one()
    n_commits = conn.execute(select(func.count()).select_from(c).where(~c.c.is_merge)).scalar_one()
    with reporter.task("matching (postings + commits)", n_postings + n_commits) as task:
        conn.execute(delete(schema.match_keys))
        if people is None and n_commits:
            people = _people(conn)
        found = match_in_windows(conn, people, _posting_query, task)
        rep.changed_rows = sync_table(
            conn, schema.patch_commits, ("commit_pk",), link_rows(found.links), touched
        )
    rep.postings, rep.commits = found.postings, found.commits
    rep.links = len(found.links)
    rep.ambiguous = sum(lk.ambiguous for lk in found.links)


def _match_closure(
    conn: Connection, closure: Closure, rep: MatchReport, touched: list[dict[str, object]]
) -> None:
    """The links of the closure's commits, from their candidates; the rest stay as stored."""
    pc = schema.patch_commits
    links = assign(closure.proposed, closure.index)
    rows = link_rows(links)
    pks = [c.pk for c, _ in closure.proposed]
    changed = 0
    for i in range(0, len(pks), IN_CHUNK):
        part = set(pks[i : i + IN_CHUNK])
        changed += sync_table(
            conn,
            pc,
            ("commit_pk",),
            [r for r in rows if r["commit_pk"] in part],
            touched,
            where=pc.c.commit_pk.in_(sorted(part)),
        )
    rep.incremental = True
    rep.changed_rows = changed
    rep.postings, rep.commits = len(closure.postings), len(pks)
    rep.links = len(links)
    rep.ambiguous = sum(lk.ambiguous for lk in links)


def _owes_full(conn: Connection, stage: str) -> bool:
    """Whether `stage` is owed everything already (then naming series adds nothing)."""
    pw = schema.pending_work
    return (
        conn.execute(
            select(pw.c.item).where(pw.c.stage == stage, pw.c.item == changes.FULL)
        ).first()
        is not None
    )


def _series_of(
    conn: Connection, touched: list[dict[str, object]], people: Identities | None = None
) -> set[str]:
    """The series of the postings whose links were written or removed, of every posting of
    the same patches (the same diff, or the same title), and of the postings the commits of
    those links may hold inside them (`_postings_inside`; by anyone when `people` is None):
    a patch posted in another series may go in through a linked one (queries/evidence.py
    went_in_elsewhere)."""
    pks = sorted({int(r["message_pk"]) for r in touched})  # type: ignore[call-overload]
    vm, sv, a = schema.version_members, schema.series_versions, schema.message_analysis
    pids: set[str] = set()
    titles: set[str] = set()
    for i in range(0, len(pks), IN_CHUNK):
        for pid, title in conn.execute(
            select(a.c.patch_id, a.c.normalized_title).where(
                a.c.message_pk.in_(pks[i : i + IN_CHUNK])
            )
        ):
            if pid:
                pids.add(pid)
            if title:
                titles.add(title)
    joined = (
        select(sv.c.series_key)
        .join(vm, vm.c.version_key == sv.c.key)
        .join(a, a.c.message_pk == vm.c.message_pk)
    )
    out: set[str] = set()
    for column, keys, *where in (
        (vm.c.message_pk, pks),
        (a.c.patch_id, sorted(pids)),
        # The partial index of postings' titles.
        (a.c.normalized_title, sorted(titles), a.c.is_posting),
    ):
        for i in range(0, len(keys), IN_CHUNK):
            out.update(
                conn.execute(joined.where(column.in_(keys[i : i + IN_CHUNK]), *where)).scalars()
            )
    commits = sorted({int(r["commit_pk"]) for r in touched})  # type: ignore[call-overload]
    inside = sorted(_postings_inside(conn, commits, people))
    for i in range(0, len(inside), IN_CHUNK):
        out.update(
            conn.execute(joined.where(vm.c.message_pk.in_(inside[i : i + IN_CHUNK]))).scalars()
        )
    return out


def _series_fixed_by(conn: Connection, since: int, newest: int) -> set[str]:
    """The series of the replies that name (message_fixes) a commit taken in since the mark:
    a reply names a commit by the start of its sha, maybe before the repository brings it,
    and the series is "fixed elsewhere" only once the commit is stored (metrics/backlog.py
    fix_notice). The replies' hashes are few; each new sha is tried by its prefixes."""
    if newest <= since:
        return set()  # no new commit: nothing read on a day without one
    mf, c = schema.message_fixes, schema.commits
    named = set(conn.execute(select(mf.c.hash).distinct()).scalars())
    if not named:
        return set()
    lengths = sorted({len(h) for h in named})
    hit = {
        sha[:n]
        for sha in conn.execute(select(c.c.sha).where(c.c.id > since, c.c.id <= newest)).scalars()
        for n in lengths
        if sha[:n] in named
    }
    if not hit:
        return set()
    r, sv = schema.replies, schema.series_versions
    q = (
        select(sv.c.series_key)
        .join(r, r.c.version_key == sv.c.key)
        .join(mf, mf.c.message_pk == r.c.message_pk)
        .distinct()
    )
    keys = sorted(hit)
    out: set[str] = set()
    for i in range(0, len(keys), IN_CHUNK):
        out.update(conn.execute(q.where(mf.c.hash.in_(keys[i : i + IN_CHUNK]))).scalars())
    return out


def _postings_inside(
    conn: Connection, commit_pks: list[int], people: Identities | None = None
) -> set[int]:
    """The postings that `commit_pks` may hold inside them (match/inside.py): without a link
    of their own, dated in the window before one of them (or undated: the metrics date
    those by their version), every file of theirs touched by it, and its author's (as
    queries/evidence.py `went_in_elsewhere` reads both; anyone's when `people` is None).
    Found by their file keys (`match_keys`); the lines are for the metrics to compare."""
    cf, c, a, m = schema.commit_files, schema.commits, schema.message_analysis, schema.messages
    dates: dict[int, int] = {}
    authors: dict[int, str] = {}
    by_file: dict[str, list[int]] = {}
    files: dict[int, set[str]] = {}
    for i in range(0, len(commit_pks), IN_CHUNK):
        for pk, path, date, name, email in conn.execute(
            select(cf.c.commit_pk, cf.c.path, c.c.committer_date, c.c.author_name, c.c.author_email)
            .join(c, c.c.id == cf.c.commit_pk)
            .where(cf.c.commit_pk.in_(commit_pks[i : i + IN_CHUNK]))
        ):
            if pk not in dates:
                dates[pk] = date
                authors[pk] = people(*commit_author(name, email)) if people else ""
            files.setdefault(pk, set()).add(path)
            by_file.setdefault(path, []).append(pk)
    if not dates:
        return set()
    keys = {"f": {_h(f) for f in by_file}}
    window = (min(dates.values()) - INSIDE_WINDOW, max(dates.values()))
    found = _keyed(conn, "m", keys, window=window, undated=True)
    linked = _linked(conn, sorted(found))
    out: set[int] = set()
    cand = sorted(found - linked)
    for i in range(0, len(cand), IN_CHUNK):
        for r in conn.execute(
            select(
                a.c.message_pk,
                a.c.files,
                a.c.author_name,
                a.c.author_addr,
                m.c.from_name,
                m.c.from_addr,
                m.c.date_utc,
            )
            .join(m, m.c.id == a.c.message_pk)
            .where(a.c.message_pk.in_(cand[i : i + IN_CHUNK]))
        ):
            mine = file_set(r.files)
            if not mine:
                continue
            who = (
                people(*commit_author(r.author_name or r.from_name, r.author_addr or r.from_addr))
                if people
                else ""
            )
            if any(
                mine <= files[cpk]
                and who == authors[cpk]
                and (r.date_utc is None or 0 <= dates[cpk] - r.date_utc <= INSIDE_WINDOW)
                for cpk in by_file.get(min(mine), ())
            ):
                out.add(r.message_pk)
    return out


def _linked(conn: Connection, pks: list[int]) -> set[int]:
    pc = schema.patch_commits
    out: set[int] = set()
    for i in range(0, len(pks), IN_CHUNK):
        out.update(
            conn.execute(
                select(pc.c.message_pk).where(pc.c.message_pk.in_(pks[i : i + IN_CHUNK]))
            ).scalars()
        )
    return out
