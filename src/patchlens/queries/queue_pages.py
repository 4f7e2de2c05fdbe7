"""What the person, subsystem, performance and series pages show of review queues, waiting on
whom, review load and first responses by role: the sections queries/dashboard.py adds to
those pages (one call each), assembled from queries/queue.py, load.py and responses.py."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection

from patchlens.metrics.backlog import BacklogRules
from patchlens.metrics.distributions import summary
from patchlens.metrics.roles import RESPONSE_ROLES
from patchlens.queries.filters import Filters
from patchlens.queries.load import (
    awaiting_at,
    load_over_time,
    person_waits,
    quiet_clock,
    span_until,
    subsystem_waits,
)
from patchlens.queries.queue import (
    AGAIN,
    ON_AUTHOR,
    ON_NAMED,
    ON_NOBODY,
    identity_of_address,
    open_series,
    people_names,
    queue_row,
    queue_rows,
    reasons,
    waiting_on,
)
from patchlens.queries.responses import ROLE_COLUMNS, by_role, by_role_per_period
from patchlens.queries.selection import review_date

# How many series of each maintainer's queue the subsystem page lists (the rest: their page).
QUEUE_TOP = 5
# How many open series the subsystem page's "waiting on whom" lists (all with full=1).
WAITING_TOP = 25


def queue_url(address: str) -> str:
    return "/people/" + quote(address, safe="@") + "/queue"


def person_sections(
    conn: Connection,
    who: str,
    address: str,
    f: Filters,
    rules: BacklogRules,
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    """A person page's queue summary (with the link to the queue) and review load over time,
    over the series `rows` the page's filters keep, with what its last row counts apart from
    the queue (`load_vs_queue`)."""
    queue = queue_rows(conn, who, rules)
    waits = person_waits(conn, who, rows, rules)
    until = span_until(conn, f.until_ts)
    return {
        "queue": {
            "total": len(queue),
            "again": sum(1 for r in queue if AGAIN in r["reasons"]),
            "oldest_hours": queue[0]["waiting_hours"] if queue else None,
            "url": queue_url(address),
        },
        "load": load_over_time(waits, f.period, f.since_ts, until),
        "load_vs_queue": (
            load_vs_queue(conn, who, rules, awaiting_at(waits, until), queue, rows)
            if f.until_ts is None
            else None  # the last row ends at the filter's date, not at the queue's
        ),
    }


def load_vs_queue(
    conn: Connection,
    who: str,
    rules: BacklogRules,
    awaiting: set[str],
    queue: list[dict[str, Any]],
    rows: list[dict[str, Any]],
) -> dict[str, int]:
    """How the load's last row (at the data's date) differs from the queue, series by series,
    and why: the two count the same series but for what their definitions leave apart
    (docs/METRICS.md, "Review load"). `not_in_queue`: awaiting in the load, named only in
    To:/Cc: of an earlier version (the load names by any version's, the queue by the current
    one's) or `other` (none expected); `not_in_load`: in the queue, left out by the page's
    filters (the queue takes none) or `other` (none expected)."""
    keys = {r["series_key"] for r in queue}
    kept = {r["series_key"] for r in rows}
    opens = {o.key: o for o in open_series(conn, rules)}
    earlier_cc = {
        k
        for k in awaiting - keys
        if (o := opens.get(k)) is not None and who not in o.awaited and who not in o.answered
    }
    return {
        "awaiting": len(awaiting),
        "queue": len(keys),
        "both": len(awaiting & keys),
        "earlier_cc": len(earlier_cc),
        "not_in_queue_other": len(awaiting - keys - earlier_cc),
        "filtered": len(keys - awaiting - kept),
        "not_in_load_other": len((keys - awaiting) & kept),
    }


def subsystem_sections(
    conn: Connection,
    title: str,
    people: list[tuple[str, str, str]],
    f: Filters,
    rules: BacklogRules,
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    """A subsystem page's maintainers' queues side by side, waiting on whom for each of its
    open series, its review load over time and its first responses by role. `people` are its
    (name, address, maintainer | reviewer) from MAINTAINERS; `rows` its series the filters
    keep."""
    keys = {r["series_key"] for r in rows}
    opens = [o for o in open_series(conn, rules) if o.key in keys]
    as_of = review_date(conn)
    names = people_names(conn)
    queues = []
    for name, address, role in people:
        who = identity_of_address(conn, address)
        mine = [queue_row(o, why, as_of, names) for o in opens if (why := reasons(o, who))]
        queues.append(
            {
                "identity": who,
                "name": name,
                "address": address,
                "role": role,
                "waiting": len(mine),
                "again": sum(1 for r in mine if AGAIN in r["reasons"]),
                "oldest_hours": mine[0]["waiting_hours"] if mine else None,
                "median_hours": summary(r["waiting_hours"] for r in mine)["median"],
                "url": queue_url(address),
                # Someone MAINTAINERS names under an address that never wrote to the list
                # has no person page or queue of theirs to link (their identity there is
                # that address alone).
                "known": who in names,
                "rows": mine[:QUEUE_TOP],
            }
        )
    waiting = [queue_row(o, [], as_of, names) for o in opens]
    counts = Counter(waiting_on(o)["on"] for o in opens)
    on_person: Counter[str] = Counter(
        p for o in opens for p in waiting_on(o)["who"] if waiting_on(o)["on"] == ON_NAMED
    )
    return {
        "queues": queues,
        "waiting_on": {
            "counts": {k: counts.get(k, 0) for k in (ON_AUTHOR, ON_NAMED, ON_NOBODY)},
            "by_person": [
                {
                    "identity": p,
                    "name": names.get(p, ("", "", False))[0],
                    "address": names.get(p, ("", p.removeprefix("addr:"), False))[1],
                    "series": n,
                    "known": p in names,
                }
                for p, n in sorted(on_person.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "total": len(waiting),
            "rows": waiting if f.full else waiting[:WAITING_TOP],
            "full_list": "/subsystems/" + quote(title, safe="") + f.query(full="1"),
        },
        "load": load_over_time(
            subsystem_waits(rows, rules, quiet_clock(conn)),
            f.period,
            f.since_ts,
            span_until(conn, f.until_ts),
        ),
        "first_response_by_role": by_role(rows),
    }


def performance_sections(
    f: Filters,
    rows: list[dict[str, Any]],
    since: int | None,
    until: int | None,
    labels: list[str] | None = None,
) -> dict[str, Any]:
    """The performance page's first responses by role: overall and per period (`labels`: the
    rows' periods, when the caller has them)."""
    return {
        "first_response_by_role": by_role(rows),
        "first_response_by_role_over_time": by_role_per_period(
            rows, f.period, since, until, labels
        ),
    }


def series_section(conn: Connection, metrics: dict[str, Any]) -> dict[str, Any] | None:
    """A series page's first response by role: who responded first, in which role, and each
    role's first response; and who MAINTAINERS named. None without metrics."""
    if not metrics:
        return None
    names = people_names(conn)

    def person(identity: str | None) -> dict[str, str] | None:
        if identity is None:
            return None
        name, address, _bot = names.get(identity, ("", identity.removeprefix("addr:"), False))
        # Someone MAINTAINERS names under an address that never wrote to the list has no
        # person page or queue to link (as on the subsystem page).
        return {"identity": identity, "name": name, "address": address, "known": identity in names}

    expected = json.loads(metrics.get("expected_roles") or "{}")
    first_hours = [
        metrics.get(ROLE_COLUMNS[metrics["first_response_role"]])
        if metrics.get("first_response_role")
        else None
    ]
    return {
        "role": metrics.get("first_response_role"),
        "who": person(metrics.get("first_responder")),
        "hours": first_hours[0],
        "by_role": [{"role": r, "hours": metrics.get(ROLE_COLUMNS[r])} for r in RESPONSE_ROLES],
        "expected": [{**(person(i) or {}), "role": role} for i, role in sorted(expected.items())],
    }
