"""Keys bound for IN on SQLite as one JSON text (queries/sql.py `bound`): the rows found are
the rows a list of parameters finds, for hostile text and the ends of the integer range."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

from patchlens.queries.sql import bound, grouped, rows_in

TEXTS = [
    "<a@b>",
    "quote ' and \" and \\ backslash",
    "line\nbreak\ttab\r\x01\x1f",
    "unicode é ü 中文 😀 \u2028",
    "",
    " ",
    "[1,2]",
    "null",
    "123",
    "1",
    "nul\x00inside",
]
INTS = [0, 1, -1, 2**63 - 1, -(2**63), 2**31, 123]


def _store():
    engine = create_engine("sqlite://")
    md = MetaData()
    t = Table("t", md, Column("n", Integer), Column("s", String), Column("i", Integer))
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(t), [{"n": k, "s": s, "i": None} for k, s in enumerate(TEXTS)])
        conn.execute(insert(t), [{"n": 100 + k, "s": None, "i": i} for k, i in enumerate(INTS)])
    return engine, t


def test_json_bound_finds_what_a_list_finds() -> None:
    engine, t = _store()
    with engine.connect() as conn:
        # Keys of the other column's type too: SQLite converts a key to the column's type
        # (1 finds '1' in a TEXT column, '123' finds 123 in an INTEGER one).
        mixed = [1, 123, -1, 2**63 - 1, "123", "0123", " 123", "1.0", "-1"]
        for col, keys in (
            (t.c.s, [*TEXTS, "absent", *mixed]),
            (t.c.i, [*INTS, 5, 1.5, *mixed]),
        ):
            for chunk in ([k] for k in keys):
                listed = conn.execute(select(t.c.n).where(col.in_(chunk))).all()
                found = conn.execute(select(t.c.n).where(col.in_(bound(conn, chunk)))).all()
                assert sorted(found) == sorted(listed), chunk
            for kind in (int, float, str):  # rows_in sorts its keys: one type at a time
                some = [k for k in keys if type(k) is kind]
                got = rows_in(conn, lambda c, col=col: select(t.c.n).where(col.in_(c)), some)
                want = conn.execute(select(t.c.n).where(col.in_(some))).all()
                assert sorted(got) == sorted(want), (col, kind)
        # Every value came back: the test is not vacuous.
        assert len(rows_in(conn, lambda c: select(t.c.n).where(t.c.s.in_(c)), TEXTS)) == 11
        assert rows_in(conn, lambda c: select(t.c.n).where(t.c.s.in_(c)), [1, 123]) != []
        assert len(rows_in(conn, lambda c: select(t.c.n).where(t.c.i.in_(c)), INTS)) == 7
        by = grouped(conn, t.c.s, TEXTS, {"n": t.c.n}, t)
        assert sorted(by) == sorted(TEXTS)


def test_only_values_json_gives_back_unchanged_go_as_json() -> None:
    engine, _t = _store()
    with engine.connect() as conn:
        assert not isinstance(bound(conn, ["a", 1, 2**63 - 1]), list)
        # NUL in text, integers past 64 bits, floats, booleans and bytes stay a list.
        for odd in ("a\x00b", 2**63, -(2**63) - 1, 1.5, True, b"x"):
            assert bound(conn, ["a", odd]) == ["a", odd]
