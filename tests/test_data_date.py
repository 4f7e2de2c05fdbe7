"""The data's date ("as of" for states) ignores a message dated after the present: a wrong
clock is not the data's end. The same in Python and in datasette's SQL."""

from __future__ import annotations

import shutil
import sqlite3
import time

from sqlalchemy import select, update

from patchlens.metrics.backlog import BacklogRules
from patchlens.queries import selection
from patchlens.queries.filters import Filters
from patchlens.queries.queue import queue_rows
from patchlens.queries.selection import data_date, mail_end, select_series
from patchlens.store import schema
from patchlens.store.db import open_store
from patchlens.web.datasette_meta import AS_OF, state_case

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


def test_a_repository_that_goes_on_after_the_mail_ages_nothing(erofs_store, tmp_path) -> None:
    """Review is seen through the mail only: a repository read months after its archive
    ended (LTP's, five months) moves the data's date, but no series idles, and no queue
    waits, past the mail's end. The same in Python and in datasette's SQL."""
    db, _engine, _ = erofs_store
    shutil.copy(db, tmp_path / "copy.db")
    copy = open_store(str(tmp_path / "copy.db"))
    rules = BacklogRules()
    with copy.connect() as conn:
        end = mail_end(conn)
        before = {r["series_key"]: r["state"] for r in select_series(conn, Filters(), rules)}
        queued = _queues(conn, rules)
    later = end + 100 * 86400  # before today: a later date is a wrong clock
    c = schema.commits
    with copy.begin() as conn:
        unlinked = conn.execute(
            select(c.c.id).where(c.c.id.not_in(select(schema.patch_commits.c.commit_pk))).limit(1)
        ).scalar_one()
        conn.execute(update(c).where(c.c.id == unlinked).values(committer_date=later))
    selection._MEMO.clear()
    with copy.connect() as conn:
        assert data_date(conn) == later and mail_end(conn) == end
        after = {r["series_key"]: r["state"] for r in select_series(conn, Filters(), rules)}
        assert _queues(conn, rules) == queued
    assert after == before
    assert sum(s in ("stale", "abandoned") for s in after.values()) < len(after)
    with sqlite3.connect(tmp_path / "copy.db") as raw:
        t, idle_to = raw.execute(f"WITH {AS_OF} SELECT t, idle_to FROM as_of").fetchone()
        assert (t, idle_to) == (later, end)
        sql = (
            f"WITH {AS_OF} SELECT sm.series_key, {state_case(rules)} FROM series_metrics sm, as_of"
        )
        assert dict(raw.execute(sql).fetchall()) == {k: before[k] for k in before}


def _queues(conn, rules) -> dict[str, list[float]]:
    """Every maintainer's queue, as the hours each series waits."""
    people = conn.execute(select(schema.people.c.identity).limit(40)).scalars().all()
    return {p: [r["waiting_hours"] for r in queue_rows(conn, p, rules)] for p in people}
