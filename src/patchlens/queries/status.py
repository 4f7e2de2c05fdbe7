"""What the store holds, per source: the numbers `patchlens status` prints."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Integer, distinct, func, select

from patchlens.mail.headers import format_utc
from patchlens.store import schema as s


def list_status(conn: Connection) -> list[dict[str, Any]]:
    out = []
    lists = conn.execute(
        select(s.mailing_lists.c.id, s.mailing_lists.c.name).order_by(s.mailing_lists.c.name)
    ).all()
    for list_id, name in lists:
        sight = s.message_sightings
        n_msgs, first, last = conn.execute(
            select(
                func.count(distinct(sight.c.message_pk)),
                func.min(s.messages.c.date_utc),
                func.max(s.messages.c.date_utc),
            )
            .select_from(sight.join(s.messages, s.messages.c.id == sight.c.message_pk))
            .where(sight.c.list_id == list_id)
        ).one()
        n_patches = conn.execute(
            select(func.count(distinct(sight.c.message_pk)))
            .select_from(sight.join(s.messages, s.messages.c.id == sight.c.message_pk))
            .where(sight.c.list_id == list_id, s.messages.c.has_patch)
        ).scalar_one()
        sources = []
        for src_id, location, fmt, last_update, cursor in conn.execute(
            select(
                s.list_sources.c.id,
                s.list_sources.c.location,
                s.list_sources.c.format,
                s.list_sources.c.last_update,
                s.list_sources.c.cursor,
            )
            .where(s.list_sources.c.list_id == list_id)
            .order_by(s.list_sources.c.id)
        ):
            read = conn.execute(
                select(func.count()).select_from(sight).where(sight.c.source_id == src_id)
            ).scalar_one()
            variants = conn.execute(
                select(func.count())
                .select_from(s.message_variants)
                .where(s.message_variants.c.source_id == src_id)
            ).scalar_one()
            quarantined = conn.execute(
                select(func.count())
                .select_from(s.quarantine)
                .where(s.quarantine.c.source_id == src_id)
            ).scalar_one()
            sources.append(
                {
                    "location": location,
                    "format": fmt,
                    "messages_read": read + quarantined,
                    "variants": variants,
                    "quarantined": quarantined,
                    "last_update": format_utc(last_update) or None,
                    "cursor": json.loads(cursor) if cursor else None,
                }
            )
        out.append(
            {
                "list": name,
                "messages": n_msgs,
                "patches": n_patches,
                "first_date": format_utc(first) or None,
                "last_date": format_utc(last) or None,
                "sources": sources,
            }
        )
    return out


def repo_status(conn: Connection) -> list[dict[str, Any]]:
    out = []
    for repo_id, name, location, branches, last_update in conn.execute(
        select(
            s.repos.c.id,
            s.repos.c.name,
            s.repos.c.location,
            s.repos.c.branches,
            s.repos.c.last_update,
        ).order_by(s.repos.c.name)
    ):
        n, first, last, merges = conn.execute(
            select(
                func.count(),
                func.min(s.commits.c.committer_date),
                func.max(s.commits.c.committer_date),
                func.coalesce(func.sum(s.commits.c.is_merge.cast(Integer)), 0),
            ).where(s.commits.c.repo_id == repo_id)
        ).one()
        per_branch = dict(
            conn.execute(
                select(s.commit_branches.c.branch, func.count())
                .select_from(s.commit_branches.join(s.commits))
                .where(s.commits.c.repo_id == repo_id)
                .group_by(s.commit_branches.c.branch)
            ).all()
        )
        out.append(
            {
                "repo": name,
                "location": location,
                "branches": json.loads(branches) or ["(default)"],
                "commits": n,
                "commits_per_branch": per_branch,
                "merges": int(merges),
                "first_date": format_utc(first) or None,
                "last_date": format_utc(last) or None,
                "last_update": format_utc(last_update) or None,
            }
        )
    return out


def health_status(conn: Connection, limit: int | None = None) -> dict[str, Any]:
    """What the store could not read: damaged or failed sources, each with the parts it
    could not read (place and reason, from the last update of that source), and the
    messages quarantined because they could not be parsed. `limit` bounds each list; the
    counts are always whole."""
    dmg, ls, ml, q = s.source_damage, s.list_sources, s.mailing_lists, s.quarantine
    rows = conn.execute(
        select(
            dmg.c.position,
            dmg.c.reason,
            dmg.c.seen_at,
            ml.c.name.label("list_name"),
            ls.c.location.label("list_location"),
            s.repos.c.name.label("repo_name"),
            s.repos.c.location.label("repo_location"),
        )
        .select_from(
            dmg.outerjoin(ls, ls.c.id == dmg.c.source_id)
            .outerjoin(ml, ml.c.id == ls.c.list_id)
            .outerjoin(s.repos, s.repos.c.id == dmg.c.repo_id)
        )
        .order_by(dmg.c.source_id, dmg.c.repo_id, dmg.c.id)
    ).all()
    sources: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        kind = "list" if r.list_name is not None else "repo"
        name = r.list_name if kind == "list" else r.repo_name
        location = r.list_location if kind == "list" else r.repo_location
        src = sources.setdefault(
            (kind, name, location),
            {
                "kind": kind,
                "name": name,
                "location": location,
                "state": "damaged",
                "error": None,
                "unreadable_count": 0,
                "unreadable": [],
                "seen_at": format_utc(r.seen_at) or None,
            },
        )
        if r.position == "":
            src["state"] = "failed"
            src["error"] = r.reason
            continue
        src["unreadable_count"] += 1
        if limit is None or len(src["unreadable"]) < limit:
            src["unreadable"].append({"position": r.position, "reason": r.reason})
    n_quarantined = conn.execute(select(func.count()).select_from(q)).scalar_one()
    qsel = (
        select(ml.c.name, ls.c.location, q.c.position, q.c.reason)
        .select_from(q.join(ls, ls.c.id == q.c.source_id).join(ml, ml.c.id == ls.c.list_id))
        .order_by(q.c.id)
    )
    if limit is not None:
        qsel = qsel.limit(limit)
    quarantined = [
        {"list": name, "location": loc, "position": pos, "reason": why}
        for name, loc, pos, why in conn.execute(qsel)
    ]
    return {
        "damaged_sources": list(sources.values()),
        "quarantined_count": n_quarantined,
        "quarantined": quarantined,
    }
