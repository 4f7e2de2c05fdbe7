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


# Surrogate keys: numbers a store hands out in the order it reads. A first read of a
# public-inbox archive takes its objects in pack order (newest first, for speed), a read day by
# day oldest first, so two stores with the same content number their messages differently.
# `logical_dump` names each row by what it is instead.
MESSAGE_REFS = {"message_pk", "cover_pk", "addressed_pk"}
COMMIT_REFS = {"commit_pk"}
OWN_IDS = {"messages", "commits", "quarantine", "message_variants", "source_damage"}


def logical_dump(db: Path) -> dict[str, list[tuple]]:
    """Like `dump`, with every reference to a message or commit written as its Message-ID or
    (repository, sha), and the tables' own row numbers left out: equal for two stores that hold
    the same things, however they were read."""
    engine = open_store(str(db), readonly=True)
    out: dict[str, list[tuple]] = {}
    with engine.connect() as conn:
        msg = dict(conn.execute(select(schema.messages.c.id, schema.messages.c.message_id)).all())
        commit = {
            pk: f"{repo}:{sha}"
            for pk, repo, sha in conn.execute(
                select(schema.commits.c.id, schema.commits.c.repo_id, schema.commits.c.sha)
            )
        }
        for table in schema.metadata.sorted_tables:
            cols = [
                c
                for c in table.columns
                if c.name not in TIME_COLUMNS and not (c.name == "id" and table.name in OWN_IDS)
            ]
            rows = []
            for r in conn.execute(select(*cols)).mappings():
                row = dict(r)
                for k in row.keys() & MESSAGE_REFS:
                    row[k] = msg.get(row[k], row[k])
                for k in row.keys() & COMMIT_REFS:
                    row[k] = commit.get(row[k], row[k])
                if table.name == "diff_fingerprints":
                    row["pk"] = (msg if row["kind"] == "m" else commit).get(row["pk"], row["pk"])
                if table.name == "match_keys":
                    row["pk"] = (msg if row["side"] == "m" else commit).get(row["pk"], row["pk"])
                rows.append(tuple(row.values()))
            out[table.name] = sorted(rows, key=repr)
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
