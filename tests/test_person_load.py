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


# --- the load's last row and the queue --------------------------------------------------------


def test_back_again_starts_a_new_wait() -> None:
    """A version posted after the person's answer awaits them again, until they answer the
    version in force; a late reply to an older version does not answer it (as the queue)."""
    v1, v2, v3p = (1, "v1", 100, False), (2, "v2", 300, False), (3, "v3", 500, True)
    # Answered v1, then v2 came: back again from v2's posting, never answered since.
    assert load.answer_segments([v1, v2], [(200, "v1")]) == [(None, 200, 100), (300, None, None)]
    # Answered v1 after v2 came: v2 still awaits them.
    assert load.answer_segments([v1, v2], [(400, "v1")]) == [(None, None, None)]
    # A reply to v2 at its posting's second answers it; a partial re-roll over v2 after their
    # answer awaits them again, and a reply to v2 after the re-roll answers the re-roll.
    assert load.answer_segments([v1, v2, v3p], [(300, "v2"), (600, "v2")]) == [
        (None, 300, 300),
        (500, 600, 300),
    ]
    # A partial re-roll of v1 posted after v2 is no version in force: nothing starts.
    late = (2, "v1-partial", 350, True)
    v2b = (3, "v2", 300, False)
    assert load.answer_segments([v1, late, v2b], [(320, "v2")]) == [(None, 320, 300)]


def _queue_and_load(conn, who: str, rows: dict) -> tuple[set[str], set[str]]:
    from patchlens.queries.queue import queue_rows

    until = load.span_until(conn, None)
    candidates = [rows[k] for k in sorted(load.candidate_keys(conn, who, RULES)) if k in rows]
    waits = load.person_waits(conn, who, candidates, RULES)
    queue = {r["series_key"] for r in queue_rows(conn, who, RULES)}
    return load.awaiting_at(waits, until), queue


def test_the_last_row_counts_the_queue(erofs_store) -> None:
    """At the data's date the load awaits the queue's series: never a series of another tree
    (never in the backlog: 13 of the 46 on Gao Xiang's page of the real EROFS store), and the
    series back again after their answer (8 missing there). The one difference left is a
    series only an earlier version named in To:/Cc: (docs/METRICS.md, "Review load")."""
    from patchlens.queries.queue import open_series

    engine = erofs_store[1]
    with engine.connect() as conn:
        rows = {r["series_key"]: r for r in select_series(conn, Filters(), RULES, kept=True)}
        opens = {o.key: o for o in open_series(conn, RULES)}
        people = _busiest(conn, 15)
        checked = again = 0
        for who in people:
            awaiting, queue = _queue_and_load(conn, who, rows)
            assert queue <= awaiting, who
            for key in awaiting - queue:
                o = opens[key]  # open, so merged or gone quiet series are not counted
                assert who not in o.awaited and who not in o.answered, (who, key)
            assert not any(load.never_in_backlog(rows[k]) for k in awaiting)
            checked += bool(queue)
            again += sum(1 for k in queue if who in opens[k].earlier)
        assert checked >= 3 and again >= 1  # the comparison says something
        # The other-tree series that named or were answered by someone await nobody.
        other = [r for r in rows.values() if load.never_in_backlog(r)]
        assert other
        for who in people:
            keys = load.candidate_keys(conn, who, RULES)
            mine = [r for r in other if r["series_key"] in keys]
            assert load.person_waits(conn, who, mine, RULES) == []


def test_the_person_page_says_how_the_last_row_differs_from_the_queue(erofs_store) -> None:
    from fastapi.testclient import TestClient

    from patchlens.store.db import database_url
    from patchlens.web.app import create_app

    db = erofs_store[0]
    client = TestClient(create_app(database_url(str(db)), page_cache=False))
    with erofs_store[1].connect() as conn:
        who = _busiest(conn, 1)[0]
        address = conn.execute(
            select(schema.people.c.address).where(schema.people.c.identity == who)
        ).scalar()
    d = client.get(f"/api/people/{address}").json()
    lq = d["load_vs_queue"]
    assert lq["queue"] == d["queue"]["total"] and lq["awaiting"] == d["load"][-1]["awaiting"]
    assert lq["both"] + lq["earlier_cc"] + lq["not_in_queue_other"] == lq["awaiting"]
    assert lq["not_in_queue_other"] == lq["not_in_load_other"] == lq["filtered"] == 0
    page = client.get(f"/people/{address}").text
    assert 'class="load-vs-queue"' in page and "counts at the data's date" in page
    # A date filter ends the table before the queue's date: no comparison.
    assert (
        client.get(f"/api/people/{address}", params={"until": "2020-01-01"}).json()["load_vs_queue"]
        is None
    )


def test_the_authored_table_shows_each_series_state(erofs_store) -> None:
    """A series of another tree is not "merged: none": the authored table (page and CSV)
    shows each series' state, as the API row carries it."""
    import csv
    import io

    from fastapi.testclient import TestClient

    from patchlens.store.db import database_url
    from patchlens.web.app import create_app

    client = TestClient(create_app(database_url(str(erofs_store[0])), page_cache=False))
    address = "hsiangkao@linux.alibaba.com"
    d = client.get(f"/api/people/{address}", params={"authored_page": 1}).json()
    states = {r["series_key"]: r["state"] for r in d["authored"]["rows"]}
    assert "other tree" in states.values() and "merged" in states.values()
    page = client.get(f"/people/{address}").text
    assert page.count('<span class="state"><a href="/glossary#state-other-tree">other tree') == (
        sum(1 for s in states.values() if s == "other tree")
    )
    rows = list(csv.DictReader(io.StringIO(client.get(f"/csv/person/authored/{address}").text)))
    assert {r["series_key"]: r["state"] for r in rows if r["series_key"] in states} == states
