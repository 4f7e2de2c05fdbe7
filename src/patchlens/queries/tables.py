"""Every table the dashboard shows, as rows and columns for its CSV download: the same rows
(every one, not only the first rows or page the HTML shows; the page's filters and sort) and
the same columns as the HTML table, plus the key a title links to (`series_key`), in the
units of the API and the exports (queries/formats.py: ISO 8601 UTC instants, durations in
hours under names that say so).

A table is named by its page and an id (`/csv/backlog/stale`); `TABLES` lists them all, so a
test walks every one against the page's JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection

from patchlens.metrics.backlog import BacklogRules
from patchlens.queries import conformance as conf
from patchlens.queries import dashboard as data
from patchlens.queries import findings as findings_page
from patchlens.queries.filters import Filters
from patchlens.queries.formats import column_names, with_units
from patchlens.queries.queue import queue_of
from patchlens.queries.selection import brief

SERIES = (
    "series_key",
    "first_date",
    "last_date",
    "title",
    "author_addr",
    "versions",
    "patches",
    "reviewers",
    "state",
)
EXPLORER = (*SERIES[:-1], "time_to_first_response", "time_to_merge", "state")
SUMMARY = ("n", "median", "p75", "p90")
SHOWN_OVER_TIME = ("time_to_first_response", "time_to_first_review", "time_to_merge", "rework_time")
# The tables of a page about one thing (the ident is in the path).
ONE = ("person", "subsystem", "commit", "queue")


@dataclass(frozen=True)
class Table:
    """One table of a page: its rows from the page's data (`rows`), its columns (names as the
    page's data has them), and whether the page's data must be asked for in full (`full=1`)
    or page by page (`paged`: the name of its page parameter) to hold every row."""

    rows: Callable[[dict[str, Any]], list[dict[str, Any]]]
    columns: tuple[str, ...]
    paged: str = ""

    @property
    def header(self) -> list[str]:
        return column_names(self.columns)


def _at(*path: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    def get(d: dict[str, Any]) -> list[dict[str, Any]]:
        x: Any = d
        for p in path:
            x = x[p]
        return list(x)

    return get


def _items(key: str, name: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """A table drawn from a mapping (state -> count, metric -> summary)."""

    def get(d: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {name: k, **v} if isinstance(v, dict) else {name: k, "series": v}
            for k, v in d[key].items()
        ]

    return get


def _reversed(*path: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """Periods newest first, as the HTML lists them."""
    get = _at(*path)
    return lambda d: get(d)[::-1]


def _performance() -> dict[str, Table]:
    out = {
        "overall": Table(_items("overall", "metric"), ("metric", *SUMMARY)),
        "by_contributor": Table(_at("by_contributor"), ("group", *SUMMARY)),
    }
    for m in SHOWN_OVER_TIME:
        out[f"over_time-{m}"] = Table(
            _reversed("over_time", m), ("period", "partial", "series", *SUMMARY)
        )
    for kind in ("patches", "lines", "versions"):
        out[f"by_bucket-{kind}"] = Table(_at("by_bucket", kind), ("group", *SUMMARY))
    out["first_response_by_role"] = Table(_at("first_response_by_role"), BY_ROLE)
    return out


def _series_part(key: str) -> Table:
    return Table(_at(key, "rows"), SERIES)


# The first responses by role (a subsystem's, or the selection's on the performance page).
BY_ROLE = ("role", "first", "first_share", "n", "median_hours", "p75_hours", "p90_hours")

TABLES: dict[str, dict[str, Table]] = {
    "overview": {
        "trend": Table(
            _reversed("trend"),
            ("period", "partial", "series", "patches", "merged", "median_time_to_merge"),
        )
    },
    "performance": _performance(),
    "backlog": {
        "states": Table(_items("states", "state"), ("state", "series")),
        **{
            k: _series_part(k)
            for k in (
                "waiting_first_response",
                "nearly_complete",
                "waiting_on_author",
                "stale",
                "unanswered_by_subsystem",
            )
        },
        "per_subsystem": Table(_at("per_subsystem", "rows"), ("subsystem", "series", "open")),
    },
    "community": {
        "reviewers": Table(
            _at("reviewers"),
            (
                "name",
                "address",
                "org",
                "review_replies",
                "substantive",
                "reviews",
                "flag_only",
                "lines_written",
                "series_reviewed",
                "series_authored",
                "replies_received",
                "given_per_received",
            ),
        ),
        "contributors": Table(
            _at("contributors"),
            (
                "name",
                "address",
                "org",
                "series_authored",
                "patches_authored",
                "replies_received",
                "review_replies",
            ),
        ),
        "orgs": Table(
            _at("orgs"),
            (
                "org",
                "reviewers",
                "review_replies",
                "reviews",
                "lines_written",
                "series_authored",
                "replies_received",
                "given_per_received",
            ),
        ),
    },
    "series": {"series": Table(_at("rows"), EXPLORER, paged="page")},
    "patches": {
        "patches": Table(
            _at("rows"),
            (
                "date",
                "message_id",
                "series_key",
                "subject",
                "from_name",
                "from_addr",
                "lines_added",
                "lines_removed",
                "commit",
                "method",
            ),
            paged="page",
        )
    },
    "pulls": {
        "pulls": Table(
            _at("rows"),
            (
                "first_date",
                "series_key",
                "title",
                "author_addr",
                "replies",
                "merged_by",
                "merged_date",
                "tree",
            ),
            paged="page",
        )
    },
    "person": {
        "authored": Table(
            _at("authored", "rows"),
            (
                "first_date",
                "series_key",
                "title",
                "versions",
                "patches",
                "review_replies",
                "state",
                "merged",
                "time_to_merge",
            ),
            paged="authored_page",
        ),
        "reviewed": Table(
            _at("reviewed", "rows"),
            ("last", "series_key", "title", "author_addr", "replies", "reviews"),
            paged="reviewed_page",
        ),
        "load": Table(
            _at("load"),
            ("period", "partial", "awaiting", "answered", "median_wait_hours", "p90_wait_hours"),
        ),
    },
    "subsystem": {
        "durations": Table(
            lambda d: [{"metric": m, **d[m]} for m in ("time_to_first_response", "time_to_merge")],
            ("metric", *SUMMARY),
        ),
        "states": Table(_items("states", "state"), ("state", "series")),
        "reviewer_load": Table(
            _at("reviewer_load", "rows"), ("address", "identity", "replies", "expected")
        ),
        "unanswered": _series_part("unanswered"),
        "open": _series_part("open"),
        "queues": Table(
            _at("queues"),
            (
                "name",
                "address",
                "identity",
                "role",
                "waiting",
                "again",
                "oldest_hours",
                "median_hours",
            ),
        ),
        "waiting_on_people": Table(
            _at("waiting_on", "by_person"), ("identity", "name", "address", "series")
        ),
        "waiting_on": Table(
            _at("waiting_on", "rows"),
            (
                "series_key",
                "title",
                "author_name",
                "author_addr",
                "current_version",
                "waiting_hours",
                "waiting_on",
                "waiting_on_who",
                "state",
            ),
        ),
        "load": Table(
            _at("load"),
            ("period", "partial", "awaiting", "answered", "median_wait_hours", "p90_wait_hours"),
        ),
        "first_response_by_role": Table(_at("first_response_by_role"), BY_ROLE),
    },
    # A person's review queue (queries/queue.py person_queue): each of its two lists.
    "queue": {
        name: Table(
            _at(name),
            (
                "waiting_hours",
                "series_key",
                "title",
                "author_name",
                "author_addr",
                "current_version",
                "current_date",
                "patches",
                "reasons",
                "answered_by",
                "waiting_on",
                "state",
            ),
        )
        for name in ("awaiting", "again")
    },
    "commit": {
        "files": Table(_at("files"), ("path", "old_path", "lines_added", "lines_removed", "binary"))
    },
    # Issue 15, part F.
    "findings": {"groups": Table(findings_page.table_rows, findings_page.TABLE_COLUMNS)},
}

# Issue 15 §3: each list of the conformance report (queries/conformance.py).
_CONF_COMMIT = (
    "date",
    "repo",
    "sha",
    "subject",
    "author_name",
    "author_email",
    "series_key",
    "message_id",
)
TABLES["conformance"] = {
    "off_list": Table(_at("off_list"), _CONF_COMMIT),
    "no_review": Table(_at("no_review"), (*_CONF_COMMIT, "posted", "self_reviews")),
    "changed_after_review": Table(
        _at("changed_after_review"),
        (*_CONF_COMMIT, "reviewed_message_id", "reviewed_version", "interdiff", "truncated"),
    ),
    "self_reviews": Table(
        _at("self_reviews"),
        (*_CONF_COMMIT, "where", "trailer", "giver_name", "giver_email", "review_message_id"),
    ),
}

PAGES: dict[str, Callable[..., Any]] = {
    "overview": data.overview,
    "performance": data.performance,
    "backlog": data.backlog,
    "community": data.community,
    "series": data.explorer,
    "patches": data.patches,
    "person": data.person_page,
    "subsystem": data.subsystem_page,
    "commit": data.commit_page,
    "findings": findings_page.findings,
}


def explorer_rows(conn: Connection, f: Filters, rules: BacklogRules) -> list[dict[str, Any]]:
    """Every series the explorer lists for `f`, in its order (its sort, or the newest
    activity first), each as a row of its table: what its pages hold, one after another."""
    rows = data.series_rows(conn, f, rules)
    key = data._sort_key(f, data.SORTABLE, "last_date")
    desc = f.sort.startswith("-") or not f.sort
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    present.sort(key=lambda r: (r[key], r["series_key"]), reverse=desc)
    return [brief(r) for r in present + missing]


def table_rows(
    conn: Connection,
    page: str,
    name: str,
    f: Filters,
    rules: BacklogRules,
    ident: str | None = None,
) -> list[dict[str, Any]] | None:
    """Every row of one table of a page over `f`, with the table's columns in the API's units;
    None when the page has no such table or the thing it is about does not exist."""
    table = TABLES.get(page, {}).get(name)
    if table is None or (page in ONE) != (ident is not None):
        return None
    rows: list[dict[str, Any]]
    if page == "series":
        rows = explorer_rows(conn, f, rules)
    else:
        full = replace(f, full="1", page=1)

        def fetch(n: int) -> dict[str, Any] | None:
            if page == "pulls":
                return data.pulls(conn, replace(full, page=n))
            if page == "conformance":
                return conf.conformance(conn, full)
            if page == "commit":
                return data.commit_page(conn, ident or "")
            if page == "queue":
                return queue_of(conn, ident or "", rules)
            if page in ("person", "subsystem"):
                more = {table.paged: n} if table.paged else {}
                return PAGES[page](conn, ident, full, rules, **more)
            return PAGES[page](conn, replace(full, page=n) if table.paged else full, rules)

        first = fetch(1)
        if first is None:
            return None
        rows = table.rows(first)
        if table.paged:
            holder = first if page not in ONE else first[name]
            for n in range(2, holder.get("pages", 1) + 1):
                more = fetch(n)
                assert more is not None
                rows += table.rows(more)
    return [with_units({c: r.get(c) for c in table.columns}) for r in rows]
