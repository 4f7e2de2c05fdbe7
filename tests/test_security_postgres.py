"""`serve` opens the store read-only on every engine: a write through the dashboard's own
engine fails on the server, on PostgreSQL (the throwaway server of tests/helpers/postgres.py) as on
SQLite, while the pages still read."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import DBAPIError

from patchlens.store import schema
from patchlens.store.db import database_url, open_store
from patchlens.web.app import create_app

pytestmark = pytest.mark.slow


def _writes_fail(app_engine) -> None:
    row = {"name": "intruder", "location": "/nowhere", "branches": "[]", "created_at": 0}
    readonly = r"(?i)read-only|readonly"
    for _ in range(3):  # and again on connections the pool hands back out
        for statement in (insert(schema.repos).values(**row), delete(schema.repos)):
            with pytest.raises(DBAPIError, match=readonly), app_engine.begin() as conn:
                conn.execute(statement)
    with app_engine.connect() as conn:
        assert conn.execute(select(schema.repos.c.name)).all() == [("kept",)]


def _store_with_a_row(url: str) -> None:
    engine = open_store(url)
    with engine.begin() as conn:
        conn.execute(
            insert(schema.repos).values(
                name="kept", location="/somewhere", branches="[]", created_at=int(time.time())
            )
        )
    engine.dispose()


def test_postgres_serve_is_read_only(postgres: str) -> None:
    _store_with_a_row(postgres)
    app = create_app(postgres)
    client = TestClient(app)
    assert client.get("/api/overview").status_code == 200
    _writes_fail(app.state.engine)
    with app.state.engine.connect() as conn:
        assert conn.execute(text("SHOW transaction_read_only")).scalar() == "on"
    assert client.get("/").status_code == 200


def test_sqlite_serve_is_read_only(tmp_path: Path) -> None:
    url = database_url(str(tmp_path / "s.db"))
    _store_with_a_row(url)
    app = create_app(url)
    assert TestClient(app).get("/api/overview").status_code == 200
    _writes_fail(app.state.engine)
