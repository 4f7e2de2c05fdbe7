"""The metrics stage of `update`: one row of metrics per series, rewritten where it changed."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, or_, select, update

from patchlens.identity.maintainers import first_names
from patchlens.identity.people import Identities
from patchlens.metrics.backlog import facts, fix_notice, merge_notice
from patchlens.metrics.compute import series_metrics
from patchlens.metrics.model import ReplyFacts, SeriesFacts
from patchlens.metrics.prediction_features import stored_landmarks, stored_record
from patchlens.metrics.roles import expected_roles, first_responses
from patchlens.queries.evidence import first_dates, first_dates_of, load_series, people_of
from patchlens.queries.sql import among, chunks, rows_in
from patchlens.stages import changes, prerequisites, pulled
from patchlens.stages.maintainer_people import MaintainerPeople
from patchlens.stages.progress import Reporter, StepReport, advancing
from patchlens.store import schema
from patchlens.store.writer import sync_table

OrgOf = Callable[[str, int], str]
# A series' MAINTAINERS section titles and the identities its M:/R: lines name for the
# touched files (as get_maintainer.pl would), optionally followed by those of them named by R:
# only (metrics/roles.py: a listed reviewer, not a maintainer); None without MAINTAINERS.
SubsystemsOf = Callable[
    [SeriesFacts],
    tuple[tuple[str, ...], frozenset[str]]
    | tuple[tuple[str, ...], frozenset[str], frozenset[str]]
    | None,
]


@dataclass
class MetricsReport(StepReport):
    """How many series got a metrics row, and how long the step took (`update` prints it)."""

    series: int = 0
    seconds: float = 0.0


# The date the stored state facts are decided at: after everything in the store, so that a
# row does not depend on the day it was computed (a message dated in the future counts at
# once, as it will once that day comes); the state itself is decided at query time.
EVERYTHING_KNOWN = 2**62


def metric_rows(
    all_series: Iterable[SeriesFacts],
    paths: set[str],
    org_of: OrgOf,
    subsystems_of: SubsystemsOf,
    registered: bool | None = None,
) -> list[dict[str, Any]]:
    """Pure: the series_metrics rows, one per series under review (pull requests and stable
    backports are not: see `pull_rows`). `paths` are the repository paths (at least those
    the series touch); `registered` whether any repository has a path (by default, whether
    `paths` is empty)."""
    registered = bool(paths) if registered is None else registered
    rows = []
    for se in all_series:
        if se.kind != "series":
            continue
        files = {f for v in se.versions for p in v.patches.values() for f in p.files}
        in_repo = not registered or not files or bool(files & paths)
        # A series without a diff is stored with repo_registered false (metrics/backlog.py
        # facts): like a store without a repository, it is unknown when idle, not abandoned.
        f = facts(se, EVERYTHING_KNOWN, in_repo, repo_registered=registered)
        assert f is not None
        notice = merge_notice(se.versions) if f.merged_by == "notice" else None
        m = series_metrics(se)
        subs = subsystems_of(se)
        unanswered = None
        if subs is not None and subs[0]:
            who = {r.who for v in se.versions for r in v.replies if r.reviewer}
            unanswered = not (who & subs[1])
        expected = _expected_roles(subs)
        first = first_responses(se, expected)
        rows.append(
            {
                "series_key": se.key,
                "title": se.current.title or se.title,
                "author": se.author,
                "author_addr": se.author_addr,
                "org": org_of(se.author_addr, se.first_date),
                "new_contributor": se.new_contributor,
                "in_repo": in_repo,
                "subsystems": json.dumps(list(subs[0]) if subs else []),
                "unanswered_by_subsystem": unanswered,
                **{k: v for k, v in m.items() if k not in ("series_key", "anomalies")},
                "anomalies": json.dumps(m["anomalies"]),
                "merged": f.merged,
                "nearly_complete": f.nearly_complete,
                "has_reviewer_reply": f.has_reviewer_reply,
                "reviewer_spoke_last": f.reviewer_spoke_last,
                "merged_by": f.merged_by or None,
                "merge_evidence": _merge_evidence(notice, se),
                "repo_registered": f.repo_registered,
                "search_text": search_text(se),
                "expected_roles": json.dumps(expected, sort_keys=True),
                "first_response_role": first.role,
                "first_responder": first.who,
                **{f"time_to_first_response_{k}": v for k, v in first.by_role.items()},
                "blocked_until": f.blocked_until,
                "fixed_at": f.fixed_at,
                "fixed_by": _fix_evidence(se) if f.fixed_at is not None else None,
                **stored_record(se),
                "landmark_features": stored_landmarks(se, expected),
            }
        )
    return rows


def _expected_roles(subs: Any) -> dict[str, str]:
    """identity -> maintainer | reviewer, from what `subsystems_of` gave (metrics/roles.py)."""
    if not subs:
        return {}
    named = frozenset(subs[1])
    listed = frozenset(subs[2]) if len(subs) > 2 else frozenset()
    return expected_roles(named - listed, named & listed)


def _merge_evidence(notice: ReplyFacts | None, se: SeriesFacts) -> str | None:
    """What a series' merge rests on, as stored JSON: the notice of a merge by notice
    (`_evidence`), and under "through" the patches that went in through another series'
    posting of the same patch (queries/evidence.py went_in_elsewhere) as [the patch's
    Message-ID, the linked posting's] pairs, so that a merge is traceable when none of its
    own patches is linked. None when there is neither."""
    d = json.loads(_evidence(notice) or "{}")
    pairs = sorted(
        {(p.message_id, p.through) for v in se.versions for p in v.patches.values() if p.through}
    )
    if pairs:
        d["through"] = [list(x) for x in pairs]
    return json.dumps(d, sort_keys=True) if d else None


def _fix_evidence(se: SeriesFacts) -> str | None:
    """The reply that says another commit fixed or replaced the series (metrics/backlog.py
    fix_notice), as stored JSON (`_reply_json`) with the commits it names ([sha, subject]
    each)."""
    r = fix_notice(se.versions)
    return None if r is None else _reply_json(r, commits=[list(c) for c in r.fixed_by])


def _evidence(r: ReplyFacts | None) -> str | None:
    """The notice a merge by notice rests on, as stored JSON (`_reply_json`) with its kind and
    the tree it names."""
    if r is None:
        return None
    return _reply_json(r, kind=r.notices[0], tree=r.notice_tree or None)


def _reply_json(r: ReplyFacts, **more: object) -> str:
    """A reply as stored evidence: traceable to its message by its Message-ID (not the
    store's row number, which depends on the order mail was read), its sender, its date
    (ISO 8601 UTC, as the API and the exports give every instant), and `more`."""
    return json.dumps(
        {
            "message_id": r.message_id,
            "who": r.who,
            "date": datetime.fromtimestamp(r.date, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **more,
        },
        sort_keys=True,
    )


def search_text(se: SeriesFacts) -> str:
    """Every version's title and every patch subject, casefolded, one per line: what a search
    of the series matches, so that an old title or one patch's subject finds it."""
    seen = dict.fromkeys(
        t.casefold()
        for t in [se.title]
        + [v.title for v in se.versions]
        + [p.subject for v in se.versions for p in v.patches.values()]
        if t
    )
    return "\n".join(seen)


def pull_rows(all_series: list[SeriesFacts]) -> list[dict[str, Any]]:
    """Pure: one row per pull request, merged when a notice (pr-tracker-bot's "has been merged
    into ...", a maintainer's "Applied, thanks") says so."""
    rows = []
    for se in all_series:
        if se.kind != "pull":
            continue
        notice = merge_notice(se.versions)
        replies = [r for v in se.versions for r in v.replies]
        rows.append(
            {
                "series_key": se.key,
                "title": se.title,
                "author": se.author,
                "author_addr": se.author_addr,
                "first_date": se.first_date,
                "last_date": max([v.date for v in se.versions] + [r.date for r in replies]),
                "versions": len(se.versions),
                "replies": sum(1 for r in replies if not r.is_author),
                "merged_by": "notice" if notice else None,
                "merged_date": notice.date if notice else None,
                "merge_evidence": _evidence(notice),
            }
        )
    return rows


# The largest commit key whose files the stored in_repo flags have seen (stages/changes.py).
COMMITS_MARK = "metrics-commits"


def run_metrics(
    engine: Engine,
    reporter: Reporter,
    org_of: OrgOf,
    subsystems_of: SubsystemsOf,
    now: int | None = None,
    people: Identities | None = None,
    is_bot: Callable[[str, str], bool] = lambda name, addr: False,
    sections: list[tuple[Any, int | None]] | None = None,
    maintainers_dates: list[int | str] | None = None,
    maintainer_people: MaintainerPeople | None = None,
) -> MetricsReport:
    """Series metrics, pull requests, review events and people, redone where they can have
    changed; subsystems from the newest MAINTAINERS. One transaction, which also drops the
    items the step was owed.

    Everything is recomputed when the step is owed "full", when it never ran (no commits
    mark), or when a repository came in or went (every series' `repo_registered` changes).
    Otherwise only the owed series (and those of owed postings), the series a new commit's
    paths put in a repository, the series posted after a MAINTAINERS version that is new
    (`maintainers_dates`: the dates of the versions `subsystems_of` reads), the
    new-contributor flags the owed series move, the people who sent the owed new messages,
    and the series that name a MAINTAINERS entry looked up before (`maintainer_people`, the
    look-up `subsystems_of` uses) that is another identity now. `now` only dates the step's
    mark: no stored row depends on the wall clock. Its progress counts the series
    recomputed."""
    t0 = time.perf_counter()
    rep = MetricsReport()
    when = int(time.time()) if now is None else now
    with engine.begin() as conn:
        work = changes.pending(conn, changes.METRICS)
        people = people or people_of(conn)
        registered = repo_registered(conn)
        since = changes.mark(conn, COMMITS_MARK)
        newest = conn.execute(select(func.max(schema.commits.c.id))).scalar() or 0
        # None before the first metrics run (and in a store older than METRICS_VERSION 20,
        # whose version change owes everything anyway).
        stored_registered = changes.state(conn, schema.METRICS_REGISTERED)
        full = (
            work.full
            or since is None
            or (stored_registered is not None and stored_registered != str(int(registered)))
        )
        if not full and maintainer_people is not None and (moved := maintainer_people.moved(conn)):
            naming = series_naming(conn, moved)
            work.series |= naming
            maintainer_people.found_moved = bool(naming)
        if full:
            rep.series = _redo_all(conn, reporter, rep, org_of, subsystems_of, people, is_bot)
        else:
            later = _new_maintainers_from(conn, maintainers_dates)
            if later is not None:
                work.series |= series_posted_since(conn, later)
            rep.series = _redo_owed(
                conn, reporter, rep, work, since, org_of, subsystems_of, people, is_bot
            )
        _remember_maintainers(conn, maintainers_dates, when)
        if maintainer_people is not None:
            # The newest file's people too: the subsystem pages list their queues. Each
            # address under the one name the series' look-ups give it (`first_names`).
            for email, name in first_names(sec for sec, _repo in sections or []).items():
                maintainer_people(name, email)
            maintainer_people.remember(conn, full, when)
        rep.changed_rows += sync_table(
            conn, schema.subsystems, ("title",), subsystem_rows(sections or [])
        )
        if changes.state(conn, schema.METRICS_REGISTERED) != str(int(registered)):
            changes.set_state(conn, schema.METRICS_REGISTERED, str(int(registered)), when)
        relays = json.dumps(people.relay_owners(), sort_keys=True)
        if changes.state(conn, schema.RELAY_OWNERS) != relays:
            changes.set_state(conn, schema.RELAY_OWNERS, relays, when)
        changes.set_mark(conn, COMMITS_MARK, newest, when)
        changes.done(conn, changes.METRICS)
    rep.seconds = time.perf_counter() - t0
    return rep


MAINTAINERS_SEEN = schema.MAINTAINERS_SEEN


def _new_maintainers_from(conn: Connection, dates: list[int | str] | None) -> int | None:
    """The earliest date from which the MAINTAINERS history differs from the one the stored
    rows were computed with (a version added, or gone), or None when it is the same. A
    version dated D decides the subsystems of the series posted from D on; the oldest
    version also those before it, so a new oldest version changes all. Each repository's
    file is a history of its own ("repository:date", stages/pipeline.py maintainers_dates;
    a bare date is the one file's)."""
    text = changes.state(conn, MAINTAINERS_SEEN)
    before = Counter(str(d) for d in (json.loads(text) if text else []))
    now = Counter(str(d) for d in (dates or []))
    changed = list((before - now) + (now - before))
    if not changed:
        return None
    split = schema.maintainers_seen
    start: int | None = None
    for repo in {split(k)[0] for k in changed}:
        moved = [d for r, d in map(split, changed) if r == repo]
        oldest = min(d for r, d in map(split, [*before, *now]) if r == repo)
        at = -(2**62) if min(moved) <= oldest else min(moved)
        start = at if start is None else min(start, at)
    return start


def _remember_maintainers(conn: Connection, dates: list[int | str] | None, when: int) -> None:
    changes.set_state(conn, MAINTAINERS_SEEN, json.dumps(sorted(str(d) for d in dates or [])), when)


def series_naming(conn: Connection, identities: set[str]) -> set[str]:
    """The series whose expected reviewers (`expected_roles`, JSON keyed by identity) name
    any of `identities`: the quoted key exactly, LIKE's wildcards escaped."""
    sm = schema.series_metrics
    out: set[str] = set()
    for chunk in chunks(sorted(identities), 50):  # one pass over the table per 50
        q = select(sm.c.series_key).where(
            or_(*(sm.c.expected_roles.contains(json.dumps(i), autoescape=True) for i in chunk))
        )
        out.update(k for (k,) in conn.execute(q))
    return out


def series_posted_since(conn: Connection, date: int) -> set[str]:
    """The series under review first posted at or after `date` (by the first-date index)."""
    sm = schema.series_metrics
    return {k for (k,) in conn.execute(select(sm.c.series_key).where(sm.c.first_date >= date))}


# Series a full rebuild loads and writes at a time: the loaded facts of every series of a
# million-message store do not fit in memory at once (2.6 GB and growing when measured), a
# batch's do.
FULL_BATCH = 10_000


def _redo_all(
    conn: Connection,
    reporter: Reporter,
    rep: MetricsReport,
    org_of: OrgOf,
    subsystems_of: SubsystemsOf,
    people: Identities,
    is_bot: Callable[[str, str], bool],
) -> int:
    """Every row from every series and message (the first run, or "full" owed), in batches
    of series by key, each batch written as an owed set would be; the rows of series that
    are gone are dropped first. The new-contributor flag, the one fact that crosses series,
    comes from every series' first date, read once."""
    st = schema.series
    keys = [k for (k,) in conn.execute(select(st.c.key).order_by(st.c.key))]
    rep.changed_rows += _drop_gone(conn)
    # What every pull request lists, before any batch: a series reads the items naming it.
    rep.changed_rows += pulled.sync(conn, None)[0]
    first = first_dates(conn, people)
    registered = repo_registered(conn)
    done = 0
    with reporter.task("computing metrics (series)", len(keys)) as task:
        for i in range(0, len(keys), FULL_BATCH):
            batch = set(keys[i : i + FULL_BATCH])
            done += _redo_series(
                conn, rep, batch, first, org_of, subsystems_of, people, registered, task, is_bot
            )
    rep.changed_rows += sync_table(
        conn, schema.people, ("identity",), people_rows(conn, people, org_of, is_bot)
    )
    return done


def _drop_gone(conn: Connection) -> int:
    """Delete the per-series rows whose series no longer exists (a full rebuild writes the
    others batch by batch, each batch only over its own keys)."""
    gone = 0
    keys = select(schema.series.c.key)
    for t in (
        schema.series_metrics,
        schema.pull_requests,
        schema.review_events,
        schema.series_prerequisites,
    ):
        gone += conn.execute(delete(t).where(t.c.series_key.not_in(keys))).rowcount or 0
    # (A tree robot's note is keyed by its Message-ID: `pulled.sync` rewrites every item.)
    pi = schema.pull_items
    gone += conn.execute(delete(pi).where(pi.c.pull_key.not_in(keys))).rowcount or 0
    return gone


def _redo_owed(
    conn: Connection,
    reporter: Reporter,
    rep: MetricsReport,
    work: changes.Work,
    since: int,
    org_of: OrgOf,
    subsystems_of: SubsystemsOf,
    people: Identities,
    is_bot: Callable[[str, str], bool],
) -> int:
    """The rows that the owed items and the commits above `since` can change, and no other.

    A series' rows depend on its own versions, members, replies and links (owed by the steps
    before), on whether its files are in a repository (paths only grow: a series outside may
    come in when a commit brings one of its files), and, for the new-contributor flag, on the
    first dates of its author's other series (fixed afterwards, for every author)."""
    keys = set(work.series) | series_of_postings(conn, work.postings)
    keys |= series_gaining_paths(conn, since)
    # A change in a series may merge (or unmerge) the prerequisite of another, or be the
    # prerequisite a stored series named before it arrived: those dependents are owed too.
    # A pull request that changed lists (or no longer lists) other series: they are owed,
    # and read its new items when loaded. Before the dependents: a series it merges may be
    # the prerequisite of another.
    changed, listed = pulled.sync(conn, pulled.pull_keys_among(conn, keys))
    rep.changed_rows += changed
    keys |= listed
    # A tree robot's note among the new mail ('patch "x" added to usb-testing') likewise.
    changed, listed = pulled.sync_notes(conn, work.messages)
    rep.changed_rows += changed
    keys |= listed
    # A new posting of a title an item lists may take the item from an older posting.
    keys |= pulled.listed_titles(conn, work.messages)
    keys |= prerequisites.dependents_of(conn, keys)
    with reporter.task("computing metrics (series)", len(keys)) as task:
        authors = _authors_of(conn, people, keys)
        first = _FirstDates(conn, people, first_dates_of(conn, people, authors))
        done = _redo_series(
            conn,
            rep,
            keys,
            first,
            org_of,
            subsystems_of,
            people,
            repo_registered(conn),
            task,
            is_bot,
        )
    rep.changed_rows += fix_new_contributors(conn, first, authors | set(first), is_bot)
    who = senders_of(conn, people, work.messages)
    if who:
        pe = schema.people
        rep.changed_rows += sync_table(
            conn,
            pe,
            ("identity",),
            people_rows(conn, people, org_of, is_bot, who),
            where=among(conn, pe.c.identity, who),
        )
    return done


def _redo_series(
    conn: Connection,
    rep: MetricsReport,
    keys: set[str],
    first: dict[str, int],
    org_of: OrgOf,
    subsystems_of: SubsystemsOf,
    people: Identities,
    registered: bool,
    task: Any,
    is_bot: Callable[[str, str], bool],
) -> int:
    """Rewrite the metrics, pull-request, review-event and prerequisite rows of the series
    of `keys` (and no other); the number of series rows computed."""
    loaded = load_series(conn, people, keys, first=first)
    for se in loaded:
        se.new_contributor = se.new_contributor and not robot_author(se.author_addr, is_bot)
    prereq = prerequisites.rows(conn, keys)
    prerequisites.set_blocked(conn, people, loaded, prereq, first)
    sp = schema.series_prerequisites
    rep.changed_rows += sync_table(
        conn, sp, ("series_key", "seq"), prereq, where=among(conn, sp.c.series_key, keys)
    )
    files = {
        f
        for se in loaded
        for v in se.versions
        for p in v.patches.values()
        for f in (*p.files, *p.old_files)
    }
    where = repos_holding(conn, files)
    for se in loaded:
        se.repo = home_repo(se, where)
    rows = metric_rows(
        advancing(loaded, task),
        set(where),
        org_of,
        subsystems_of,
        registered=registered,
    )
    sm, pr, ev = schema.series_metrics, schema.pull_requests, schema.review_events
    rep.changed_rows += sync_table(
        conn, sm, ("series_key",), rows, where=among(conn, sm.c.series_key, keys)
    )
    rep.changed_rows += sync_table(
        conn, pr, ("series_key",), pull_rows(loaded), where=among(conn, pr.c.series_key, keys)
    )
    events = event_rows(loaded, org_of)
    # A reply that moved from a series not among `keys` (it cannot in an owed set: both are
    # owed when a reply row changes; in a full rebuild the other batch rewrites it) is still
    # found by its key.
    rep.changed_rows += sync_table(
        conn,
        ev,
        ("message_pk",),
        events,
        where=among(conn, ev.c.series_key, keys)
        | among(conn, ev.c.message_pk, [e["message_pk"] for e in events]),
    )
    return len(rows)


def repo_registered(conn: Connection) -> bool:
    """Whether any registered repository's history touched a file (without reading every
    path): each series' `repo_registered`, and whether the prediction step fits a model."""
    cf = schema.commit_files
    return conn.execute(select(cf.c.commit_pk).limit(1)).first() is not None


def repos_holding(conn: Connection, files: Iterable[str]) -> dict[str, set[int]]:
    """Those of `files` that a registered repository's history touched (as path or old
    path), each with the repositories that touched it, by the path indexes: every path the
    history touched would not fit at scale."""
    cf, c = schema.commit_files, schema.commits
    found: dict[str, set[int]] = {}
    for chunk in chunks(sorted(set(files))):
        for col in (cf.c.path, cf.c.old_path):
            for path, repo in conn.execute(
                select(col, c.c.repo_id)
                .join(c, c.c.id == cf.c.commit_pk)
                .where(col.in_(chunk))
                .distinct()
            ):
                found.setdefault(path, set()).add(repo)
    return found


def home_repo(se: SeriesFacts, where: dict[str, set[int]]) -> int | None:
    """The repository most of the series' paths (its files and the old paths of those it
    renames, as MAINTAINERS looks them up) are in, by `where` (`repos_holding`); on a tie
    the one registered first; None when no repository holds any. Pure."""
    count: dict[int, int] = {}
    for f in {f for v in se.versions for p in v.patches.values() for f in (*p.files, *p.old_files)}:
        for repo in where.get(f, ()):
            count[repo] = count.get(repo, 0) + 1
    return min(count, key=lambda r: (-count[r], r)) if count else None


def series_of_postings(conn: Connection, postings: Iterable[int]) -> set[str]:
    """The series the postings belong to now (a posting in none names none)."""
    vm, sv = schema.version_members, schema.series_versions
    out: set[str] = set()
    for chunk in chunks(sorted(set(postings))):
        out |= {
            k
            for (k,) in conn.execute(
                select(sv.c.series_key)
                .join(vm, vm.c.version_key == sv.c.key)
                .where(vm.c.message_pk.in_(chunk))
            )
        }
    return out


def series_gaining_paths(conn: Connection, since: int) -> set[str]:
    """Series stored as outside every repository (in_repo False) that touch a path the
    commits above `since` brought in for the first time: their in_repo flips. Paths only
    grow, so no series goes the other way. With more than one repository registered, also
    every series touching (or renaming from) a path one repository's new commits brought
    into it: the repository the series' files are mostly in (`home_repo`), whose
    MAINTAINERS it is looked up in, may be another now."""
    cf, c = schema.commit_files, schema.commits
    touched: dict[str, set[int]] = {}
    for path, old, repo in conn.execute(
        select(cf.c.path, cf.c.old_path, c.c.repo_id)
        .join(c, c.c.id == cf.c.commit_pk)
        .where(cf.c.commit_pk > since)
    ):
        for p in (path, old):
            if p:
                touched.setdefault(p, set()).add(repo)
    if not touched:
        return set()
    seen = repo_paths_among_before(conn, set(touched), since)
    several = (conn.execute(select(func.count()).select_from(schema.repos)).scalar() or 0) > 1
    gained = {p for p, repos in touched.items() if repos - seen.get(p, set())}
    if not several:
        gained = {p for p in gained if p not in seen}
    if not gained:
        return set()
    sm, sv, vm, a = (
        schema.series_metrics,
        schema.series_versions,
        schema.version_members,
        schema.message_analysis,
    )
    q = (
        select(sv.c.series_key, a.c.files, a.c.old_files)
        .join(sm, sm.c.series_key == sv.c.series_key)
        .join(vm, vm.c.version_key == sv.c.key)
        .join(a, a.c.message_pk == vm.c.message_pk)
        .where(vm.c.idx > 0)
    )
    if several and len(gained) <= GAINED_IN_SQL:
        # Every series may move then, not only those outside: the postings naming a gained
        # path (as JSON writes it) are found by the database, not parsed here one by one
        # (1.85 s at a million against 0.2 s); LIKE, which PostgreSQL has as SQLite does.
        needles = [json.dumps(p) for p in sorted(gained)]
        q = q.where(
            or_(
                *(
                    col.contains(n, autoescape=True)
                    for n in needles
                    for col in (a.c.files, a.c.old_files)
                )
            )
        )
    elif not several:
        q = q.where(~sm.c.in_repo)
    out: set[str] = set()
    for key, text, old in conn.execute(q):
        if key in out:
            continue
        paths = set(json.loads(text))
        if several:
            paths.update(json.loads(old or "[]"))
        if gained & paths:
            out.add(key)
    return out


# Gained paths looked for in the database (`series_gaining_paths`); more (a repository just
# registered brings all of its paths) are read in one pass here.
GAINED_IN_SQL = 200


def repo_paths_among_before(conn: Connection, paths: set[str], since: int) -> dict[str, set[int]]:
    """Those of `paths` that commits up to `since` touched already, each with the
    repositories whose commits did."""
    cf, c = schema.commit_files, schema.commits
    found: dict[str, set[int]] = {}
    for chunk in chunks(sorted(paths)):
        for col in (cf.c.path, cf.c.old_path):
            for p, repo in conn.execute(
                select(col, c.c.repo_id)
                .join(c, c.c.id == cf.c.commit_pk)
                .where(col.in_(chunk), cf.c.commit_pk <= since)
                .distinct()
            ):
                found.setdefault(p, set()).add(repo)
    return found


def _authors_of(conn: Connection, people: Identities, keys: set[str]) -> set[str]:
    """The authors the owed series `keys` had (their stored metrics rows) and have now (their
    first versions): the only authors whose first date, and so whose series' new-contributor
    flags, the owed work can move (a change of grouping owes every series)."""
    sm, sv = schema.series_metrics, schema.series_versions
    authors: set[str] = set()
    for chunk in chunks(sorted(keys)):
        authors.update(
            conn.execute(select(sm.c.author).where(sm.c.series_key.in_(chunk))).scalars()
        )
        seen: set[str] = set()
        for key, name, addr in conn.execute(
            select(sv.c.series_key, sv.c.author_name, sv.c.author_addr)
            .where(sv.c.series_key.in_(chunk))
            .order_by(sv.c.series_key, sv.c.seq)
        ):
            if key not in seen:  # the first version gives the series' author
                seen.add(key)
                authors.add(people(name, addr))
    return authors


class _FirstDates(dict[str, int]):
    """First dates of some authors (`first_dates_of`), reading another author's on first
    use: a prerequisite series loaded beside the owed ones may have an author outside them."""

    def __init__(self, conn: Connection, people: Identities, known: dict[str, int]) -> None:
        super().__init__(known)
        self.conn, self.people = conn, people

    def __missing__(self, author: str) -> int:
        found = first_dates_of(self.conn, self.people, {author})
        if author not in found:
            raise KeyError(author)
        self[author] = found[author]
        return found[author]


def robot_author(addr: str, is_bot: Callable[[str, str], bool]) -> bool:
    """A series sent from a robot's address (the kernel test robot's own "[PATCH]"es, by
    lkp@intel.com) has no new contributor behind it, whichever series is the robot's first.
    By the address alone, which the stored rows keep: a robot's name on a person's address
    ("kernel test robot <oliver.sang@intel.com>") is not judged here, where `identity_rows`
    makes such a sender a bot when all their mail is a robot's (a flag that new mail can
    flip, which no series would be owed for)."""
    return is_bot("", addr)


def fix_new_contributors(
    conn: Connection,
    first: dict[str, int],
    authors: set[str] | None = None,
    is_bot: Callable[[str, str], bool] = lambda name, addr: False,
) -> int:
    """Set the new-contributor flag of every stored series (or of the series of `authors`)
    to what the first dates of all series say (`first_dates`, or `first_dates_of` those
    authors); returns how many rows changed. A new or re-dated series of an author, or one
    gone, moves the flag of their other series, whichever they are: the rule is checked for
    them all, from narrow indexed reads, and only flips are written."""
    sm = schema.series_metrics
    query = select(
        sm.c.series_key, sm.c.author, sm.c.author_addr, sm.c.first_date, sm.c.new_contributor
    )
    rows = (
        conn.execute(query)
        if authors is None
        else (
            r
            for chunk in chunks(sorted(authors))
            for r in conn.execute(query.where(sm.c.author.in_(chunk)))
        )
    )
    flips = [
        (key, not flag)
        for key, author, addr, date, flag in rows
        if (date == first.get(author) and not robot_author(addr, is_bot)) != bool(flag)
    ]
    for value in (True, False):
        flipped = [k for k, v in flips if v is value]
        for chunk in chunks(flipped):
            conn.execute(update(sm).where(sm.c.series_key.in_(chunk)).values(new_contributor=value))
    return len(flips)


def senders_of(
    conn: Connection, people: Identities, messages: Iterable[int]
) -> dict[str, set[str]]:
    """The identities that sent the given messages, each with the addresses it sent them
    from."""
    m = schema.messages
    out: dict[str, set[str]] = {}
    for chunk in chunks(sorted(set(messages))):
        for n, a in conn.execute(select(m.c.from_name, m.c.from_addr).where(m.c.id.in_(chunk))):
            out.setdefault(people(n, a), set()).add(a)
    return out


def event_rows(all_series: list[SeriesFacts], org_of: OrgOf) -> list[dict[str, Any]]:
    """Pure: one row per reviewer reply."""
    return [
        {
            "message_pk": r.pk,
            "series_key": se.key,
            "who": r.who,
            "org": org_of(r.addr, r.date),
            "date": r.date,
            "review": r.review,
            "substantive": r.substantive,
            "lines_written": r.lines_written,
        }
        for se in all_series
        if se.kind == "series"
        for v in se.versions
        for r in v.replies
        if r.reviewer
    ]


def people_rows(
    conn: Connection,
    people: Identities,
    org_of: OrgOf,
    is_bot: Callable[[str, str], bool],
    only: dict[str, set[str]] | None = None,
) -> list[dict[str, Any]]:
    """One row per identity seen sending mail: display name, addresses, organisation.

    `only` (identity -> addresses of its new messages) limits the rows to those identities,
    recounted from their messages alone, found by address (their stored row's addresses and
    the new ones, through the index on the sender's address): by grouped counts
    (`_recounts`), or, for an identity that sent mail without an address or from a relay's
    (whose messages that address cannot tell apart from others'), by reading its messages
    in the order a full count reads them."""
    m = schema.messages
    query = select(m.c.from_name, m.c.from_addr, m.c.date_utc)
    if only is not None:
        pe = schema.people
        addrs = {who: set(a) for who, a in only.items()}
        for who, text in conn.execute(
            select(pe.c.identity, pe.c.addresses).where(among(conn, pe.c.identity, only))
        ):
            addrs[who].update(json.loads(text))
        # An address several people sent from (a relay, identity/people.py) does not tell
        # its messages apart either.
        rest = {who for who, a in addrs.items() if "" in a or any(people.shared(x) for x in a)}
        rows = _recounts(
            conn, {who: a for who, a in addrs.items() if who not in rest}, org_of, is_bot
        )
        if not rest:
            return rows
        shared = set().union(*(addrs[w] for w in rest))
        # Each (name, address) pair is one person's (`people`): grouped counts of the pairs
        # give those people's rows, unless a tie needs the order of their messages.
        acc = {who: _Recount() for who in rest}
        for name, addr, n, lo, hi in _grouped(conn, shared):
            a = acc.get(people(name, addr))
            if a is not None:
                a.add(name, addr, n, lo, hi, is_bot)
        ordered = set()
        for who, a in acc.items():
            row = a.untied_row(who, org_of) if a.used else None
            if row is not None:
                rows.append(row)
            elif a.used:
                ordered.add(who)
        if not ordered:
            return rows
        shared = set().union(*(addrs[w] for w in ordered))
        query = query.where(among(conn, m.c.from_addr, shared))
        found = conn.execute(query.order_by(m.c.date_utc, m.c.message_id))
        return rows + identity_rows(found, people, org_of, is_bot, ordered)
    # Every message: streamed (PostgreSQL would otherwise hand the whole result over at once).
    found = conn.execute(
        query.order_by(m.c.date_utc, m.c.message_id).execution_options(yield_per=STREAM_ROWS)
    )
    return identity_rows(found, people, org_of, is_bot)


# Rows a scan of every message reads at a time.
STREAM_ROWS = 20_000


def _recounts(
    conn: Connection,
    addrs: dict[str, set[str]],
    org_of: OrgOf,
    is_bot: Callable[[str, str], bool],
) -> list[dict[str, Any]]:
    """The people rows of the identities in `addrs`, each of whose messages are exactly those
    sent from its addresses, from counts grouped by name and address (one query for all of
    them, a chunk of addresses at a time: a day's few hundred senders took a query or three
    each): the same rows `identity_rows` gives reading the messages one by one. Ties in the
    most used name or address go to the one used first, and the organisation is that of the
    address of the last message, in the order (date, Message-ID) a full count reads them:
    the database decides both, asked only when there is a tie."""
    whose: dict[str, list[str]] = {}
    for who, aa in addrs.items():
        for a in aa:
            whose.setdefault(a, []).append(who)
    acc = {who: _Recount() for who in addrs}
    for name, addr, n, lo, hi in _grouped(conn, whose):
        for who in whose[addr]:
            acc[who].add(name, addr, n, lo, hi, is_bot)
    # An identity none of whose addresses sent anything has no row, as in a full count.
    return [a.row(conn, who, addrs[who], org_of) for who, a in acc.items() if a.used]


def _grouped(conn: Connection, addrs: Iterable[str]) -> list[Any]:
    """(name, address, messages, first date, last date) of every pair sent from `addrs`."""
    m = schema.messages
    return rows_in(
        conn,
        lambda c: (
            select(
                m.c.from_name,
                m.c.from_addr,
                func.count(),
                func.min(m.c.date_utc),
                func.max(m.c.date_utc),
            )
            .where(m.c.from_addr.in_(c))
            .group_by(m.c.from_name, m.c.from_addr)
        ),
        addrs,
    )


class _Recount:
    """One identity's grouped counts, as `_recounts` reads them."""

    def __init__(self) -> None:
        self.names: Counter[str] = Counter()
        self.used: Counter[str] = Counter()
        self.first: int | None = None
        self.last: int | None = None
        self.at_last: set[str] = set()  # the addresses that sent on the last date
        # A person is a bot when every message they sent is a bot's (`identity_rows`).
        self.human = False

    def add(
        self,
        name: str,
        addr: str,
        n: int,
        lo: int | None,
        hi: int | None,
        is_bot: Callable[[str, str], bool],
    ) -> None:
        if name:
            self.names[name] += n
        self.used[addr] += n
        if lo is not None and (self.first is None or lo < self.first):
            self.first = lo
        if hi is not None:
            if self.last is None or hi > self.last:
                self.last, self.at_last = hi, {addr}
            elif hi == self.last:
                self.at_last.add(addr)
        self.human = self.human or not is_bot(name, addr)

    def untied_row(self, who: str, org_of: OrgOf) -> dict[str, Any] | None:
        """`row` when no tie needs the order of the messages (the most used name and
        address, the address of the last date each one), else None: for an identity that
        shares an address with others (a relay), whose messages no query by address can
        tell apart."""

        def only_top(counts: Counter[str]) -> str | None:
            top = max(counts.values())
            tied = [k for k, v in counts.items() if v == top]
            return tied[0] if len(tied) == 1 else None

        address = only_top(self.used)
        name = only_top(self.names) if self.names else ""
        if address is None or name is None or len(self.at_last) > 1:
            return None
        (last_addr,) = self.at_last or {address}
        return self._row(who, name, address, last_addr, org_of)

    def _row(
        self, who: str, name: str, address: str, last_addr: str, org_of: OrgOf
    ) -> dict[str, Any]:
        return {
            "identity": who,
            "name": name,
            "address": address,
            "addresses": json.dumps(sorted(self.used)),
            "org": org_of(last_addr, self.last or 0),
            "messages": sum(self.used.values()),
            "first_date": self.first,
            "last_date": self.last,
            "is_bot": not self.human,
        }

    def row(self, conn: Connection, who: str, addrs: set[str], org_of: OrgOf) -> dict[str, Any]:
        m = schema.messages
        mine = among(conn, m.c.from_addr, addrs)

        def earliest(column: Any, counts: Counter[str]) -> str:
            top = max(counts.values())
            tied = [k for k, v in counts.items() if v == top]
            if len(tied) == 1:
                return tied[0]
            return conn.execute(
                select(column)
                .where(mine, column.in_(tied))
                .order_by(m.c.date_utc, m.c.message_id)
                .limit(1)
            ).scalar_one()

        address = earliest(m.c.from_addr, self.used)
        last_addr = address
        if len(self.at_last) == 1:
            (last_addr,) = self.at_last
        elif self.at_last:  # several addresses sent on the last date: the last Message-ID's
            last_addr = conn.execute(
                select(m.c.from_addr)
                .where(mine, m.c.date_utc == self.last)
                .order_by(m.c.message_id.desc())
                .limit(1)
            ).scalar_one()
        name = earliest(m.c.from_name, self.names) if self.names else ""
        return self._row(who, name, address, last_addr, org_of)


def identity_rows(
    messages: Iterable[Any],
    people: Identities,
    org_of: OrgOf,
    is_bot: Callable[[str, str], bool],
    only: set[str] | None = None,
) -> list[dict[str, Any]]:
    """Pure: the people rows of (name, address, date) senders in reading order (of the
    identities in `only`, when given).

    A person is a bot when every message they sent is a bot's (identity/bots.py judges each
    sender's name and address). A human who once sent a robot's report from their own
    address ("kernel test robot <rong.a.chen@intel.com>" beside "Rong Chen") stays a person:
    their replies count as review per message (`replies.is_bot`), and the community page,
    which leaves bots out, then counts them as the series do."""
    acc: dict[str, dict[str, Any]] = {}
    senders: dict[tuple[str, str], tuple[str, bool]] = {}  # one identity and bot test a pair
    for name, addr, date in messages:
        sender = senders.get((name, addr))
        if sender is None:
            sender = senders[(name, addr)] = (people(name, addr), is_bot(name, addr))
        who, bot = sender
        if only is not None and who not in only:
            continue
        a = acc.get(who)
        if a is None:
            a = acc[who] = {
                "names": Counter(),
                "addrs": Counter(),
                "first": None,
                "last": None,
                "human": False,
            }
        if name:
            a["names"][name] += 1
        a["addrs"][addr] += 1
        if date is not None:
            a["first"] = date if a["first"] is None else min(a["first"], date)
            if a["last"] is None or date >= a["last"]:
                a["last"], a["last_addr"] = date, addr
        a["human"] = a["human"] or not bot
    rows = []
    for who, a in acc.items():
        address = a["addrs"].most_common(1)[0][0]
        rows.append(
            {
                "identity": who,
                "name": a["names"].most_common(1)[0][0] if a["names"] else "",
                "address": address,
                "addresses": json.dumps(sorted(a["addrs"])),
                "org": org_of(a.get("last_addr", address), a["last"] or 0),
                "messages": sum(a["addrs"].values()),
                "first_date": a["first"],
                "last_date": a["last"],
                "is_bot": not a["human"],
            }
        )
    return rows


def subsystem_rows(sections: list[tuple[Any, int | None]]) -> list[dict[str, Any]]:
    """The subsystems rows of the newest sections, each with the repository whose
    MAINTAINERS it is from (None: a file named in the settings)."""
    rows = {}
    for sec, repo in sections:
        rows[sec.title] = {
            "title": sec.title,
            "status": sec.status,
            "maintainers": json.dumps([[p.name, p.email] for p in sec.maintainers]),
            "reviewers": json.dumps([[p.name, p.email] for p in sec.reviewers]),
            "lists": json.dumps(list(sec.lists)),
            "files": json.dumps(list(sec.files)),
            "repo_id": repo,
        }
    return list(rows.values())
