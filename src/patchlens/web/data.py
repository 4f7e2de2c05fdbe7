"""What each page shows, as plain data: the HTML pages render it, the JSON API returns it.

Every query is parameterised (SQLAlchemy Core); text from mail is never interpreted here.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from sqlalchemy import Connection, Integer, and_, func, select

from patchlens.metrics.backlog import (
    OPEN_STATES,
    STATES,
    BacklogRules,
    Facts,
    decide,
    merge_rate,
)
from patchlens.metrics.community import review_balance
from patchlens.metrics.distributions import (
    BUCKET_ORDER,
    BUCKETS,
    DURATIONS,
    by_key,
    by_period,
    period_of,
    summary,
)
from patchlens.metrics.report import (
    ReportFilter,
    brief,
    data_date,
    metric_rows,
    series_in_list,
)
from patchlens.review.queries import versions_detail
from patchlens.store import schema as s
from patchlens.web.filters import PAGE_SIZE, Filters

SORTABLE = (
    "first_date",
    "last_date",
    "title",
    "versions",
    "patches",
    "reviewers",
    "review_replies",
    "time_to_first_response",
    "time_to_merge",
)


# Series rows with their states, per store and data version: every page filters the same
# rows, and they change only when an update finishes (stage_state records when).
_CACHE: dict[tuple[str, Any, BacklogRules], list[dict[str, Any]]] = {}
_LISTS: dict[tuple[str, Any, str], set[str]] = {}


def _version(conn: Connection) -> Any:
    row = conn.execute(select(s.stage_state.c.inputs, s.stage_state.c.finished_at)).first()
    return tuple(row) if row else None


def all_series_rows(conn: Connection, rules: BacklogRules) -> list[dict[str, Any]]:
    key = (str(conn.engine.url), _version(conn), rules)
    rows = _CACHE.get(key)
    if rows is None:
        rows = metric_rows(conn, ReportFilter(rules=rules))
        _CACHE.clear()  # one version per store is enough; old ones are stale
        _CACHE[key] = rows
    return rows


def series_rows(conn: Connection, f: Filters, rules: BacklogRules) -> list[dict[str, Any]]:
    rows = all_series_rows(conn, rules)
    since, until = f.since_ts, f.until_ts
    in_list: set[str] | None = None
    if f.list:
        lkey = (str(conn.engine.url), _version(conn), f.list)
        in_list = _LISTS.get(lkey)
        if in_list is None:
            in_list = _LISTS[lkey] = series_in_list(conn, f.list)
    return [
        r
        for r in rows
        if (since is None or r["first_date"] >= since)
        and (until is None or r["first_date"] < until)
        and (not f.org or r["org"] == f.org)
        and (in_list is None or r["series_key"] in in_list)
        and f.keep(r)
    ]


def lists_and_orgs(conn: Connection) -> dict[str, list[str]]:
    """The values the filter forms offer."""
    sm = s.series_metrics
    return {
        "lists": [
            n
            for (n,) in conn.execute(
                select(s.mailing_lists.c.name).order_by(s.mailing_lists.c.name)
            )
        ],
        "orgs": [
            o
            for o, _n in conn.execute(
                select(sm.c.org, func.count())
                .group_by(sm.c.org)
                .order_by(func.count().desc())
                .limit(40)
            )
        ],
        "subsystems": [
            t for (t,) in conn.execute(select(s.subsystems.c.title).order_by(s.subsystems.c.title))
        ],
        "states": list(STATES),
        "buckets": [f"{k}:{v}" for k in BUCKETS for v in BUCKET_ORDER[k]],
    }


def overview(conn: Connection, f: Filters, rules: BacklogRules) -> dict[str, Any]:
    rows = series_rows(conn, f, rules)
    states = Counter(r["state"] for r in rows)
    merges = merge_rate(rows)
    per_period: dict[str, dict[str, Any]] = {}
    for r in rows:
        p = per_period.setdefault(
            period_of(r["first_date"], f.period),
            {"series": 0, "merged": 0, "patches": 0, "ttm": []},
        )
        p["series"] += 1
        p["patches"] += r["patches"]
        if r["merged"] != "none":
            p["merged"] += 1
        p["ttm"].append(r["time_to_merge"])
    trend = [
        {
            "period": k,
            "series": v["series"],
            "patches": v["patches"],
            "merged": v["merged"],
            "median_time_to_merge": summary(v["ttm"])["median"],
        }
        for k, v in sorted(per_period.items())
    ]
    return {
        "as_of": data_date(conn),
        "series": len(rows),
        "patches": sum(r["patches"] for r in rows),
        "merged": merges["merged"],
        "merged_by_notice": merges["merged_by_notice"],
        "merge_base": merges["over"],
        "merge_rate": merges["rate"],
        "merge_basis": merges["basis"],
        "time_to_merge": summary(r["time_to_merge"] for r in rows),
        "time_to_first_response": summary(r["time_to_first_response"] for r in rows),
        "backlog": sum(states[st] for st in OPEN_STATES),
        "states": {st: states.get(st, 0) for st in STATES},
        "trend": trend,
        "reviewers": len({w for (w,) in conn.execute(select(s.review_events.c.who).distinct())}),
    }


def performance(conn: Connection, f: Filters, rules: BacklogRules) -> dict[str, Any]:
    rows = series_rows(conn, f, rules)
    return {
        "series": len(rows),
        "overall": {m: summary(r[m] for r in rows) for m in DURATIONS},
        "over_time": {m: by_period(rows, m, f.period) for m in DURATIONS},
        "by_bucket": {
            kind: by_key(rows, "time_to_merge", fn, BUCKET_ORDER[kind])
            for kind, fn in BUCKETS.items()
        },
        "by_contributor": by_key(
            rows,
            "time_to_first_response",
            lambda r: "new" if r["new_contributor"] else "established",
            ("new", "established"),
        ),
    }


def backlog(conn: Connection, f: Filters, rules: BacklogRules, top: int = 25) -> dict[str, Any]:
    rows = series_rows(conn, f, rules)
    states = Counter(r["state"] for r in rows)
    by_first = sorted(rows, key=lambda r: (r["first_date"], r["series_key"]))
    by_last = sorted(rows, key=lambda r: (r["last_date"], r["series_key"]))
    subs: dict[str, Counter[str]] = {}
    for r in rows:
        for sub in r["subsystems"] or ["(none)"]:
            subs.setdefault(sub, Counter())[r["state"]] += 1
    return {
        "as_of": data_date(conn),
        "series": len(rows),
        "states": {st: states.get(st, 0) for st in STATES},
        "waiting_first_response": [brief(r) for r in by_first if r["state"] == "new"][:top],
        "nearly_complete": [brief(r) for r in by_first if r["state"] == "nearly complete"][:top],
        "waiting_on_author": [brief(r) for r in by_last if r["state"] == "waiting on author"][:top],
        "stale": [brief(r) for r in by_last if r["state"] == "stale"][-top:][::-1],
        "unanswered_by_subsystem": [
            brief(r) for r in by_first if r["unanswered_by_subsystem"] and r["state"] in OPEN_STATES
        ][:top],
        "per_subsystem": [
            {
                "subsystem": k,
                "series": sum(c.values()),
                "open": sum(c[x] for x in OPEN_STATES),
                **dict(c),
            }
            for k, c in sorted(subs.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        ][:top],
    }


def explorer(conn: Connection, f: Filters, rules: BacklogRules) -> dict[str, Any]:
    rows = series_rows(conn, f, rules)
    key = f.sort.lstrip("-") if f.sort.lstrip("-") in SORTABLE else "last_date"
    desc = f.sort.startswith("-") or not f.sort
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    present.sort(key=lambda r: (r[key], r["series_key"]), reverse=desc)
    ordered = present + missing
    pages = max(1, math.ceil(len(ordered) / PAGE_SIZE))
    page = min(f.page, pages)
    return {
        "total": len(ordered),
        "page": page,
        "pages": pages,
        "sort": key,
        "desc": desc,
        "rows": [brief(r) for r in ordered[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]],
    }


def patches(conn: Connection, f: Filters) -> dict[str, Any]:
    vm, sv, m, a, pc, c = (
        s.version_members,
        s.series_versions,
        s.messages,
        s.message_analysis,
        s.patch_commits,
        s.commits,
    )
    conds = [vm.c.idx > 0]
    if f.since_ts is not None:
        conds.append(m.c.date_utc >= f.since_ts)
    if f.until_ts is not None:
        conds.append(m.c.date_utc < f.until_ts)
    if f.q:
        like = f"%{f.q}%"
        conds.append(m.c.subject.ilike(like) | m.c.from_addr.ilike(like))
    base = (
        select(
            m.c.message_id,
            m.c.subject,
            m.c.from_name,
            m.c.from_addr,
            m.c.date_utc,
            a.c.lines_added,
            a.c.lines_removed,
            sv.c.series_key,
            sv.c.version_str,
            c.c.sha,
            pc.c.method,
        )
        .select_from(vm)
        .join(m, m.c.id == vm.c.message_pk)
        .join(a, a.c.message_pk == m.c.id)
        .join(sv, sv.c.key == vm.c.version_key)
        .outerjoin(pc, pc.c.message_pk == m.c.id)
        .outerjoin(c, c.c.id == pc.c.commit_pk)
        .where(and_(*conds))
    )
    total = conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(f.page, pages)
    columns = {"date": m.c.date_utc, "subject": m.c.subject, "lines": a.c.lines_added}
    key = f.sort.lstrip("-") if f.sort.lstrip("-") in columns else "date"
    desc = f.sort.startswith("-") or not f.sort
    col = columns[key].desc() if desc else columns[key].asc()
    rows = conn.execute(
        base.order_by(col, m.c.id.desc() if desc else m.c.id.asc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    return {
        "total": total,
        "page": page,
        "pages": pages,
        "sort": key,
        "desc": desc,
        "rows": [
            {
                "message_id": r.message_id,
                "subject": r.subject,
                "from_name": r.from_name,
                "from_addr": r.from_addr,
                "date": r.date_utc,
                "lines_added": r.lines_added,
                "lines_removed": r.lines_removed,
                "series_key": r.series_key,
                "version": r.version_str or "1",
                "commit": r.sha,
                "method": r.method,
            }
            for r in rows
        ],
    }


def community(conn: Connection, f: Filters, top: int = 25) -> dict[str, Any]:
    return review_balance(conn, f.since_ts, f.until_ts, f.org or None, top)


def series_page(conn: Connection, key: str, rules: BacklogRules) -> dict[str, Any] | None:
    if not conn.execute(select(s.series.c.key).where(s.series.c.key == key)).first():
        return None
    versions = versions_detail(conn, [key])
    pks = [mm["pk"] for v in versions for mm in v["members"]]
    commits: dict[int, dict[str, Any]] = {}
    pc, c, r = s.patch_commits, s.commits, s.repos
    for row in conn.execute(
        select(
            pc.c.message_pk,
            pc.c.method,
            pc.c.score,
            pc.c.ambiguous,
            c.c.sha,
            c.c.subject,
            c.c.committer_date,
            c.c.committer_name,
            r.c.name,
        )
        .join(c, c.c.id == pc.c.commit_pk)
        .join(r, r.c.id == pc.c.repo_id)
        .where(pc.c.message_pk.in_(pks))
    ):
        commits[row.message_pk] = {
            "sha": row.sha,
            "subject": row.subject,
            "date": row.committer_date,
            "committer": row.committer_name,
            "repo": row.name,
            "method": row.method,
            "score": row.score,
            "ambiguous": row.ambiguous,
        }
    for v in versions:
        for mm in v["members"]:
            mm["commit"] = commits.get(mm["pk"])
    sm = s.series_metrics
    metrics = conn.execute(select(sm).where(sm.c.series_key == key)).first()
    m = dict(metrics._mapping) if metrics else {}
    if m:
        facts = Facts(
            m["merged"],
            m["nearly_complete"],
            m["has_reviewer_reply"],
            m["reviewer_spoke_last"],
            m["last_date"],
            m["in_repo"],
            merged_by=m["merged_by"] or "",
            repo_registered=m["repo_registered"],
        )
        m["state"] = decide(facts, data_date(conn), rules)
        m["subsystems"] = json.loads(m["subsystems"])
        m["anomalies"] = json.loads(m["anomalies"])
    title = conn.execute(select(s.series.c.title).where(s.series.c.key == key)).scalar()
    return {"key": key, "title": title, "metrics": m, "versions": versions}


def person_page(conn: Connection, address: str) -> dict[str, Any] | None:
    pe = s.people
    row = conn.execute(select(pe).where(pe.c.identity == f"addr:{address.lower()}")).first()
    if row is None:
        row = conn.execute(select(pe).where(pe.c.addresses.like(f'%"{address.lower()}"%'))).first()
    if row is None:
        return None
    p = dict(row._mapping)
    p["addresses"] = json.loads(p["addresses"])
    who = p["identity"]
    ev, sm = s.review_events, s.series_metrics
    reviewed = conn.execute(
        select(
            sm.c.series_key,
            sm.c.title,
            sm.c.author_addr,
            func.count().label("replies"),
            func.sum(ev.c.review.cast(Integer)).label("reviews"),
            func.max(ev.c.date).label("last"),
        )
        .join(sm, sm.c.series_key == ev.c.series_key)
        .where(ev.c.who == who)
        .group_by(sm.c.series_key, sm.c.title, sm.c.author_addr)
        .order_by(func.max(ev.c.date).desc())
        .limit(100)
    ).all()
    authored = conn.execute(
        select(
            sm.c.series_key,
            sm.c.title,
            sm.c.first_date,
            sm.c.versions,
            sm.c.patches,
            sm.c.review_replies,
            sm.c.merged,
            sm.c.time_to_merge,
        )
        .where(sm.c.author == who)
        .order_by(sm.c.first_date.desc())
        .limit(100)
    ).all()
    given = conn.execute(
        select(
            func.count(), func.sum(ev.c.review.cast(Integer)), func.sum(ev.c.lines_written)
        ).where(ev.c.who == who)
    ).one()
    received = conn.execute(
        select(func.count(), func.sum(sm.c.review_replies)).where(sm.c.author == who)
    ).one()
    p.update(
        {
            "review_replies": given[0] or 0,
            "reviews": int(given[1] or 0),
            "lines_written": int(given[2] or 0),
            "series_authored": received[0] or 0,
            "replies_received": int(received[1] or 0),
            "reviewed": [dict(r._mapping) for r in reviewed],
            "authored": [dict(r._mapping) for r in authored],
        }
    )
    return p


def subsystem_page(conn: Connection, title: str, rules: BacklogRules) -> dict[str, Any] | None:
    sub = conn.execute(select(s.subsystems).where(s.subsystems.c.title == title)).first()
    f = Filters(subsystem=title)
    rows = series_rows(conn, f, rules)
    if sub is None and not rows:
        return None
    info = dict(sub._mapping) if sub else {"title": title, "status": None}
    for k in ("maintainers", "reviewers", "lists", "files"):
        info[k] = json.loads(info[k]) if sub else []
    expected = {e.lower() for _n, e in info["maintainers"] + info["reviewers"]}
    keys = [r["series_key"] for r in rows]
    load: Counter[str] = Counter()
    pe = s.people
    addr = {i: a for i, a in conn.execute(select(pe.c.identity, pe.c.address))}
    for i in range(0, len(keys), 500):
        for who, n in conn.execute(
            select(s.review_events.c.who, func.count())
            .where(s.review_events.c.series_key.in_(keys[i : i + 500]))
            .group_by(s.review_events.c.who)
        ):
            load[who] += n
    states = Counter(r["state"] for r in rows)
    return {
        **info,
        "series": len(rows),
        "states": {st: states.get(st, 0) for st in STATES},
        "time_to_first_response": summary(r["time_to_first_response"] for r in rows),
        "time_to_merge": summary(r["time_to_merge"] for r in rows),
        "reviewer_load": [
            {
                "identity": w,
                "address": addr.get(w, w),
                "replies": n,
                "expected": addr.get(w, "").lower() in expected
                or w.removeprefix("addr:") in expected,
            }
            for w, n in load.most_common(25)
        ],
        "unanswered": [brief(r) for r in rows if r["unanswered_by_subsystem"]][:25],
        "open": [brief(r) for r in rows if r["state"] in OPEN_STATES][:50],
    }


def commit_page(conn: Connection, sha: str) -> dict[str, Any] | None:
    c = s.commits
    row = conn.execute(
        select(c, s.repos.c.name).join(s.repos).where(c.c.sha.like(f"{sha}%")).limit(2)
    ).all()
    if len(row) != 1:
        return None
    d = dict(row[0]._mapping)
    d["repo"] = d.pop("name")
    d["files"] = [
        dict(r._mapping)
        for r in conn.execute(
            select(
                s.commit_files.c.path,
                s.commit_files.c.old_path,
                s.commit_files.c.lines_added,
                s.commit_files.c.lines_removed,
                s.commit_files.c.binary,
            ).where(s.commit_files.c.commit_pk == d["id"])
        )
    ]
    d["trailers"] = [
        dict(r._mapping)
        for r in conn.execute(
            select(s.commit_trailers.c.key, s.commit_trailers.c.value)
            .where(s.commit_trailers.c.commit_pk == d["id"])
            .order_by(s.commit_trailers.c.seq)
        )
    ]
    link = conn.execute(
        select(
            s.messages.c.message_id,
            s.messages.c.subject,
            s.patch_commits.c.method,
            s.patch_commits.c.score,
            s.version_members.c.version_key,
            s.series_versions.c.series_key,
        )
        .join(s.messages, s.messages.c.id == s.patch_commits.c.message_pk)
        .join(s.version_members, s.version_members.c.message_pk == s.messages.c.id)
        .join(s.series_versions, s.series_versions.c.key == s.version_members.c.version_key)
        .where(s.patch_commits.c.commit_pk == d["id"])
    ).first()
    d["posting"] = dict(link._mapping) if link else None
    diff = d.pop("diff")
    d["diff"] = diff[:200_000] if diff else None
    d["diff_truncated"] = bool(diff and len(diff) > 200_000)
    del d["id"]
    return d
