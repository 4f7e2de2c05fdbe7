"""A commit whose diff and message are not UTF-8 (Latin-1 sources, old translations) is kept
with its bytes as git gave them, so its patch-id stays exact; every page, API answer and CSV
that shows it must still answer, with U+FFFD for each such byte (it was a 500 on Xen's
commits before)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from patchlens.queries.formats import printable, with_units
from patchlens.stages import ingest
from patchlens.stages.progress import Reporter
from patchlens.store.db import database_url, open_store
from patchlens.web.app import create_app


def test_printable_keeps_clean_text_and_replaces_each_raw_byte() -> None:
    clean = "Jürgen's café"
    assert printable(clean) is clean
    stored = b"Xen\x92s \xe9t\xe9 \xe2\x80\x99".decode("utf-8", "surrogateescape")
    assert printable(stored) == "Xen\ufffds \ufffdt\ufffd \u2019"
    assert printable("\ud800 lone") == "? lone"
    assert with_units({"a": [stored]}) == {"a": [printable(stored)]}


@pytest.fixture(scope="module")
def latin1(tmp_path_factory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("latin1")
    repo = tmp / "repo"
    repo.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "A",
        "GIT_AUTHOR_EMAIL": "a@example.org",
        "GIT_COMMITTER_NAME": "A",
        "GIT_COMMITTER_EMAIL": "a@example.org",
        "GIT_AUTHOR_DATE": "1700000000 +0000",
        "GIT_COMMITTER_DATE": "1700000000 +0000",
    }

    def git(*args: str, **kw) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, env=env, check=True, capture_output=True, **kw
        ).stdout.decode("utf-8", "replace")

    git("init", "--quiet", "-b", "master")
    (repo / "po.c").write_bytes(b"/* d\xe9j\xe0 vu, Xen\x92s */\nint x;\n")
    git("add", "po.c")
    git(
        "-c",
        "i18n.commitEncoding=latin1",
        "commit",
        "--quiet",
        "-F",
        "-",
        input=b"po: caf\xe9 for Xen\x92s build\n\nBody \xe9.\n",
    )
    sha = git("rev-parse", "HEAD").strip()
    db = tmp / "s.db"
    engine = open_store(str(db))
    ingest.add_repo(engine, "r", str(repo), ["master"])
    reports = ingest.run_update(engine, tmp / "cache", Reporter(quiet=True))
    assert not [r.error for r in reports if r.error]
    return db, sha


def test_the_commit_page_and_api_show_raw_bytes_as_replacement_characters(latin1) -> None:
    db, sha = latin1
    client = TestClient(create_app(database_url(str(db)), page_cache=False))
    page = client.get(f"/commits/{sha[:12]}")
    assert page.status_code == 200
    assert "\ufffd" in page.text and "int x;" in page.text
    api = client.get(f"/api/commits/{sha[:12]}")
    assert api.status_code == 200
    diff = api.json()["diff"]
    assert "d\ufffdj\ufffd vu, Xen\ufffds" in diff
