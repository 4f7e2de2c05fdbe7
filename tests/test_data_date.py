"""The data's date ("as of" for states) ignores a message dated after the present: a wrong
clock is not the data's end. The same in Python and in datasette's SQL."""

from __future__ import annotations

import shutil
import sqlite3
import time

from sqlalchemy import update

from patchlens.queries.selection import data_date
from patchlens.store import schema
from patchlens.store.db import open_store
from patchlens.web.datasette_meta import AS_OF

YEAR_2077 = 3_398_803_200


def test_a_message_from_the_future_does_not_move_the_data_date(erofs_store, tmp_path) -> None:
    db, engine, _ = erofs_store
    with engine.connect() as conn:
        before = data_date(conn)
    assert before < time.time() - 86400  # the archive ends before today
    shutil.copy(db, tmp_path / "copy.db")
    copy = open_store(str(tmp_path / "copy.db"))
    m = schema.messages
    with copy.begin() as conn:
        first = conn.execute(m.select().order_by(m.c.id).limit(1)).first()
        conn.execute(update(m).where(m.c.id == first.id).values(date_utc=YEAR_2077))
    with copy.connect() as conn:
        assert data_date(conn) == before
    with sqlite3.connect(tmp_path / "copy.db") as raw:
        (t,) = raw.execute(f"WITH {AS_OF} SELECT t FROM as_of").fetchone()
    assert t == before
