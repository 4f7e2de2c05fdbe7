"""Sources are checked when registered; removing or replacing one leaves a consistent store
that the next update rebuilds from."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from patchlens.config import Config
from patchlens.sources.base import SourceError
from patchlens.stages import ingest
from patchlens.stages.context import inputs_digest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.conftest import data_path
from tests.helpers.cli import invoke_cli
from tests.helpers.gitrepos import git, posted_patch, two_commit_repo

QUIET = Reporter(quiet=True)
DEAD_CODE = ("xen-qemu-samples", "xen-remove-dead-code.mbox")  # 10 messages
BALLOONED = ("xen-qemu-samples", "xen-ctrl-ballooned-dump.mbox")  # 3 messages


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return invoke_cli("--db", str(cwd / "s.db"), *args, cwd=cwd)


# --- checked when registered ----------------------------------------------------------------


def _refused(tmp_path: Path, args: tuple[str, ...], reason: str) -> None:
    proc = _cli(tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and reason in lines[0], lines[0]
    status = _cli(tmp_path, "status", "--json")
    assert json.loads(status.stdout)["lists"] == [] and json.loads(status.stdout)["repos"] == []


def test_add_repo_refuses_a_folder_that_is_not_git(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "file.txt").write_text("x\n")
    _refused(tmp_path, ("add-repo", "r", str(folder)), f"{folder}: a folder that is not a git")


def test_add_repo_refuses_an_mbox(tmp_path: Path) -> None:
    mbox = data_path(*DEAD_CODE)
    _refused(tmp_path, ("add-repo", "r", str(mbox)), f"{mbox}: an mbox file, not a git repo")


def test_add_repo_refuses_a_missing_path(tmp_path: Path) -> None:
    gone = tmp_path / "nowhere.git"
    _refused(tmp_path, ("add-repo", "r", str(gone)), f"{gone}: no such file or directory")


def test_add_repo_refuses_an_unreachable_url(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/missing.git"
    _refused(tmp_path, ("add-repo", "r", url), f"{url}: unreachable: ")


def test_add_list_refuses_an_unreachable_url(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/missing.git"
    _refused(tmp_path, ("add-list", "l", url), f"{url}: unreachable: ")


def test_add_list_refuses_an_unknown_format(tmp_path: Path) -> None:
    readme = data_path("xen-qemu-samples", "README.md")
    _refused(tmp_path, ("add-list", "l", str(readme)), f"{readme}: unknown archive format")


def test_add_list_refuses_a_missing_path_and_registers_none_of_the_others(
    tmp_path: Path,
) -> None:
    gone = tmp_path / "gone.mbox"
    args = ("add-list", "l", str(data_path(*DEAD_CODE)), str(gone))
    _refused(tmp_path, args, f"{gone}: no such file or directory")


def test_add_list_and_repo_accept_what_they_can_read(tmp_path: Path) -> None:
    repo = two_commit_repo(tmp_path / "repo")
    assert _cli(tmp_path, "add-list", "l", f"file://{repo}").returncode == 0
    assert _cli(tmp_path, "add-repo", "r", f"file://{repo}").returncode == 0
    assert _cli(tmp_path, "add-repo", "r2", str(repo)).returncode == 0


# --- removing and replacing -----------------------------------------------------------------


def _store(tmp_path: Path) -> tuple[Engine, Path]:
    """List a: two real threads and a posted patch; list b: one of those threads again;
    repository r has the commit the posted patch became."""
    repo = two_commit_repo(tmp_path / "repo")
    posted = posted_patch(repo, tmp_path / "posted.mbox")
    engine = open_store(str(tmp_path / "s.db"))
    dead, ballooned = str(data_path(*DEAD_CODE)), str(data_path(*BALLOONED))
    ingest.add_list(engine, "a", [dead, ballooned, str(posted)])
    ingest.add_list(engine, "b", [ballooned])
    ingest.add_repo(engine, "r", str(repo), [])
    _update(engine, tmp_path)
    return engine, repo


def _update(engine: Engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    reports = ingest.run_update(engine, tmp_path / "cache", QUIET)
    assert not [r.error for r in reports if r.error]
    return run_stages(engine, Config(), tmp_path / "cache", QUIET, jobs=1)


def _count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _digest(engine: Engine) -> str:
    with engine.connect() as conn:
        return inputs_digest(conn, Config())


def _consistent(db: Path) -> None:
    """No dangling reference anywhere, declared foreign keys or not."""
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        for table, col in (
            ("message_analysis", "message_pk"),
            ("message_trailers", "message_pk"),
            ("message_notices", "message_pk"),
            ("message_threads", "message_pk"),
            ("version_members", "message_pk"),
            ("replies", "message_pk"),
            ("replies", "addressed_pk"),
            ("review_events", "message_pk"),
            ("patch_commits", "message_pk"),
        ):
            q = f"SELECT count(*) FROM {table} WHERE {col} NOT IN (SELECT id FROM messages)"
            assert con.execute(q).fetchone()[0] == 0, (table, col)
        assert (
            con.execute(
                "SELECT count(*) FROM diff_fingerprints WHERE (kind = 'm' AND pk NOT IN"
                " (SELECT id FROM messages)) OR (kind = 'c' AND pk NOT IN (SELECT id FROM commits))"
            ).fetchone()[0]
            == 0
        )
        assert (
            con.execute(
                "SELECT count(*) FROM series_metrics"
                " WHERE series_key NOT IN (SELECT key FROM series)"
            ).fetchone()[0]
            == 0
        )
    finally:
        con.close()


def test_remove_list_drops_what_only_it_had_and_update_rebuilds(tmp_path: Path) -> None:
    engine, _repo_dir = _store(tmp_path)
    assert _count(engine, schema.messages) == 10 + 3 + 1
    assert _count(engine, schema.patch_commits) == 1
    series_before = _count(engine, schema.series)
    before = _digest(engine)

    rem = ingest.remove_list(engine, "a")
    assert (rem.sources, rem.messages, rem.kept) == (3, 11, 3)
    with engine.connect() as conn:
        kept = conn.execute(select(schema.messages.c.first_source_id)).scalars().all()
        b_source = conn.execute(select(schema.list_sources.c.id)).scalars().all()
        names = conn.execute(select(schema.mailing_lists.c.name)).scalars().all()
    assert len(kept) == 3 and set(kept) == set(b_source) and names == ["b"]
    assert _count(engine, schema.patch_commits) == 0  # the posting linked to the commit is gone
    assert _digest(engine) != before

    st = _update(engine, tmp_path)
    assert not st.skipped
    assert 0 < _count(engine, schema.series) < series_before
    with engine.connect() as conn:
        titles = conn.execute(select(schema.series.c.title)).scalars().all()
    assert len(titles) == 1 and "ballooned" in titles[0].lower()
    _consistent(tmp_path / "s.db")
    assert _update(engine, tmp_path).skipped  # and then nothing more to do


def test_remove_list_keeps_messages_another_list_has(tmp_path: Path) -> None:
    engine, _repo_dir = _store(tmp_path)
    before, series = _digest(engine), _count(engine, schema.series)
    rem = ingest.remove_list(engine, "b")
    assert (rem.sources, rem.messages, rem.kept) == (1, 0, 3)
    assert _count(engine, schema.messages) == 14
    # Nothing was deleted from messages, but what the list saw changed: stages run again.
    assert _digest(engine) != before
    assert not _update(engine, tmp_path).skipped
    assert _count(engine, schema.series) == series
    _consistent(tmp_path / "s.db")


def test_remove_repo_drops_its_commits_and_links(tmp_path: Path) -> None:
    engine, _repo_dir = _store(tmp_path)
    assert _count(engine, schema.commits) == 2 and _count(engine, schema.patch_commits) == 1
    before = _digest(engine)
    assert ingest.remove_repo(engine, "r").commits == 2
    for table in (
        schema.commits,
        schema.commit_files,
        schema.commit_branches,
        schema.patch_commits,
        schema.repos,
    ):
        assert _count(engine, table) == 0, table.name
    assert _digest(engine) != before
    assert not _update(engine, tmp_path).skipped
    _consistent(tmp_path / "s.db")


def test_remove_unknown_names_fail(tmp_path: Path) -> None:
    engine = open_store(str(tmp_path / "s.db"))
    with pytest.raises(SourceError, match="nope: no such list"):
        ingest.remove_list(engine, "nope")
    with pytest.raises(SourceError, match="nope: no such repository"):
        ingest.remove_repo(engine, "nope")


def test_cli_remove_list_and_repo(tmp_path: Path) -> None:
    engine, _repo_dir = _store(tmp_path)
    engine.dispose()
    proc = _cli(tmp_path, "remove-list", "a")
    assert proc.returncode == 0, proc.stderr
    assert "a: removed (3 sources, 11 messages removed, 3 kept" in proc.stdout
    proc = _cli(tmp_path, "remove-repo", "r")
    assert proc.returncode == 0, proc.stderr
    assert "r: removed (2 commits)" in proc.stdout
    proc = _cli(tmp_path, "remove-list", "a")
    assert proc.returncode == 2 and proc.stderr.startswith("error: a: no such list")
    assert _cli(tmp_path, "-q", "update").returncode == 0
    _consistent(tmp_path / "s.db")


def test_add_list_replace_fixes_the_sources(tmp_path: Path) -> None:
    engine, _repo_dir = _store(tmp_path)
    dead = str(data_path(*DEAD_CODE).resolve())  # stored resolved, symlinks followed
    ingest.add_list(engine, "a", [dead], replace=True)
    with engine.connect() as conn:
        locations = conn.execute(
            select(schema.list_sources.c.location)
            .join(schema.mailing_lists)
            .where(schema.mailing_lists.c.name == "a")
        ).scalars()
        assert list(locations) == [dead]
    # The ballooned thread stays (list b has it); the posted patch, only in a, is gone.
    assert _count(engine, schema.messages) == 13
    assert not _update(engine, tmp_path).skipped
    _consistent(tmp_path / "s.db")


def test_add_repo_replace_reads_the_new_source(tmp_path: Path) -> None:
    engine, repo = _store(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    (other / "f").write_text("1\n")
    git(other, "add", "f")
    git(other, "commit", "-q", "-m", "only commit")
    with pytest.raises(SourceError, match=r"already registered.*--replace"):
        ingest.add_repo(engine, "r", str(other), [])
    ingest.add_repo(engine, "r", str(repo), ["main"])  # same place: fine, commits kept
    assert _count(engine, schema.commits) == 2
    ingest.add_repo(engine, "r", str(other), [], replace=True)
    assert _count(engine, schema.commits) == 0
    assert not _update(engine, tmp_path).skipped
    with engine.connect() as conn:
        assert conn.execute(select(schema.commits.c.subject)).scalars().all() == ["only commit"]
    _consistent(tmp_path / "s.db")
