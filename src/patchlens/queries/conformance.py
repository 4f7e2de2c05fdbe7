"""The conformance report (issue 15 §3): for projects that must show their process, the
commits of the registered repositories that no registered list saw (off-list), that were
merged with no review, that differ from the version that was reviewed (with the difference),
and the reviews their own authors gave. For the /conformance page, its /api/ twin, the CSV of
each list (queries/tables.py) and `patchlens conformance`.

Computed when asked, from stored tables (commits, commit_trailers, commit_files,
patch_commits, messages, message_analysis, message_trailers, replies, series_versions,
people): no derived table to keep in step with incremental updates. The decisions that need
no store (coverage, judging, same person) are metrics/conformance.py's; docs/METRICS.md,
"Conformance", defines every count.

Filters: `since`/`until` select commits by their commit date, `subsystem` those touching a
file of that MAINTAINERS section (the F: patterns of the newest MAINTAINERS the store holds).
The other series filters do not apply to commits and are refused (HTTP 400), not ignored.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, and_, exists, select

from patchlens.identity.bots import BotMatcher
from patchlens.identity.maintainers import Maintainers, Section
from patchlens.identity.people import address_owners, commit_author
from patchlens.mail.subject import normalize_title
from patchlens.match.pointers import pointer_ids
from patchlens.metrics import conformance as cf
from patchlens.queries import rounds
from patchlens.queries.filters import Filters
from patchlens.queries.formats import printable
from patchlens.queries.queue import relay_owners
from patchlens.queries.series import versions_detail
from patchlens.queries.sql import chunks
from patchlens.store import schema

# The filters that apply to commits; any other is refused.
PARAMS = ("since", "until", "subsystem", "full")
# Rows of each list the page shows unless `full=1` (the CSV and `--json` give every row).
SHOWN = 100
LISTS = ("off_list", "no_review", "changed_after_review", "self_reviews")
EDGE = 200  # earliest/latest messages read per list to find where its archive begins/ends


def coverages(conn: Connection) -> list[cf.Coverage]:
    """The period each registered list's archive covers (metrics/conformance.py's rule),
    from its earliest and latest dated messages; a list with too few messages covers none."""
    m, s, ml = schema.messages, schema.message_sightings, schema.mailing_lists
    out = []
    for list_id, name in conn.execute(select(ml.c.id, ml.c.name).order_by(ml.c.name)):
        seen = exists().where(s.c.message_pk == m.c.id, s.c.list_id == list_id)
        dated = select(m.c.date_utc).where(m.c.date_utc.is_not(None), seen)
        head = list(conn.execute(dated.order_by(m.c.date_utc).limit(EDGE)).scalars())
        tail = list(conn.execute(dated.order_by(m.c.date_utc.desc()).limit(EDGE)).scalars())
        start, end = cf.coverage_start(head), cf.coverage_end(tail)
        if start is not None and end is not None and start <= end:
            out.append(cf.Coverage(name, start, end))
    return out


def _identities(conn: Connection) -> tuple[dict[str, str], set[str]]:
    """Address -> identity key over the store's people (a relay's address is its owner's:
    identity/people.address_owners), and the addresses of machines."""
    pe = schema.people
    rows = conn.execute(
        select(pe.c.identity, pe.c.address, pe.c.addresses, pe.c.messages, pe.c.is_bot)
    ).all()
    by_addr = address_owners(
        ((r.identity, r.address, json.loads(r.addresses or "[]"), r.messages or 0) for r in rows),
        relay_owners(conn),
    )
    robots = {r.identity for r in rows if r.is_bot}
    return by_addr, {a for a, who in by_addr.items() if who in robots}


def _commits(conn: Connection, f: Filters) -> list[dict[str, Any]]:
    """The selected commits (by commit date), oldest first, with their repository's name."""
    c, r = schema.commits, schema.repos
    q = (
        select(
            c.c.id,
            c.c.sha,
            r.c.name.label("repo"),
            c.c.repo_id,
            c.c.is_merge,
            c.c.author_name,
            c.c.author_email,
            c.c.author_date,
            c.c.committer_date,
            c.c.subject,
            c.c.patch_id,
            c.c.diff_skipped,
        )
        .join(r, r.c.id == c.c.repo_id)
        .order_by(c.c.committer_date, c.c.sha)
    )
    if f.since_ts is not None:
        q = q.where(c.c.committer_date >= f.since_ts)
    if f.until_ts is not None:
        q = q.where(c.c.committer_date < f.until_ts)
    rows = [dict(x._mapping) for x in conn.execute(q)]
    if f.subsystem:
        rows = _touching(conn, rows, f.subsystem)
    return rows


def _touching(conn: Connection, rows: list[dict[str, Any]], title: str) -> list[dict[str, Any]]:
    """The commits that touch a file of the section `title` (unknown section: none), of the
    repository whose MAINTAINERS the section is from (any, for a file named in the
    settings)."""
    ss = schema.subsystems
    sub = conn.execute(select(ss.c.files, ss.c.repo_id).where(ss.c.title == title)).first()
    if sub is None:
        return []
    if sub.repo_id is not None:
        rows = [r for r in rows if r["repo_id"] == sub.repo_id]
    files = tuple(json.loads(sub.files or "[]"))
    section = Section(title, (), (), (), None, files, (), (), (), False)
    index = Maintainers([section])
    cfl = schema.commit_files
    hit: set[int] = set()
    for chunk in chunks([r["id"] for r in rows]):
        for pk, path, old in conn.execute(
            select(cfl.c.commit_pk, cfl.c.path, cfl.c.old_path).where(cfl.c.commit_pk.in_(chunk))
        ):
            if pk not in hit and any(p and index.sections_for_file(p) for p in (path, old)):
                hit.add(pk)
    return [r for r in rows if r["id"] in hit]


def _trailers(conn: Connection, pks: list[int]) -> dict[int, list[tuple[str, str, str, str]]]:
    """Per commit, its trailers as (key, value, name, email)."""
    ct = schema.commit_trailers
    out: dict[int, list[tuple[str, str, str, str]]] = defaultdict(list)
    for chunk in chunks(pks):
        for pk, key, value, name, email in conn.execute(
            select(ct.c.commit_pk, ct.c.key, ct.c.value, ct.c.name, ct.c.email)
            .where(ct.c.commit_pk.in_(chunk))
            .order_by(ct.c.commit_pk, ct.c.seq)
        ):
            out[pk].append((key, value, name or "", email or ""))
    return out


def _matched(conn: Connection, pks: list[int]) -> dict[int, dict[str, Any]]:
    """Per matched commit: the posting it was made from, its version and series."""
    pc, m, vm, sv = (
        schema.patch_commits,
        schema.messages,
        schema.version_members,
        schema.series_versions,
    )
    out = {}
    for chunk in chunks(pks):
        for row in conn.execute(
            select(
                pc.c.commit_pk,
                pc.c.message_pk,
                pc.c.method,
                pc.c.ambiguous,
                m.c.message_id,
                vm.c.version_key,
                vm.c.idx,
                sv.c.series_key,
            )
            .join(m, m.c.id == pc.c.message_pk)
            .outerjoin(vm, vm.c.message_pk == pc.c.message_pk)
            .outerjoin(sv, sv.c.key == vm.c.version_key)
            .where(pc.c.commit_pk.in_(chunk))
        ):
            out[row.commit_pk] = dict(row._mapping)
    return out


def _archived(conn: Connection, message_ids: set[str]) -> set[str]:
    """Those Message-IDs the store holds."""
    m = schema.messages
    found: set[str] = set()
    for chunk in chunks(sorted(message_ids)):
        found |= set(
            conn.execute(select(m.c.message_id).where(m.c.message_id.in_(chunk))).scalars()
        )
    return found


def _posted_otherwise(conn: Connection, commits: list[dict[str, Any]]) -> dict[int, str]:
    """Per commit that no match or pointer ties to a posting: "patch-id" when an archived
    patch has its patch-id, "title" when an archived message (posting or reply) has its
    subject, normalised; the matcher did not pair them (ambiguity, an edited diff), but the
    patch was on a list."""
    a = schema.message_analysis
    out: dict[int, str] = {}
    by_pid = defaultdict(list)
    for c in commits:
        if c["patch_id"]:
            by_pid[c["patch_id"]].append(c["id"])
    for chunk in chunks(sorted(by_pid)):
        for pid in conn.execute(
            select(a.c.patch_id).where(a.c.patch_id.in_(chunk)).distinct()
        ).scalars():
            for pk in by_pid[pid]:
                out[pk] = "patch-id"
    by_title = defaultdict(list)
    for c in commits:
        if c["id"] not in out:
            by_title[normalize_title(c["subject"])].append(c["id"])
    by_title.pop("", None)
    for chunk in chunks(sorted(by_title)):
        for t in conn.execute(
            select(a.c.normalized_title).where(a.c.normalized_title.in_(chunk)).distinct()
        ).scalars():
            for pk in by_title[t]:
                out[pk] = "title"
    return out


def _list_reviews(
    conn: Connection, posting_pks: list[int], version_keys: list[str]
) -> dict[int, list[dict[str, Any]]]:
    """Per posting, the review trailers the list holds for it: given in a reply to it, or to
    its version's cover letter (bots' replies never count), and carried in the posting
    itself (given to an earlier version). Each as {key, name, email, message_id, given}."""
    r, mt, m, vm = schema.replies, schema.message_trailers, schema.messages, schema.version_members
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    wanted = set(posting_pks)
    members: dict[str, list[int]] = defaultdict(list)
    for chunk in chunks(version_keys):
        for vk, pk, idx in conn.execute(
            select(vm.c.version_key, vm.c.message_pk, vm.c.idx).where(vm.c.version_key.in_(chunk))
        ):
            if idx > 0:
                members[vk].append(pk)
    for chunk in chunks(version_keys):
        for row in conn.execute(
            select(
                r.c.version_key,
                r.c.addressed_pk,
                r.c.addressed_idx,
                mt.c.key,
                mt.c.value,
                mt.c.name,
                mt.c.email,
                m.c.message_id,
            )
            .join(mt, and_(mt.c.message_pk == r.c.message_pk, mt.c.given))
            .join(m, m.c.id == r.c.message_pk)
            .where(r.c.version_key.in_(chunk), ~r.c.is_bot, mt.c.key.in_(cf.REVIEW_KEYS))
            .order_by(m.c.date_utc, m.c.message_id)
        ):
            name, email = cf.giver(row.name or "", row.email or "", row.value)
            item = {
                "key": row.key,
                "name": name,
                "email": email,
                "message_id": row.message_id,
                "given": True,
            }
            targets = members[row.version_key] if row.addressed_idx == 0 else [row.addressed_pk]
            for pk in targets:
                if pk in wanted:
                    out[pk].append(item)
    for chunk in chunks(posting_pks):
        for pk, key, value, name, email, mid in conn.execute(
            select(mt.c.message_pk, mt.c.key, mt.c.value, mt.c.name, mt.c.email, m.c.message_id)
            .join(m, m.c.id == mt.c.message_pk)
            .where(mt.c.message_pk.in_(chunk), ~mt.c.given, mt.c.key.in_(cf.REVIEW_KEYS))
        ):
            name, email = cf.giver(name or "", email or "", value)
            out[pk].append(
                {
                    "key": key,
                    "name": name,
                    "email": email,
                    "message_id": mid,
                    "given": False,
                }
            )
    return out


def _base(c: dict[str, Any], match: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "date": c["committer_date"],
        "repo": c["repo"],
        "sha": c["sha"],
        "subject": c["subject"],
        "author_name": c["author_name"],
        "author_email": c["author_email"],
        "series_key": match["series_key"] if match else None,
        "message_id": match["message_id"] if match else None,
    }


NO_REPOSITORY = (
    "no repository is registered: conformance compares a repository's commits with the "
    "lists, so it cannot be measured here (register one with `patchlens add-repo`)"
)
NO_COMMITS = (
    "the registered repositories have no commits in the store yet: conformance cannot be "
    "measured until `patchlens update` reads them"
)


def unmeasured(conn: Connection) -> str | None:
    """Why the report cannot measure anything, whatever the filters (every count would be
    0): no repository is registered, or none of their commits was read; None when it can."""
    if conn.execute(select(schema.repos.c.id).limit(1)).first() is None:
        return NO_REPOSITORY
    if conn.execute(select(schema.commits.c.id).limit(1)).first() is None:
        return NO_COMMITS
    return None


def conformance(conn: Connection, f: Filters) -> dict[str, Any]:
    """The conformance report over the selected commits: how many were judged (and why the
    others were not), the off-list commits, the commits merged with no review, those that
    differ from the version that was reviewed (with the interdiff) and the reviews their
    authors gave themselves. Each list in full; `shown` rows of each are for the page."""
    covs = coverages(conn)
    by_addr, bot_addrs = _identities(conn)
    is_bot = BotMatcher()
    commits = _commits(conn, f)
    pks = [c["id"] for c in commits]
    trailers = _trailers(conn, pks)
    matched = _matched(conn, pks)
    pointers = {pk: pointer_ids((k, v) for k, v, _n, _e in ts) for pk, ts in trailers.items()}
    archived = _archived(conn, set().union(*pointers.values()) if pointers else set())

    verdict: dict[int, str] = {}
    for c in commits:
        email = (c["author_email"] or "").lower()
        bot = email in bot_addrs or is_bot(c["author_name"] or "", email)
        verdict[c["id"]] = cf.judge(c["is_merge"], bot, c["author_date"], c["committer_date"], covs)
        if c["diff_skipped"] and verdict[c["id"]] == cf.JUDGED:
            # Before the history horizon: the archives begin (counted by distinct days, so
            # that a cluster of misdated mail does not open a coverage) years after it, and
            # its patch-id, which "posted otherwise" looks for, was not read.
            verdict[c["id"]] = cf.BEFORE
    how: dict[int, str] = {}
    for c in commits:
        pk = c["id"]
        if pk in matched:
            how[pk] = "matched"
        elif pointers.get(pk, set()) & archived:
            how[pk] = "pointer"
    # Whether a list saw it otherwise is asked of judged commits only: the others are never
    # called off-list.
    unseen = [c for c in commits if c["id"] not in how and verdict[c["id"]] == cf.JUDGED]
    how.update(_posted_otherwise(conn, unseen))

    # The matched postings' series: their versions, postings and lineages (rounds.py).
    series_keys = sorted({mm["series_key"] for mm in matched.values() if mm["series_key"]})
    versions = versions_detail(conn, series_keys) if series_keys else []
    by_series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in versions:
        by_series[v["series_key"]].append(v)
    posts = rounds._postings(conn, [v["key"] for v in versions])
    back = {k: b for vs in by_series.values() for k, b in rounds.backwards(vs, posts).items()}
    chains: dict[int, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for pk, mm in matched.items():
        if mm["series_key"] and mm["idx"]:
            vs = by_series[mm["series_key"]]
            chains[pk] = rounds.lineage(vs, posts, back, mm["version_key"], mm["idx"])
    chain_pks = sorted({p["pk"] for ch in chains.values() for _v, p in ch})
    reviews = _list_reviews(conn, chain_pks, [v["key"] for v in versions])
    reviewed = rounds._reviewed(conn, chain_pks)
    carried = rounds._carrying(conn, chain_pks)
    diffs = _diffs(conn, sorted(chains))

    def ident(addr: str) -> str | None:
        return by_addr.get(addr)

    out: dict[str, list[dict[str, Any]]] = {k: [] for k in LISTS}
    compared = 0
    for c in commits:
        pk, match = c["id"], matched.get(c["id"])
        judged = verdict[pk] == cf.JUDGED
        base = _base(c, match)
        author = commit_author(c["author_name"], c["author_email"])
        if judged and pk not in how:
            out["off_list"].append(base)
        given: list[dict[str, Any]] = [
            dict(zip(("name", "email"), cf.giver(n, e, v), strict=True))
            | {"where": "commit", "key": k, "message_id": None}
            for k, v, n, e in trailers.get(pk, [])
            if k in cf.REVIEW_KEYS
        ]
        for _v, p in chains.get(pk, []):
            given += [{"where": "list", **x} for x in reviews.get(p["pk"], [])]
        others = [g for g in given if not cf.same_person(author, (g["name"], g["email"]), ident)]
        # One self-given review per place, trailer and giver: the same Reviewed-by given to
        # v1 and carried by v2 is one review, not two.
        selfs: dict[tuple[str, str, str], dict[str, Any]] = {}
        for g in given:
            if g not in others:
                selfs.setdefault((g["where"], g["key"], (g["email"] or g["name"]).lower()), g)
        if judged and not others:
            out["no_review"].append({**base, "posted": pk in how, "self_reviews": len(selfs)})
        for g in selfs.values():
            out["self_reviews"].append(
                {
                    **base,
                    "where": g["where"],
                    "trailer": g["key"],
                    "giver_name": g["name"],
                    "giver_email": g["email"],
                    "review_message_id": g["message_id"],
                }
            )
        if pk in chains and not c["is_merge"]:
            found = rounds.after_review(chains[pk], reviewed, carried, diffs.get(pk))
            if found is not None:
                compared += 1
                if found["changed"]:
                    out["changed_after_review"].append(
                        {
                            **base,
                            "reviewed_message_id": found["reviewed_message_id"],
                            "reviewed_version": found["reviewed_label"],
                            "interdiff": found["interdiff"],
                            "truncated": found["truncated"],
                        }
                    )
    not_judged = {r: sum(v == r for v in verdict.values()) for r in cf.NOT_JUDGED}
    counts = {
        "commits": len(commits),
        "judged": sum(v == cf.JUDGED for v in verdict.values()),
        "not_judged": not_judged,
        "posted": sum(1 for pk in how if verdict.get(pk) == cf.JUDGED),
        "compared": compared,
        **{k: len(v) for k, v in out.items()},
    }
    shown = None if f.full else SHOWN
    return _text_safe(
        {
            "unmeasured": unmeasured(conn),
            "coverage": [
                {"list": c.list_name, "first_date": c.start, "last_date": c.end} for c in covs
            ],
            "counts": counts,
            "shown": shown,
            **{k: v if shown is None else v[:shown] for k, v in out.items()},
        }
    )


def _text_safe(value: Any) -> Any:
    """Every text of the report as valid Unicode: a commit or mail that was not UTF-8 is
    stored with its bytes escaped (surrogateescape); shown, each such byte is U+FFFD, so a
    page, an API answer or a terminal never fails on it."""
    if isinstance(value, str):
        return value if value.isascii() else printable(value)
    if isinstance(value, dict):
        return {k: _text_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text_safe(v) for v in value]
    return value


def _diffs(conn: Connection, pks: list[int]) -> dict[int, str | None]:
    """Each commit's diff; None when it was not read (before the history horizon: not
    compared, rounds.after_review)."""
    c = schema.commits
    out: dict[int, str | None] = {}
    for chunk in chunks(pks):
        q = select(c.c.id, c.c.diff, c.c.diff_skipped).where(c.c.id.in_(chunk))
        out.update({pk: None if skipped else d or "" for pk, d, skipped in conn.execute(q)})
    return out


def conformance_rows(conn: Connection, f: Filters, name: str) -> list[dict[str, Any]]:
    """Every row of one list of the report (for its CSV): the page's data in full."""
    return list(conformance(conn, replace(f, full="1"))[name])
