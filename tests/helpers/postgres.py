"""A throwaway PostgreSQL server for the tests that run on PostgreSQL (test_postgres,
test_security_postgres, test_cli_lock): the `postgres` fixture, registered as a plugin in
tests/conftest.py, yields the URL of a server of our own on a free port."""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


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


def build_xq_store(url: str, tmp: Path, repo: Path, posted: Path) -> None:
    """The store the PostgreSQL-against-SQLite tests compare: the real xen/qemu threads and
    `posted` on one list, `repo` registered, every stage run (cache under `tmp`)."""
    from patchlens.config import Config
    from patchlens.stages import ingest
    from patchlens.stages.pipeline import run_stages
    from patchlens.stages.progress import Reporter
    from patchlens.store.db import open_store
    from tests.conftest import data_path

    engine = open_store(url)
    samples = sorted(data_path("xen-qemu-samples").glob("*.mbox"))
    ingest.add_list(engine, "xq", [*map(str, samples), str(posted)])
    ingest.add_repo(engine, "r", str(repo), [])
    quiet = Reporter(quiet=True)
    assert not [r.error for r in ingest.run_update(engine, tmp / "cache", quiet) if r.error]
    run_stages(engine, Config(), tmp / "cache", quiet)
    engine.dispose()
