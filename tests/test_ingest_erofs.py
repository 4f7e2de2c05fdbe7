"""Acceptance on the real EROFS data: every message and commit stored, nothing twice."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from patchlens.config import Config
from patchlens.queries.status import list_status, repo_status
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from tests.helpers.cli import invoke_cli

pytestmark = pytest.mark.slow


def _count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def _commits(gitdir: Path, rev: str) -> int:
    """How many commits git counts on `rev`: what the store must hold, by git's own count."""
    out = subprocess.run(
        ["git", "rev-list", "--count", rev], cwd=gitdir, capture_output=True, check=True
    ).stdout
    return int(out)


def _all_counts(engine) -> dict[str, int]:
    return {t.name: _count(engine, t) for t in schema.metadata.sorted_tables}


def test_every_archive_message_is_stored(erofs_store, erofs_archive_git):
    _db, engine, reports = erofs_store
    commits = _commits(erofs_archive_git, "HEAD")
    assert commits == 15218
    archive = next(r for r in reports if r.name == "linux-erofs")
    # One sighting per archive commit: every message read is kept, duplicates included.
    with engine.connect() as conn:
        source_id = conn.execute(
            select(schema.list_sources.c.id)
            .join(schema.mailing_lists)
            .where(schema.mailing_lists.c.name == "linux-erofs")
        ).scalar_one()
    assert _count(
        engine, schema.message_sightings, schema.message_sightings.c.source_id == source_id
    ) == (commits)
    assert archive.read == commits
    assert archive.quarantined == 0
    # The archive holds 50 messages whose Message-ID it already has: stored once each, the
    # ones whose content differs kept whole as variants.
    assert archive.new + archive.duplicates + archive.variants == commits
    assert archive.new == 15168
    status = {li["list"]: li for li in list_status(engine.connect())}
    assert status["linux-erofs"]["messages"] == 15168
    assert status["linux-erofs"]["sources"][0]["messages_read"] == commits


def test_mbox_list_has_all_2024_messages(erofs_store):
    _db, engine, reports = erofs_store
    rep = next(r for r in reports if r.name == "erofs-2024")
    assert rep.read == 2525
    assert rep.quarantined == 0
    status = {li["list"]: li for li in list_status(engine.connect())}
    # Every 2024 message is also in the full archive: stored once, seen in both lists.
    assert status["erofs-2024"]["messages"] + 0 <= 2525
    assert status["erofs-2024"]["sources"][0]["messages_read"] == 2525
    assert rep.new == 0


def test_repo_has_every_commit_of_dev(erofs_store, erofs_utils_git):
    _db, engine, _ = erofs_store
    expected = _commits(erofs_utils_git, "dev")
    repo = repo_status(engine.connect())[0]
    assert repo["commits"] == expected == repo["commits_per_branch"]["dev"]


def test_commit_fields_match_git(erofs_store, erofs_utils_git):
    _db, engine, _ = erofs_store

    def git_out(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=erofs_utils_git, capture_output=True, text=True, check=True
        ).stdout

    shas = git_out("rev-list", "-40", "dev").split()
    with engine.connect() as conn:
        for sha in shas:
            an, ae, ct, subj = git_out("show", "-s", "--format=%an%x00%ae%x00%ct%x00%s", sha)[
                :-1
            ].split("\0")
            row = conn.execute(select(schema.commits).where(schema.commits.c.sha == sha)).one()
            assert (row.author_name, row.author_email, row.committer_date, row.subject) == (
                an,
                ae.lower(),
                int(ct),
                subj,
            )
            numstat = [
                line.split("\t")
                for line in git_out("show", "-M", "--numstat", "--format=", sha).splitlines()
                if line
            ]
            assert row.files_changed == len(numstat), sha
            assert row.lines_added == sum(int(a) for a, _r, _p in numstat if a != "-"), sha
            assert row.lines_removed == sum(int(r) for _a, r, _p in numstat if r != "-"), sha
    # patch-ids agree with git's own for every commit
    pids = subprocess.run(
        "git log -p dev | git patch-id --stable",
        shell=True,
        cwd=erofs_utils_git,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    git_ids = {c: p for p, c in (line.split() for line in pids if line)}
    with engine.connect() as conn:
        ours = dict(conn.execute(select(schema.commits.c.sha, schema.commits.c.patch_id)).all())
    assert {c: ours[c] for c in git_ids} == git_ids


def test_link_trailers_are_parsed(erofs_store):
    _db, engine, _ = erofs_store
    links = _count(engine, schema.commit_trailers, schema.commit_trailers.c.key == "Link")
    # The data's README: about 97% of the 1,010+ commits since 2023 carry a Link: trailer.
    assert links > 1000


def test_second_update_adds_nothing(erofs_store):
    """A second update with nothing new, as `patchlens update` runs it (ingest, then the
    stages), stores nothing and redoes nothing. How long it takes is a benchmark's figure,
    not a test's: bench/noop_update.py times it (target under 1 s)."""
    db, engine, _ = erofs_store
    before = _all_counts(engine)
    reports = ingest.run_update(engine, db.with_name("cache"), Reporter(quiet=True))
    rec = run_stages(engine, Config(), db.with_name("cache"), Reporter(quiet=True))
    assert rec.analysed == 0 and rec.skipped  # skipped: no stage rewrote a row
    assert _all_counts(engine) == before
    assert sum(r.new for r in reports) == 0


def test_status_json(erofs_store):
    db, _engine, _ = erofs_store
    proc = invoke_cli("--db", str(db), "status", "--json")
    proc.check_returncode()
    out = proc.stdout
    data = json.loads(out)
    names = {li["list"] for li in data["lists"]}
    assert names == {"linux-erofs", "erofs-2024"}
    assert data["repos"][0]["repo"] == "erofs-utils"
    assert Path(db).exists()
