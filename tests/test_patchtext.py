"""The patches page's search (`q`) answered from the text kept per data version
(queries/patchtext.py) equals the plain definition, a case-insensitive substring of a patch's
subject or sender address, on a real store: every order, date range and page."""

from __future__ import annotations

from array import array
from bisect import bisect_left

import numpy as np
from sqlalchemy import select

from patchlens.metrics.backlog import BacklogRules
from patchlens.queries import patchtext
from patchlens.queries.dashboard import patches
from patchlens.queries.filters import PAGE_SIZE, Filters
from patchlens.store import schema


def _rows(conn):
    """Every patch of a series' version (idx > 0; pull requests and the groupings the metrics
    leave out are not series) with what the search and the orders read."""
    vm, m, a = schema.version_members, schema.messages, schema.message_analysis
    sv, sm = schema.series_versions, schema.series_metrics
    return conn.execute(
        select(m.c.id, m.c.date_utc, a.c.lines_added, m.c.subject, m.c.from_addr)
        .select_from(
            vm.join(m, m.c.id == vm.c.message_pk)
            .join(a, a.c.message_pk == m.c.id)
            .join(sv, sv.c.key == vm.c.version_key)
            .join(sm, sm.c.series_key == sv.c.series_key)
        )
        .where(vm.c.idx > 0)
    ).all()


def _plain(rows, subjects, q, since, until, sort, desc):
    """The plain definition over `rows` (from `_rows`); `subjects` is their sorted subjects."""
    needle = q.casefold()
    kept = [
        r
        for r in rows
        if (needle in (r.subject or "").casefold() or needle in (r.from_addr or "").casefold())
        and (since is None or (r.date_utc is not None and r.date_utc >= since))
        and (until is None or (r.date_utc is not None and r.date_utc < until))
    ]
    # A subject's rank: its first place among all subjects in order (what list.index gives).
    rank = {s: bisect_left(subjects, s) for s in {r.subject or "" for r in kept}}

    def key(r):
        if sort == "date":
            return (r.date_utc is None, r.date_utc or 0, r.id)
        if sort == "lines":
            return (False, r.lines_added or 0, r.id)
        return (False, rank[r.subject or ""], r.id)

    return [r.id for r in sorted(kept, key=key, reverse=desc)]


def test_search_equals_the_plain_definition(erofs_store) -> None:
    _db, engine, _ = erofs_store
    with engine.connect() as conn:
        pt = patchtext.build(conn)
        assert len(pt) > 1000
        dates = pt.dates[pt.dates != patchtext.UNDATED]
        mid = int(np.median(dates))
        # The store is not written while the test reads it: its rows are read once.
        rows = _rows(conn)
        subjects = sorted(r.subject or "" for r in rows)
        for q in ("erofs", "EROFS: ", "fix", "gao", "@", "zzz-nothing", "e", "Ü"):
            for since, until in ((None, None), (mid, None), (None, mid), (mid - 86400 * 90, mid)):
                for sort in ("date", "lines", "subject"):
                    for desc in (True, False):
                        got = [int(i) for i in patchtext.page_of(pt, q, since, until, sort, desc)]
                        want = _plain(rows, subjects, q, since, until, sort, desc)
                        if sort == "subject":  # equal subjects: any order of their rows
                            assert sorted(got) == sorted(want)
                            continue
                        assert got == want, (q, since, until, sort, desc)


def test_page_and_keyed_path_agree(erofs_store) -> None:
    """A search with a series filter (read by key) finds what the kept text finds among them."""
    _db, engine, _ = erofs_store
    rules = BacklogRules()
    with engine.connect() as conn:
        every = patches(conn, Filters(q="fix", sort="-date"), rules)
        assert every["total"] > PAGE_SIZE
        assert all(
            "fix" in r["subject"].casefold() or "fix" in r["from_addr"] for r in every["rows"]
        )
        one_person = every["rows"][0]["from_addr"]
        keyed = patches(conn, Filters(q="fix", sort="-date", author=one_person), rules)
        assert 0 < keyed["total"] <= every["total"]
        assert all("fix" in r["subject"].casefold() for r in keyed["rows"])


def test_hostile_text_stays_in_its_field() -> None:
    """A NUL in a subject neither ends the field nor lets a query span two fields."""
    parts = [
        f"{patchtext._clean(subject)}\x00{patchtext._clean(sender)}\x00".encode()
        for subject, sender in (("A\x00B", "x@y"), ("c", "z@w"))
    ]
    pt = patchtext.PatchText(
        ids=np.array([1, 2], dtype=np.int64),
        dates=np.array([10, 20], dtype=np.int64),
        lines=np.array([1, 2], dtype=np.int64),
        subject_rank=np.array([0, 1], dtype=np.int64),
        starts=array("q", [0, len(parts[0])]),
        text=b"".join(parts),
    )
    assert list(patchtext.matching(pt, "a\x00b")) == [0]
    assert patchtext.contains("a\x00b", "A\x00B")
    assert list(patchtext.matching(pt, "b\x00x")) == []
    assert list(patchtext.matching(pt, "c\x00z")) == []
    assert list(patchtext.matching(pt, "Z@")) == [1]
