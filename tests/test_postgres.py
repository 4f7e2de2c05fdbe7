"""The same code on PostgreSQL: a throwaway server, the real xen/qemu threads and a small
repository, and the same reconstruction, matching and metrics as on SQLite."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from patchlens.store import schema
from patchlens.store.db import open_store
from tests.helpers.gitrepos import posted_patch, two_commit_repo
from tests.helpers.postgres import build_xq_store

pytestmark = pytest.mark.slow


def _build(url: str, tmp: Path, repo: Path, posted: Path) -> dict[str, object]:
    build_xq_store(url, tmp, repo, posted)
    engine = open_store(url)
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
    repo = two_commit_repo(tmp_path / "repo")
    posted = posted_patch(repo, tmp_path / "posted.mbox")
    t0 = time.monotonic()
    on_pg = _build(postgres, tmp_path / "pg", repo, posted)
    on_sqlite = _build(str(tmp_path / "s.db"), tmp_path / "sqlite", repo, posted)
    assert on_pg == on_sqlite
    assert on_pg["series"] and on_pg["replies"] and on_pg["metrics"] and on_pg["links"]
    assert time.monotonic() - t0 < 120
