"""What the store holds, per source: the numbers `patchlens status` prints."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Integer, Table, distinct, func, select

from patchlens.mail.headers import format_utc
from patchlens.queries.sql import cols
from patchlens.store import schema


def _count(conn: Connection, table: Table, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def list_status(conn: Connection) -> list[dict[str, Any]]:
    ml, ls, sight, m = (
        schema.mailing_lists,
        schema.list_sources,
        schema.message_sightings,
        schema.messages,
    )
    seen = sight.join(m, m.c.id == sight.c.message_pk)
    out = []
    for list_id, name in conn.execute(select(ml.c.id, ml.c.name).order_by(ml.c.name)).all():
        on_list = sight.c.list_id == list_id
        n_msgs, first, last = conn.execute(
            select(
                func.count(distinct(sight.c.message_pk)),
                func.min(m.c.date_utc),
                func.max(m.c.date_utc),
            )
            .select_from(seen)
            .where(on_list)
        ).one()
        n_patches = conn.execute(
            select(func.count(distinct(sight.c.message_pk)))
            .select_from(seen)
            .where(on_list, m.c.has_patch)
        ).scalar_one()
        sources = []
        for src in conn.execute(
            select(*cols(ls, "id", "location", "format", "last_update", "cursor"))
            .where(ls.c.list_id == list_id)
            .order_by(ls.c.id)
        ):
            read = _count(conn, sight, sight.c.source_id == src.id)
            mv = schema.message_variants
            variants = _count(conn, mv, mv.c.source_id == src.id)
            quarantined = _count(conn, schema.quarantine, schema.quarantine.c.source_id == src.id)
            sources.append(
                {
                    "location": src.location,
                    "format": src.format,
                    "messages_read": read + quarantined,
                    "variants": variants,
                    "quarantined": quarantined,
                    "last_update": format_utc(src.last_update) or None,
                    "cursor": json.loads(src.cursor) if src.cursor else None,
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
    rp, c, cb = schema.repos, schema.commits, schema.commit_branches
    out = []
    for repo in conn.execute(
        select(*cols(rp, "id", "name", "location", "branches", "last_update", "horizon")).order_by(
            rp.c.name
        )
    ):
        n, first, last, merges, skipped = conn.execute(
            select(
                func.count(),
                func.min(c.c.committer_date),
                func.max(c.c.committer_date),
                func.coalesce(func.sum(c.c.is_merge.cast(Integer)), 0),
                func.coalesce(func.sum(c.c.diff_skipped.cast(Integer)), 0),
            ).where(c.c.repo_id == repo.id)
        ).one()
        per_branch = dict(
            conn.execute(
                select(cb.c.branch, func.count())
                .select_from(cb.join(c))
                .where(c.c.repo_id == repo.id)
                .group_by(cb.c.branch)
            ).all()
        )
        out.append(
            {
                "repo": repo.name,
                "location": repo.location,
                "branches": json.loads(repo.branches) or ["(default)"],
                "commits": n,
                "commits_per_branch": per_branch,
                "merges": int(merges),
                # Commits before the history horizon, read without diffs (match/horizon.py).
                "horizon": format_utc(repo.horizon) or None,
                "diff_skipped": int(skipped),
                "first_date": format_utc(first) or None,
                "last_date": format_utc(last) or None,
                "last_update": format_utc(repo.last_update) or None,
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
