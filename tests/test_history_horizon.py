"""The history horizon (match/horizon.py, stages/horizon.py): commits committed more than two
years before the archives begin are read without their diffs, and the store is the one a
build from scratch makes whatever order its mail came in: older mail brings those diffs
back, and mail that first gives the archives a start drops the diffs before it.

One repository, its history six years long, and three mailboxes built here: "recent" with
mail on nine days around the commit it posts (and six patches dated by git format-patch's
fixed 2001 date, which must not count as the archives' start), "early" with mail on one day
among them, "old" with mail on five days three years back.
"""

from __future__ import annotations

import os
import subprocess
from email.utils import formatdate
from pathlib import Path

import pytest
from sqlalchemy import select

from patchlens.config import Config
from patchlens.match.horizon import HORIZON_MARGIN, archive_start, horizon_of
from patchlens.queries.status import repo_status
from patchlens.stages import ingest
from patchlens.stages.horizon import current_horizon, settle
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.helpers.storedump import logical_dump

DAY = 86400
T0 = 1_700_000_000  # 2023-11-14
GIT_FIXED_DATE = "Mon, 17 Sep 2001 00:00:00 +0200"  # git format-patch's mbox "From " date


def test_archive_start_skips_one_wrong_date_and_needs_two_days() -> None:
    wrong = [1_000_677_600] * 6  # six patches with one wrong date: one day
    dense = [T0 + d * DAY for d in (0, 1, 1, 3, 10, 40, 41)]
    assert archive_start(wrong + dense) == T0
    # Two days within 90 (the 90th included) are a start; days further apart are not.
    assert archive_start([T0 + d * DAY for d in (0, 90)]) == T0
    assert archive_start([T0 + d * DAY for d in (0, 91, 200, 250)]) == T0 + 200 * DAY
    assert archive_start([T0 + d * DAY for d in (0, 100, 200, 300, 400)]) is None
    assert archive_start([T0, T0 + 3600]) is None  # one day
    assert archive_start([]) is None
    assert horizon_of(None) is None
    assert horizon_of(T0) == T0 - HORIZON_MARGIN


def _git(
    repo: Path,
    *args: str,
    day: float = 0,
    who: str = "Ann Author <ann@example.org>",
    check: bool = True,
):
    name, addr = who[:-1].split(" <")
    date = f"@{int(T0 + day * DAY)} +0000"
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": addr,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": "Max Maintainer",
        "GIT_COMMITTER_EMAIL": "max@example.org",
        "GIT_COMMITTER_DATE": date,
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=check, capture_output=True, text=True
    ).stdout


def _commit(repo: Path, title: str, files: dict[str, str], day: float) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
        _git(repo, "add", name)
    _git(repo, "commit", "-q", "-m", f"{title}\n\nSigned-off-by: Ann <ann@example.org>", day=day)
    return _git(repo, "rev-parse", "HEAD").strip()


def _mail(n: str, day: float, subject: str = "", body: str = "Hello.\n", date: str = "") -> str:
    return (
        f"From x@y Thu Jan  1 00:00:00 1970\nFrom: Bea Reviewer <bea@example.net>\n"
        f"To: list@example.org\nSubject: {subject or 'question ' + n}\n"
        f"Date: {date or formatdate(T0 + day * DAY)}\nMessage-ID: <{n}@example>\n\n{body}\n"
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("horizon")
    repo = tmp / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "master")
    lib = "int lib(int n)\n{\n\treturn n;\n}\n"
    shas = {
        "init": _commit(repo, "init", {"lib/a.c": lib, "old/x.c": "int x;\n"}, -2000),
    }
    (repo / "new").mkdir()
    _git(repo, "mv", "old/x.c", "new/x.c")
    _git(repo, "commit", "-q", "-m", "move x", day=-1500)
    shas["move"] = _git(repo, "rev-parse", "HEAD").strip()
    shas["mid"] = _commit(repo, "lib: mid", {"lib/a.c": lib + "int mid;\n"}, -1000)
    shas["late"] = _commit(repo, "lib: late", {"lib/a.c": lib + "int mid;\nint late;\n"}, -100)
    # The posted change: a side branch's format-patch, then the same change committed.
    _git(repo, "checkout", "-q", "-b", "side")
    _commit(repo, "lib: check n", {"lib/a.c": lib + "int mid;\nint late;\nint n_ok;\n"}, 2)
    posting = _git(repo, "format-patch", "--stdout", "-1", "HEAD")
    _git(repo, "checkout", "-q", "master")
    shas["fix"] = _commit(
        repo, "lib: check n", {"lib/a.c": lib + "int mid;\nint late;\nint n_ok;\n"}, 6
    )
    head, sep, rest = posting.partition("\nSubject: ")
    posting = f"{head}\nMessage-ID: <fix@example>{sep}{rest}"
    # The author's re-send, on day 20, of the change committed on day -1000 ("lib: mid").
    resend = _git(repo, "format-patch", "--stdout", "-1", shas["mid"])
    head, sep, rest = resend.partition("\nSubject: ")
    head = "\n".join(x for x in head.split("\n") if not x.startswith("Date: "))
    resend = f"{head}\nDate: {formatdate(T0 + 20 * DAY)}\nMessage-ID: <resend@example>{sep}{rest}"

    wrong = "".join(
        _mail(f"w{i}", 0, f"[PATCH {i}/6] misdated", date=GIT_FIXED_DATE) for i in range(1, 7)
    )
    recent = wrong + posting + "".join(_mail(f"r{d}", d) for d in (1, 3, 4, 5, 8, 9, 12, 30))
    boxes = {
        "early": "".join(_mail(f"e{i}", 0) for i in range(3)),
        "recent": recent,
        "old": "".join(_mail(f"o{d}", -1200 + d) for d in (0, 2, 4, 6, 8)),
        "resend": recent + resend,
    }
    for name, text in boxes.items():
        (tmp / f"{name}.mbox").write_text(text)
    return {"tmp": tmp, "repo": repo, "shas": shas}


def _store(world: dict, name: str, steps: list[list[str]]) -> Path:
    """A store of the repository and the lists of `steps`, one update per step (each step
    registers its lists, then updates)."""
    tmp: Path = world["tmp"]  # type: ignore[assignment]
    db = tmp / name / "s.db"
    db.parent.mkdir()
    engine = open_store(str(db))
    ingest.add_repo(engine, "repo", str(world["repo"]), ["master"])
    for step in steps:
        for box in step:
            ingest.add_list(engine, box, [str(tmp / f"{box}.mbox")])
        reports = ingest.run_update(engine, db.parent / "cache", Reporter(quiet=True))
        assert not [r.error for r in reports if r.error]
        run_stages(engine, Config(), db.parent / "cache", Reporter(quiet=True))
    engine.dispose()
    return db


def _commits(db: Path) -> dict[str, tuple]:
    engine = open_store(str(db), readonly=True)
    c = schema.commits
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.c.subject, c.c.diff_skipped, c.c.patch_id, c.c.diff, c.c.lines_added)
        ).all()
    engine.dispose()
    return {r.subject: (r.diff_skipped, r.patch_id, r.diff, r.lines_added) for r in rows}


def test_old_commits_are_read_without_their_diffs(world) -> None:
    db = _store(world, "recent", [["recent"]])
    got = _commits(db)
    # The archives begin at day 1 (the misdated patches do not count): commits before day
    # -729 are read without diffs, the later ones whole.
    for subject in ("init", "move x", "lib: mid"):
        skipped, pid, diff, lines = got[subject]
        assert skipped and pid is None and diff is None and lines == 0, subject
    for subject in ("lib: late", "lib: check n"):
        skipped, pid, diff, lines = got[subject]
        assert not skipped and pid and diff and lines >= 1, subject
    engine = open_store(str(db), readonly=True)
    c, cf, fp, pc, m = (
        schema.commits,
        schema.commit_files,
        schema.diff_fingerprints,
        schema.patch_commits,
        schema.messages,
    )
    with engine.connect() as conn:
        assert current_horizon(conn) == T0 + DAY - HORIZON_MARGIN
        assert conn.execute(select(schema.repos.c.horizon)).scalar() == T0 + DAY - HORIZON_MARGIN
        # A skipped commit's files are named, its rename too.
        moved = conn.execute(
            select(cf.c.path, cf.c.old_path)
            .select_from(cf)
            .join(c, c.c.id == cf.c.commit_pk)
            .where(c.c.subject == "move x")
        ).all()
        assert moved == [("new/x.c", "old/x.c")]
        # ... and it has no fingerprint; the posted change is matched.
        kept = set(conn.execute(select(fp.c.pk).where(fp.c.kind == "c")).scalars())
        skipped = set(conn.execute(select(c.c.id).where(c.c.diff_skipped)).scalars())
        assert kept and not kept & skipped
        link = conn.execute(
            select(m.c.message_id, c.c.subject)
            .select_from(pc)
            .join(m, m.c.id == pc.c.message_pk)
            .join(c, c.c.id == pc.c.commit_pk)
        ).all()
        assert link == [("fix@example", "lib: check n")]
        # `patchlens status` says how many commits were read without diffs, and from when.
        (status,) = repo_status(conn)
        assert status["diff_skipped"] == 3 and status["horizon"].startswith("2021-11-15")
    engine.dispose()


def test_older_mail_brings_their_diffs_back(world) -> None:
    """The store updated with recent mail, then with mail three years older, equals the one
    built from both at once: the commits from the new horizon on are read whole again."""
    scratch = _store(world, "both", [["recent", "old"]])
    stepped = _store(world, "stepped", [["recent"], ["old"]])
    got = _commits(stepped)
    assert got["init"][0] and not got["move x"][0] and not got["lib: mid"][0]
    a, b = logical_dump(scratch), logical_dump(stepped)
    assert [t for t in a if a[t] != b[t]] == []


def test_a_start_found_later_drops_the_diffs_before_it(world) -> None:
    """Mail on one day sets no start (every diff read); once the archives have one, the
    diffs before the horizon are dropped, as a build from scratch never read them."""
    stepped = _store(world, "early-first", [["early"], ["recent"]])
    scratch = _store(world, "early-recent", [["early", "recent"]])
    a, b = logical_dump(scratch), logical_dump(stepped)
    assert [t for t in a if a[t] != b[t]] == []
    assert _commits(stepped)["init"][0]


@pytest.mark.parametrize("then", ["resume", "remove the old list"])
def test_an_interrupted_refill_is_finished_or_undone(world, tmp_path: Path, then: str) -> None:
    """Reading the older commits again stops after its first slice (one commit read whole,
    the rest not). The next update mends whichever commits are on the wrong side of the
    horizon it finds: with the old mail still there, it reads the rest; with the old list
    removed (the horizon back where it was stored), it reads that commit again without its
    diff. Either way the store is the one a build from scratch makes."""
    from patchlens.sources import gitrepo
    from tests.conftest import copy_store

    tmp: Path = world["tmp"]  # type: ignore[assignment]
    repo = Path(world["repo"])  # type: ignore[arg-type]
    db = copy_store(
        _store(world, f"to-interrupt-{then.split()[0]}", [["recent"]]), tmp_path / "s.db"
    )
    engine = open_store(str(db))
    ingest.add_list(engine, "old", [str(tmp / "old.mbox")])
    ingest.update_lists(engine, tmp_path / "cache", Reporter(quiet=True))
    with engine.connect() as conn:
        target = current_horizon(conn)
    assert target is not None and target < T0 - HORIZON_MARGIN

    def one_then_stop(shas: list[str], without_diffs: bool):
        assert not without_diffs
        yield gitrepo.read_slice(repo, shas[:1])
        raise KeyboardInterrupt

    def keep(shas: list[str]) -> set[str]:
        return gitrepo.present(repo, shas)

    with pytest.raises(KeyboardInterrupt):
        settle(engine, Reporter(quiet=True), "repo", 1, target, one_then_stop, keep)
    with engine.connect() as conn:
        assert conn.execute(select(schema.repos.c.horizon)).scalar() == T0 + DAY - HORIZON_MARGIN
    assert not _commits(db)["move x"][0] and _commits(db)["lib: mid"][0]  # half done
    if then == "resume":
        want = _store(world, "both-again", [["recent", "old"]])
    else:
        ingest.remove_list(engine, "old")
        want = _store(world, "recent-again", [["recent"]])
    ingest.run_update(engine, tmp_path / "cache", Reporter(quiet=True))
    run_stages(engine, Config(), tmp_path / "cache", Reporter(quiet=True))
    engine.dispose()
    a, b = logical_dump(want), logical_dump(db)
    assert [t for t in a if a[t] != b[t]] == []


def test_commit_page_says_what_was_not_read(world) -> None:
    """The page and the API of a commit before the horizon show no line counts (not zero),
    link the definition, and still list its files; a later commit's page is unchanged."""
    from fastapi.testclient import TestClient

    from patchlens.store.db import database_url
    from patchlens.web.app import create_app

    db = _store(world, "web", [["recent"]])
    client = TestClient(create_app(database_url(str(db)), Config()))
    shas = world["shas"]
    page = client.get(f"/commits/{shas['move']}")
    assert page.status_code == 200
    assert "lines not counted" in page.text and "/glossary#history-horizon" in page.text
    assert "new/x.c" in page.text and "+0" not in page.text
    api = client.get(f"/api/commits/{shas['move']}").json()
    assert api["diff_skipped"] is True and api["lines_added"] is None and api["diff"] is None
    assert api["files"] == [
        {
            "path": "new/x.c",
            "old_path": "old/x.c",
            "lines_added": None,
            "lines_removed": None,
            "binary": None,
        }
    ]
    late = client.get(f"/api/commits/{shas['late']}").json()
    assert late["diff_skipped"] is False and late["lines_added"] == 1 and late["diff"]
    assert "lines not counted" not in client.get(f"/commits/{shas['late']}").text


def test_a_store_made_before_the_horizon_upgrades_to_a_cold_builds_store(
    world, monkeypatch
) -> None:
    """A store with every diff read (as before the horizon) taken back to revision 0022 takes
    the migration, which adds the columns in place (copying `commits` into a new table, as
    a batch operation does on SQLite, trips the foreign keys of its files and trailers), and
    its next update makes it the store a build from scratch makes."""
    from alembic import command

    from patchlens.stages import ingest as ingest_stage
    from patchlens.store.db import _alembic_config, current_revision

    scratch = _store(world, "cold", [["recent"]])
    monkeypatch.setattr(ingest_stage, "current_horizon", lambda conn: None)
    old = _store(world, "before", [["recent"]])
    monkeypatch.undo()
    assert not any(skipped for skipped, *_ in _commits(old).values())
    engine = open_store(str(old))
    cfg = _alembic_config(str(engine.url))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0022")
    assert current_revision(engine) == "0022"
    engine.dispose()
    engine = open_store(str(old))  # the migration
    reports = ingest.run_update(engine, old.parent / "cache", Reporter(quiet=True))
    assert not [r.error for r in reports if r.error]
    run_stages(engine, Config(), old.parent / "cache", Reporter(quiet=True))
    engine.dispose()
    a, b = logical_dump(scratch), logical_dump(old)
    assert [t for t in a if a[t] != b[t]] == []


def test_commits_gone_from_the_repository_do_not_stop_its_update(world, tmp_path: Path) -> None:
    """History rewritten and pruned: the stored commits before the horizon are no longer in
    the repository when older mail asks for their diffs. They stay as stored; the update
    still reads the repository's new commits and brings the rest to the horizon."""
    tmp: Path = world["tmp"]  # type: ignore[assignment]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(world["repo"]), str(clone)], check=True)
    db = tmp_path / "s.db"
    engine = open_store(str(db))
    ingest.add_repo(engine, "repo", str(clone), ["master"])
    ingest.add_list(engine, "recent", [str(tmp / "recent.mbox")])
    first = ingest.run_update(engine, tmp_path / "c", Reporter(quiet=True))
    assert [r.error for r in first if r.error] == []
    # The whole history squashed into one new root, one commit on top, the old objects pruned.
    _git(clone, "checkout", "-q", "--orphan", "squashed")
    _git(clone, "commit", "-q", "-m", "squashed history", day=7)
    _commit(clone, "lib: after the rewrite", {"lib/new.c": "int after;\n"}, 8)
    _git(clone, "branch", "-q", "-M", "squashed", "master")
    _git(clone, "remote", "remove", "origin")
    _git(clone, "reflog", "expire", "--expire=now", "--all")
    _git(clone, "gc", "-q", "--prune=now")
    assert _git(clone, "cat-file", "-t", world["shas"]["move"], check=False) == ""
    ingest.add_list(engine, "old", [str(tmp / "old.mbox")])
    reports = ingest.run_update(engine, tmp_path / "c", Reporter(quiet=True))
    assert [r.error for r in reports if r.error] == []
    engine.dispose()
    got = _commits(db)
    assert "lib: after the rewrite" in got and got["move x"][0]  # gone: left as stored


def test_a_resend_of_a_commit_from_before_the_horizon_is_not_linked_to_it(
    world, monkeypatch
) -> None:
    """The trade-off the horizon makes (docs/MATCHING.md): the author's identical re-send, a
    posting of day 20, of a change committed on day -1000 (more than two years before the
    archives begin) links to that commit by patch-id when every diff is read, and to nothing
    when the commit is read without its diff. No other layer could link them: each looks
    only at postings sent up to a week after a commit."""
    from patchlens.stages import ingest as ingest_stage

    def links(db: Path) -> list[tuple[str, str, str]]:
        engine = open_store(str(db), readonly=True)
        pc, m, c = schema.patch_commits, schema.messages, schema.commits
        with engine.connect() as conn:
            rows = conn.execute(
                select(m.c.message_id, c.c.subject, pc.c.method)
                .select_from(pc)
                .join(m, m.c.id == pc.c.message_pk)
                .join(c, c.c.id == pc.c.commit_pk)
                .order_by(m.c.message_id)
            ).all()
        engine.dispose()
        return [tuple(r) for r in rows]

    with_horizon = _store(world, "resend", [["resend"]])
    assert _commits(with_horizon)["lib: mid"][0]
    assert links(with_horizon) == [("fix@example", "lib: check n", "patch-id")]
    monkeypatch.setattr(ingest_stage, "current_horizon", lambda conn: None)
    every_diff = _store(world, "resend-all", [["resend"]])
    assert links(every_diff) == [
        ("fix@example", "lib: check n", "patch-id"),
        ("resend@example", "lib: mid", "patch-id"),
    ]


def test_a_migration_that_fails_leaves_the_store_as_it_was(world) -> None:
    """0023's last step fails (an index of its name exists already): its columns, added by
    the steps before, are not left behind; the store stays at 0022, whole, and upgrades once
    the obstacle is gone. (pysqlite committed each DDL statement at once: the columns stayed
    and every later upgrade failed on them.)"""
    from alembic import command
    from sqlalchemy import inspect, text

    from patchlens.store.db import (
        _alembic_config,
        current_revision,
        head_revision,
        make_engine,
        upgrade,
    )

    db = _store(world, "failing-migration", [["recent"]])
    engine = open_store(str(db))
    cfg = _alembic_config(str(engine.url))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0022")
    with engine.begin() as conn:
        conn.execute(
            text("CREATE INDEX ix_commits_repo_id_diff_skipped_committer_date ON repos (name)")
        )
    engine.dispose()
    engine = make_engine(f"sqlite:///{db}")
    with pytest.raises(Exception, match="already exists"):
        upgrade(engine)
    assert current_revision(engine) == "0022"
    with engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("commits")}
        assert "diff_skipped" not in columns
        assert "horizon" not in {c["name"] for c in inspect(conn).get_columns("repos")}
        assert conn.execute(text("SELECT count(*) FROM commits")).scalar() == 5
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_commits_repo_id_diff_skipped_committer_date"))
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
