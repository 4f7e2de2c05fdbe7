"""Killing `patchlens update` (kill -9 or Ctrl-C) and running it again leaves the same store as
one clean run: during ingest (the list and the repository) and during each stage after it
(analysis, reconstruction, fingerprints, matching, metrics), and no process is left behind."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.storedump import count_rows, dump

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sigint_handled")]


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


# `patchlens update --force` (every stage runs, even on a store the ingest runs above happened
# to complete) with a kill -9 from inside a stage: at the stage's nth commit (the
# commit event fires before the database commits, so that transaction is lost), or as the
# stage returns if it commits fewer times. It says where before it dies, on stderr.
KILL_IN_STAGE = r"""
import os, signal, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
import patchlens.stages.pipeline as pipeline
from patchlens.cli import main

db, stage, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
real = getattr(pipeline, stage)
seen = {"inside": False, "commits": 0}

def die(where):
    sys.stderr.write(f"KILLED {stage} {where}\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)

@event.listens_for(Engine, "commit")
def on_commit(conn):
    if seen["inside"]:
        seen["commits"] += 1
        if seen["commits"] >= nth:
            die(f"at commit {seen['commits']}")

def wrapped(*args, **kwargs):
    seen["inside"] = True
    real(*args, **kwargs)
    die(f"at its end after {seen['commits']} commits")

setattr(pipeline, stage, wrapped)
sys.argv = ["patchlens", "--db", db, "-q", "update", "--force"]
main()
"""


def _session_pids(sid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,sid="], capture_output=True, text=True)
    return [int(p) for p, s in (line.split() for line in out.stdout.splitlines()) if int(s) == sid]


def _kill_in_stage(db: Path, stage: str, nth: int) -> str:
    """Run update, kill -9 it inside `stage` (see KILL_IN_STAGE); where it died. Fails if a
    process of the run (a parse or analysis worker) outlives it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_IN_STAGE, str(db), stage, str(nth)],
        env={**os.environ, "PATCHLENS_BATCH": "200"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    _out, err = proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL, err
    deadline = time.monotonic() + 10
    while _session_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _session_pids(proc.pid) == [], "a process of the killed update lives on"
    return next(line for line in err.splitlines() if line.startswith("KILLED"))


def _age(db: Path, sql: str) -> None:
    """Mark every stored analysis (or fingerprint) as written by an older version than any."""
    con = sqlite3.connect(db)
    try:
        with con:
            assert con.execute(sql).rowcount > 0
    finally:
        con.close()


def _interrupt_when(db: Path, table: str, rows: int, sig: int) -> bool:
    """Start an update and send `sig` once `table` has `rows` rows; False if it finished."""
    proc = _cli(db, "update")
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if count_rows(db, table) >= rows:
            proc.send_signal(sig)
            proc.wait(60)
            return True
        time.sleep(0.02)
    proc.wait(60)
    return False


def test_interrupted_runs_equal_one_clean_run(
    tmp_path: Path,
    erofs_archive_git: Path,
    erofs_2024: Path,
    erofs_utils: Path,
    erofs_store_pristine: Path,
) -> None:
    # One clean run: the session's EROFS store as it was built, from the same three sources
    # under the same names, by the ingest and the stages `update` runs (a store `update` builds
    # from them dumps equal to it, surrogate keys included).
    clean = erofs_store_pristine

    broken = tmp_path / "broken.db"
    _register(broken, erofs_archive_git, erofs_2024, erofs_utils)
    # kill -9 in the middle of the public-inbox archive, Ctrl-C later in it, kill -9 in the
    # middle of the git repository.
    assert _interrupt_when(broken, "message_sightings", 3000, signal.SIGKILL)
    assert _interrupt_when(broken, "message_sightings", 9000, signal.SIGINT)
    interrupted_in_repo = _interrupt_when(broken, "commits", 300, signal.SIGKILL)
    assert count_rows(broken, "message_sightings") > 0
    # kill -9 in each stage after ingest: analysis and fingerprints commit per batch (killed
    # after some batches); reconstruction, matching and metrics in one transaction each
    # (killed as it commits). Each run redoes what the one before lost.
    # Ingest stores each new message with its analysis and each new commit with its
    # fingerprint (the parse workers and reading threads compute them), so the batched steps
    # have work when an older ANALYSIS_VERSION or FINGERPRINT_VERSION wrote them: made so here
    # for all (just before each step's run), they redo them all and are killed in the middle.
    _age(broken, "UPDATE message_analysis SET analysis_version = 0")
    where = [_kill_in_stage(broken, "analyse_new", 3)]
    where.append(_kill_in_stage(broken, "rebuild_structure", 1))
    _age(broken, "UPDATE diff_fingerprints SET fp_version = 0")
    where.append(_kill_in_stage(broken, "fingerprint_new", 2))
    where.append(_kill_in_stage(broken, "run_matching", 1))
    where.append(_kill_in_stage(broken, "run_metrics", 1))
    assert [w.split()[1] for w in where] == [
        "analyse_new",
        "rebuild_structure",
        "fingerprint_new",
        "run_matching",
        "run_metrics",
    ]
    # killed before each one-transaction stage committed, not after it
    assert all(where[i].endswith("at commit 1") for i in (1, 3, 4)), where
    if interrupted_in_repo:  # nothing analysed yet, no metrics ever written
        # killed in the middle of the batched stages, not at their end
        assert where[0].endswith("at commit 3") and where[2].endswith("at commit 2"), where
        assert count_rows(broken, "series_metrics") == 0  # the metrics transaction was lost
    assert _cli(broken, "update").wait(300) == 0

    a, b = dump(clean), dump(broken)
    assert a.keys() == b.keys()
    for table in a:
        assert len(a[table]) == len(b[table]), table
        assert a[table] == b[table], table
    assert len(a["message_sightings"]) == 15218 + 2525
    assert interrupted_in_repo or len(a["commits"]) > 0
