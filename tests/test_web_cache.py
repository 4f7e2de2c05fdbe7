"""Rendered responses kept per store state (web/pagecache.py): served again until an update
finishes, then dropped all at once; ETag / Last-Modified and 304; the notice while an update
runs or after one that did not finish; `serve --workers N`. On a copy of the EROFS store."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import copy_store

# Longer than PageCache.check_every: the next request reads the store's state again.
RECHECK = 0.6


@pytest.fixture
def store(erofs_store: Any, tmp_path: Path) -> Path:
    db, _engine, _reports = erofs_store
    return copy_store(db, tmp_path / "erofs.db")


@pytest.fixture
def client(store: Path) -> Any:
    from fastapi.testclient import TestClient

    from patchlens.store.db import database_url
    from patchlens.web.app import create_app

    return TestClient(create_app(database_url(str(store))))


def _write(db: Path, sql: str, *args: Any) -> None:
    con = sqlite3.connect(db)
    try:
        con.execute(sql, args)
        con.commit()
    finally:
        con.close()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_kept_until_the_state_changes_and_conditional_requests(client: Any) -> None:
    first = client.get("/")
    assert first.status_code == 200
    assert first.headers["x-patchlens-cache"] == "miss"
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert first.headers["cache-control"] == "no-cache"

    again = client.get("/")
    assert again.headers["x-patchlens-cache"] == "hit"
    assert again.text == first.text
    assert again.headers["etag"] == etag
    # a kept response has the headers of any other
    assert "script-src" not in again.headers["content-security-policy"]
    assert again.headers["x-content-type-options"] == "nosniff"

    for conditional in ({"If-None-Match": etag}, {"If-Modified-Since": modified}):
        r = client.get("/", headers=conditional)
        assert r.status_code == 304, conditional
        assert r.content == b""
        assert r.headers["etag"] == etag
        assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/", headers={"If-None-Match": '"other"'}).status_code == 200

    # each query string is its own response, with its own ETag
    month = client.get("/?period=month")
    assert month.headers["x-patchlens-cache"] == "miss"
    assert month.headers["etag"] != etag
    assert client.get("/?period=month").headers["x-patchlens-cache"] == "hit"
    # charts and the API too; errors are never kept
    assert client.get("/charts/activity.svg").status_code == 200
    assert client.get("/charts/activity.svg").headers["x-patchlens-cache"] == "hit"
    assert client.get("/api/overview").status_code == 200
    assert client.get("/api/overview").headers["x-patchlens-cache"] == "hit"
    for _ in range(2):
        r = client.get("/series/no-such-series")
        assert r.status_code == 404
        assert "x-patchlens-cache" not in r.headers


def test_one_switch_when_an_update_finishes(client: Any, store: Path) -> None:
    before = client.get("/")
    assert "erofs-2024" in before.text
    # The store changes as an update's stages commit...
    _write(store, "UPDATE mailing_lists SET name = 'erofs-renamed' WHERE name = 'erofs-2024'")
    time.sleep(RECHECK)
    during = client.get("/")
    # ...but readers keep the figures of the last finished update, whole,
    assert during.headers["x-patchlens-cache"] == "hit"
    assert "erofs-renamed" not in during.text
    assert during.headers["etag"] == before.headers["etag"]
    # until the update records its end: then every page switches at once.
    _write(store, "UPDATE stage_state SET finished_at = finished_at + 60")
    time.sleep(RECHECK)
    after = client.get("/")
    assert after.headers["x-patchlens-cache"] == "miss"
    assert "erofs-renamed" in after.text
    assert after.headers["etag"] != before.headers["etag"]
    assert after.headers["last-modified"] != before.headers["last-modified"]
    stale = client.get("/", headers={"If-None-Match": before.headers["etag"]})
    assert stale.status_code == 200
    assert client.get("/api/overview").headers["x-patchlens-cache"] == "miss"


def test_pages_say_an_update_is_running_or_did_not_finish(client: Any, store: Path) -> None:
    quiet = client.get("/")
    assert "update-notice" not in quiet.text
    assert "x-patchlens-update" not in quiet.headers

    _write(
        store,
        "INSERT INTO update_lock (id, pid, host, started_at) VALUES (1, ?, ?, ?)",
        os.getpid(),
        socket.gethostname(),
        int(time.time()) + 5,
    )
    time.sleep(RECHECK)
    # A page rendered before the update began shows one finished update's data: still served.
    kept = client.get("/")
    assert kept.headers["x-patchlens-cache"] == "hit"
    assert kept.headers["etag"] == quiet.headers["etag"]
    assert kept.headers["x-patchlens-update"] == "running"
    assert "update-notice" not in kept.text
    assert client.get("/", headers={"If-None-Match": quiet.headers["etag"]}).status_code == 304
    # A page rendered during the update says the figures may mix old and new data.
    running = client.get("/series")
    assert running.status_code == 200
    assert "An update is running (pid" in running.text
    assert running.headers["x-patchlens-update"] == "running"
    assert client.get("/series").headers["x-patchlens-cache"] == "hit"
    assert client.get("/api/overview").headers["x-patchlens-update"] == "running"

    _write(store, "UPDATE update_lock SET pid = ?", _dead_pid())
    time.sleep(RECHECK)
    killed = client.get("/series")
    assert killed.headers["x-patchlens-cache"] == "miss"  # rendered in another state
    assert "The last update did not finish" in killed.text
    assert killed.headers["x-patchlens-update"] == "interrupted"
    assert killed.headers["etag"] != running.headers["etag"]

    _write(store, "DELETE FROM update_lock")
    time.sleep(RECHECK)
    done = client.get("/series")
    assert done.headers["x-patchlens-cache"] == "miss"
    assert "update-notice" not in done.text
    assert "x-patchlens-update" not in done.headers
    assert client.get("/").headers["etag"] == quiet.headers["etag"]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def test_serve_with_several_workers(store: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "patchlens", "--db", str(store), "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        ok = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ok = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert ok is not None and ok.status_code == 200, proc.stderr and proc.stderr.read()
        etags = {httpx.get(f"http://127.0.0.1:{port}/", timeout=10).headers["etag"] for _ in "ab"}
        assert etags == {ok.headers["etag"]}  # every worker names the same state alike
        workers = [p for c in _children(proc.pid) for p in (c, *_children(c))]
        assert len(workers) >= 2
    finally:
        proc.terminate()
        proc.wait(30)
    deadline = time.monotonic() + 15  # the workers finish their requests first
    while [p for p in workers if Path(f"/proc/{p}").exists()] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in workers if Path(f"/proc/{p}").exists()] == []
