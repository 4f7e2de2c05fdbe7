"""Reading a store from the outside, as tests do: a logical dump for comparing two stores
(rows of every table, sorted, with the columns that record wall-clock time left out), and a
row count that can watch a store another process is writing."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import LargeBinary, select, type_coerce

from patchlens.store import schema
from patchlens.store.db import open_store

TIME_COLUMNS = {"ingested_at", "created_at", "last_update", "finished_at", "seen_at", "started_at"}


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


# Surrogate keys: numbers a store hands out in the order it reads. A first read of several
# sources takes them one after the other, a read day by day interleaves their days, so two
# stores with the same content number their messages differently.
# `logical_dump` names each row by what it is instead.
MESSAGE_REFS = {"message_pk", "cover_pk", "addressed_pk"}
COMMIT_REFS = {"commit_pk"}
OWN_IDS = {"messages", "commits", "quarantine", "message_variants", "source_damage"}


def _logical_rows(db: Path, stored: bool = False) -> Iterator[tuple[str, Iterator[tuple]]]:
    """Each table's name and its rows as `logical_dump` writes them, streamed; with `stored`,
    compressed columns as their stored bytes (not decompressed: same code, same bytes)."""
    engine = open_store(str(db), readonly=True)
    try:
        with engine.connect() as conn:
            msg = dict(
                conn.execute(select(schema.messages.c.id, schema.messages.c.message_id)).all()
            )
            commit = {
                pk: f"{repo}:{sha}"
                for pk, repo, sha in conn.execute(
                    select(schema.commits.c.id, schema.commits.c.repo_id, schema.commits.c.sha)
                )
            }

            def rows(table) -> Iterator[tuple]:
                cols = [
                    c
                    for c in table.columns
                    if c.name not in TIME_COLUMNS and not (c.name == "id" and table.name in OWN_IDS)
                ]
                if stored:
                    cols = [
                        type_coerce(c, LargeBinary).label(c.name)
                        if isinstance(c.type, schema.CompressedText)
                        else c
                        for c in cols
                    ]
                result = conn.execution_options(yield_per=20_000).execute(select(*cols))
                for r in result.mappings():
                    row = dict(r)
                    for k in row.keys() & MESSAGE_REFS:
                        row[k] = msg.get(row[k], row[k])
                    for k in row.keys() & COMMIT_REFS:
                        row[k] = commit.get(row[k], row[k])
                    if table.name == "diff_fingerprints":
                        row["pk"] = (msg if row["kind"] == "m" else commit).get(
                            row["pk"], row["pk"]
                        )
                    if table.name == "match_keys":
                        row["pk"] = (msg if row["side"] == "m" else commit).get(
                            row["pk"], row["pk"]
                        )
                    yield tuple(row.values())

            for table in schema.metadata.sorted_tables:
                yield table.name, rows(table)
    finally:
        engine.dispose()


def logical_dump(db: Path) -> dict[str, list[tuple]]:
    """Like `dump`, with every reference to a message or commit written as its Message-ID or
    (repository, sha), and the tables' own row numbers left out: equal for two stores that hold
    the same things, however they were read."""
    return {name: sorted(rows, key=repr) for name, rows in _logical_rows(db)}


def logical_digest(db: Path) -> dict[str, tuple[int, str]]:
    """Per table, the row count and an order-free digest of `logical_dump`'s rows (the sum of
    each row's BLAKE2b, modulo 2**128): two stores of a million messages compared without
    holding either in memory. Equal digests mean equal multisets of rows but for a chance of
    about 2**-128."""
    out: dict[str, tuple[int, str]] = {}
    for name, rows in _logical_rows(db, stored=True):
        total = count = 0
        for row in rows:
            h = hashlib.blake2b(digest_size=16)
            for value in row:
                # Each value with its type and length: no two rows write the same bytes.
                if isinstance(value, bytes):
                    data = value
                elif isinstance(value, str):
                    data = value.encode("utf-8", "surrogatepass")
                else:
                    data = repr(value).encode()
                h.update(b"%s%d:" % (type(value).__name__.encode(), len(data)))
                h.update(data)
            total += int.from_bytes(h.digest())
            count += 1
        out[name] = (count, f"{total % (1 << 128):032x}")
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
