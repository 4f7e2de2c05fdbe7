"""Who reviews and who is reviewed: review given against contributions received, per person
and per organisation, and real comments against flag-only reviews."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Integer, func, select

from patchlens.queries.sql import chunks
from patchlens.store import schema


def _chunks(series: set[str] | None) -> list[list[str] | None]:
    """The series in groups a query may bind (one group of None: every series)."""
    if series is None:
        return [None]
    return list(chunks(sorted(series)))


def _given(
    conn: Connection, series: set[str] | None
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Review given per person and per organisation, summed by the database in chunks of
    series (the chunks are disjoint, so sums and per-person distinct series add up)."""
    ev = schema.review_events
    given: dict[str, dict[str, Any]] = {}
    org_given: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(series):
        where = ev.c.series_key.in_(chunk) if chunk is not None else True
        for r in conn.execute(
            select(
                ev.c.who,
                func.count().label("replies"),
                func.sum(ev.c.review.cast(Integer)).label("reviews"),
                func.sum((ev.c.review & ~ev.c.substantive).cast(Integer)).label("flag_only"),
                func.sum(ev.c.substantive.cast(Integer)).label("substantive"),
                func.sum(ev.c.lines_written).label("lines"),
                func.count(func.distinct(ev.c.series_key)).label("series"),
            )
            .where(where)
            .group_by(ev.c.who)
        ):
            g = given.setdefault(
                r.who,
                {"replies": 0, "reviews": 0, "flag_only": 0, "substantive": 0, "lines": 0},
            )
            g["series"] = g.get("series", 0) + r.series
            for k in ("replies", "reviews", "flag_only", "substantive", "lines"):
                g[k] += int(getattr(r, k) or 0)
        for r in conn.execute(
            select(
                ev.c.org,
                ev.c.who,
                func.count().label("replies"),
                func.sum(ev.c.review.cast(Integer)).label("reviews"),
                func.sum(ev.c.lines_written).label("lines"),
            )
            .where(where)
            .group_by(ev.c.org, ev.c.who)
        ):
            o = org_given.setdefault(r.org, {"replies": 0, "reviews": 0, "lines": 0, "who": set()})
            o["replies"] += r.replies
            o["reviews"] += int(r.reviews or 0)
            o["lines"] += int(r.lines or 0)
            o["who"].add(r.who)
    return given, org_given


def review_balance(
    conn: Connection, top: int | None = 25, series: set[str] | None = None
) -> dict[str, Any]:
    """Review given against contributions received, per person and per organisation, from
    the stored review events and series metrics (made with the run's identities, mailmaps
    and organisation map), over the given series (None: all). Review given is the replies to
    those series, contributions are those series; an organisation is each message's.

    Each list is cut at `top` (None: all); `*_total` says how long the whole list is."""
    sm, pe = schema.series_metrics, schema.people
    given, org_given = _given(conn, series)
    received: dict[str, dict[str, int]] = {}
    org_received: dict[str, dict[str, int]] = {}
    for row in conn.execute(
        select(sm.c.series_key, sm.c.author, sm.c.org, sm.c.patches, sm.c.review_replies)
    ):
        if series is not None and row.series_key not in series:
            continue
        rc = received.setdefault(row.author, {"series": 0, "patches": 0, "replies": 0})
        rc["series"] += 1
        rc["patches"] += row.patches
        rc["replies"] += row.review_replies
        orc = org_received.setdefault(row.org, {"series": 0, "replies": 0})
        orc["series"] += 1
        orc["replies"] += row.review_replies
    names = {
        r.identity: r._mapping
        for r in conn.execute(select(pe.c.identity, pe.c.name, pe.c.address, pe.c.org, pe.c.is_bot))
    }
    people = []
    for who in set(given) | set(received):
        p = names.get(who, {})
        if p.get("is_bot"):
            continue
        g = given.get(who, {})
        rc = received.get(who, {})
        replies_received = rc.get("replies", 0)
        replies = g.get("replies", 0)
        people.append(
            {
                "identity": who,
                "name": p.get("name") or "",
                "address": p.get("address") or who.removeprefix("addr:"),
                "org": p.get("org") or "",
                "review_replies": replies,
                "reviews": g.get("reviews", 0),
                "flag_only": g.get("flag_only", 0),
                "substantive": g.get("substantive", 0),
                "lines_written": g.get("lines", 0),
                "series_reviewed": g.get("series", 0),
                "series_authored": rc.get("series", 0),
                "patches_authored": rc.get("patches", 0),
                "replies_received": replies_received,
                "given_per_received": round(replies / replies_received, 2)
                if replies_received
                else None,
            }
        )
    orgs: dict[str, dict[str, Any]] = {}
    for name in set(org_given) | set(org_received):
        og = org_given.get(name, {})
        orc = org_received.get(name, {})
        replies, recv = og.get("replies", 0), orc.get("replies", 0)
        orgs[name] = {
            "org": name,
            "review_replies": replies,
            "reviews": og.get("reviews", 0),
            "lines_written": og.get("lines", 0),
            "reviewers": len(og.get("who", ())),
            "series_authored": orc.get("series", 0),
            "replies_received": recv,
            "given_per_received": round(replies / recv, 2) if recv else None,
        }
    reviewers = sorted(
        (p for p in people if p["review_replies"]),
        key=lambda p: (-p["review_replies"], p["identity"]),
    )
    contributors = sorted(
        (p for p in people if p["series_authored"]),
        key=lambda p: (-p["series_authored"], p["identity"]),
    )
    org_list = sorted(orgs.values(), key=lambda o: (-o["review_replies"], o["org"]))
    total_reviews = sum(p["reviews"] for p in people)
    flag_only = sum(p["flag_only"] for p in people)
    return {
        "people": sorted(people, key=lambda p: (-p["review_replies"], p["identity"])),
        "reviewers": reviewers[:top],
        "reviewers_total": len(reviewers),
        "contributors": contributors[:top],
        "contributors_total": len(contributors),
        "orgs": org_list[:top],
        "orgs_total": len(org_list),
        "reviews": total_reviews,
        "flag_only_reviews": flag_only,
        "substantive_reviews": total_reviews - flag_only,
        "review_replies": sum(p["review_replies"] for p in people),
    }
