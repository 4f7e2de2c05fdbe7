"""Killing `patchlens update` (kill -9 or Ctrl-C) and running it again leaves the same store as
one clean run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.storedump import dump

pytestmark = pytest.mark.slow


def _cli(db: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "patchlens", "--db", str(db), "-q", *args],
        env={**os.environ, "PATCHLENS_BATCH": "200", **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _register(db: Path, archive: Path, mbox: Path, repo: Path) -> None:
    for args in (
        ("add-list", "linux-erofs", str(archive)),
        ("add-list", "erofs-2024", str(mbox)),
        ("add-repo", "erofs-utils", str(repo), "--branch", "dev"),
    ):
        proc = _cli(db, *args)
        assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""


def _rows(db: Path, table: str) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _interrupt_when(db: Path, table: str, rows: int, sig: int) -> bool:
    """Start an update and send `sig` once `table` has `rows` rows; False if it finished."""
    proc = _cli(db, "update")
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if _rows(db, table) >= rows:
            proc.send_signal(sig)
            proc.wait(60)
            return True
        time.sleep(0.02)
    proc.wait(60)
    return False


def test_interrupted_runs_equal_one_clean_run(
    tmp_path: Path, erofs_archive_git: Path, erofs_2024: Path, erofs_utils: Path
) -> None:
    clean = tmp_path / "clean.db"
    _register(clean, erofs_archive_git, erofs_2024, erofs_utils)
    assert _cli(clean, "update").wait(300) == 0

    broken = tmp_path / "broken.db"
    _register(broken, erofs_archive_git, erofs_2024, erofs_utils)
    # kill -9 in the middle of the public-inbox archive, Ctrl-C later in it, kill -9 in the
    # middle of the git repository.
    assert _interrupt_when(broken, "message_sightings", 3000, signal.SIGKILL)
    assert _interrupt_when(broken, "message_sightings", 9000, signal.SIGINT)
    interrupted_in_repo = _interrupt_when(broken, "commits", 300, signal.SIGKILL)
    assert _rows(broken, "message_sightings") > 0
    assert _cli(broken, "update").wait(300) == 0

    a, b = dump(clean), dump(broken)
    assert a.keys() == b.keys()
    for table in a:
        assert len(a[table]) == len(b[table]), table
        assert a[table] == b[table], table
    assert len(a["message_sightings"]) == 15218 + 2525
    assert interrupted_in_repo or len(a["commits"]) > 0
