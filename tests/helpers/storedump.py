"""Reading a store from the outside, as tests do: a logical dump for comparing two stores
(rows of every table, sorted, with the columns that record wall-clock time left out), and a
row count that can watch a store another process is writing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import select

from patchlens.store import schema
from patchlens.store.db import open_store

TIME_COLUMNS = {"ingested_at", "created_at", "last_update", "finished_at"}


def dump(db: Path) -> dict[str, list[tuple]]:
    engine = open_store(str(db), readonly=True)
    out: dict[str, list[tuple]] = {}
    with engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            cols = [c for c in table.columns if c.name not in TIME_COLUMNS]
            rows = conn.execute(select(*cols)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    engine.dispose()
    return out


def count_rows(db: Path, table: str) -> int:
    """Rows in `table` of the SQLite store `db`, read-only; 0 while the store or the table does
    not exist yet or is locked (a test polls it while an update it started is writing)."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0
