"""One `update` at a time per store.

Two updates on one store would read and write the same batches twice over; the second one
waits for the first (or, with --no-wait, says who holds the store and stops). The lock is one
the operating system or the database releases when its holder ends, however it ends, so a
killed update never blocks the next one:

- SQLite: an exclusive `flock` on a file beside the store (`patchlens.db.lock`);
- PostgreSQL: a session-scoped `pg_advisory_lock`, held on a connection kept open for the run.

Who holds it (pid, host, start time) is written to the `update_lock` table, for the message
the next one prints; that row is only ever read while the lock is held by someone, so a row
left behind by a killed process is never mistaken for a holder.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, Row, delete, insert, select, text
from sqlalchemy.engine import make_url

from patchlens.store import schema

# pg_advisory_lock's key: any constant unlikely to clash with another application's lock.
PG_LOCK_KEY = 0x7061_746C  # "patl"


class StoreBusy(Exception):
    """Another update holds the store and the caller chose not to wait."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


def holder_row(conn: Connection) -> Row[Any] | None:
    """The newest update_lock row (pid, host, started_at), or None."""
    return conn.execute(
        select(schema.update_lock.c.pid, schema.update_lock.c.host, schema.update_lock.c.started_at)
        .order_by(schema.update_lock.c.started_at.desc())
        .limit(1)
    ).first()


def row_is_live(row: Row[Any]) -> bool:
    """Whether the row's process may still run: alive here, or on another host (unknowable)."""
    return row.host != socket.gethostname() or _alive(row.pid)


def describe_row(row: Row[Any]) -> str:
    """'pid N since HH:MM', with the host when it is another machine."""
    here = row.host == socket.gethostname()
    since = datetime.fromtimestamp(row.started_at).strftime("%H:%M")
    return f"pid {row.pid}{'' if here else f' on {row.host}'} since {since}"


def describe_holder(conn: Connection) -> str | None:
    """Who holds the lock, from update_lock; None when no row names a live process (the
    holder has not written its row yet, or the row was left by a killed holder)."""
    row = holder_row(conn)
    if row is None or not row_is_live(row):
        return None
    return describe_row(row)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _record(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(schema.update_lock))
        conn.execute(
            insert(schema.update_lock).values(
                id=1, pid=os.getpid(), host=socket.gethostname(), started_at=int(time.time())
            )
        )


def _forget(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(schema.update_lock).where(schema.update_lock.c.pid == os.getpid()))


def lock_path(engine: Engine) -> Path | None:
    """The lock file of a SQLite store; None for other databases."""
    u = make_url(str(engine.url))
    if u.get_backend_name() != "sqlite" or not u.database:
        return None
    return Path(u.database).with_name(Path(u.database).name + ".lock")


def _holder(engine: Engine) -> str:
    """Who holds the lock, for the message; waits briefly for a holder that has just taken
    the lock to write its row."""
    for _ in range(20):
        try:
            with engine.connect() as conn:
                found = describe_holder(conn)
        except Exception:  # the holder may be mid-migration; the message is only a courtesy
            found = None
        if found:
            return found
        time.sleep(0.1)
    return "pid unknown"


@contextmanager
def update_lock(
    engine: Engine, wait: bool = True, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the store's update lock for the block. Busy: `on_wait(holder)` then wait, or
    raise StoreBusy when `wait` is false."""
    path = lock_path(engine)
    if path is not None:
        with _file_lock(engine, path, wait, on_wait):
            yield
        return
    if engine.dialect.name == "postgresql":
        with _pg_lock(engine, wait, on_wait):
            yield
        return
    yield  # another database: no lock (patchlens supports SQLite and PostgreSQL)


@contextmanager
def _file_lock(
    engine: Engine, path: Path, wait: bool, on_wait: Callable[[str], None] | None
) -> Iterator[None]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    f: IO[bytes] = path.open("a+b")
    try:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(engine)
            if not wait:
                raise StoreBusy(holder) from None
            if on_wait:
                on_wait(holder)
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        _record(engine)
        yield
        # Only after a clean run: after Ctrl-C or an error the interrupted transaction may
        # still hold the database's write lock, and removing the row would wait on it (and
        # fail). A row left behind names a dead pid, which is never taken for a holder.
        _forget(engine)
    finally:
        f.close()  # releases the flock


@contextmanager
def _pg_lock(engine: Engine, wait: bool, on_wait: Callable[[str], None] | None) -> Iterator[None]:
    conn = engine.connect()
    try:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": PG_LOCK_KEY}).scalar()
        conn.commit()
        if not got:
            holder = _holder(engine)
            if not wait:
                raise StoreBusy(holder)
            if on_wait:
                on_wait(holder)
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": PG_LOCK_KEY})
            conn.commit()
        _record(engine)
        yield
        # Only after a clean run: after Ctrl-C or an error the interrupted transaction may
        # still hold the database's write lock, and removing the row would wait on it (and
        # fail). A row left behind names a dead pid, which is never taken for a holder.
        _forget(engine)
    finally:
        # Closing the session (not returning it to the pool) is what releases the lock.
        conn.invalidate()
        conn.close()
