"""What each page shows, as plain data: the HTML pages render it, the JSON API returns it.

Every query is parameterised (SQLAlchemy Core); text from mail is never interpreted here.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import numpy as np
from sqlalchemy import Connection, and_, func, select

from patchlens.match.history import VersionRef, superseded_by_merged
from patchlens.metrics.backlog import (
    OPEN_STATES,
    STATES,
    BacklogRules,
    merge_rate,
    merge_rate_of,
)
from patchlens.metrics.distributions import (
    BUCKET_ORDER,
    BUCKETS,
    DURATIONS,
    by_key,
    by_period,
    fill_periods,
    mark_partial,
    period_labels,
    summary,
)
from patchlens.queries import columns, patchtext, prediction, queue_pages, rounds, selection
from patchlens.queries.community import BY_KEY_LIMIT, review_balance, reviewers_among
from patchlens.queries.filters import PAGE_SIZE, STATE_VALUES, FilterError, Filters
from patchlens.queries.history import earliest_commits
from patchlens.queries.load import candidate_keys
from patchlens.queries.queue import MAX_ADDRESS, identity_of_address, maintainer_identities
from patchlens.queries.report import states_by_subsystem, unanswered_by_subsystem
from patchlens.queries.selection import (
    all_series,
    brief,
    data_date,
    decode,
    seen_dates,
    select_series,
    series_in_list,
)
from patchlens.queries.series import versions_detail
from patchlens.queries.sql import chunks, cols, grouped
from patchlens.store import schema

# A commit id or a prefix of one (4 to 64 hex digits, as `git rev-parse --short` gives).
_SHA_PREFIX = re.compile(r"^[0-9a-fA-F]{4,64}\Z")

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


def span(conn: Connection, f: Filters) -> tuple[int | None, int]:
    """The time the selected data covers: from the `since` filter to the newest data of the
    store or the `until` filter, whichever comes first (periods cut by it are partial)."""
    until = data_date(conn) + 1
    return f.since_ts, until if f.until_ts is None else min(until, f.until_ts)


def series_rows(conn: Connection, f: Filters, rules: BacklogRules) -> list[dict[str, Any]]:
    """The series every figure of a page is computed over: `select_series` over the rows kept
    in memory for this data version (a page answers many requests over one version)."""
    return select_series(conn, f, rules, kept=True)


def selected_keys(conn: Connection, f: Filters, rules: BacklogRules) -> set[str] | None:
    """The keys of the selected series, or None when no filter narrows them."""
    return selection.selected_keys(conn, f, rules, kept=True)


def part(
    rows: Sequence[dict[str, Any]],
    f: Filters,
    link: str,
    top: int = 25,
    shape: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A table that may show only its first rows: how many there are in all, and where the
    whole list is (another page with the same filters, or this one with full=1). `shape`
    makes each shown row (only those: a list of thousands shows 25)."""
    shown = list(rows) if f.full else list(rows[:top])
    if shape is not None:
        shown = [shape(r) for r in shown]
    return {"total": len(rows), "rows": shown, "full_list": link}


def lists_and_orgs(conn: Connection) -> dict[str, list[str]]:
    """The values the filter forms offer: read once per data version (every HTML page shows
    the form, and the organisations are counted over every series)."""
    return selection.per_version(conn, "lists_and_orgs", lambda: _lists_and_orgs(conn))


def _lists_and_orgs(conn: Connection) -> dict[str, list[str]]:
    sm = schema.series_metrics
    return {
        "lists": [
            n
            for (n,) in conn.execute(
                select(schema.mailing_lists.c.name).order_by(schema.mailing_lists.c.name)
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
            t
            for (t,) in conn.execute(
                select(schema.subsystems.c.title).order_by(schema.subsystems.c.title)
            )
        ],
        "states": list(STATE_VALUES),
        "buckets": [f"{k}:{v}" for k in BUCKETS for v in BUCKET_ORDER[k]],
    }


def _reviewers(conn: Connection, keys: list[str] | None) -> int:
    """How many people (bots aside) replied to the series (None: to any series)."""
    ev, pe = schema.review_events, schema.people

    def everyone() -> frozenset[str]:
        return frozenset(w for (w,) in conn.execute(select(ev.c.who).distinct()))

    def bot_set() -> frozenset[str]:
        return frozenset(w for (w,) in conn.execute(select(pe.c.identity).where(pe.c.is_bot)))

    # Both read the whole store: once per data version.
    bots = selection.per_version(conn, "bots", bot_set)
    if keys is None:
        who: set[str] | frozenset[str] = selection.per_version(conn, "reviewers", everyone)
    elif len(keys) > BY_KEY_LIMIT:
        # Many series: from the per-series review sums kept per data version.
        who = reviewers_among(conn, set(keys))
    else:
        who = set()
        for chunk in chunks(keys):
            q = select(ev.c.who).where(ev.c.series_key.in_(chunk)).distinct()
            who |= {w for (w,) in conn.execute(q)}
    return len(who - bots)


def overview(conn: Connection, f: Filters, rules: BacklogRules) -> dict[str, Any]:
    """Headline figures and the activity trend of the selected series; `reviewers` is the
    number of people (bots aside) who replied to them."""
    rows = series_rows(conn, f, rules)
    registered = selection.per_version(
        conn, "repo_registered", lambda: any(r["repo_registered"] for r in all_series(conn, rules))
    )
    cols = columns.columns(conn, rules)
    idx = cols.positions(rows)
    if idx is not None:
        return _overview_columns(conn, f, rows, registered, cols, idx)
    states = Counter(r["state"] for r in rows)
    merges = merge_rate(rows, registered, f.counted)
    per_period: dict[str, dict[str, Any]] = {}
    # Rows that are not the kept ones (pull requests of a search): few, dated one by one.
    for r, label in zip(rows, period_labels(rows, f.period), strict=True):
        p = per_period.setdefault(label, {"series": 0, "merged": 0, "patches": 0, "ttm": []})
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
    empty = {"series": 0, "patches": 0, "merged": 0, "median_time_to_merge": None}
    trend = mark_partial(fill_periods(trend, f.period, empty), f.period, *span(conn, f))
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
        "backlog_list": "/series" + f.query_in_state("open"),
        # Open and never answered by anyone but the author or a bot (stale ones included).
        "unanswered": sum(
            1 for r in rows if r["state"] in OPEN_STATES and not r["has_reviewer_reply"]
        ),
        "unanswered_list": "/series" + f.query_in_state("unanswered"),
        "states": {st: states.get(st, 0) for st in STATES},
        "trend": trend,
        "reviewers": _reviewers(conn, None if f.selects_all() else [r["series_key"] for r in rows]),
    }


def _overview_columns(
    conn: Connection,
    f: Filters,
    rows: list[dict[str, Any]],
    registered: bool,
    cols: columns.Columns,
    idx: Any,
) -> dict[str, Any]:
    """`overview` over the columns kept per data version (the same figures, counted by
    vector operations: tests/test_columns.py)."""
    states = columns.counts(cols, idx, "state")

    def flag(name: str, test: Callable[[dict[str, Any]], bool]) -> Any:
        return _flag(cols, name, test)

    seen = flag("seen", lambda r: bool(r["repo_registered"] and r["in_repo"]))
    notice = flag("notice", lambda r: r.get("merged_by") == "notice")
    merged = flag("merged", lambda r: r["merged"] != "none")
    open_ = flag("open", lambda r: r["state"] in OPEN_STATES)
    answered = _flag(cols, "answered", _answered)
    base = (seen | notice)[idx]
    merges = merge_rate_of(
        len(idx),
        int(base.sum()),
        int((base & merged[idx]).sum()),
        int((base & merged[idx] & notice[idx]).sum()),
        registered,
        f.counted,
    )
    patches = cols.floats("patches")
    groups, periods = columns.period_groups(cols, idx, f.period)
    empty = idx[:0]
    trend = []
    for p in periods:
        g = groups.get(p, empty)
        trend.append(
            {
                "period": p,
                "series": len(g),
                "patches": int(patches[g].sum()),
                "merged": int(merged[g].sum()),
                "median_time_to_merge": columns.summarise(cols, g, "time_to_merge")["median"],
            }
        )
    trend = mark_partial(trend, f.period, *span(conn, f))
    return {
        "as_of": data_date(conn),
        "series": len(rows),
        "patches": int(patches[idx].sum()),
        "merged": merges["merged"],
        "merged_by_notice": merges["merged_by_notice"],
        "merge_base": merges["over"],
        "merge_rate": merges["rate"],
        "merge_basis": merges["basis"],
        "time_to_merge": columns.summarise(cols, idx, "time_to_merge"),
        "time_to_first_response": columns.summarise(cols, idx, "time_to_first_response"),
        "backlog": sum(states[st] for st in OPEN_STATES),
        "backlog_list": "/series" + f.query_in_state("open"),
        "unanswered": int((open_[idx] & ~answered[idx]).sum()),
        "unanswered_list": "/series" + f.query_in_state("unanswered"),
        "states": {st: states.get(st, 0) for st in STATES},
        "trend": trend,
        "reviewers": _reviewers(conn, None if f.selects_all() else [r["series_key"] for r in rows]),
    }


def duration_trend(
    conn: Connection, f: Filters, rules: BacklogRules, metric: str
) -> list[dict[str, Any]]:
    """One duration's percentiles per period over the selected series (a chart's data)."""
    rows = series_rows(conn, f, rules)
    cols = columns.columns(conn, rules)
    idx = cols.positions(rows)
    if idx is None:
        return by_period(rows, metric, f.period, *span(conn, f))
    return columns.per_period(cols, idx, metric, f.period, *span(conn, f))


def performance(conn: Connection, f: Filters, rules: BacklogRules) -> dict[str, Any]:
    """Every duration's distribution over the selected series: overall, per period, per
    size and per contributor, and the first responses by role. Over the columns kept per
    data version (queries/columns.py, the same figures) when the rows are kept ones."""
    rows = series_rows(conn, f, rules)
    since, until = span(conn, f)
    cols = columns.columns(conn, rules)
    idx = cols.positions(rows)
    if idx is None:
        return _performance_rows(f, rows, since, until)
    grouped = columns.period_groups(cols, idx, f.period)
    return {
        "series": len(rows),
        "overall": {m: columns.summarise(cols, idx, m) for m in DURATIONS},
        "over_time": {
            m: columns.per_period(cols, idx, m, f.period, since, until, grouped) for m in DURATIONS
        },
        "by_bucket": {
            kind: columns.per_key(cols, idx, "time_to_merge", kind, fn, BUCKET_ORDER[kind])
            for kind, fn in BUCKETS.items()
        },
        "by_contributor": columns.per_key(
            cols, idx, "time_to_first_response", "contributor", _contributor, CONTRIBUTORS
        ),
        "first_response_by_role": columns.roles(cols, idx),
        "first_response_by_role_over_time": columns.roles_per_period(
            cols, idx, f.period, since, until, grouped
        ),
    }


CONTRIBUTORS = ("new", "established")


def _contributor(r: dict[str, Any]) -> str:
    return "new" if r["new_contributor"] else "established"


def _performance_rows(
    f: Filters, rows: list[dict[str, Any]], since: int | None, until: int | None
) -> dict[str, Any]:
    """`performance` over rows that are not the kept ones (pull requests of a search)."""
    labels = period_labels(rows, f.period)
    return {
        "series": len(rows),
        "overall": {m: summary(r[m] for r in rows) for m in DURATIONS},
        "over_time": {m: by_period(rows, m, f.period, since, until, labels) for m in DURATIONS},
        "by_bucket": {
            kind: by_key(rows, "time_to_merge", fn, BUCKET_ORDER[kind])
            for kind, fn in BUCKETS.items()
        },
        "by_contributor": by_key(rows, "time_to_first_response", _contributor, CONTRIBUTORS),
        **queue_pages.performance_sections(f, rows, since, until, labels),
    }


def backlog(conn: Connection, f: Filters, rules: BacklogRules, top: int = 25) -> dict[str, Any]:
    """The selected series by state, and the lists that wait longest (each with its total
    and a link to all of it). Over the columns kept per data version when the rows are
    kept ones (the same lists: tests/test_columns.py)."""
    rows = series_rows(conn, f, rules)
    cols = columns.columns(conn, rules)
    idx = cols.positions(rows)
    states = (
        Counter(r["state"] for r in rows) if idx is None else columns.counts(cols, idx, "state")
    )
    lists: dict[str, Sequence[dict[str, Any]]]
    if idx is None:
        by_first = sorted(rows, key=_by_first)
        by_last = sorted(rows, key=_by_last)
        subs = states_by_subsystem(rows)
        lists = {
            "unanswered": [
                r for r in by_first if r["state"] in OPEN_STATES and not r["has_reviewer_reply"]
            ],
            "nearly complete": [r for r in by_first if r["state"] == "nearly complete"],
            "waiting on author": [r for r in by_last if r["state"] == "waiting on author"],
            "stale": [r for r in by_last[::-1] if r["state"] == "stale"],
            "unanswered by subsystem": unanswered_by_subsystem(by_first),
        }
    else:
        lists, subs = _backlog_lists(cols, idx)

    def listed(state: str, sort: str) -> dict[str, Any]:
        return part(lists[state], f, "/series" + f.query_in_state(state, sort=sort), top, brief)

    return {
        "as_of": data_date(conn),
        "series": len(rows),
        # Every state, and after them any other a row is in (a pull request not merged, under
        # `is:pull`), so that the states add up to the rows.
        "states": {st: states.get(st, 0) for st in STATES}
        | {st: n for st, n in sorted(states.items()) if st not in STATES},
        # Every open series never answered, stale ones included: those wait longest.
        "waiting_first_response": listed("unanswered", "first_date"),
        "nearly_complete": listed("nearly complete", "first_date"),
        "waiting_on_author": listed("waiting on author", "last_date"),
        "stale": listed("stale", "-last_date"),
        "unanswered_by_subsystem": part(
            lists["unanswered by subsystem"], f, "/backlog" + f.query(full="1"), top, brief
        ),
        "per_subsystem": part(
            [
                {
                    "subsystem": k,
                    "series": sum(c.values()),
                    "open": sum(c[x] for x in OPEN_STATES),
                    "states": {st: c.get(st, 0) for st in STATES},
                }
                for k, c in sorted(subs.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
            ],
            f,
            "/backlog" + f.query(full="1"),
            top,
        ),
    }


def _by_first(r: dict[str, Any]) -> tuple[int, str]:
    return r["first_date"], r["series_key"]


def _by_last(r: dict[str, Any]) -> tuple[int, str]:
    return r["last_date"], r["series_key"]


def _flag(cols: columns.Columns, name: str, test: Callable[[dict[str, Any]], bool]) -> Any:
    """Whether each kept row passes `test`, as a boolean array built once per data version
    under `name` (every page that asks for the same flag shares it)."""
    codes, names = cols.codes(("flag", name), lambda r: "yes" if test(r) else "no")
    return codes == (names.index("yes") if "yes" in names else -1)


def _answered(r: dict[str, Any]) -> bool:
    return bool(r["has_reviewer_reply"])


def _backlog_lists(
    cols: columns.Columns, idx: Any
) -> tuple[dict[str, Sequence[dict[str, Any]]], dict[str, Counter[str]]]:
    """The backlog's lists (positions in the orders kept per data version, rows made only
    for those shown) and `states_by_subsystem`, for the kept rows at `idx`."""
    mask = cols.mask(idx)
    first = cols.order("by_first", _by_first)
    last = cols.order("by_last", _by_last)
    first, last = first[mask[first]], last[mask[last]]
    codes, names = cols.codes("state", lambda r: r["state"])
    code = {n: i for i, n in enumerate(names)}

    def of(order: Any, state: str) -> columns.Picked:
        return columns.Picked(cols.rows, order[codes[order] == code.get(state, -1)])

    flags, flag_names = cols.codes(
        "unanswered", lambda r: "yes" if r["unanswered_by_subsystem"] else "no"
    )
    opened = np.isin(codes, [code[s] for s in OPEN_STATES if s in code])
    yes = flag_names.index("yes") if "yes" in flag_names else -1
    answered = _flag(cols, "answered", _answered)  # the overview's, kept once
    lists: dict[str, Sequence[dict[str, Any]]] = {
        "unanswered": columns.Picked(cols.rows, first[~answered[first] & opened[first]]),
        "nearly complete": of(first, "nearly complete"),
        "waiting on author": of(last, "waiting on author"),
        "stale": of(last[::-1], "stale"),
        "unanswered by subsystem": columns.Picked(
            cols.rows, first[(flags[first] == yes) & opened[first]]
        ),
    }
    rows_at, subs_at, sub_names = cols.memberships(
        "subsystems", lambda r: list(r["subsystems"] or ["(none)"])
    )
    chosen = mask[rows_at]
    counts = np.bincount(
        subs_at[chosen] * len(names) + codes[rows_at[chosen]],
        minlength=len(sub_names) * len(names),
    ).reshape(len(sub_names), len(names))
    subs = {
        sub_names[i]: Counter({names[j]: int(counts[i, j]) for j in np.flatnonzero(counts[i])})
        for i in np.flatnonzero(counts.sum(axis=1))
    }
    return lists, subs


def _sort_key(f: Filters, columns: Any, default: str) -> str:
    key = f.sort.removeprefix("-")
    if not key:
        return default
    if key not in columns:
        raise FilterError(
            "sort", f"sort: one of {', '.join(columns)}, '-' first to descend; got {f.sort!r}"
        )
    return key


def explorer(conn: Connection, f: Filters, rules: BacklogRules) -> dict[str, Any]:
    rows = series_rows(conn, f, rules)
    key = _sort_key(f, SORTABLE, "last_date")
    desc = f.sort.startswith("-") or not f.sort
    cols = columns.columns(conn, rules)
    idx = cols.positions(rows)
    if idx is not None:
        ordered: Sequence[dict[str, Any]] = _explorer_order(cols, idx, key, desc)
    else:
        ordered = _explorer_rows(rows, key, desc)
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


def _explorer_order(cols: columns.Columns, idx: Any, key: str, desc: bool) -> columns.Picked:
    """The kept rows at `idx` in the explorer's order, from the order of every kept row by
    `key` kept per data version (keys are unique: descending is the ascending reversed)."""

    def by_value(r: dict[str, Any]) -> tuple[bool, Any, str]:
        v = r.get(key)
        return v is None, 0 if v is None else v, r["series_key"]

    order = cols.order(("explorer", key), by_value)
    codes, names = cols.codes(("missing", key), lambda r: "no" if r.get(key) is None else "yes")
    missing = codes == (names.index("no") if "no" in names else -1)
    present = order[cols.mask(idx)[order] & ~missing[order]]
    if desc:
        present = present[::-1]
    return columns.Picked(cols.rows, np.concatenate((present, idx[missing[idx]])))


def _explorer_rows(rows: list[dict[str, Any]], key: str, desc: bool) -> list[dict[str, Any]]:
    """`_explorer_order` for rows that are not the kept ones (pull requests of a search)."""
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    present.sort(key=lambda r: (r[key], r["series_key"]), reverse=desc)
    return present + missing


PATCH_SORT = ("date", "subject", "lines")
# Up to this many selected series, the patches page reads theirs by key; beyond, it reads
# every patch once and keeps theirs (fewer statements than chunks of keys by then).
KEYS_IN_SQL = 5000


def patches(conn: Connection, f: Filters, rules: BacklogRules) -> dict[str, Any]:
    """The patches of the selected series, posted from `since` to `until` (by the patch's own
    date), whose subject or sender contains `q`. Without a filter, of every series: those the
    metrics count (`series_metrics`), as any filter selects among them; pull requests and
    the groupings the metrics leave out are not series, so a filter that keeps every series
    lists the same patches as none (`is:pull` selects the pull requests' own)."""
    vm, sv, sm, m, a, pc, c = (
        schema.version_members,
        schema.series_versions,
        schema.series_metrics,
        schema.messages,
        schema.message_analysis,
        schema.patch_commits,
        schema.commits,
    )
    columns = {"date": m.c.date_utc, "subject": m.c.subject, "lines": a.c.lines_added}
    key = _sort_key(f, PATCH_SORT, "date")
    desc = f.sort.startswith("-") or not f.sort
    conds = [vm.c.idx > 0]
    if f.since_ts is not None:
        conds.append(m.c.date_utc >= f.since_ts)
    if f.until_ts is not None:
        conds.append(m.c.date_utc < f.until_ts)
    series_f = replace(f, since="", until="", q="")
    keys = selected_keys(conn, series_f, rules)
    joined = (
        vm.join(m, m.c.id == vm.c.message_pk)
        .join(a, a.c.message_pk == m.c.id)
        .join(sv, sv.c.key == vm.c.version_key)
    )
    # No filter: the patches of every series (a filter's keys may name pull requests too).
    of_series = joined.join(sm, sm.c.series_key == sv.c.series_key)
    col = columns[key]
    order = (col.desc(), m.c.id.desc()) if desc else (col.asc(), m.c.id.asc())
    if keys is None and f.q:
        # A search over every patch: in the subjects and senders kept per data version
        # (queries/patchtext.py), not an ILIKE scan of every patch of the store.
        matches = patchtext.page_of(
            patchtext.patch_text(conn), f.q, f.since_ts, f.until_ts, key, desc
        )
        total = len(matches)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(f.page, pages)
        ids = [int(i) for i in matches[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
    elif keys is None:
        base = select(m.c.id).select_from(of_series).where(and_(*conds))

        def dates() -> tuple[list[int], int]:
            found = [
                d
                for (d,) in conn.execute(
                    select(m.c.date_utc).select_from(of_series).where(vm.c.idx > 0)
                )
            ]
            known = sorted(d for d in found if d is not None)
            return known, len(found)  # undated patches count only without a date filter

        # Counting would read every patch in the days asked; the patches' dates are read once
        # per data version instead, and any days are counted in them by bisection (the page
        # of rows comes from the date index, LIMIT'ed).
        known, every = selection.per_version(conn, "patch_dates", dates)
        if f.since_ts is None and f.until_ts is None:
            total = every
        else:
            lo = 0 if f.since_ts is None else bisect_left(known, f.since_ts)
            hi = len(known) if f.until_ts is None else bisect_left(known, f.until_ts)
            total = max(0, hi - lo)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(f.page, pages)
        ids = [
            i
            for (i,) in conn.execute(
                base.order_by(*order).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
            )
        ]
    else:
        if len(keys) <= max(KEYS_IN_SQL, len(all_series(conn, rules)) // 2):
            # Up to half the series: read their patches alone (by the series_key index), a
            # chunk of series at a time, rather than every patch of the store (measured on
            # a million-message store: 25 us a series by key, 2.5 us a patch by the pass,
            # about five patches a series).
            found = []
            for chunk in chunks(sorted(keys)):
                q = select(m.c.id, col, m.c.subject, m.c.from_addr).select_from(joined)
                found += [
                    (i, v)
                    for i, v, subject, sender in conn.execute(
                        q.where(*conds, sv.c.series_key.in_(chunk))
                    )
                    if not f.q or patchtext.contains(f.q, subject, sender)
                ]
        else:
            # Most series: one pass over the patches, kept when their series is selected.
            found = [
                (i, v)
                for i, k, v, subject, sender in conn.execute(
                    select(m.c.id, sv.c.series_key, col, m.c.subject, m.c.from_addr)
                    .select_from(joined)
                    .where(and_(*conds))
                )
                if k in keys and (not f.q or patchtext.contains(f.q, subject, sender))
            ]
        found.sort(key=lambda x: (x[1] is None, 0 if x[1] is None else x[1], x[0]), reverse=desc)
        total = len(found)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(f.page, pages)
        ids = [i for i, _v in found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
    detail = {
        r.id: r
        for r in conn.execute(
            select(
                m.c.id,
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
            .select_from(joined.outerjoin(pc, pc.c.message_pk == m.c.id))
            .outerjoin(c, c.c.id == pc.c.commit_pk)
            .where(m.c.id.in_(ids), vm.c.idx > 0)
        )
    }
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
            for r in (detail[i] for i in ids if i in detail)
        ],
    }


def community(conn: Connection, f: Filters, rules: BacklogRules, top: int = 25) -> dict[str, Any]:
    """Review given to the selected series against those series, per person and
    organisation; each table says how long it is in full (full=1 shows all of it)."""
    d = review_balance(conn, top=None if f.full else top, series=selected_keys(conn, f, rules))
    del d["people"]
    d["full_list"] = "/community" + f.query(full="1")
    return d


def series_page(conn: Connection, key: str, rules: BacklogRules) -> dict[str, Any] | None:
    if not conn.execute(select(schema.series.c.key).where(schema.series.c.key == key)).first():
        return None
    versions = versions_detail(conn, [key])
    pks = [mm["pk"] for v in versions for mm in v["members"]]
    pc, c, r = schema.patch_commits, schema.commits, schema.repos
    found = grouped(
        conn,
        pc.c.message_pk,
        pks,
        {
            "sha": c.c.sha,
            "subject": c.c.subject,
            "date": c.c.committer_date,
            "committer": c.c.committer_name,
            "repo": r.c.name,
            **{k: pc.c[k] for k in ("method", "score", "ambiguous")},
        },
        pc.join(c, c.c.id == pc.c.commit_pk).join(r, r.c.id == pc.c.repo_id),
    )
    commits = {pk: links[0] for pk, links in found.items()}
    for v in versions:
        for mm in v["members"]:
            mm["commit"] = commits.get(mm["pk"])
    sm = schema.series_metrics
    metrics = conn.execute(select(sm).where(sm.c.series_key == key)).first()
    m = dict(metrics._mapping) if metrics else {}
    if m:
        as_of, seen = seen_dates(conn)
        decode(m, as_of, rules, idle_to=seen)
        m["merge_evidence"] = json.loads(m["merge_evidence"] or "null")
        m["fixed_by"] = json.loads(m.get("fixed_by") or "null")
        _mark_through(conn, versions, m["merge_evidence"])
    _mark_merged_as(versions)
    title = conn.execute(select(schema.series.c.title).where(schema.series.c.key == key)).scalar()
    # What changed between versions, review rounds, changed after review, dependencies
    # (queries/rounds.py, issue 14).
    after = rounds.series_after_review(conn, versions)
    for v in versions:
        for mm in v["members"]:
            mm["after_review"] = after.get(mm["pk"])
    deps = rounds.prerequisites(conn, key)
    return {
        "key": key,
        "title": title,
        "metrics": m,
        "versions": versions,
        "first_response": queue_pages.series_section(conn, m),
        "rounds": rounds.rounds(conn, versions),
        "changed_after_review": sum(1 for a in after.values() if a["changed"]),
        "prerequisites": deps["prerequisites"],
        "dependents": deps["dependents"],
        "prediction": prediction.series_prediction(conn, key, m.get("state")) if m else None,
    }


def _mark_through(
    conn: Connection, versions: list[dict[str, Any]], evidence: dict[str, Any] | None
) -> None:
    """Each patch the metrics found merged through another series' posting of the same patch
    (stored as the merge evidence's `through` pairs, queries/evidence.py went_in_elsewhere)
    gets `through`: that posting's Message-ID, series, subject and commit, so "merged by
    commit" is traceable on a page whose own patches have none (the Message-ID alone when
    the posting's link is gone since: the metrics are owed then, and say so next update).
    `inside` when that posting is not the same patch (neither its diff nor its title): the
    commit holds the patch's change inside a larger one (match/inside.py)."""
    pairs = dict((evidence or {}).get("through") or [])
    if not pairs:
        return
    found = earliest_commits(conn, pairs.values())
    for v in versions:
        for mm in v["members"]:
            if not mm["commit"] and mm["message_id"] in pairs:
                x = pairs[mm["message_id"]]
                t = mm["through"] = dict(found.get(x) or {"message_id": x})
                t["inside"] = bool(t.get("sha")) and not (
                    (mm.get("patch_id") and mm["patch_id"] == t["patch_id"])
                    or (mm["normalized_title"] and mm["normalized_title"] == t["normalized_title"])
                )


def _mark_merged_as(versions: list[dict[str, Any]]) -> None:
    """Each version a later merged version supersedes gets `merged_as` (its seq and name),
    so the page says "superseded by the merged v4" rather than leaving v3 unexplained. The
    same answer as the exports' (queries/history.py load_superseded_by_merged): a patch
    that went in through another series (`_mark_through`) is merged too, as the metrics
    count it."""
    refs, merged, seq = [], {}, {}
    for v in versions:
        patches = [mm for mm in v["members"] if mm["idx"]]
        done = []
        for mm in patches:
            c, t = mm["commit"], mm.get("through") or {}
            when = c["date"] if c and not c["ambiguous"] else None if c else t.get("date")
            if when is not None:
                done.append((mm["normalized_title"] or "", when))
        refs.append(
            VersionRef(
                v["key"],
                v["series_key"],
                v["seq"],
                v["version"],
                v["version_str"],
                v["date"],
                bool(v["partial"]),
                tuple(mm["normalized_title"] or "" for mm in patches),
                tuple(done),
            )
        )
        seq[v["key"]] = v["seq"]
        if done:
            merged[v["key"]] = min(when for _t, when in done)
    later = superseded_by_merged(refs, merged)
    for v in versions:
        m = later.get(v["key"])
        if m is not None:
            v["merged_as"] = {"seq": seq[m.key], "version": f"v{m.version_str or m.version}"}


def _series_index(
    conn: Connection, rules: BacklogRules
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The series rows kept for this data version by key and by author, kept with them."""

    def compute() -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        by_key: dict[str, dict[str, Any]] = {}
        by_author: dict[str, list[dict[str, Any]]] = {}
        for r in all_series(conn, rules):
            by_key[r["series_key"]] = r
            by_author.setdefault(r["author"], []).append(r)
        return by_key, by_author

    return selection.per_version(conn, ("series_index", rules), compute)


def person_page(
    conn: Connection,
    address: str,
    f: Filters,
    rules: BacklogRules,
    authored_page: int = 1,
    reviewed_page: int = 1,
) -> dict[str, Any] | None:
    """One person over the selected series: what they authored and what they reviewed, every
    series of both, a page of PAGE_SIZE at a time."""
    pe = schema.people
    if len(address) > MAX_ADDRESS:
        return None  # longer than any mail address: nobody (and no giant pattern for SQL)
    # An identity (`addr:<address>`, as the queue's URL and the API take) names them too.
    addr = address.lower().removeprefix("addr:")
    row = conn.execute(select(pe).where(pe.c.identity == f"addr:{addr}")).first()
    if row is None:
        # One element of the JSON list, exactly: the quoted address with LIKE's wildcards
        # escaped, so `%` or `_` in the URL match only themselves.
        needle = json.dumps(addr)
        row = conn.execute(
            select(pe).where(pe.c.addresses.contains(needle, autoescape=True)).limit(1)
        ).first()
    if row is None and (named := maintainer_identities(conn).get(addr)) is not None:
        # A MAINTAINERS address nobody sent from, of someone who wrote under its name.
        row = conn.execute(select(pe).where(pe.c.identity == named)).first()
    if row is None:
        return None
    p = dict(row._mapping)
    p["addresses"] = json.loads(p["addresses"])
    p.update(_messages_sent(conn, p, f))
    who = p["identity"]
    ev = schema.review_events
    # The person's own series and the series they replied to, looked up in the rows kept per
    # data version and each kept if `f` keeps it: the same rows as filtering every series
    # first, at the cost of this person's share of them.
    everything = f.selects_all()
    all_by_key, by_author = _series_index(conn, rules)
    keep = selection.keeper(conn, f)

    def selected(key: str) -> dict[str, Any] | None:
        r = all_by_key.get(key)
        return r if r is not None and (everything or keep(r)) else None

    per_series: dict[str, dict[str, Any]] = {}
    given = {"replies": 0, "reviews": 0, "lines": 0}
    for key, review, lines, date in conn.execute(
        select(ev.c.series_key, ev.c.review, ev.c.lines_written, ev.c.date).where(ev.c.who == who)
    ):
        r = selected(key)
        if r is None and not everything:
            continue
        given["replies"] += 1
        given["reviews"] += int(bool(review))
        given["lines"] += int(lines or 0)
        x = per_series.setdefault(
            key,
            {
                "series_key": key,
                "title": r["title"] if r else key,
                "author_addr": r["author_addr"] if r else "",
                "replies": 0,
                "reviews": 0,
                "last": date,
            },
        )
        x["replies"] += 1
        x["reviews"] += int(bool(review))
        x["last"] = max(x["last"], date)
    reviewed = sorted(per_series.values(), key=lambda x: (-x["last"], x["series_key"]))
    authored = sorted(
        (r for r in by_author.get(who, ()) if everything or keep(r)),
        key=lambda r: (-r["first_date"], r["series_key"]),
    )

    def paged(items: list[dict[str, Any]], page: int, fields: tuple[str, ...]) -> dict[str, Any]:
        pages = max(1, math.ceil(len(items) / PAGE_SIZE))
        page = min(page, pages)
        return {
            "total": len(items),
            "page": page,
            "pages": pages,
            "rows": [
                {k: x[k] for k in fields} for x in items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
            ],
        }

    p.update(
        {
            "review_replies": given["replies"],
            "reviews": given["reviews"],
            "lines_written": given["lines"],
            "series_authored": len(authored),
            "replies_received": sum(r["review_replies"] for r in authored),
            "reviewed": paged(
                reviewed,
                reviewed_page,
                ("series_key", "title", "author_addr", "replies", "reviews", "last"),
            ),
            "authored": paged(
                authored,
                authored_page,
                (
                    "series_key",
                    "title",
                    "first_date",
                    "versions",
                    "patches",
                    "review_replies",
                    "merged",
                    "time_to_merge",
                    "state",
                ),
            ),
        }
    )
    # The load over time needs only the series that named or were answered by the person.
    candidates = (all_by_key.get(k) for k in sorted(candidate_keys(conn, who, rules)))
    kept = [r for r in candidates if r is not None and (everything or keep(r))]
    p.update(queue_pages.person_sections(conn, who, p["address"], f, rules, kept))
    return p


# What a person's `messages`, `first_date` and `last_date` count, by the filters that apply to
# messages (the others select series).
MESSAGES_ALL = "every message they sent (the page's other filters select series, not messages)"
MESSAGES_WINDOW = "the messages they sent {window} (the page's other filters select series)"


def _messages_sent(conn: Connection, p: dict[str, Any], f: Filters) -> dict[str, Any]:
    """A person's messages, first and last date under the filters that apply to messages:
    the date window (`since`, `until`: sent then) and the list (seen there); the people
    row's counts are every message's. An identity's messages are those sent from its
    addresses (stages/metrics.py people_rows), under its name for an address-less one."""
    since, until = f.since_ts, f.until_ts
    out = {"messages_all_time": p["messages"], "messages_counted": MESSAGES_ALL, "window": ""}
    if since is None and until is None and not f.list:
        return out
    m, ms, ml = schema.messages, schema.message_sightings, schema.mailing_lists
    addrs = [a for a in p["addresses"] if a]
    mine = m.c.from_addr.in_(addrs)
    if "" in p["addresses"]:
        mine = mine | ((m.c.from_addr == "") & (m.c.from_name == p["name"]))
    conds = [mine]
    what = []
    if since is not None:
        conds.append(m.c.date_utc >= since)
        what.append(f"since {f.since}")
    if until is not None:
        conds.append(m.c.date_utc < until)
        what.append(f"until {f.until}")
    if f.list:
        seen = (
            select(ms.c.message_pk)
            .join(ml, ml.c.id == ms.c.list_id)
            .where(ml.c.name == f.list, ms.c.message_pk == m.c.id)
        )
        conds.append(seen.exists())
        what.append(f"on the list {f.list}")
    n, lo, hi = conn.execute(
        select(func.count(), func.min(m.c.date_utc), func.max(m.c.date_utc)).where(*conds)
    ).one()
    out.update(
        messages=n,
        first_date=lo,
        last_date=hi,
        window=", ".join(what),
        messages_counted=MESSAGES_WINDOW.format(window=", ".join(what)),
    )
    return out


def subsystem_page(
    conn: Connection, title: str, f: Filters, rules: BacklogRules, top: int = 25
) -> dict[str, Any] | None:
    """One MAINTAINERS section over the selected series that touch it."""
    sub = conn.execute(select(schema.subsystems).where(schema.subsystems.c.title == title)).first()
    rows = [r for r in series_rows(conn, f, rules) if title in r["subsystems"]]
    if sub is None and not rows:
        return None
    info = dict(sub._mapping) if sub else {"title": title, "status": None}
    for k in ("maintainers", "reviewers", "lists", "files"):
        info[k] = json.loads(info[k]) if sub else []
    # Who the section names, as identities: any address of theirs (or the person who wrote
    # under a MAINTAINERS entry's name) counts, not only the one the people table shows.
    expected = {identity_of_address(conn, e) for _n, e in info["maintainers"] + info["reviewers"]}
    keys = [r["series_key"] for r in rows]
    load: Counter[str] = Counter()
    pe = schema.people
    ev = schema.review_events
    for chunk in chunks(keys):
        for who, n in conn.execute(
            select(ev.c.who, func.count()).where(ev.c.series_key.in_(chunk)).group_by(ev.c.who)
        ):
            load[who] += n
    # The addresses of the people who replied here, not of everyone in the store.
    addr: dict[str, str] = {}
    for chunk in chunks(sorted(load)):
        q = select(pe.c.identity, pe.c.address).where(pe.c.identity.in_(chunk))
        addr.update((i, a) for i, a in conn.execute(q))
    states = Counter(r["state"] for r in rows)
    here = "/subsystems/" + quote(title, safe="") + f.query(full="1")
    return {
        **info,
        "series": len(rows),
        "states": {st: states.get(st, 0) for st in STATES},
        "time_to_first_response": summary(r["time_to_first_response"] for r in rows),
        "time_to_merge": summary(r["time_to_merge"] for r in rows),
        "reviewer_load": part(
            [
                {
                    "identity": w,
                    "address": addr.get(w, w),
                    "replies": n,
                    "expected": w in expected,
                }
                for w, n in sorted(load.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            f,
            here,
            top,
        ),
        # Open series only, as the backlog's count of the same name (queries/report.py
        # unanswered_by_subsystem): a merged series its maintainers never answered is not
        # work waiting on them.
        "unanswered": part(
            [r for r in rows if r["unanswered_by_subsystem"] and r["state"] in OPEN_STATES],
            f,
            here,
            top,
            brief,
        ),
        "open": part(
            [r for r in rows if r["state"] in OPEN_STATES],
            f,
            "/series" + f.query(subsystem=title, state="open"),
            top,
            brief,
        ),
        **queue_pages.subsystem_sections(
            conn,
            title,
            [(n, e, "maintainer") for n, e in info["maintainers"]]
            + [(n, e, "reviewer") for n, e in info["reviewers"]],
            f,
            rules,
            rows,
        ),
    }


def _prefix_range(col: Any, prefix: str) -> tuple[Any, Any]:
    """`col` starts with `prefix` (lowercase hex), as a range an index on `col` answers: LIKE
    'abc%' is case-insensitive in SQLite and so scans every commit. A commit id is lowercase
    hex, so every one starting with the prefix sorts from it to the prefix followed by 'g'."""
    return col >= prefix, col < prefix + "g"


def commit_page(conn: Connection, sha: str) -> dict[str, Any] | None:
    c = schema.commits
    if not _SHA_PREFIX.match(sha):
        return None  # not a (prefix of a) commit id: never a pattern
    row = conn.execute(
        select(c, schema.repos.c.name)
        .join(schema.repos)
        .where(*_prefix_range(c.c.sha, sha.lower()))
        .limit(2)
    ).all()
    if len(row) != 1:
        return None
    d = dict(row[0]._mapping)
    d["repo"] = d.pop("name")
    cf, ct, m, pc, vm, sv = (
        schema.commit_files,
        schema.commit_trailers,
        schema.messages,
        schema.patch_commits,
        schema.version_members,
        schema.series_versions,
    )
    files = select(*cols(cf, "path", "old_path", "lines_added", "lines_removed", "binary"))
    d["files"] = [dict(r._mapping) for r in conn.execute(files.where(cf.c.commit_pk == d["id"]))]
    trailers = select(ct.c.key, ct.c.value).where(ct.c.commit_pk == d["id"]).order_by(ct.c.seq)
    d["trailers"] = [dict(r._mapping) for r in conn.execute(trailers)]
    link = conn.execute(
        select(m.c.message_id, m.c.subject, pc.c.method, pc.c.score, vm.c.version_key)
        .add_columns(sv.c.series_key)
        .join(m, m.c.id == pc.c.message_pk)
        .join(vm, vm.c.message_pk == m.c.id)
        .join(sv, sv.c.key == vm.c.version_key)
        .where(pc.c.commit_pk == d["id"])
    ).first()
    d["posting"] = dict(link._mapping) if link else None
    d["after_review"] = None
    if link:
        # Changed after review: the commit against the version that got the Reviewed-by.
        versions = versions_detail(conn, [link.series_key])
        pk = conn.execute(select(pc.c.message_pk).where(pc.c.commit_pk == d["id"])).scalar()
        for v in versions:
            for mm in v["members"]:
                if mm["pk"] == pk:
                    mm["commit"] = {"sha": d["sha"]}
        d["after_review"] = rounds.series_after_review(conn, versions, only=pk).get(pk)
    if d["diff_skipped"]:  # read without its diff (match/horizon.py): nothing was counted
        d["lines_added"] = d["lines_removed"] = None
        for x in d["files"]:
            x["lines_added"] = x["lines_removed"] = x["binary"] = None
    diff = d.pop("diff")
    d["diff"] = diff[:200_000] if diff else None
    d["diff_truncated"] = bool(diff and len(diff) > 200_000)
    del d["id"]
    return d


PULL_PARAMS = ("since", "until", "list", "q", "page")


def pulls(conn: Connection, f: Filters) -> dict[str, Any]:
    """Pull requests, apart from the series under review: posted in the selected days, on the
    selected list, matching the search; each merged when a notice says so (pr-tracker-bot's
    "has been merged into ...", a maintainer's "Applied"), with the tree the notice names.
    Only the date, list and search filters apply: a pull request is a maintainer's batch of
    reviewed patches, so the series filters (organisation, subsystem, size, state) do not."""
    pr = schema.pull_requests
    q = select(pr).order_by(pr.c.first_date.desc(), pr.c.series_key)
    if f.since_ts is not None:
        q = q.where(pr.c.first_date >= f.since_ts)
    if f.until_ts is not None:
        q = q.where(pr.c.first_date < f.until_ts)
    rows = [dict(r._mapping) for r in conn.execute(q)]
    if f.list:
        keys = series_in_list(conn, f.list)
        rows = [r for r in rows if r["series_key"] in keys]
    if f.q:
        needle = f.q.casefold()
        rows = [r for r in rows if needle in f"{r['title']} {r['author_addr']}".casefold()]
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = min(f.page, pages)
    shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    for r in shown:  # the evidence of the rows shown only
        ev = json.loads(r.pop("merge_evidence") or "null")
        r["tree"] = ev["tree"] if ev else None
        r["notice_message_id"] = ev["message_id"] if ev else None
        r.pop("author")
    return {
        "total": len(rows),
        "merged": sum(1 for r in rows if r["merged_by"]),
        "page": page,
        "pages": pages,
        "rows": shown,
    }
