"""Opening the store: URL resolution, SQLite pragmas, migrations to the current schema."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

DEFAULT_DB = "patchlens.db"
MIGRATIONS = Path(__file__).with_name("migrations")


def database_url(db: str | None) -> str:
    """A path becomes a SQLite URL; anything with '://' is used as a SQLAlchemy URL."""
    db = db or os.environ.get("PATCHLENS_DB") or DEFAULT_DB
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def cache_dir(url: str) -> Path:
    """Where cloned archives and repositories live, with what an update keeps of the store
    between runs (stages/context.py's identities): beside a SQLite file, else per user and
    per database. One folder for every database of a server would hand one store's kept
    identities to another."""
    env = os.environ.get("PATCHLENS_CACHE")
    if env:
        return Path(env)
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database:
        p = Path(u.database)
        return p.with_name(p.name + ".cache")
    # The server, user and database name; never the password (rendered as "***").
    where = u.render_as_string(hide_password=True)
    tag = re.sub(r"[^A-Za-z0-9_-]", "_", f"{u.get_backend_name()}-{u.database or ''}")[:40]
    return Path.home() / ".cache" / "patchlens" / f"{tag}-{_digest(where)}"


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _sqlite_pragmas(dbapi_conn: object, _record: object, readonly: bool) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    if not readonly:
        # WAL lets the dashboard read while an update writes.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str, *, readonly: bool = False) -> Engine:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if readonly:
            path = Path(u.database or "")
            if not path.exists():
                raise FileNotFoundError(f"{path}: no patchlens store here (run 'patchlens update')")
            engine = create_engine(
                f"sqlite:///file:{path}?mode=ro&uri=true",
            )
        else:
            if u.database:
                Path(u.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url)
        event.listen(engine, "connect", lambda c, r: _sqlite_pragmas(c, r, readonly))
        return engine
    engine = create_engine(url)
    if readonly:
        statement = _READONLY_SESSION.get(u.get_backend_name())
        if statement is None:
            raise ValueError(f"cannot open a {u.get_backend_name()} store read-only")
        event.listen(engine, "connect", lambda c, r: _session_readonly(c, statement))
    return engine


# Every transaction of a read-only engine's connections is read-only on the server, so a
# write fails there whatever the code above it does (the dashboard's promise on any engine).
_READONLY_SESSION = {
    "postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    "mysql": "SET SESSION TRANSACTION READ ONLY",
    "mariadb": "SET SESSION TRANSACTION READ ONLY",
}


def _session_readonly(dbapi_conn: Any, statement: str) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(statement)
    cur.close()
    # The driver opened a transaction for it; a SET undone by the pool's rollback would not
    # last, so it is committed here, before the pool hands the connection out.
    dbapi_conn.commit()


def _alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")


def head_revision() -> str:
    """The newest revision, from the file names: revisions are numbered 0001, 0002, ... in a
    line (a test checks this agrees with alembic), and loading alembic to ask costs a tenth
    of a second on every command."""
    revs = [
        m.group(1)
        for p in (MIGRATIONS / "versions").iterdir()
        if (m := _REVISION_FILE.match(p.name))
    ]
    return max(revs, default="")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op (and cheap) when it is there."""
    if current_revision(engine) == head_revision():
        return
    from alembic import command

    cfg = _alembic_config(str(engine.url))
    target = _all_or_nothing(engine) if _sqlite_file(engine) else engine
    try:
        with target.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    finally:
        if target is not engine:
            target.dispose()


def _sqlite_file(engine: Engine) -> bool:
    """A SQLite store in a file: another engine on its URL opens the same database (an
    in-memory one would be a new, empty database)."""
    if engine.dialect.name != "sqlite":
        return False
    database = engine.url.database or ""
    return database not in ("", ":memory:") and "mode=memory" not in str(engine.url)


def _all_or_nothing(engine: Engine) -> Engine:
    """An engine for migrating a SQLite store in one transaction. pysqlite opens a
    transaction only before a statement that changes rows, so each CREATE, ALTER or DROP of
    a migration took effect at once: one that failed halfway left its first steps behind (a
    column added, a half-copied table) with the store still at the old revision, and every
    later run failed on them. Here each connection begins its transaction itself (SQLAlchemy's
    recipe for pysqlite), so a migration's steps commit together or not at all.

    Inside that transaction `PRAGMA foreign_keys` does nothing: a future migration that
    copies a table others refer to (a batch operation that recreates it) cannot turn the
    foreign keys off there, and must add its columns in place instead (as 0023 does)."""
    url = engine.url
    migrating = create_engine(url)

    @event.listens_for(migrating, "connect")
    def _connect(dbapi_conn: Any, record: Any) -> None:
        _sqlite_pragmas(dbapi_conn, record, False)
        dbapi_conn.isolation_level = None  # the driver's own transactions off: ours below

    @event.listens_for(migrating, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return migrating


def open_store(db: str | None, *, readonly: bool = False) -> Engine:
    url = database_url(db)
    engine = make_engine(url, readonly=readonly)
    if not readonly:
        upgrade(engine)
    return engine
