"""A large incremental read of a public-inbox archive, in worker processes, finishes.

An incremental read asks `git cat-file --batch` for the new blobs by name on its stdin. The
parse workers are forked processes: one forked while that pipe was open kept a copy of its
writing end, git never saw the end of the names, and the update waited forever (found on a
day of linux-usb, issue 11). It takes more names than a pipe holds (64 KiB, ~1,600 names)
for the writer to be still writing when the workers fork, so the archive here grows by 3,000
messages between two updates (written with one `git fast-import`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.gitrepos import ENV
from tests.helpers.publicinbox import add_message, init, message
from tests.helpers.storedump import count_rows


def _append(repo: Path, first: int, n: int) -> None:
    """`n` more messages on master, a commit each, as public-inbox v2 writes them."""
    parent = subprocess.run(
        ["git", "rev-parse", "master"], cwd=repo, capture_output=True, text=True, env=ENV
    ).stdout.strip()
    out = []
    for i in range(first, first + n):
        raw = message(i)
        out.append(b"commit refs/heads/master\ncommitter p <p@x> 1700000000 +0000\ndata 3\nmsg\n")
        if i == first:
            out.append(f"from {parent}\n".encode())
        out.append(b"M 100644 inline m\ndata %d\n%s\n" % (len(raw), raw))
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=repo, input=b"".join(out), check=True, env=ENV
    )


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PATCHLENS_DB", "PATCHLENS_CONFIG")}
    return subprocess.run(
        [sys.executable, "-m", "patchlens", "-q", "--db", str(db), *args],
        env={**env, "PATCHLENS_JOBS": "2"},
        capture_output=True,
        text=True,
        timeout=180,  # a deadlock fails here instead of hanging the suite
    )


def test_a_large_incremental_read_in_workers_finishes(tmp_path: Path) -> None:
    repo = init(tmp_path / "inbox.git")
    for n in range(5):
        add_message(repo, message(n))
    db = tmp_path / "s.db"
    assert _cli(db, "add-list", "l", str(repo)).returncode == 0
    assert _cli(db, "update").returncode == 0
    more = 3000
    _append(repo, 5, more)
    done = _cli(db, "update")
    assert done.returncode == 0, done.stderr
    assert count_rows(db, "messages") == 5 + more


def test_a_first_read_keeps_the_copy_a_read_in_parts_keeps(tmp_path: Path) -> None:
    # The same Message-ID posted three times with different bodies: the first copy read is
    # the message, the others its variants. A first read takes the blobs oldest first, as a
    # read day by day does, not in pack order (newest first once git repacks the archive):
    # both stores keep the oldest copy.
    from tests.helpers.storedump import logical_dump

    repo = init(tmp_path / "inbox" / "git" / "0.git")
    commits = []
    for i in range(30):
        raw = message(i)
        if i in (5, 17, 26):
            raw = message(99, body=f"posted again as copy {i}")
        commits.append(add_message(repo, raw))
    subprocess.run(["git", "repack", "-a", "-d", "-f", "-q"], cwd=repo, check=True, env=ENV)
    whole, parts = tmp_path / "whole.db", tmp_path / "parts.db"
    for db in (whole, parts):
        assert _cli(db, "add-list", "inbox", str(tmp_path / "inbox")).returncode == 0
    assert _cli(whole, "update").returncode == 0
    subprocess.run(
        ["git", "update-ref", "refs/heads/master", commits[10]], cwd=repo, check=True, env=ENV
    )
    assert _cli(parts, "update").returncode == 0
    subprocess.run(
        ["git", "update-ref", "refs/heads/master", commits[-1]], cwd=repo, check=True, env=ENV
    )
    assert _cli(parts, "update").returncode == 0
    assert count_rows(whole, "message_variants") == 2
    a, b = logical_dump(whole), logical_dump(parts)
    assert [t for t in a if a[t] != b[t]] == []
