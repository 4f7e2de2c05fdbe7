"""The same code on PostgreSQL: a throwaway server, the real xen/qemu threads and a small
repository, and the same reconstruction, matching and metrics as on SQLite."""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from patchlens.config import Config
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.conftest import data_path
from tests.pihelpers import git

pytestmark = pytest.mark.slow


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail(
            "PostgreSQL is not installed (Debian package postgresql): the test script installs it",
            pytrace=False,
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A server of our own on a free port, run as the postgres user when we are root (in a
    folder of /tmp that user can reach: pytest's own are private to root)."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="patchlens-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    user = None
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for p in (root, sock):
            os.chown(p, user.pw_uid, user.pw_gid)
    port = _free_port()

    def run(*cmd: str) -> None:
        full = list(cmd)
        if user is not None:
            full = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)]
        subprocess.run(full, check=True, capture_output=True)

    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-w",
        "-l",
        str(root / "log"),
        "-o",
        f"-p {port} -k {sock} -c listen_addresses=",
        "start",
    )
    try:
        url = f"postgresql+psycopg://postgres@/postgres?host={sock}&port={port}"
        yield url
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _build(url: str, tmp: Path, repo: Path, posted: Path) -> dict[str, object]:
    engine = open_store(url)
    samples = sorted(data_path("xen-qemu-samples").glob("*.mbox"))
    ingest.add_list(engine, "xq", [*map(str, samples), str(posted)])
    ingest.add_repo(engine, "r", str(repo), [])
    quiet = Reporter(quiet=True)
    assert not [r.error for r in ingest.run_update(engine, tmp / "cache", quiet) if r.error]
    run_stages(engine, Config(), tmp / "cache", quiet)
    with engine.connect() as conn:
        out = {
            "series": sorted(
                conn.execute(select(schema.series.c.key, schema.series.c.n_versions)).all()
            ),
            "replies": sorted(
                conn.execute(
                    select(schema.messages.c.message_id, schema.replies.c.addressed_idx).join(
                        schema.replies, schema.replies.c.message_pk == schema.messages.c.id
                    )
                ).all()
            ),
            "links": sorted(
                conn.execute(
                    select(
                        schema.messages.c.message_id,
                        schema.commits.c.sha,
                        schema.patch_commits.c.method,
                    )
                    .join(
                        schema.patch_commits,
                        schema.patch_commits.c.message_pk == schema.messages.c.id,
                    )
                    .join(schema.commits, schema.commits.c.id == schema.patch_commits.c.commit_pk)
                ).all()
            ),
            "metrics": sorted(
                conn.execute(
                    select(
                        schema.series_metrics.c.series_key,
                        schema.series_metrics.c.time_to_first_response,
                    )
                ).all()
            ),
        }
    engine.dispose()
    return out


def test_postgres_gives_what_sqlite_gives(postgres: str, tmp_path: Path) -> None:
    # A repository and, posted to the list, one of its commits: matching has work to do.
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README").write_text("x\n")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "init")
    (repo / "README").write_text("x\ny\n")
    git(repo, "commit", "-q", "-am", "README: say y\n\nSigned-off-by: A <a@example.com>")
    posted = tmp_path / "posted.mbox"
    posted.write_text(git(repo, "format-patch", "-1", "--stdout") + "\n")
    t0 = time.monotonic()
    on_pg = _build(postgres, tmp_path / "pg", repo, posted)
    on_sqlite = _build(str(tmp_path / "s.db"), tmp_path / "sqlite", repo, posted)
    assert on_pg == on_sqlite
    assert on_pg["series"] and on_pg["replies"] and on_pg["metrics"] and on_pg["links"]
    assert time.monotonic() - t0 < 120
