"""One update at a time per store: a second one says who holds the store and waits, or with
--no-wait exits 75; a lock whose holder was killed does not block."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from patchlens.store.db import open_store
from patchlens.store.lock import update_lock
from tests.conftest import data_path

MBOX = ("xen-qemu-samples", "xen-remove-dead-code.mbox")
BUSY = re.compile(
    r"another update is running on this store \(pid (\d+) since \d\d:\d\d\); waiting\.\.\."
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PATCHLENS_DB", "PATCHLENS_CONFIG")}
    return {**env, "PATCHLENS_JOBS": "2"}


def _start(db: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "patchlens", *args, "--db", db],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patchlens", *args, "--db", db],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _rows(db: Path, table: str) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def _no_wait_refused(db: str, holder: int) -> None:
    proc = _run(db, "update", "-q", "--no-wait")
    assert proc.returncode == 75, proc.stderr
    assert proc.stderr.splitlines() == [
        f"error: another update is running on this store (pid {holder} since "
        f"{proc.stderr.split(' since ')[1][:5]}); not waiting (--no-wait)"
    ]


def test_second_update_waits_or_exits_75(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert _run(str(db), "add-list", "xen", str(data_path(*MBOX))).returncode == 0
    engine = open_store(str(db))
    with update_lock(engine):
        _no_wait_refused(str(db), os.getpid())
        waiting = _start(str(db), "update", "-q")
        assert waiting.stderr is not None
        line = waiting.stderr.readline()
        m = BUSY.fullmatch(line.strip())
        assert m and int(m.group(1)) == os.getpid(), line
        time.sleep(1.5)
        assert waiting.poll() is None  # still waiting
        assert _rows(db, "message_sightings") == 0  # and doing nothing
    assert waiting.wait(120) == 0
    assert waiting.stderr.read() == ""
    assert _rows(db, "message_sightings") == 10
    assert _run(str(db), "update", "-q", "--no-wait").returncode == 0  # free again


def test_two_updates_on_the_erofs_archive(tmp_path: Path, erofs_archive_git: Path) -> None:
    db = tmp_path / "s.db"
    assert _run(str(db), "add-list", "linux-erofs", str(erofs_archive_git)).returncode == 0
    first = _start(str(db), "update", "-q")
    deadline = time.monotonic() + 120
    while _rows(db, "update_lock") == 0:
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    _no_wait_refused(str(db), first.pid)
    second = _start(str(db), "update")
    assert second.stderr is not None
    m = BUSY.fullmatch(second.stderr.readline().strip())
    assert m and int(m.group(1)) == first.pid
    assert first.wait(600) == 0
    _out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    # The second one found the work done: it read nothing new.
    assert "linux-erofs: 0 messages read, 0 new" in err
    assert _rows(db, "message_sightings") == 15218
    assert _rows(db, "update_lock") == 0


HOLD = textwrap.dedent(
    """
    import sys, time
    from patchlens.store.db import open_store
    from patchlens.store.lock import update_lock
    with update_lock(open_store(sys.argv[1])):
        print("held", flush=True)
        time.sleep(600)
    """
)


def _killed_holder(db: str) -> int:
    """A process that takes the lock and is then killed with -9; its pid."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, db], env=_env(), stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    _no_wait_refused(db, holder.pid)
    holder.send_signal(signal.SIGKILL)
    holder.wait(30)
    return holder.pid


def test_a_killed_holder_does_not_block(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert _run(str(db), "add-list", "xen", str(data_path(*MBOX))).returncode == 0
    _killed_holder(str(db))
    proc = _run(str(db), "update", "-q", "--no-wait")
    assert proc.returncode == 0, proc.stderr
    assert _rows(db, "message_sightings") == 10


@pytest.mark.slow
def test_lock_on_postgres(postgres: str, tmp_path: Path) -> None:
    url = postgres
    assert _run(url, "add-list", "xen", str(data_path(*MBOX))).returncode == 0
    engine = open_store(url)
    with update_lock(engine):
        _no_wait_refused(url, os.getpid())
    engine.dispose()
    _killed_holder(url)
    proc = _run(url, "update", "-q", "--no-wait")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_remove_and_replace_on_postgres(postgres: str) -> None:
    """remove-list and add-list --replace on PostgreSQL (same server as above)."""
    url = postgres
    other = str(data_path("xen-qemu-samples", "xen-ctrl-ballooned-dump.mbox"))
    assert _run(url, "add-list", "xen", str(data_path(*MBOX))).returncode == 0  # if not yet
    assert _run(url, "add-list", "two", str(data_path(*MBOX)), other).returncode == 0
    assert _run(url, "update", "-q").returncode == 0
    proc = _run(url, "add-list", "two", other, "--replace")
    assert proc.returncode == 0, proc.stderr
    # The dead-code thread is now only xen's (the replace dropped it from list two).
    proc = _run(url, "remove-list", "xen")
    assert proc.returncode == 0, proc.stderr
    assert "xen: removed (1 sources, 10 messages removed, 0 kept" in proc.stdout
    assert _run(url, "update", "-q").returncode == 0
    proc = _run(url, "remove-list", "two")
    assert "two: removed (1 sources, 3 messages removed, 0 kept" in proc.stdout
    proc = _run(url, "update", "-q")
    assert proc.returncode == 0, proc.stderr
    status = _run(url, "status", "--json")
    assert '"lists": []' in status.stdout
