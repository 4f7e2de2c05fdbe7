"""A logical dump of a store, for comparing two stores: rows of every table, sorted, with the
columns that record wall-clock time left out."""

from __future__ import annotations

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
