"""What `patchlens report` shows: the three use cases (community, performance, backlog) over
a filtered set of series, as plain data first and then as terminal tables."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Connection, func, select

from patchlens.metrics.backlog import STATES, BacklogRules, Facts, decide
from patchlens.metrics.distributions import (
    BUCKET_ORDER,
    BUCKETS,
    DURATIONS,
    by_key,
    by_period,
    summary,
)
from patchlens.queries.community import review_balance
from patchlens.store import schema


@dataclass
class ReportFilter:
    """Which series a report covers. `since` and `until` are Unix seconds: series first posted
    at or after `since` and before `until` (exclusive). A day given as `--until DAY` is kept
    whole: the CLI passes the midnight after it, as the dashboard does."""

    since: int | None = None
    until: int | None = None
    list_name: str | None = None
    subsystem: str | None = None
    org: str | None = None
    as_of: int | None = None
    rules: BacklogRules = field(default_factory=BacklogRules)
    bucket: str | None = None  # "patches:2-5", "lines:<10", "versions:3-4"
    contributor: str | None = None  # new | established


def metric_rows(conn: Connection, f: ReportFilter) -> list[dict[str, Any]]:
    """series_metrics rows passing the filter, each with its state at `as_of`."""
    sm = schema.series_metrics
    q = select(sm)
    if f.since is not None:
        q = q.where(sm.c.first_date >= f.since)
    if f.until is not None:
        q = q.where(sm.c.first_date < f.until)
    if f.org:
        q = q.where(sm.c.org == f.org)
    rows = [dict(r._mapping) for r in conn.execute(q)]
    if f.list_name:
        keys = series_in_list(conn, f.list_name)
        rows = [r for r in rows if r["series_key"] in keys]
    for r in rows:
        r["subsystems"] = json.loads(r["subsystems"])
        r["anomalies"] = json.loads(r["anomalies"])
    if f.subsystem:
        rows = [r for r in rows if f.subsystem in r["subsystems"]]
    if f.contributor in ("new", "established"):
        rows = [r for r in rows if r["new_contributor"] == (f.contributor == "new")]
    if f.bucket:
        kind, _, value = f.bucket.partition(":")
        if kind not in BUCKETS or value not in BUCKET_ORDER[kind]:
            raise ValueError(
                f"unknown size bucket {f.bucket!r}: one of "
                + ", ".join(f"{k}:{v}" for k in BUCKETS for v in BUCKET_ORDER[k])
            )
        rows = [r for r in rows if BUCKETS[kind](r) == value]
    when = f.as_of or data_date(conn)
    for r in rows:
        r["state"] = decide(
            Facts(
                r["merged"],
                r["nearly_complete"],
                r["has_reviewer_reply"],
                r["reviewer_spoke_last"],
                r["last_date"],
                r["in_repo"],
                merged_by=r["merged_by"] or "",
                repo_registered=r["repo_registered"],
            ),
            when,
            f.rules,
        )
    return rows


BRIEF = (
    "series_key",
    "title",
    "author_addr",
    "org",
    "first_date",
    "last_date",
    "versions",
    "patches",
    "reviewers",
    "review_replies",
    "state",
    "time_to_first_response",
    "time_to_merge",
)


def brief(r: dict[str, Any]) -> dict[str, Any]:
    """A series in a list: what the report's and the dashboard's tables show of it."""
    return {k: r.get(k) for k in BRIEF}


def data_date(conn: Connection) -> int:
    """The date of the newest message or commit: the default "as of" for states, so that an
    archive that stopped (a mirror not updated, a sample) is not all stale by now."""
    m, c = schema.messages, schema.commits
    newest = [
        conn.execute(select(func.max(m.c.date_utc))).scalar(),
        conn.execute(select(func.max(c.c.committer_date))).scalar(),
    ]
    dates = [d for d in newest if d]
    now = int(time.time())
    return min(now, max(dates)) if dates else now


def series_in_list(conn: Connection, name: str) -> set[str]:
    sv, vm, ms, ml = (
        schema.series_versions,
        schema.version_members,
        schema.message_sightings,
        schema.mailing_lists,
    )
    return {
        k
        for (k,) in conn.execute(
            select(sv.c.series_key)
            .join(vm, vm.c.version_key == sv.c.key)
            .join(ms, ms.c.message_pk == vm.c.message_pk)
            .join(ml, ml.c.id == ms.c.list_id)
            .where(ml.c.name == name)
            .distinct()
        )
    }


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


def build_report(conn: Connection, f: ReportFilter, top: int = 15) -> Report:
    rows = metric_rows(conn, f)
    keys = {r["series_key"] for r in rows}
    states = {st: 0 for st in STATES}
    states.update(Counter(r["state"] for r in rows))
    by_first = sorted(rows, key=lambda r: r["first_date"])

    subs: dict[str, Counter[str]] = {}
    for r in rows:
        for sub in r["subsystems"] or ["(none)"]:
            subs.setdefault(sub, Counter())[r["state"]] += 1
    balance = review_balance(conn, top=top, series=keys)
    unanswered = [r["unanswered_by_subsystem"] for r in rows]
    known = [u for u in unanswered if u is not None]
    return Report(
        as_of=f.as_of or data_date(conn),
        series=len(rows),
        states=states,
        oldest_new=[brief(r) for r in by_first if r["state"] == "new"][:top],
        nearly_complete=[brief(r) for r in by_first if r["state"] == "nearly complete"][:top],
        stale=[brief(r) for r in by_first if r["state"] == "stale"][:top],
        per_subsystem=[
            {"subsystem": k, "series": sum(c.values()), **dict(c)}
            for k, c in sorted(subs.items(), key=lambda kv: -sum(kv[1].values()))
        ][:top],
        unanswered_by_subsystem=sum(known) if known else None,
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
            for i in range(0, len(keys), 500):
                replies += conn.execute(
                    select(func.count()).where(
                        ev.c.who == who, ev.c.series_key.in_(keys[i : i + 500])
                    )
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


def _h(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.1f} h" if v < 48 else f"{v / 24:.1f} d"


def _day(ts: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def render(rep: Report, console: Console) -> None:
    console.rule("[bold]Backlog")
    t = Table(
        title=f"{rep.series:,} series by state, as of {_day(rep.as_of)}", title_justify="left"
    )
    t.add_column("state")
    t.add_column("series", justify="right")
    for st, n in rep.states.items():
        t.add_row(st, f"{n:,}")
    t.add_row("[bold]all", f"[bold]{sum(rep.states.values()):,}")
    console.print(t)
    for title, items in (
        ("Oldest waiting for a first response", rep.oldest_new),
        ("Nearly complete: every patch reviewed, not merged", rep.nearly_complete),
        ("Stale", rep.stale),
    ):
        if not items:
            continue
        t = Table(title=title, title_justify="left")
        for col in ("posted", "last activity", "title", "author", "v", "patches"):
            t.add_column(col, overflow="fold" if col == "title" else "ellipsis")
        for r in items:
            t.add_row(
                _day(r["first_date"]),
                _day(r["last_date"]),
                escape(r["title"]),
                escape(r["author_addr"]),
                str(r["versions"]),
                str(r["patches"]),
            )
        console.print(t)
    if rep.unanswered_by_subsystem is not None:
        console.print(
            f"series no maintainer or reviewer of their subsystem answered: "
            f"{rep.unanswered_by_subsystem:,}"
        )
    else:
        console.print("no MAINTAINERS file: series are in no subsystem")

    console.rule("[bold]Performance")
    t = Table(title="Durations over all series (nearest-rank percentiles)", title_justify="left")
    for col in ("metric", "n", "median", "p75", "p90"):
        t.add_column(col, justify="left" if col == "metric" else "right")
    for m, sm in rep.durations.items():
        t.add_row(m.replace("_", " "), str(sm["n"]), _h(sm["median"]), _h(sm["p75"]), _h(sm["p90"]))
    console.print(t)
    for m, per in rep.per_quarter.items():
        t = Table(title=f"{m.replace('_', ' ')} per quarter", title_justify="left")
        for col in ("quarter", "n", "median", "p75", "p90"):
            t.add_column(col, justify="left" if col == "quarter" else "right")
        for p in per[-12:]:
            t.add_row(p["period"], str(p["n"]), _h(p["median"]), _h(p["p75"]), _h(p["p90"]))
        console.print(t)
    for name, groups in rep.per_bucket.items():
        t = Table(title=f"time to merge by {name}", title_justify="left")
        for col in (name, "n", "median", "p75", "p90"):
            t.add_column(col, justify="left" if col == name else "right")
        for g in groups:
            t.add_row(g["group"], str(g["n"]), _h(g["median"]), _h(g["p75"]), _h(g["p90"]))
        console.print(t)
    t = Table(title="time to first response: new vs established", title_justify="left")
    for col in ("contributor", "n", "median", "p75", "p90"):
        t.add_column(col, justify="left" if col == "contributor" else "right")
    for g in rep.new_vs_established:
        t.add_row(g["group"], str(g["n"]), _h(g["median"]), _h(g["p75"]), _h(g["p90"]))
    console.print(t)

    console.rule("[bold]Community")
    common = (
        ("review replies", "review_replies"),
        ("reviews", "reviews"),
        ("lines", "lines_written"),
        ("series", "series_authored"),
        ("replies received", "replies_received"),
        ("given/received", "given_per_received"),
    )
    for title, items, extra in (
        (
            "People: review given against contributions received",
            rep.people,
            (("tag-only", "flag_only"),),
        ),
        (
            "Organisations (each message by its address and date)",
            rep.orgs,
            (("reviewers", "reviewers"),),
        ),
    ):
        t = Table(title=title, title_justify="left")
        columns = (*common[:2], *extra, *common[2:])
        t.add_column("who")
        for head, _key in columns:
            t.add_column(head, justify="right")
        for r in items:
            who = (
                r.get("org")
                if "identity" not in r
                else (f"{r['name']} <{r['address']}>" if r["name"] else r["address"])
            )
            t.add_row(
                escape(str(who)),
                *(escape(str(r[k] if r[k] is not None else "-")) for _h, k in columns),
            )
        console.print(t)
    if rep.maintainer_load:
        t = Table(
            title="Maintainer and reviewer load (replies to their subsystems' series)",
            title_justify="left",
        )
        for col in ("subsystem", "who", "role", "series", "replies"):
            t.add_column(col, justify="right" if col in ("series", "replies") else "left")
        for r in rep.maintainer_load:
            t.add_row(
                escape(r["subsystem"]),
                escape(r["person"]),
                r["role"],
                str(r["series"]),
                str(r["replies"]),
            )
        console.print(t)
    cur = rep.to_curate
    if cur["people"]:
        console.print(
            f"organisation unknown for {cur['people']:,} people ({cur['messages']:,} messages),"
            " e.g. "
            + ", ".join(escape(x["address"]) for x in cur["top"][:5])
            + ": name their domains or addresses in a domain map (see patchlens.toml)"
        )
    if rep.anomalies:
        console.print(
            "anomalies: " + ", ".join(f"{k} {v}" for k, v in sorted(rep.anomalies.items()))
        )
