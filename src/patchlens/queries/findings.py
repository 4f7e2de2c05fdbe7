"""The findings page, `/api/findings` and `patchlens findings`: the series the filters select
(queries.selection, the one selection), the two periods the period findings compare, and
the pure findings of metrics/findings.py over them; and the series of one group of a finding,
which each group links to. Computed when asked, from series_metrics alone: nothing is stored,
so incremental updates have nothing to keep in step.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, select

from patchlens.metrics import findings as fm
from patchlens.metrics.backlog import BacklogRules
from patchlens.queries.filters import DAY, Filters, until_bound
from patchlens.queries.selection import brief, data_date, select_series
from patchlens.store import schema

GROUP_PAGE = 100  # series per page of a group's list


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def periods(f: Filters, newest: int) -> dict[str, Any]:
    """This period and the previous one of the same length (first and last day, both
    included). This period is the filters' since..until; a missing end is the day of
    `newest` (the newest first posting selected: an archive that stopped, in a store whose
    repository goes on, still has a this period), a missing start the end minus
    DEFAULT_DAYS; without either, the DEFAULT_DAYS days to that day."""
    end = f.until_ts if f.until_ts is not None else until_bound(newest - newest % DAY)
    start = f.since_ts if f.since_ts is not None else end - fm.DEFAULT_DAYS * DAY
    days = max(1, (end - start) // DAY)
    end = start + days * DAY
    prev_start = start - days * DAY
    return {
        "this": {"since": _day(start), "until": _day(end - DAY)},
        "previous": {"since": _day(prev_start), "until": _day(start - DAY)},
        "days": days,
        "default": not (f.since or f.until),
    }


def _period_labels(p: dict[str, Any]) -> dict[str, str]:
    return {
        "this": f"this period ({p['this']['since']} to {p['this']['until']})",
        "previous": f"the previous period ({p['previous']['since']} to {p['previous']['until']})",
    }


def _inputs(
    conn: Connection, f: Filters, rules: BacklogRules
) -> tuple[list[dict], list[dict], list[dict], dict[str, Any], int]:
    """The selected series, the selection in this period and in the previous one."""
    as_of = data_date(conn)
    rows = select_series(conn, f, rules, kept=True)
    p = periods(f, max((r["first_date"] for r in rows), default=as_of))
    this = select_series(conn, dataclasses.replace(f, **p["this"]), rules, kept=True)
    previous = select_series(conn, dataclasses.replace(f, **p["previous"]), rules, kept=True)
    return rows, this, previous, p, as_of


def group_link(f: Filters, fid: str, group: str, page: int = 1) -> str:
    """The list of a group's series (a page of it), with the page's filters."""
    base = f.query(page=page)
    extra = urlencode([("finding", fid), ("group", group)])
    return f"/findings/series{base}{'&' if base else '?'}{extra}"


def findings(conn: Connection, f: Filters, rules: BacklogRules) -> dict[str, Any]:
    """Each question of the Xen 2016 study tested on the selected series: two groups with
    their n and statistic, an effect size with a percentile bootstrap interval (95%, fixed
    seed), a sentence, and a link to each group's series; withheld, with the reason, when a
    group has fewer than the minimum of series."""
    rows, this, previous, p, as_of = _inputs(conn, f, rules)
    # The subsystems table holds the MAINTAINERS sections when a file is configured.
    maintainers = conn.execute(select(schema.subsystems.c.title).limit(1)).first() is not None
    found = fm.all_findings(rows, this, previous, _period_labels(p), maintainers=maintainers)
    for x in found:
        for g in x["groups"]:
            g["link"] = group_link(f, x["id"], g["group"])
    return {
        "as_of": as_of,
        "series": len(rows),
        "period": p,
        "min_series": fm.MIN_SERIES,
        "resamples": fm.RESAMPLES,
        "level": fm.LEVEL,
        "findings": found,
    }


def finding_series(
    conn: Connection, f: Filters, rules: BacklogRules, fid: str, group: str
) -> dict[str, Any] | None:
    """The series of one group of a finding, as the findings page splits them (the same
    filters), oldest first, a page of GROUP_PAGE at a time; None for a finding or group that
    does not exist."""
    rows, this, previous, _p, as_of = _inputs(conn, f, rules)
    groups = fm.groups_of(fid, rows, this, previous)
    if groups is None or group not in groups:
        return None
    members = sorted(groups[group], key=lambda r: (r["first_date"], r["series_key"]))
    start = (f.page - 1) * GROUP_PAGE
    return {
        "finding": fid,
        "group": group,
        "as_of": as_of,
        "total": len(members),
        "merged": sum(1 for r in members if r.get("time_to_merge") is not None),
        "page": f.page,
        "page_size": GROUP_PAGE,
        "rows": [brief(r) for r in members[start : start + GROUP_PAGE]],
    }


# The findings page's table for its CSV (queries/tables.py): one row per group of a finding,
# with the finding's effect and interval repeated on each, or the reason it is withheld.
TABLE_COLUMNS = (
    "finding",
    "question",
    "measure",
    "group",
    "label",
    "series",
    "n",
    "statistic",
    "reached_share",
    "effect_kind",
    "effect",
    "low",
    "high",
    "withheld",
)


def table_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The groups of every finding of `findings()` as flat rows (a withheld finding with no
    groups is one row with its reason)."""
    out = []
    for x in d["findings"]:
        e = x["effect"] or {}
        head = {
            "finding": x["id"],
            "question": x["question"],
            "measure": x["measure"],
            "effect_kind": e.get("kind"),
            "effect": e.get("value"),
            "low": e.get("low"),
            "high": e.get("high"),
            "withheld": x["withheld"],
        }
        out += [{**head, **g} for g in x["groups"]] or [head]
    return out
