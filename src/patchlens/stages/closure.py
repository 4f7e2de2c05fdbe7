"""Which stored messages new mail can change: the closure an incremental rebuild redoes.

Threads are the connected components of the Message-IDs messages carry and name (their own,
In-Reply-To, References), joined by subject only for a reply without any reference to a root
of the same title shortly before it (review/threads.py). The closure of new mail is therefore
every message sharing an id with it, transitively, plus, for those subject joins, every
message of the same normalised title within the window, with its own component: rebuilding
threads on that set gives what a rebuild of the whole store gives for it, and nothing
outside it can change.

The lookups go through `message_keys` (64-bit hashes of ids and titles, indexed), filled here
for every message as it is first taken in.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from patchlens.mail.keys import key_hash
from patchlens.queries.sql import rows_in
from patchlens.review.threads import SUBJECT_WINDOW
from patchlens.store import schema
from patchlens.store.writer import insert_ignore


def _rows(pk: int, message_id: str, in_reply_to: str | None, refs: str, title: str):
    ids = {message_id, *(refs or "").split()}
    if in_reply_to:
        ids.add(in_reply_to)
    rows = [{"kind": "r", "hash": key_hash(i), "message_pk": pk} for i in ids if i]
    if title:
        rows.append({"kind": "t", "hash": key_hash(title), "message_pk": pk})
    return rows


def insert_keys(conn: Connection, since: int | None) -> int:
    """Lookup keys for the analysed messages with a primary key above `since` (all: None)."""
    m, a = schema.messages, schema.message_analysis
    query = select(m.c.id, m.c.message_id, m.c.in_reply_to, m.c.refs, a.c.normalized_title).join(
        a, a.c.message_pk == m.c.id
    )
    if since is not None:
        query = query.where(m.c.id > since)
    # Streamed: PostgreSQL's driver otherwise holds the whole result in the client before the
    # first row (every message of a cold build: 420 MB at a million, against 57 MB streamed).
    query = query.execution_options(stream_results=True, yield_per=5000)
    batch: list[dict[str, object]] = []
    n = 0
    for r in conn.execute(query):
        batch += _rows(r.id, r.message_id, r.in_reply_to, r.refs, r.normalized_title)
        if len(batch) >= 5000:
            insert_ignore(conn, schema.message_keys, batch)
            n += len(batch)
            batch = []
    insert_ignore(conn, schema.message_keys, batch)
    return n + len(batch)


def thread_closure(conn: Connection, new: set[int], window: int = SUBJECT_WINDOW) -> set[int]:
    """The stored messages whose thread new mail can change (`new` included)."""
    mk, m = schema.message_keys, schema.messages
    members = set(new)
    todo = set(new)
    seen_ids: set[int] = set()
    titled: set[int] = set()
    while todo:
        ids = {
            h
            for (h,) in rows_in(
                conn,
                lambda c: select(mk.c.hash).where(mk.c.kind == "r", mk.c.message_pk.in_(c)),
                todo,
            )
        } - seen_ids
        seen_ids |= ids
        found = {
            pk
            for (pk,) in rows_in(
                conn,
                lambda c: select(mk.c.message_pk).where(mk.c.kind == "r", mk.c.hash.in_(c)),
                ids,
            )
        }
        todo = found - members
        members |= todo
        if todo:
            continue
        # Closed under ids: now the subject joins, both ways, within the window.
        fresh = members - titled
        titled |= fresh
        dates: dict[int, list[int]] = {}
        for h, d in rows_in(
            conn,
            lambda c: (
                select(mk.c.hash, m.c.date_utc)
                .join(m, m.c.id == mk.c.message_pk)
                .where(mk.c.kind == "t", mk.c.message_pk.in_(c))
            ),
            fresh,
        ):
            dates.setdefault(h, []).append(d or 0)
        near = {
            pk
            for pk, h, d in rows_in(
                conn,
                lambda c: (
                    select(mk.c.message_pk, mk.c.hash, m.c.date_utc)
                    .join(m, m.c.id == mk.c.message_pk)
                    .where(mk.c.kind == "t", mk.c.hash.in_(c))
                ),
                dates,
            )
            if any(abs((d or 0) - x) <= window for x in dates[h])
        }
        todo = near - members
        members |= todo
    return members
