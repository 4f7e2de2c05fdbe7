"""The performance page and the duration charts computed over the columns kept per data
version (queries/columns.py) equal the plain per-row functions, value for value and type
for type, on the EROFS store, for every period and several filters."""

from __future__ import annotations

import json

import pytest

from patchlens.metrics.backlog import BacklogRules
from patchlens.metrics.distributions import DURATIONS, by_period
from patchlens.queries import dashboard
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
    assert fast == plain
    # Types too (an int stays an int in the JSON API).
    assert json.dumps(fast, sort_keys=True) == json.dumps(plain, sort_keys=True)
    for m in DURATIONS:
        assert trends[m] == by_period(rows, m, f.period, since, until)
    if not given:
        assert fast["series"] > 1000 and fast["overall"]["time_to_merge"]["n"] > 100
        assert any(r["first"] for r in fast["first_response_by_role"])
