"""What `patchlens report` shows: the three use cases (community, performance, backlog) over
the series a filter selects, as plain data (the terminal tables are cli/render.py's)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from patchlens.metrics.backlog import OPEN_STATES, STATES, BacklogRules
from patchlens.metrics.distributions import (
    BUCKET_ORDER,
    BUCKETS,
    DURATIONS,
    by_key,
    by_period,
    summary,
)
from patchlens.queries.community import review_balance
from patchlens.queries.filters import Filters
from patchlens.queries.selection import brief, data_date, select_series
from patchlens.queries.sql import chunks
from patchlens.store import schema


@dataclass
class Report:
    as_of: int
    series: int
    states: dict[str, int]
    oldest_new: list[dict[str, Any]]
    nearly_complete: list[dict[str, Any]]
    stale: list[dict[str, Any]]
    per_subsystem: list[dict[str, Any]]
    unanswered_by_subsystem: int | None
    durations: dict[str, dict[str, Any]]
    per_quarter: dict[str, list[dict[str, Any]]]
    per_bucket: dict[str, list[dict[str, Any]]]
    new_vs_established: list[dict[str, Any]]
    people: list[dict[str, Any]]
    orgs: list[dict[str, Any]]
    anomalies: dict[str, int]
    to_curate: dict[str, Any]
    maintainer_load: list[dict[str, Any]]
    series_keys: list[str]


def states_by_subsystem(rows: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    """Per MAINTAINERS section ("(none)" for a series in none), its series by state."""
    subs: dict[str, Counter[str]] = {}
    for r in rows:
        for sub in r["subsystems"] or ["(none)"]:
            subs.setdefault(sub, Counter())[r["state"]] += 1
    return subs


def unanswered_by_subsystem(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The open series (a backlog state) that no maintainer or designated reviewer of their
    subsystems answered, in the order of `rows`: the one definition the report's count and
    the backlog page's list (queries/dashboard.py) share."""
    return [r for r in rows if r["unanswered_by_subsystem"] and r["state"] in OPEN_STATES]


def build_report(
    conn: Connection, f: Filters, rules: BacklogRules, as_of: int | None = None, top: int = 15
) -> Report:
    """The report over the series `f` selects, states as of `as_of` (default: the data's
    date); `series_keys` lists them all, so a script can check which series it covers."""
    rows = select_series(conn, f, rules, as_of)
    keys = {r["series_key"] for r in rows}
    states = {st: 0 for st in STATES}
    states.update(Counter(r["state"] for r in rows))
    by_first = sorted(rows, key=lambda r: r["first_date"])

    subs = states_by_subsystem(rows)
    balance = review_balance(conn, top=top, series=keys)
    # None when no series is in a subsystem (no MAINTAINERS file): nothing to count.
    known = any(r["unanswered_by_subsystem"] is not None for r in rows)
    return Report(
        as_of=as_of or data_date(conn),
        series=len(rows),
        states=states,
        oldest_new=[brief(r) for r in by_first if r["state"] == "new"][:top],
        nearly_complete=[brief(r) for r in by_first if r["state"] == "nearly complete"][:top],
        stale=[brief(r) for r in by_first if r["state"] == "stale"][:top],
        per_subsystem=[
            {"subsystem": k, "series": sum(c.values()), **dict(c)}
            for k, c in sorted(subs.items(), key=lambda kv: -sum(kv[1].values()))
        ][:top],
        unanswered_by_subsystem=len(unanswered_by_subsystem(rows)) if known else None,
        durations={m: summary(r[m] for r in rows) for m in DURATIONS},
        per_quarter={
            m: by_period(rows, m, "quarter") for m in ("time_to_first_response", "time_to_merge")
        },
        per_bucket={
            name: by_key(rows, "time_to_merge", fn, BUCKET_ORDER[name])
            for name, fn in BUCKETS.items()
        },
        new_vs_established=by_key(
            rows,
            "time_to_first_response",
            lambda r: "new contributor" if r["new_contributor"] else "established",
        ),
        people=balance["reviewers"],
        orgs=balance["orgs"],
        anomalies=dict(Counter(a for r in rows for a in r["anomalies"])),
        to_curate=to_curate(conn, top),
        maintainer_load=maintainer_load(conn, rows, top),
        series_keys=sorted(keys),
    )


def to_curate(conn: Connection, top: int) -> dict[str, Any]:
    """People whose organisation is unknown (free-mail and personal domains): never guessed,
    listed so that a domain or email map can name them."""
    pe = schema.people
    rows = conn.execute(
        select(pe.c.address, pe.c.name, pe.c.messages)
        .where(pe.c.org == "(unknown)", ~pe.c.is_bot)
        .order_by(pe.c.messages.desc(), pe.c.address)
    ).all()
    return {
        "people": len(rows),
        "messages": sum(r.messages for r in rows),
        "top": [{"address": r.address, "name": r.name, "messages": r.messages} for r in rows[:top]],
    }


def maintainer_load(conn: Connection, rows: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    """Per maintainer or designated reviewer (MAINTAINERS M:/R:): replies they sent to the
    selected series of their own subsystems, against those subsystems' series count."""
    sections = {
        r.title: (json.loads(r.maintainers), json.loads(r.reviewers))
        for r in conn.execute(
            select(
                schema.subsystems.c.title,
                schema.subsystems.c.maintainers,
                schema.subsystems.c.reviewers,
            )
        )
    }
    if not sections:
        return []
    identity = {}
    for who, addresses in conn.execute(select(schema.people.c.identity, schema.people.c.addresses)):
        for a in json.loads(addresses):
            identity[a.lower()] = who
    by_sub: dict[str, list[str]] = {}
    for r in rows:
        for sub in r["subsystems"]:
            by_sub.setdefault(sub, []).append(r["series_key"])
    ev = schema.review_events
    out = []
    for title, (maint, revs) in sections.items():
        keys = by_sub.get(title)
        if not keys:
            continue
        people = [(n, e, "maintainer") for n, e in maint] + [(n, e, "reviewer") for n, e in revs]
        for name, email, role in people:
            who = identity.get(email.lower(), f"addr:{email.lower()}")
            replies = 0
            for chunk in chunks(keys):
                replies += conn.execute(
                    select(func.count()).where(ev.c.who == who, ev.c.series_key.in_(chunk))
                ).scalar_one()
            out.append(
                {
                    "subsystem": title,
                    "person": name or email,
                    "email": email,
                    "role": role,
                    "series": len(keys),
                    "replies": replies,
                }
            )
    out.sort(key=lambda x: (-x["series"], x["subsystem"], -x["replies"]))
    return out[: top * 4]
