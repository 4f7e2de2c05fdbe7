"""Generic writing: inserts that skip what is stored, and tables made to hold exactly a set of
rows by touching only the rows that differ. The bottom layer: it knows tables, not messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, delete, select, tuple_
from sqlalchemy.dialects import sqlite


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT that skips rows whose unique keys already exist, on SQLite and PostgreSQL."""
    if not rows:
        return
    name = conn.dialect.name
    if name == "sqlite" and _plain_values(table, rows[0]):
        _sqlite_insert_ignore(conn, table, rows)
        return
    if name == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing()
    elif name == "postgresql":
        from sqlalchemy.dialects import postgresql  # only when used: it costs start-up time

        stmt = postgresql.insert(table).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"database {name!r} is not supported")
    conn.execute(stmt, list(rows))


def add_counts(conn: Connection, table: Table, count: str, rows: Sequence[dict[str, Any]]) -> None:
    """Add each row's `count` to the stored row of the same primary key (inserting it when
    absent), then remove the rows whose count fell to zero: a running total kept in step with
    the rows it counts, on SQLite and PostgreSQL."""
    if not rows:
        return
    name = conn.dialect.name
    if name == "sqlite":
        ins: Any = sqlite.insert(table)
    elif name == "postgresql":
        from sqlalchemy.dialects import postgresql

        ins = postgresql.insert(table)
    else:
        raise NotImplementedError(f"database {name!r} is not supported")
    keys = [c.name for c in table.primary_key.columns]
    stmt = ins.on_conflict_do_update(
        index_elements=keys, set_={count: table.c[count] + ins.excluded[count]}
    )
    for chunk in _chunks(rows, 2000):
        conn.execute(stmt, list(chunk))
    # Only a row that lost counts can have reached zero: look at those alone (the table is
    # large; a scan for zeros would cost its size on every call).
    cols = [table.c[k] for k in keys]
    fell = [tuple(r[k] for k in keys) for r in rows if r[count] < 0]
    for chunk in _chunks(fell):
        where = cols[0].in_([k[0] for k in chunk]) if len(cols) == 1 else tuple_(*cols).in_(chunk)
        conn.execute(delete(table).where(where, table.c[count] == 0))


def _plain_values(table: Table, row: dict[str, Any]) -> bool:
    """Whether rows of these keys can skip SQLAlchemy's statement: every key is a column,
    and no column left out has a default that SQLAlchemy would fill in Python."""
    return all(k in table.c for k in row) and not any(
        c.default is not None and c.name not in row for c in table.columns
    )


def _sqlite_insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """The same INSERT ... ON CONFLICT DO NOTHING, as one executemany of plain tuples through
    the driver. Values still go through each column type's bind processing (compression,
    booleans); what it saves is SQLAlchemy's per-row parameter binding, which made most of
    the writing process's time when ingesting mail (docs/PERFORMANCE.md, "Cold path")."""
    dialect = conn.dialect
    keys = list(rows[0])
    procs = [table.c[k].type.dialect_impl(dialect).bind_processor(dialect) for k in keys]
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(k) for k in keys)}) "
        f"VALUES ({', '.join('?' * len(keys))}) ON CONFLICT DO NOTHING"
    )
    if not any(procs):
        params = [tuple(r[k] for k in keys) for r in rows]
    else:
        pairs = list(zip(keys, procs, strict=True))
        params = [
            tuple(r[k] if proc is None or r[k] is None else proc(r[k]) for k, proc in pairs)
            for r in rows
        ]
    conn.exec_driver_sql(sql, params)


def _chunks(items: Sequence[Any], n: int = 500) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _getter(names: list[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A function giving a dict's values for `names` as a tuple (one name too)."""
    if len(names) == 1:
        name = names[0]
        return lambda r: (r[name],)
    return itemgetter(*names)


def sync_table(
    conn: Connection,
    table: Table,
    key: tuple[str, ...],
    rows: list[dict[str, Any]],
    touched: list[dict[str, Any]] | None = None,
    where: Any = None,
) -> int:
    """Make `table` hold exactly `rows`, touching only rows that differ; returns how many.

    `where` limits the rows compared to a part of the table (the rest is left alone): an
    incremental step syncs only what it recomputed. `touched`, when given, receives every row
    written or removed, old values and new, so the next step learns what changed."""
    cols = [c.name for c in table.columns]
    at = [cols.index(k) for k in key]
    current: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    query = select(*table.columns)
    if where is not None:
        query = query.where(where)
    # Rows as plain tuples and dicts read through itemgetter: the part of an update that
    # compares stored rows with recomputed ones reads tens of thousands of them.
    for r in conn.execute(query):
        t = tuple(r)
        current[tuple([t[i] for i in at])] = t
    values, keyed = _getter(cols), _getter(list(key))
    wanted = {keyed(r): values(r) for r in rows}
    stale = [k for k, v in current.items() if wanted.get(k) != v]
    fresh = [dict(zip(cols, v, strict=True)) for k, v in wanted.items() if current.get(k) != v]
    if touched is not None:
        touched.extend(dict(zip(cols, current[k], strict=True)) for k in stale)
        touched.extend(fresh)
    key_cols = [table.c[k] for k in key]
    for chunk in _chunks(stale):
        if len(key_cols) == 1:
            conn.execute(delete(table).where(key_cols[0].in_([k[0] for k in chunk])))
        else:
            conn.execute(delete(table).where(tuple_(*key_cols).in_(list(chunk))))
    for chunk in _chunks(fresh, 2000):
        conn.execute(table.insert(), list(chunk))
    return len(stale) + len(fresh)
