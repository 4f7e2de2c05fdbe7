"""The Python read API over a PostgreSQL store gives what it gives over SQLite: the same
real xen/qemu threads and a small repository, built on a throwaway server and in a file."""

from __future__ import annotations

from pathlib import Path

import pytest

import patchlens
from tests.helpers.gitrepos import posted_patch, two_commit_repo
from tests.helpers.postgres import build_xq_store

pytestmark = pytest.mark.slow

TABLES = ("series", "metrics", "versions", "patches", "replies", "links", "people")


def _tables(url: str, tmp: Path, repo: Path, posted: Path) -> dict[str, list[dict]]:
    build_xq_store(url, tmp, repo, posted)
    with patchlens.open(url) as s:
        out = {name: getattr(s, name)(as_="records") for name in TABLES}
        # a filter, and a DataFrame, on either database
        out["open"] = s.metrics(state="open")["series_key"].tolist()
    return out


def test_postgres_gives_what_sqlite_gives(postgres: str, tmp_path: Path) -> None:
    repo = two_commit_repo(tmp_path / "repo")
    posted = posted_patch(repo, tmp_path / "posted.mbox")
    on_pg = _tables(postgres, tmp_path / "pg", repo, posted)
    on_sqlite = _tables(str(tmp_path / "s.db"), tmp_path / "sqlite", repo, posted)
    for name in TABLES:
        assert on_pg[name], name
    assert on_pg == on_sqlite
