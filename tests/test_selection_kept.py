"""The dashboard's selection from the rows kept per data version (narrowed by its indexes,
`keep` skipped where an index applied the only filters given) equals the selection a command
makes from SQL-narrowed rows with `keep` deciding every row."""

from __future__ import annotations

import pytest

from patchlens.metrics.backlog import BacklogRules
from patchlens.queries.filters import Filters
from patchlens.queries.selection import select_series

COMBOS = [
    {"since": "2021-01-01"},
    {"until": "2022-03-01"},
    {"since": "2020-06-01", "until": "2023-06-15"},
    {"until": "2950-01-01"},
    {"since": "2030-01-01"},
    {"org": "Huawei"},
    {"org": "no such organisation"},
    {"org": "Huawei", "since": "2022-01-01"},
    {"since": "2021-01-01", "state": "merged"},
    {"org": "Huawei", "contributor": "new"},
]


@pytest.mark.parametrize("given", COMBOS, ids=lambda g: "&".join(f"{k}={v}" for k, v in g.items()))
def test_kept_selection_equals_the_decided_one(erofs_store, given) -> None:
    _db, engine, _ = erofs_store
    f, rules = Filters(**given), BacklogRules()
    with engine.connect() as conn:
        kept = [r["series_key"] for r in select_series(conn, f, rules, kept=True)]
        decided = [r["series_key"] for r in select_series(conn, f, rules)]
        every = select_series(conn, Filters(), rules, kept=True)
    assert sorted(kept) == sorted(decided)
    assert len(kept) == len(set(kept))
    if given in ({"since": "2021-01-01"}, {"org": "Huawei"}):
        assert 0 < len(kept) < len(every)  # the filter narrows: the comparison says something
