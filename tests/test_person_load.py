"""A person page's review load over time computed from the candidate series (named by
To:/Cc: or MAINTAINERS, or answered) equals the one computed from every selected series."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from patchlens.metrics.backlog import BacklogRules
from patchlens.queries import load
from patchlens.queries.filters import Filters
from patchlens.queries.selection import select_series
from patchlens.store import schema

RULES = BacklogRules()


def _busiest(conn, n: int) -> list[str]:
    """The n people who replied most, and the n MAINTAINERS named for most series (Xen's
    store holds postings alone: its people come from MAINTAINERS)."""
    ev = schema.review_events
    q = select(ev.c.who).group_by(ev.c.who).order_by(func.count().desc(), ev.c.who).limit(n)
    named = load._expecting(conn, RULES)
    most = sorted(named, key=lambda w: (-len(named[w]), w))[:n]
    return list(conn.execute(q).scalars()) + most


@pytest.mark.parametrize("store", ["erofs_store", "xen_store"])
@pytest.mark.parametrize("given", [{}, {"since": "2020-01-01"}, {"state": "merged"}])
def test_candidate_rows_give_the_same_load(request, store, given) -> None:
    engine = request.getfixturevalue(store)[-1 if store == "xen_store" else 1]
    f = Filters(**given)
    with engine.connect() as conn:
        rows = select_series(conn, f, RULES, kept=True)
        by_key = {r["series_key"]: r for r in rows}
        checked = 0
        for who in _busiest(conn, 6):
            every = load.person_waits(conn, who, rows, RULES)
            keys = load.candidate_keys(conn, who, RULES)
            some = load.person_waits(conn, who, [by_key[k] for k in keys if k in by_key], RULES)
            assert sorted(every, key=repr) == sorted(some, key=repr)
            for period in ("month", "year"):
                assert load.load_over_time(every, period, None, None) == load.load_over_time(
                    some, period, None, None
                )
            checked += bool(every)
        if "state" not in given:  # Xen's store (no repository) has no merged series
            assert checked >= 3  # the comparison says something


def test_a_bot_awaits_nothing(erofs_store) -> None:
    """Bots are never named (METRICS.md), so a bot's person page shows no review load: the
    kernel test robot's showed series awaiting it in 8 of 21 quarters while its queue was 0."""
    engine = erofs_store[1]
    pe = schema.people
    with engine.connect() as conn:
        rows = select_series(conn, Filters(), RULES, kept=True)
        bots = list(conn.execute(select(pe.c.identity).where(pe.c.is_bot)).scalars())
        loads = {who: load._named_series(conn, who) for who in bots}
        assert any(loads.values())  # some bot is in To:/Cc: of some series
        for who in bots:
            assert load.person_waits(conn, who, rows, RULES) == [], who
