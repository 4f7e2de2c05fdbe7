"""Small tools the read model's queries share: naming columns, binding many keys, and
reading rows grouped by a key."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    Table,
    any_,
    bindparam,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.sql import literal_column

T = TypeVar("T")

# At most this many values in one IN (...): below every database's bind limit.
CHUNK = 500


def cols(table: Table, *names: str) -> list[ColumnElement[Any]]:
    """The named columns of a table, in that order."""
    return [table.c[n] for n in names]


def labelled(fields: dict[str, ColumnElement[Any]]) -> list[ColumnElement[Any]]:
    """Columns selected under the names a row dict gets (`row._mapping[name]`)."""
    return [c.label(name) for name, c in fields.items()]


def chunks(keys: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """The keys in lists of at most `size`, for queries that bind them (IN (...))."""
    items: Sequence[T] = keys if isinstance(keys, list) else list(keys)
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


_INT64 = (-(2**63), 2**63)


def _plain(v: Any) -> bool:
    """Whether SQLite's json_each gives `v` back as the same SQL value: an integer within 64
    bits, or text without NUL (which SQLite's text handling may cut at)."""
    t = type(v)
    if t is int:
        return _INT64[0] <= v < _INT64[1]
    return t is str and "\x00" not in v


def bound(conn: Connection, chunk: list[Any]) -> list[Any] | Select[Any]:
    """What `column.in_(...)` takes for `chunk`: on SQLite, one JSON text unpacked by
    json_each when every key comes back unchanged from it (integers, text), else the list.

    Why: a list binds one parameter per key, and SQLAlchemy checks each key when the query
    is built and renders a placeholder for each when it runs; for the thousands of keys an
    incremental update looks up (the thread closure, a part's mails) that was about a third
    of reading them. The plan is the same (SQLite reads the index once per key)."""
    if conn.dialect.name == "sqlite" and all(_plain(v) for v in chunk):
        text = json.dumps(chunk, ensure_ascii=False)
        # `+value`, not `value`: json_each's column has an affinity that would keep SQLite from
        # converting a key to the compared column's type (1 would not find '1' in a TEXT
        # column); the unary plus drops it, as a bound parameter has none.
        return select(literal_column("+value")).select_from(func.json_each(text))
    if conn.dialect.name == "postgresql" and chunk:
        # One array, unnested: 500 placeholders cost psycopg a parse of the query and
        # SQLAlchemy a rendered, cast placeholder each, on every execution; that was most of
        # the client's time reconstructing review on PostgreSQL (docs/PERFORMANCE.md).
        kinds = {type(v) for v in chunk}
        if kinds == {int} and all(_plain(v) for v in chunk):
            return select(func.unnest(bindparam(None, chunk, type_=_pg_array("int"))))
        if kinds == {str}:
            return select(func.unnest(bindparam(None, chunk, type_=_pg_array("str"))))
    return chunk


def dated_between(date: ColumnElement[Any], lo: int, hi: int) -> ColumnElement[bool]:
    """`date` in [lo, hi], a row without a date counting as dated 0 (as reconstruction and
    the matcher date a message without one). Not `coalesce(date, 0)`: an index on (..., date)
    cannot serve that, and SQLite then reads every row of the leading key (every message of
    a sender, a maintainer's thousands at a million messages)."""
    within = date.between(lo, hi)
    return or_(within, date.is_(None)) if lo <= 0 <= hi else within


def _pg_array(kind: str) -> Any:
    """PostgreSQL's array of 64-bit integers or of text (imported only when used: the
    dialect costs start-up time)."""
    from sqlalchemy import BigInteger, Text
    from sqlalchemy.dialects import postgresql

    return postgresql.ARRAY(BigInteger if kind == "int" else Text)


def among(conn: Connection, column: ColumnElement[Any], values: Iterable[Any]) -> Any:
    """`column IN values` in one statement, for any number of values, binding few parameters:
    on PostgreSQL one array for all of them (`= ANY`, which reads the column's index), on
    SQLite one JSON text per chunk (`bound`); a list of parameters per chunk for other values.

    Why: a statement restricted to many keys (the rows a full metrics batch rewrites: ten
    thousand series and every review reply to them) bound one parameter per key, and
    PostgreSQL takes at most 65,535 in a statement; a 330k-message store went over it. Not
    `bound`'s unnested arrays on PostgreSQL: OR-ed with another restriction they made the
    planner scan the whole table (57 ms instead of 0.05 ms for a few keys of review_events)."""
    items = sorted(set(values))
    if not items:
        return false()
    if conn.dialect.name == "postgresql":
        kinds = {type(v) for v in items}
        if kinds == {int} and all(_plain(v) for v in items):
            return column == any_(bindparam(None, items, type_=_pg_array("int")))
        if kinds == {str}:
            return column == any_(bindparam(None, items, type_=_pg_array("str")))
        return or_(*(column.in_(chunk) for chunk in chunks(items)))
    return or_(*(column.in_(bound(conn, chunk)) for chunk in chunks(items)))


def rows_in(conn: Connection, query_for: Any, values: Iterable[Any]) -> list[Any]:
    """Rows of `query_for(chunk)` over `values` (sorted) in chunks: bounded IN lists.
    `query_for` uses its argument only as `column.in_(argument)` (see `bound`)."""
    out: list[Any] = []
    for chunk in chunks(sorted(values)):
        out += conn.execute(query_for(bound(conn, chunk))).all()
    return out


def grouped(
    conn: Connection,
    key: ColumnElement[Any],
    keys: list[Any],
    fields: dict[str, ColumnElement[Any]],
    joined: FromClause,
    order: tuple[ColumnElement[Any], ...] = (),
) -> dict[Any, list[dict[str, Any]]]:
    """The rows of `joined` whose `key` is one of `keys`, grouped by it, each a dict of
    `fields` (name -> column), in `order`; any number of keys (bound a chunk at a time)."""
    out: dict[Any, list[dict[str, Any]]] = {}
    names = list(fields)
    for chunk in chunks(keys):
        q = select(key.label("_key"), *labelled(fields)).select_from(joined)
        # By position (key first, then the fields in order): a row's mapping by name costs
        # more than the query on a page that shows thousands of rows.
        for row in conn.execute(q.where(key.in_(bound(conn, chunk))).order_by(*order)):
            out.setdefault(row[0], []).append(dict(zip(names, row[1:], strict=True)))
    return out
