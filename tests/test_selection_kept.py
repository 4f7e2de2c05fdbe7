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
    {"q": "erofs"},
    {"q": "ERofs: Fix"},
    {"q": "no such words anywhere"},
    {"q": "fix", "since": "2022-01-01"},
    {"q": "fix", "org": "Huawei"},
    {"q": "\n"},
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
    if given in ({"since": "2021-01-01"}, {"org": "Huawei"}, {"q": "ERofs: Fix"}):
        assert 0 < len(kept) < len(every)  # the filter narrows: the comparison says something


def test_text_index_finds_every_row_that_holds_the_words() -> None:
    """The rows whose text holds the words, each once, in order, whatever the piece they are
    in; a match across two rows' boundary may add the first as a candidate, never lose one."""
    from patchlens.queries.search import q_text
    from patchlens.queries.selection import TextIndex

    def row(i: int, title: str) -> dict[str, object]:
        return {"title": title, "author_addr": f"a{i}@x", "series_key": f"k{i}", "search_text": ""}

    titles = ["erofs: fix", "xfs", "Fix ERofs", "k\u00e9y \U0001f600", "end"] * 1000
    rows = [row(i, t) for i, t in enumerate(titles)]
    TextIndex.PIECE, piece = 7, TextIndex.PIECE  # many pieces, rows across their ends
    try:
        index = TextIndex(rows)
    finally:
        TextIndex.PIECE = piece
    for needle in ("erofs", "fix", "\U0001f600", "a4999@x", "k1 ", "nothing", "end\n"):
        found = index.rows_with(needle)
        holding = [i for i, r in enumerate(rows) if needle in q_text(r)]
        assert found == sorted(set(found)), needle
        assert set(holding) <= set(found), needle
    assert index.rows_with("erofs") == [i for i in range(5000) if i % 5 in (0, 2)]


def test_gc_pause_of_overlapping_loads_ends_as_it_began() -> None:
    """Loads in two threads that overlap in any order leave the collector as they found it
    (on), and a collector someone else turned off stays off."""
    import gc
    import threading

    from patchlens.queries.selection import _gc_paused

    assert gc.isenabled()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    during: list[bool] = []

    def a() -> None:
        with _gc_paused():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with _gc_paused():
            b_in.set()
            a_out.wait(5)  # a leaves first, while b is still loading
            during.append(gc.isenabled())

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert during == [False], "paused while a load goes on"
    assert gc.isenabled()
    gc.disable()
    try:
        with _gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
