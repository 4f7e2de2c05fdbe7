"""What the store holds, per source: the numbers `patchlens status` prints."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Integer, distinct, func, select

from patchlens.mail.headers import format_utc
from patchlens.store import schema


def list_status(conn: Connection) -> list[dict[str, Any]]:
    out = []
    lists = conn.execute(
        select(schema.mailing_lists.c.id, schema.mailing_lists.c.name).order_by(
            schema.mailing_lists.c.name
        )
    ).all()
    for list_id, name in lists:
        sight = schema.message_sightings
        n_msgs, first, last = conn.execute(
            select(
                func.count(distinct(sight.c.message_pk)),
                func.min(schema.messages.c.date_utc),
                func.max(schema.messages.c.date_utc),
            )
            .select_from(sight.join(schema.messages, schema.messages.c.id == sight.c.message_pk))
            .where(sight.c.list_id == list_id)
        ).one()
        n_patches = conn.execute(
            select(func.count(distinct(sight.c.message_pk)))
            .select_from(sight.join(schema.messages, schema.messages.c.id == sight.c.message_pk))
            .where(sight.c.list_id == list_id, schema.messages.c.has_patch)
        ).scalar_one()
        sources = []
        for src_id, location, fmt, last_update, cursor in conn.execute(
            select(
                schema.list_sources.c.id,
                schema.list_sources.c.location,
                schema.list_sources.c.format,
                schema.list_sources.c.last_update,
                schema.list_sources.c.cursor,
            )
            .where(schema.list_sources.c.list_id == list_id)
            .order_by(schema.list_sources.c.id)
        ):
            read = conn.execute(
                select(func.count()).select_from(sight).where(sight.c.source_id == src_id)
            ).scalar_one()
            variants = conn.execute(
                select(func.count())
                .select_from(schema.message_variants)
                .where(schema.message_variants.c.source_id == src_id)
            ).scalar_one()
            quarantined = conn.execute(
                select(func.count())
                .select_from(schema.quarantine)
                .where(schema.quarantine.c.source_id == src_id)
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
            schema.repos.c.id,
            schema.repos.c.name,
            schema.repos.c.location,
            schema.repos.c.branches,
            schema.repos.c.last_update,
        ).order_by(schema.repos.c.name)
    ):
        n, first, last, merges = conn.execute(
            select(
                func.count(),
                func.min(schema.commits.c.committer_date),
                func.max(schema.commits.c.committer_date),
                func.coalesce(func.sum(schema.commits.c.is_merge.cast(Integer)), 0),
            ).where(schema.commits.c.repo_id == repo_id)
        ).one()
        per_branch = dict(
            conn.execute(
                select(schema.commit_branches.c.branch, func.count())
                .select_from(schema.commit_branches.join(schema.commits))
                .where(schema.commits.c.repo_id == repo_id)
                .group_by(schema.commit_branches.c.branch)
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
    dmg, ls, ml, q = (
        schema.source_damage,
        schema.list_sources,
        schema.mailing_lists,
        schema.quarantine,
    )
    rows = conn.execute(
        select(
            dmg.c.position,
            dmg.c.reason,
            dmg.c.seen_at,
            ml.c.name.label("list_name"),
            ls.c.location.label("list_location"),
            schema.repos.c.name.label("repo_name"),
            schema.repos.c.location.label("repo_location"),
        )
        .select_from(
            dmg.outerjoin(ls, ls.c.id == dmg.c.source_id)
            .outerjoin(ml, ml.c.id == ls.c.list_id)
            .outerjoin(schema.repos, schema.repos.c.id == dmg.c.repo_id)
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
