"""Recipient keys: each message's To: and Cc: addresses as hashes in `message_keys` (kind
"a"), so that the series that named a person (their review load, queries/load.py) are found
by key, not by a pattern over every message's headers (2.5 s a person on a million-message
store, for each person on each data version).

The mark "recipients" says up to which message they are filled. A store built before them is
filled by its next update, in batches of a transaction each (an interrupted fill resumes at
the mark; rows already there are ignored); readers scan the headers until the mark covers
the newest message (`queries.load`).
"""

from __future__ import annotations

import time

from sqlalchemy import Engine, func, select

from patchlens.mail.keys import key_hash, recipients
from patchlens.stages import changes
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.writer import insert_ignore

MARK = "recipients"
KIND = "a"
BATCH = 20_000
ROWS = 20_000


def fill_recipients(engine: Engine, reporter: Reporter) -> int:
    """Recipient keys of the messages above the mark; how many messages were read."""
    m = schema.messages
    with engine.connect() as conn:
        since = changes.mark(conn, MARK) or 0
        newest = conn.execute(select(func.max(m.c.id))).scalar() or 0
        todo = (
            conn.execute(select(func.count()).select_from(m).where(m.c.id > since)).scalar_one()
            if newest > since
            else 0
        )
    if not todo:
        return 0
    done = 0
    with reporter.task("indexing recipients", todo) as task:
        while since < newest:
            with engine.begin() as conn:
                batch = conn.execute(
                    select(m.c.id, m.c.to_addrs, m.c.cc_addrs)
                    .where(m.c.id > since)
                    .order_by(m.c.id)
                    .limit(BATCH)
                ).all()
                if not batch:
                    break
                # Written every ROWS keys: a batch of mail with long Cc: lists holds 400k
                # of them (linux-arm-kernel), and a dict a key made that batch weigh 300 MB.
                rows: list[dict[str, object]] = []
                for pk, to, cc in batch:
                    rows += [
                        {"kind": KIND, "hash": key_hash(a), "message_pk": pk}
                        for a in recipients(to, cc)
                    ]
                    if len(rows) >= ROWS:
                        insert_ignore(conn, schema.message_keys, rows)
                        rows = []
                insert_ignore(conn, schema.message_keys, rows)
                since = batch[-1][0]
                changes.set_mark(conn, MARK, since, int(time.time()))
            done += len(batch)
            task.advance(len(batch))
    return done
