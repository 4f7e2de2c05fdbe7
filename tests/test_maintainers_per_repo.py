"""A store of two projects reads each series in the MAINTAINERS of the repository its files
are in: mini-os patches posted on xen-devel are not judged by xen.git's file (its catch-all
section made their "expected reviewers" the Xen REST maintainers). The first registered
repository's file also serves series whose files no repository holds yet; the other files'
section titles carry their repository's name. Built a day at a time (a commit in the second
repository bringing a series' file into it) or at once, the store is the same."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, select

from patchlens.config import Config
from patchlens.queries.conformance import _commits
from patchlens.queries.filters import Filters
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.helpers.publicinbox import add_message, init
from tests.test_review_incremental import _by_message_id

XEN_MAINTAINERS = """\
X86 ARCHITECTURE
M:\tAndy X <andy@xen.example>
S:\tSupported
F:\txen/arch/x86/

THE REST
M:\tRest Maintainer <rest@xen.example>
S:\tSupported
F:\t*
F:\t*/
"""
MINIOS_MAINTAINERS = """\
ARCH
M:\tJuergen M <jgross@minios.example>
S:\tSupported
F:\tarch/

THE REST
M:\tSam M <sam@minios.example>
S:\tSupported
F:\t*
F:\t*/
"""


def _git(repo: Path, *args: str, date: str = "2023-12-01T10:00:00Z") -> None:
    env = dict(os.environ, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    subprocess.run(
        ["git", "-c", "user.name=M", "-c", "user.email=m@example.org", "-C", str(repo), *args],
        check=True,
        env=env,
        capture_output=True,
    )


def _repo(path: Path, files: dict[str, str]) -> Path:
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    _commit(path, files, "2023-12-01T10:00:00Z")
    return path


def _commit(repo: Path, files: dict[str, str], date: str) -> None:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    _git(repo, "add", ".", date=date)
    _git(repo, "commit", "-q", "-m", "files", date=date)


def _patch(mid: str, subject: str, path: str, date: str) -> bytes:
    body = (
        "Fix it.\n\nSigned-off-by: A Author <a@example.com>\n---\n"
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n"
    )
    return (
        f"From: A Author <a@example.com>\nSubject: {subject}\nMessage-ID: <{mid}>\n"
        f"Date: {date}\n\n{body}"
    ).encode()


MAIL = [
    _patch("x86@x", "[PATCH] x86: fix", "xen/arch/x86/a.c", "Mon, 1 Jan 2024 10:00:00 +0000"),
    _patch(
        "arch@x", "[PATCH MINI-OS] fix traps", "arch/x86/traps.c", "Mon, 1 Jan 2024 11:00:00 +0000"
    ),
    _patch("both@x", "[PATCH] README: fix", "README", "Mon, 1 Jan 2024 12:00:00 +0000"),
    _patch("new@x", "[PATCH MINI-OS] add a file", "newfile.c", "Mon, 1 Jan 2024 13:00:00 +0000"),
]
XEN = {"MAINTAINERS": XEN_MAINTAINERS, "xen/arch/x86/a.c": "a\n", "README": "a\n"}
MINIOS = {"MAINTAINERS": MINIOS_MAINTAINERS, "arch/x86/traps.c": "a\n", "README": "a\n"}


def _build(tmp: Path, commit_first: bool) -> Path:
    """Both repositories and the list; mini-os takes newfile.c after the first update, or
    before it (`commit_first`)."""

    def newfile(repos: dict[str, Path]) -> None:
        _commit(repos["mini-os"], {"newfile.c": "a\n"}, "2024-01-05T10:00:00Z")

    repos = {"xen": XEN, "mini-os": MINIOS}
    if commit_first:
        return _store(tmp, repos, MAIL, before=newfile)
    return _store(tmp, repos, MAIL, between=newfile)


def _subsystems(db: Path) -> dict[str, list[str]]:
    engine = create_engine(f"sqlite:///{db}")
    sm = schema.series_metrics
    with engine.connect() as conn:
        out = {k: json.loads(v) for k, v in conn.execute(select(sm.c.series_key, sm.c.subsystems))}
        titles = set(conn.execute(select(schema.subsystems.c.title)).scalars())
    engine.dispose()
    out["(table)"] = sorted(titles)
    return out


def test_each_series_is_read_in_its_repositorys_maintainers(tmp_path: Path) -> None:
    db = _build(tmp_path / "daily", commit_first=False)
    assert _subsystems(db) == {
        "x86@x": ["X86 ARCHITECTURE"],
        "arch@x": ["ARCH [mini-os]"],
        # README is in both repositories: the first registered wins the tie.
        "both@x": ["THE REST"],
        # newfile.c came into mini-os with its second commit.
        "new@x": ["THE REST [mini-os]"],
        "(table)": ["ARCH [mini-os]", "THE REST", "THE REST [mini-os]", "X86 ARCHITECTURE"],
    }
    once = _build(tmp_path / "once", commit_first=True)
    a, b = _by_message_id(db), _by_message_id(once)
    assert a["series_metrics"] == b["series_metrics"]
    assert a["subsystems"] == b["subsystems"]


def _store(
    tmp: Path,
    repos: dict[str, dict[str, str]],
    mail: list[bytes],
    before: Callable[[dict[str, Path]], None] | None = None,
    between: Callable[[dict[str, Path]], None] | None = None,
) -> Path:
    """A store of `repos` (name -> files, registered in that order) and `mail`: `before`
    changes the repositories before the first update, `between` between it and a second."""
    inbox = init(tmp / "inbox.git")
    for raw in mail:
        add_message(inbox, raw)
    db = tmp / "s.db"
    engine = open_store(str(db))
    ingest.add_list(engine, "xen-devel", [str(inbox)])
    paths = {name: _repo(tmp / f"{name}.git", files) for name, files in repos.items()}
    for name, path in paths.items():
        ingest.add_repo(engine, name, str(path), ["main"])
    quiet = Reporter(quiet=True)

    def update() -> None:
        ingest.run_update(engine, tmp / "cache", quiet, jobs=1)
        run_stages(engine, Config(), tmp / "cache", quiet, jobs=1)

    if before is not None:
        before(paths)
    if between is not None:
        update()
        between(paths)
    update()
    engine.dispose()
    return db


def test_a_file_in_no_repository_is_read_in_the_first_repositorys(tmp_path: Path) -> None:
    """Before mini-os took newfile.c, its series was read in xen.git's file, the first
    registered (a new file is most often the main project's)."""
    db = _store(tmp_path, {"xen": XEN, "mini-os": MINIOS}, [MAIL[3]])
    assert _subsystems(db)["new@x"] == ["THE REST"]


def test_the_first_repository_with_a_file_is_the_default(tmp_path: Path) -> None:
    """A repository without MAINTAINERS registered first (tools) does not make the file of
    the one that has it (xen) take its name, nor leave new files without a subsystem
    (found by the review helper)."""
    # xen/arch/x86/a.c, and newfile.c in no repository.
    db = _store(tmp_path, {"tools": {"tools/a.c": "a\n"}, "xen": XEN}, [MAIL[0], MAIL[3]])
    got = _subsystems(db)
    assert got["new@x"] == ["THE REST"]
    assert got["x86@x"] == ["X86 ARCHITECTURE"]


def test_a_repositorys_subsystem_selects_that_repositorys_commits(tmp_path: Path) -> None:
    """The conformance report filtered by mini-os's catch-all section reads mini-os's
    commits only; by xen's, xen's only (found by the review helper)."""
    db = _build(tmp_path / "d", commit_first=True)
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        mine = {r["repo"] for r in _commits(conn, Filters(subsystem="THE REST [mini-os]"))}
        xens = {r["repo"] for r in _commits(conn, Filters(subsystem="THE REST"))}
    engine.dispose()
    assert (mine, xens) == ({"mini-os"}, {"xen"})
