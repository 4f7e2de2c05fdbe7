"""public-inbox layouts (v1, v2, epochs, bundles, URLs) and git repositories, incrementally."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from patchlens.sources.base import SourceError
from patchlens.sources.detect import detect_format
from patchlens.stages import ingest
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.helpers.cli import invoke_cli
from tests.helpers.gitrepos import ENV, git
from tests.helpers.publicinbox import add_message, init, message


def _update(engine, tmp_path: Path) -> list[ingest.SourceReport]:
    reports = ingest.run_update(engine, tmp_path / "cache", Reporter(quiet=True), jobs=1)
    assert [r.error for r in reports if r.error] == []
    return reports


def _n(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.mark.parametrize("v1", [False, True], ids=["v2", "v1"])
def test_public_inbox_incremental(tmp_path: Path, v1: bool) -> None:
    repo = init(tmp_path / "inbox.git")
    for i in range(5):
        add_message(repo, message(i), v1=v1)
    assert detect_format(str(repo)) == "public-inbox"
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "l", [str(repo)])
    (rep,) = _update(engine, tmp_path)
    assert (rep.read, rep.new) == (5, 5)
    (rep,) = _update(engine, tmp_path)
    assert rep.read == 0
    add_message(repo, message(5), v1=v1)
    add_message(repo, message(6), v1=v1)
    (rep,) = _update(engine, tmp_path)
    assert (rep.read, rep.new) == (2, 2)
    assert _n(engine, schema.messages) == 7


def test_v2_deletions_are_not_messages(tmp_path: Path) -> None:
    repo = init(tmp_path / "inbox.git")
    add_message(repo, message(1))
    add_message(repo, message(1), delete=True)
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "l", [str(repo)])
    (rep,) = _update(engine, tmp_path)
    assert rep.read == 1


def test_epochs_bundle_and_url(tmp_path: Path) -> None:
    top = tmp_path / "inbox"
    e0 = init(top / "git" / "0.git")
    e1 = init(top / "git" / "1.git")
    for i in range(3):
        add_message(e0, message(i))
    for i in range(3, 5):
        add_message(e1, message(i))
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "epochs", [str(top)])
    (rep,) = _update(engine, tmp_path)
    assert rep.read == 5
    add_message(e1, message(5))
    (rep,) = _update(engine, tmp_path)
    assert rep.read == 1

    bundle = tmp_path / "e0.bundle"
    git(e0, "bundle", "create", str(bundle), "--all")
    assert detect_format(str(bundle)) == "public-inbox"
    engine2 = open_store(str(tmp_path / "s2.db"))
    ingest.add_list(engine2, "bundle", [str(bundle)])
    ingest.add_list(engine2, "url", [f"file://{e1}"])
    reports = _update(engine2, tmp_path)
    assert [r.read for r in reports] == [3, 3]
    add_message(e1, message(6))
    reports = _update(engine2, tmp_path)
    assert [r.read for r in reports] == [0, 1]


def test_unknown_format_names_the_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\x02 not mail")
    with pytest.raises(SourceError, match=r"junk\.bin"):
        detect_format(str(junk))
    with pytest.raises(SourceError, match="missing"):
        detect_format(str(tmp_path / "missing"))
    empty = tmp_path / "dir"
    empty.mkdir()
    with pytest.raises(SourceError, match="dir"):
        detect_format(str(empty))


def test_cli_reports_a_bad_source_clearly(tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\nthis is not a mailbox\n")
    proc = invoke_cli("--db", str(tmp_path / "s.db"), "add-list", "x", str(junk), env=ENV)
    assert proc.returncode == 2
    assert "junk.txt" in proc.stderr and "unknown archive format" in proc.stderr


def _commit(repo: Path, name: str, text: str, msg: str) -> str:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", msg)
    return git(repo, "rev-parse", "HEAD")


def test_git_repo_incremental_and_branches(tmp_path: Path) -> None:
    work = tmp_path / "w"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    _commit(work, "a.c", "int a;\n", "first\n\nbody\n\nSigned-off-by: A <a@example.com>")
    _commit(work, "a.c", "int a;\nint b;\n", "second\n\nReviewed-by: R <r@example.com>")
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_repo(engine, "r", str(work), [])
    (rep,) = _update(engine, tmp_path)
    assert (rep.read, rep.new) == (2, 2)
    (rep,) = _update(engine, tmp_path)
    assert rep.read == 0
    git(work, "checkout", "-q", "-b", "topic")
    _commit(work, "b.c", "x\n", "third")
    git(work, "checkout", "-q", "main")
    _commit(work, "c.c", "y\n", "fourth")
    ingest.add_repo(engine, "r", str(work), ["main", "topic"])
    (rep,) = _update(engine, tmp_path)
    # Only the two new commits are read; the shared history gains the 'topic' branch.
    assert (rep.read, rep.new) == (2, 2)
    with engine.connect() as conn:
        per_branch = dict(
            conn.execute(
                select(schema.commit_branches.c.branch, func.count()).group_by(
                    schema.commit_branches.c.branch
                )
            ).all()
        )
        trailers = conn.execute(
            select(schema.commit_trailers.c.key, schema.commit_trailers.c.email)
        ).all()
    assert per_branch == {"main": 3, "topic": 3}
    assert sorted(trailers) == [
        ("Reviewed-by", "r@example.com"),
        ("Signed-off-by", "a@example.com"),
    ]


def test_schema_from_migrations_matches_the_code(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = open_store(str(tmp_path / "s.db"))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []


def test_head_revision_agrees_with_alembic() -> None:
    from alembic.script import ScriptDirectory

    from patchlens.store.db import MIGRATIONS, head_revision

    script = ScriptDirectory(str(MIGRATIONS))
    assert head_revision() == script.get_current_head()
    assert len(script.get_heads()) == 1  # a line, not a tree


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_store_is_migrated(url: str) -> None:
    """A file store is migrated through an engine of its own (one transaction for all the
    steps, store/db.py); an in-memory one must be migrated on its own engine, since another
    engine on its URL is another, empty database."""
    from sqlalchemy import inspect

    from patchlens.store.db import current_revision, head_revision

    engine = open_store(url)
    assert current_revision(engine) == head_revision()
    assert "commits" in inspect(engine).get_table_names()
    engine.dispose()


def test_a_message_deleted_looks_its_variants_up_by_index(tmp_path: Path) -> None:
    """Deleting a message (remove-list) makes SQLite's foreign key check look for its
    variants: by an index (migration 0026), not by a scan of every variant's raw mail per
    message deleted (a list of 96,475 messages read 700 GB at a million)."""
    import sqlite3

    from patchlens.store.db import open_store

    db = tmp_path / "s.db"
    open_store(str(db)).dispose()
    con = sqlite3.connect(db)
    try:
        plan = con.execute(
            "EXPLAIN QUERY PLAN SELECT 1 FROM message_variants WHERE message_pk = 1"
        ).fetchall()
    finally:
        con.close()
    assert any("ix_message_variants_message_pk" in str(row) for row in plan), plan
