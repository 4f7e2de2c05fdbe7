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


def test_archive_start_skips_one_wrong_date_and_needs_five_days() -> None:
    wrong = [1_000_677_600] * 6  # six patches with one wrong date: one day
    dense = [T0 + d * DAY for d in (0, 1, 1, 3, 10, 40, 41)]
    assert archive_start(wrong + dense) == T0
    # Four days within 90 of day 0, then five within 90 of day 30: the start is day 30.
    sparse = [T0 + d * DAY for d in (0, 30, 60, 90, 91, 100)]
    assert archive_start(sparse) == T0 + 30 * DAY
    assert archive_start([T0 + d * DAY for d in (0, 100, 200, 300, 400)]) is None
    assert archive_start([]) is None
    assert horizon_of(None) is None
    assert horizon_of(T0) == T0 - HORIZON_MARGIN


def _git(repo: Path, *args: str, day: float = 0, who: str = "Ann Author <ann@example.org>"):
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
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout


def _commit(repo: Path, title: str, files: dict[str, str], day: float) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
        _git(repo, "add", name)
    _git(repo, "commit", "-q", "-m", f"{title}\n\nSigned-off-by: Ann <ann@example.org>", day=day)
    return _git(repo, "rev-parse", "HEAD").strip()


def _mail(n: str, day: float, subject: str = "", body: str = "Hello.\n", date: str = "") -> str:
    from email.utils import formatdate

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

    wrong = "".join(
        _mail(f"w{i}", 0, f"[PATCH {i}/6] misdated", date=GIT_FIXED_DATE) for i in range(1, 7)
    )
    recent = wrong + posting + "".join(_mail(f"r{d}", d) for d in (1, 3, 4, 5, 8, 9, 12, 30))
    boxes = {
        "early": "".join(_mail(f"e{i}", 0) for i in range(3)),
        "recent": recent,
        "old": "".join(_mail(f"o{d}", -1200 + d) for d in (0, 2, 4, 6, 8)),
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


def test_an_interrupted_refill_finishes_on_the_next_update(world, tmp_path: Path) -> None:
    """Reading the older commits again stops after its first slice: the horizon is not
    stored, and the next run reads the rest (one slice of one commit at a time here)."""
    from tests.conftest import copy_store

    src = _store(world, "to-interrupt", [["recent"]])
    db = copy_store(src, tmp_path / "s.db")
    tmp: Path = world["tmp"]  # type: ignore[assignment]
    engine = open_store(str(db))
    ingest.add_list(engine, "old", [str(tmp / "old.mbox")])
    ingest.run_update(engine, tmp_path / "cache", Reporter(quiet=True))
    engine.dispose()
    # run_update settled already; make the store as if it had stopped after one commit.
    engine = open_store(str(db))
    with engine.connect() as conn:
        target = current_horizon(conn)
    from patchlens.sources import gitrepo
    from patchlens.stages.records import drop_diffs

    with engine.begin() as conn:
        drop_diffs(conn, 1, T0 + DAY - HORIZON_MARGIN)  # back to the state before the old mail
        conn.execute(schema.repos.update().values(horizon=T0 + DAY - HORIZON_MARGIN))

    def one_then_stop(shas: list[str]):
        yield gitrepo.read_slice(Path(world["repo"]), shas[:1])  # type: ignore[arg-type]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        settle(engine, Reporter(quiet=True), "repo", 1, target, one_then_stop)
    with engine.connect() as conn:
        assert conn.execute(select(schema.repos.c.horizon)).scalar() == T0 + DAY - HORIZON_MARGIN
    engine.dispose()
    engine = open_store(str(db))
    ingest.run_update(engine, tmp_path / "cache", Reporter(quiet=True))
    run_stages(engine, Config(), tmp_path / "cache", Reporter(quiet=True))
    engine.dispose()
    scratch = _store(world, "both-again", [["recent", "old"]])
    a, b = logical_dump(scratch), logical_dump(db)
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
