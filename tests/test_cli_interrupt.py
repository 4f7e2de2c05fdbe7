"""Ctrl-C during `update`: one line, status 130, no traceback from any process, and the next
run completes. Ctrl-C in a terminal signals the whole process group (the update, its parse
and analysis workers, git), so the test does the same."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.storedump import count_rows

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sigint_handled")]

LINE = "interrupted; run update again to resume"


def _start(db: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PATCHLENS_DB", "PATCHLENS_CONFIG")}
    return subprocess.Popen(
        [sys.executable, "-m", "patchlens", *args, "--db", str(db)],
        env={**env, "PATCHLENS_JOBS": "2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell job has
    )


def _until_rows(
    proc: subprocess.Popen[str], db: Path, table: str, seconds: float, more_than: int = 0
) -> None:
    """Wait until the update has written rows of `table` beyond `more_than` (or has ended);
    fails after `seconds`, however slow the machine is to start it."""
    deadline = time.monotonic() + seconds
    while count_rows(db, table) <= more_than and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _ctrl_c(proc: subprocess.Popen[str]) -> tuple[int, str]:
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_ctrl_c_during_update(tmp_path: Path, erofs_archive_git: Path) -> None:
    db = tmp_path / "s.db"
    add = _start(db, "add-list", "linux-erofs", str(erofs_archive_git))
    assert add.wait(60) == 0

    # During ingest: parse workers are running.
    # About 2 s in, and once something is stored (the machine may be slow to start it).
    proc = _start(db, "update", "-q")
    time.sleep(2)
    _until_rows(proc, db, "message_sightings", 120)
    assert proc.poll() is None, "update finished: nothing was interrupted"
    code, err = _ctrl_c(proc)
    assert code == 130, err
    assert err == LINE + "\n"
    stored = count_rows(db, "message_sightings")
    assert 0 < stored < 15218

    # While messages are analysed (the parse workers analyse what they read, so the first
    # interruption left some analysed already: wait for more). With progress shown, the bars
    # may be there, but the last line is the one and there is no traceback.
    analysed = count_rows(db, "message_analysis")
    proc = _start(db, "update")
    _until_rows(proc, db, "message_analysis", 240, more_than=analysed)
    assert proc.poll() is None, "update finished before analysis could be interrupted"
    code, err = _ctrl_c(proc)
    assert code == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.splitlines()[-1] == LINE
    assert err.count(LINE) == 1
    assert 0 < count_rows(db, "message_analysis") < 15218

    # No worker is left behind (a git reader that was killed with its parent may take a
    # moment to be reaped), and a re-run completes.
    deadline = time.monotonic() + 10
    while True:
        left = subprocess.run(
            ["ps", "-o", "pid=,stat=,cmd=", "-g", str(proc.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.splitlines()
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert left == []
    rerun = _start(db, "update", "-q")
    _out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    assert err == ""
    assert count_rows(db, "message_sightings") == 15218
    assert count_rows(db, "message_analysis") == count_rows(db, "messages") > 15000
    assert count_rows(db, "series") > 0


def test_workers_end_with_a_killed_update(tmp_path: Path, erofs_archive_git: Path) -> None:
    """kill -9 leaves the parent no chance to stop its workers: they end by themselves."""
    db = tmp_path / "s.db"
    assert _start(db, "add-list", "linux-erofs", str(erofs_archive_git)).wait(60) == 0
    proc = _start(db, "update", "-q")
    deadline = time.monotonic() + 120

    def group() -> list[str]:
        ps = subprocess.run(
            ["ps", "-o", "pid=,stat=", "-g", str(proc.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split("\n")
        # Zombies are dead already; reaping them is up to whoever adopted them.
        return [line.split()[0] for line in ps if line.strip() and "Z" not in line.split()[1]]

    while len(group()) < 3:  # the update and at least two parse workers (PATCHLENS_JOBS=2)
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    workers = [pid for pid in group() if int(pid) != proc.pid]
    proc.kill()
    proc.wait(30)
    deadline = time.monotonic() + 10
    while group() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert group() == [], f"workers {workers} outlived their parent"


def test_pool_traceback_of_an_interrupt_is_not_printed() -> None:
    """Ctrl-C landing while SQLAlchemy returns a connection to its pool made the pool log the
    KeyboardInterrupt with a traceback before `update`'s one line (seen once under load). The
    CLI's handler for the pool's log drops exactly that record; other errors still show."""
    import io
    import logging

    from patchlens import cli

    pool_log = logging.getLogger("sqlalchemy.pool.impl.QueuePool")
    seen = io.StringIO()
    before = cli._pool_log.setStream(seen)  # the handler writes to stderr; read it here
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            pool_log.error("Exception during reset or similar", exc_info=True)
        try:
            raise OSError("disk full")
        except OSError:
            pool_log.error("Exception closing connection", exc_info=True)
    finally:
        cli._pool_log.setStream(before)
    err = seen.getvalue()
    assert "Exception during reset" not in err and "KeyboardInterrupt" not in err
    assert "Exception closing connection" in err and "disk full" in err
