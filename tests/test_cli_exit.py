"""An update ends without the interpreter's teardown (cli._exit_now), and still ends as a
whole exit would: the store closed and its WAL checkpointed into it, atexit handlers run,
the output flushed and the exit status kept."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from patchlens.cli import _exit_now
from tests.conftest import data_path

MBOX = ("xen-qemu-samples", "xen-remove-dead-code.mbox")


def _run(db: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("PATCHLENS_DB", "PATCHLENS_CONFIG")}
    return subprocess.run(
        [sys.executable, "-m", "patchlens", "--db", str(db), *args],
        env={**base, "PATCHLENS_JOBS": "2", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_update_closes_the_store_and_keeps_its_status(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert _run(db, "add-list", "xen", str(data_path(*MBOX))).returncode == 0
    done = _run(db, "update")
    assert done.returncode == 0, done.stderr
    assert "update took" in done.stderr
    # The last connection was closed before the process ended: SQLite checkpointed the WAL
    # and removed it, as a normal exit does.
    assert not (tmp_path / "s.db-wal").exists()
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT count(*) FROM messages").fetchone()[0] > 0
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
    # The exit status of an update with damaged sources (3) is kept the same way:
    # tests/test_damaged_sources.py runs such updates as commands.


def test_exit_now_runs_the_exit_handlers_and_keeps_the_status(tmp_path: Path) -> None:
    flag = tmp_path / "ran"
    code = f"""
import atexit, sys
from patchlens.cli import _exit_now
atexit.register(lambda: open({str(flag)!r}, "w").write("yes"))
print("out", end="")
print("err", file=sys.stderr, end="")
_exit_now(3)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out", "err")
    assert flag.read_text() == "yes"


def test_exit_now_waits_for_a_thread_that_is_not_a_daemon() -> None:
    import threading

    gate = threading.Event()
    t = threading.Thread(target=gate.wait)
    t.start()
    try:
        with pytest.raises(SystemExit) as e:
            _exit_now(4)
        assert e.value.code == 4
    finally:
        gate.set()
        t.join()
