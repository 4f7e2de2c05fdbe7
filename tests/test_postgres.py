"""The same code on PostgreSQL: a throwaway server, the real xen/qemu threads and a small
repository, and the same reconstruction, matching and metrics as on SQLite."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from patchlens.config import Config
from patchlens.mail.headers import LATEST_DATE
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.helpers.gitrepos import ENV, git, posted_patch, two_commit_repo
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
                        # What the weekly refit reads (docs/PREDICTION.md).
                        schema.series_metrics.c.event_dates,
                        schema.series_metrics.c.merge_changes,
                        schema.series_metrics.c.landmark_features,
                    )
                ).all()
            ),
            "model": conn.execute(select(schema.prediction_model)).all(),
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
    assert on_pg["model"] and all(row.landmark_features for row in on_pg["metrics"])
    assert time.monotonic() - t0 < 120


def test_dates_past_2038_fit_postgresql(postgres: str, tmp_path: Path) -> None:
    """Real archives hold mail dated 2040, 2042 and 2077 (broken clocks), and a commit may be
    so dated: PostgreSQL keeps the store's INTEGER dates in 32 bits, and such a row stopped a
    million-message ingest. The mail's date is read as unusable (as for any other broken
    Date:), the commit's held at the last second a 32-bit date holds."""
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE dates"))
    admin.dispose()
    url = postgres.replace("/postgres?", "/dates?")
    mbox = tmp_path / "l.mbox"
    mbox.write_text(
        "From x Mon Jan  1 00:00:00 2001\nFrom: Dev <dev@example.org>\n"
        "Subject: [PATCH] future\nDate: Wed, 15 Sep 2077 10:00:00 +0200\n"
        "Message-ID: <f@example.org>\n\nbody\n"
    )
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a").write_text("x\n")
    git(repo, "add", "a")
    subprocess.run(
        ["git", "commit", "-q", "-m", "future"],
        cwd=repo,
        check=True,
        env={
            **ENV,
            "GIT_AUTHOR_DATE": "3398890433 +0000",
            "GIT_COMMITTER_DATE": "3398890433 +0000",
        },
    )
    engine = open_store(url)
    ingest.add_list(engine, "l", [str(mbox)])
    ingest.add_repo(engine, "r", str(repo), [])
    quiet = Reporter(quiet=True)
    assert [r.error for r in ingest.run_update(engine, tmp_path / "cache", quiet)] == [None, None]
    run_stages(engine, Config(), tmp_path / "cache", quiet)
    m, c = schema.messages, schema.commits
    with engine.connect() as conn:
        # The mbox's "From " line dates it instead, as for any unusable Date:.
        assert conn.execute(select(m.c.date_utc, m.c.date_source)).all() == [(978307200, "archive")]
        assert conn.execute(select(c.c.author_date, c.c.committer_date)).all() == [
            (LATEST_DATE, LATEST_DATE)
        ]
    # A patch dated weeks before 2038 comes in: the incremental steps widen its date by their
    # windows (a re-roll's, the diff window of matching), past what PostgreSQL's 32-bit dates
    # hold; held within it, the same rows are read and the update goes through.
    with mbox.open("a") as f:
        f.write(
            "From x Mon Jan  1 00:00:00 2001\nFrom: Dev <dev@example.org>\n"
            "Subject: [PATCH] late\nDate: Thu, 31 Dec 2037 10:00:00 +0000\n"
            "Message-ID: <g@example.org>\n\nbody\n---\n"
            "diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-x\n+y\n"
        )
    assert [r.error for r in ingest.run_update(engine, tmp_path / "cache", quiet)] == [None, None]
    rep = run_stages(engine, Config(), tmp_path / "cache", quiet)
    assert rep.review.incremental and rep.matching.incremental
    with engine.connect() as conn:
        assert 2145866400 in set(conn.execute(select(m.c.date_utc)).scalars())
        # The pages' day filters widen a day to its end: "until 2038-01-19" is bound past
        # 32 bits, and a day centuries away is a valid filter too. They read as on SQLite.
        from patchlens.metrics.backlog import BacklogRules
        from patchlens.queries import conformance, dashboard
        from patchlens.queries.filters import Filters

        wide = Filters(since="1800-01-01", until="2038-01-19")
        assert len(dashboard.series_rows(conn, wide, BacklogRules())) == 2
        assert dashboard.patches(conn, wide, BacklogRules()) is not None
        assert dashboard.pulls(conn, wide) is not None
        assert isinstance(conformance._commits(conn, wide), list)
        # Compared exactly, as on SQLite: the commit held at the last 32-bit second is before
        # 2100 and not after it (a bound held to that second instead said the opposite).
        every = conformance._commits(conn, Filters())
        assert every and conformance._commits(conn, Filters(until="2100-01-01")) == every
        assert conformance._commits(conn, Filters(since="2100-01-01")) == []
        # The metrics' "every series" sentinel, compared with the series' first dates.
        from patchlens.stages.metrics import series_posted_since

        sm = schema.series_metrics
        assert series_posted_since(conn, -(2**62)) == set(
            conn.execute(select(sm.c.series_key)).scalars()
        )
        # An uncast bigint bound still reads the date's index.
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        q = select(m.c.id).where(m.c.date_utc >= 2**40)
        compiled = q.compile(conn)
        plan = "\n".join(
            r[0] for r in conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
        )
        assert "Index" in plan and "Seq Scan" not in plan, plan
    engine.dispose()


def test_among_binds_any_number_of_keys(postgres: str, tmp_path: Path) -> None:
    """A full metrics batch restricts its rewrite to ten thousand series and every review
    reply to them; bound one parameter per key, a 330k-message store went past PostgreSQL's
    65,535 parameters in one statement and the update stopped. `among` binds one per chunk,
    on PostgreSQL and on SQLite alike, and finds exactly the keys asked for (text with a NUL
    too, which SQLite's JSON cannot carry)."""
    from sqlalchemy import Column, Integer, MetaData, Table, Text, func

    from patchlens.queries.sql import among

    md = MetaData()
    t = Table("k", md, Column("n", Integer, primary_key=True), Column("s", Text))
    rows = [{"n": i, "s": f"key-{i}\x00" if i % 1000 == 0 else f"key-{i}"} for i in range(80_000)]
    for url in (postgres, f"sqlite:///{tmp_path / 'k.db'}"):
        engine = create_engine(url)
        md.create_all(engine)
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                rows_pg = [{**r, "s": r["s"].replace("\x00", "")} for r in rows]
                conn.execute(t.insert(), rows_pg)
            else:
                conn.execute(t.insert(), rows)
            stored = dict(conn.execute(select(t.c.n, t.c.s)).all())
            ns = list(range(1, 80_000, 1))
            both = among(conn, t.c.n, ns) | among(conn, t.c.s, [stored[0], "absent"])
            assert conn.execute(select(func.count()).where(both)).scalar_one() == 80_000
            picked = [stored[n] for n in range(0, 80_000, 3)]
            got = conn.execute(select(t.c.n).where(among(conn, t.c.s, picked))).scalars()
            assert sorted(got) == list(range(0, 80_000, 3))
            assert conn.execute(select(func.count()).where(among(conn, t.c.n, []))).scalar() == 0
            if conn.dialect.name == "postgresql":
                # Two restrictions OR-ed (as a metrics batch's review events are) still read
                # the indexes: unnested arrays there made the planner scan the whole table.
                conn.execute(text("CREATE INDEX k_s ON k (s)"))
                conn.execute(text("SET LOCAL enable_seqscan = off"))
                q = select(t.c.n).where(among(conn, t.c.n, [5, 7]) | among(conn, t.c.s, ["key-9"]))
                compiled = q.compile(conn)
                explained = conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
                plan = "\n".join(r[0] for r in explained)
                assert "Seq Scan" not in plan, plan
        engine.dispose()


def test_paths_gained_by_one_of_several_repositories_on_postgresql(
    postgres: str, tmp_path: Path
) -> None:
    """With several repositories, the series touching a path one of them gained are found by
    the database: by LIKE, which PostgreSQL has (`instr` it has not: every update with a new
    path failed there; the review helper ran it). A path with a quote is found as JSON
    writes it."""
    import json

    from sqlalchemy import insert

    from patchlens.stages.metrics import series_gaining_paths
    from patchlens.store import schema

    path = "dir/it's.c"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # a database of its own: the module's server is shared
        conn.execute(text("CREATE DATABASE gained"))
    admin.dispose()
    for url in (postgres.replace("/postgres?", "/gained?"), f"sqlite:///{tmp_path / 'g.db'}"):
        engine = create_engine(url)
        schema.metadata.create_all(engine)
        with engine.begin() as conn:
            for i in (1, 2):
                conn.execute(
                    insert(schema.repos).values(
                        id=i, name=f"r{i}", location="x", branches="[]", created_at=0
                    )
                )
            conn.execute(
                insert(schema.commits).values(
                    id=1, repo_id=2, sha="a", parents="", is_merge=False, author_name="a",
                    author_email="a", author_date=0, author_offset=0, committer_name="a",
                    committer_email="a", committer_date=0, committer_offset=0, subject="s",
                    message="m", files_changed=1, lines_added=1, lines_removed=0,
                )
            )  # fmt: skip
            conn.execute(
                insert(schema.commit_files).values(
                    commit_pk=1, path=path, lines_added=1, lines_removed=0, binary=False
                )
            )
            assert series_gaining_paths(conn, 0) == set()  # no series yet: none, no error
            assert json.dumps(path) == '"dir/it\'s.c"'
        engine.dispose()
