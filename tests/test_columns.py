"""The performance page and the duration charts computed over the columns kept per data
version (queries/columns.py) equal the plain per-row functions, value for value and type
for type, on the EROFS store, for every period and several filters."""

from __future__ import annotations

import json

import pytest

from patchlens.metrics.backlog import BacklogRules
from patchlens.metrics.distributions import DURATIONS, by_period
from patchlens.queries import columns, dashboard
from patchlens.queries.filters import Filters

RULES = BacklogRules()
FILTERS = [
    {},
    {"period": "month"},
    {"period": "year", "since": "2021-01-01"},
    {"until": "2950-01-01"},
    {"org": "Huawei"},
    {"state": "merged", "period": "month"},
    {"contributor": "new"},
    {"since": "2040-01-01"},  # nothing selected
]


@pytest.mark.parametrize("given", FILTERS, ids=lambda g: json.dumps(g, sort_keys=True))
def test_columns_equal_the_plain_functions(erofs_store, given) -> None:
    _db, engine, _ = erofs_store
    f = Filters(**given)
    with engine.connect() as conn:
        rows = dashboard.series_rows(conn, f, RULES)
        since, until = dashboard.span(conn, f)
        fast = dashboard.performance(conn, f, RULES)
        plain = dashboard._performance_rows(f, rows, since, until)
        trends = {m: dashboard.duration_trend(conn, f, RULES, m) for m in DURATIONS}
        # The kept rows map to positions: the pages take the columns' way, not the rows'.
        assert columns.columns(conn, RULES).positions(rows) is not None
    assert fast == plain
    # Types too (an int stays an int in the JSON API).
    assert json.dumps(fast, sort_keys=True) == json.dumps(plain, sort_keys=True)
    for m in DURATIONS:
        assert trends[m] == by_period(rows, m, f.period, since, until)
    if not given:
        assert fast["series"] > 1000 and fast["overall"]["time_to_merge"]["n"] > 100
        assert any(r["first"] for r in fast["first_response_by_role"])


@pytest.mark.parametrize("given", FILTERS, ids=lambda g: json.dumps(g, sort_keys=True))
@pytest.mark.parametrize("full", ["", "1"])
def test_backlog_and_overview_over_columns_equal_the_rows(
    erofs_store, monkeypatch, given, full
) -> None:
    _db, engine, _ = erofs_store
    f = Filters(**given, full=full)
    with engine.connect() as conn:
        fast = dashboard.backlog(conn, f, RULES, top=5)
        fast_overview = dashboard.overview(conn, f, RULES)
        monkeypatch.setattr(columns.Columns, "positions", lambda self, rows: None)
        plain = dashboard.backlog(conn, f, RULES, top=5)
        plain_overview = dashboard.overview(conn, f, RULES)
    assert json.dumps(fast, sort_keys=True) == json.dumps(plain, sort_keys=True)
    assert json.dumps(fast_overview) == json.dumps(plain_overview)  # key order too
    if not given:
        assert fast["stale"]["total"] > 5 and len(fast["stale"]["rows"]) == (
            fast["stale"]["total"] if full else 5
        )
        assert fast["per_subsystem"]["total"] >= 1


def test_backlog_by_subsystem_over_columns_on_xen(xen_store, monkeypatch) -> None:
    _tmp, _db, engine = xen_store
    f = Filters(full="1")
    with engine.connect() as conn:
        fast = dashboard.backlog(conn, f, RULES)
        perf = dashboard.performance(conn, Filters(period="month"), RULES)
        over = dashboard.overview(conn, Filters(period="month"), RULES)
        monkeypatch.setattr(columns.Columns, "positions", lambda self, rows: None)
        plain = dashboard.backlog(conn, f, RULES)
        perf_plain = dashboard.performance(conn, Filters(period="month"), RULES)
        over_plain = dashboard.overview(conn, Filters(period="month"), RULES)
    assert json.dumps(over) == json.dumps(over_plain)
    assert json.dumps(fast, sort_keys=True) == json.dumps(plain, sort_keys=True)
    assert json.dumps(perf, sort_keys=True) == json.dumps(perf_plain, sort_keys=True)
    assert fast["per_subsystem"]["total"] > 10  # MAINTAINERS sections: the counts say something


@pytest.mark.parametrize(
    "sort", ["", "first_date", "-title", "time_to_merge", "-time_to_first_response", "versions"]
)
@pytest.mark.parametrize("given", [{}, {"org": "Huawei"}, {"state": "merged"}, {"page": "3"}])
def test_explorer_over_columns_equals_the_rows(erofs_store, monkeypatch, sort, given) -> None:
    _db, engine, _ = erofs_store
    f = Filters.from_values({**given, "sort": sort})
    with engine.connect() as conn:
        fast = dashboard.explorer(conn, f, RULES)
        monkeypatch.setattr(columns.Columns, "positions", lambda self, rows: None)
        plain = dashboard.explorer(conn, f, RULES)
    assert fast == plain
    assert (fast["rows"] and fast["total"] > len(fast["rows"])) or given
