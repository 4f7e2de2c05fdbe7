"""Who reviews and who is reviewed: review given against contributions received, per person
and per organisation, and real comments against flag-only reviews."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Integer, and_, func, select

from patchlens.store import schema as s


def review_balance(
    conn: Connection,
    since: int | None = None,
    until: int | None = None,
    org: str | None = None,
    top: int | None = 25,
    series: set[str] | None = None,
) -> dict[str, Any]:
    """Review given against contributions received, per person and per organisation, from
        the stored review events and series metrics (made with the run's identities, mailmaps
        and organisation map). Reviews come by the date of the reply, contributions by the date
        of the series' first posting; `org` selects by the organisation of each message, `series`
    limits both to those series."""
    ev, sm, pe = s.review_events, s.series_metrics, s.people
    conds = []
    if since is not None:
        conds.append(ev.c.date >= since)
    if until is not None:
        conds.append(ev.c.date < until)
    if org:
        conds.append(ev.c.org == org)
    if series is not None:
        conds.append(ev.c.series_key.in_(sorted(series)))
    given_q = (
        select(
            ev.c.who,
            func.count().label("replies"),
            func.sum(ev.c.review.cast(Integer)).label("reviews"),
            func.sum((ev.c.review & ~ev.c.substantive).cast(Integer)).label("flag_only"),
            func.sum(ev.c.substantive.cast(Integer)).label("substantive"),
            func.sum(ev.c.lines_written).label("lines"),
            func.count(func.distinct(ev.c.series_key)).label("series"),
        )
        .where(and_(*conds) if conds else True)
        .group_by(ev.c.who)
    )
    given = {r.who: r._mapping for r in conn.execute(given_q)}
    sconds = []
    if since is not None:
        sconds.append(sm.c.first_date >= since)
    if until is not None:
        sconds.append(sm.c.first_date < until)
    if org:
        sconds.append(sm.c.org == org)
    if series is not None:
        sconds.append(sm.c.series_key.in_(sorted(series)))
    received = {
        r.author: r._mapping
        for r in conn.execute(
            select(
                sm.c.author,
                func.count().label("series"),
                func.sum(sm.c.patches).label("patches"),
                func.sum(sm.c.review_replies).label("replies_received"),
                func.sum(sm.c.reviews).label("reviews_received"),
            )
            .where(and_(*sconds) if sconds else True)
            .group_by(sm.c.author)
        )
    }
    names = {
        r.identity: r._mapping
        for r in conn.execute(select(pe.c.identity, pe.c.name, pe.c.address, pe.c.org, pe.c.is_bot))
    }
    people = []
    for who in set(given) | set(received):
        p = names.get(who, {})
        if p.get("is_bot"):
            continue
        g, rc = given.get(who, {}), received.get(who, {})
        replies_received = int(rc.get("replies_received") or 0)
        replies = int(g.get("replies") or 0)
        people.append(
            {
                "identity": who,
                "name": p.get("name") or "",
                "address": p.get("address") or who.removeprefix("addr:"),
                "org": p.get("org") or "",
                "review_replies": replies,
                "reviews": int(g.get("reviews") or 0),
                "flag_only": int(g.get("flag_only") or 0),
                "substantive": int(g.get("substantive") or 0),
                "lines_written": int(g.get("lines") or 0),
                "series_reviewed": int(g.get("series") or 0),
                "series_authored": int(rc.get("series") or 0),
                "patches_authored": int(rc.get("patches") or 0),
                "replies_received": replies_received,
                "given_per_received": round(replies / replies_received, 2)
                if replies_received
                else None,
            }
        )
    orgs: dict[str, dict[str, Any]] = {}
    for r in conn.execute(
        select(
            ev.c.org,
            func.count().label("replies"),
            func.sum(ev.c.review.cast(Integer)).label("reviews"),
            func.sum(ev.c.lines_written).label("lines"),
            func.count(func.distinct(ev.c.who)).label("people"),
        )
        .where(and_(*conds) if conds else True)
        .group_by(ev.c.org)
    ):
        orgs[r.org] = {
            "org": r.org,
            "review_replies": r.replies,
            "reviews": int(r.reviews or 0),
            "lines_written": int(r.lines or 0),
            "reviewers": r.people,
            "series_authored": 0,
            "replies_received": 0,
        }
    for r in conn.execute(
        select(sm.c.org, func.count().label("series"), func.sum(sm.c.review_replies).label("recv"))
        .where(and_(*sconds) if sconds else True)
        .group_by(sm.c.org)
    ):
        o = orgs.setdefault(
            r.org,
            {"org": r.org, "review_replies": 0, "reviews": 0, "lines_written": 0, "reviewers": 0},
        )
        o["series_authored"] = r.series
        o["replies_received"] = int(r.recv or 0)
    for o in orgs.values():
        o["given_per_received"] = (
            round(o["review_replies"] / o["replies_received"], 2) if o["replies_received"] else None
        )
    total_reviews = sum(p["reviews"] for p in people)
    flag_only = sum(p["flag_only"] for p in people)
    return {
        "reviewers": sorted(people, key=lambda p: (-p["review_replies"], p["identity"]))[:top],
        "contributors": sorted(people, key=lambda p: (-p["series_authored"], p["identity"]))[:top],
        "orgs": sorted(orgs.values(), key=lambda o: (-o["review_replies"], o["org"]))[:top],
        "reviews": total_reviews,
        "flag_only_reviews": flag_only,
        "substantive_reviews": total_reviews - flag_only,
        "review_replies": sum(p["review_replies"] for p in people),
    }
