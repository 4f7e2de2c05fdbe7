"""Nothing from a repository or an archive executes, and no location is read as an option.

A local repository can carry commands in its own `.git/config` (a textconv or external diff
driver selected by its attributes, `diff.external`, an fsmonitor) and in its hooks; each of
them here would write a marker file. `add-repo` + `update` (and the stages after, which read
the repository's .mailmap and MAINTAINERS) must leave no marker. A source beginning with `-`
must reach git as a location, never as an option.
"""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from patchlens.config import Config
from patchlens.sources.base import SourceError
from patchlens.sources.gitutil import check_location, check_repo, git_argv, mirror, resolve_repo
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.helpers.gitrepos import git
from tests.helpers.publicinbox import add_message, init, message


def _script(path: Path, marker: Path, then: str = "") -> Path:
    """An executable that leaves `marker` behind, then runs `then`."""
    path.write_text(f'#!/bin/sh\necho "$0 $*" >> {marker}\n{then}\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _hostile_repo(tmp: Path, marker: Path) -> Path:
    """A repository whose config, attributes and hooks would each run a command."""
    repo = tmp / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "MAINTAINERS").write_text("X\nM:\tA <a@example.com>\nF:\tsrc/\n")
    (repo / ".mailmap").write_text("A <a@example.com> <old@example.com>\n")
    (repo / "src").mkdir()
    (repo / "src" / "a.c").write_text("int a;\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "init")
    (repo / "src" / "a.c").write_text("int a = 1;\n")
    (repo / ".mailmap").write_text("A <a@example.com> <older@example.com>\n")
    git(repo, "commit", "-q", "-am", "src: set a\n\nSigned-off-by: A <a@example.com>")
    textconv = _script(tmp / "textconv.sh", marker, 'cat "$1"')
    extdiff = _script(tmp / "extdiff.sh", marker)
    fsmonitor = _script(tmp / "fsmonitor.sh", marker)
    (repo / ".git" / "info").mkdir(exist_ok=True)
    # Attributes in both places git reads them for a non-bare repository.
    (repo / ".gitattributes").write_text("* diff=evil\n")
    (repo / ".git" / "info" / "attributes").write_text("*.c diff=evil\n.mailmap diff=evil\n")
    cfg = repo / ".git" / "config"
    with cfg.open("a") as f:
        f.write(
            f'[diff "evil"]\n\ttextconv = {textconv}\n\tcommand = {extdiff}\n'
            f"[diff]\n\texternal = {extdiff}\n"
            f"[core]\n\tfsmonitor = {fsmonitor}\n\tpager = {extdiff}\n"
        )
    hooks = repo / ".git" / "hooks"
    for name in ("reference-transaction", "post-checkout", "post-index-change", "pre-auto-gc"):
        _script(hooks / name, marker)
    return repo


def test_git_runs_nothing_from_a_repository(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    repo = _hostile_repo(tmp_path, marker)
    # The repository is hostile as built: git run the ordinary way executes its textconv.
    subprocess.run(["git", "log", "-p"], cwd=repo, capture_output=True, check=True)
    assert marker.exists(), "the test repository should run its textconv under plain git"
    marker.unlink()

    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_repo(engine, "r", str(repo), [])
    quiet = Reporter(quiet=True)
    reports = ingest.run_update(engine, tmp_path / "cache", quiet)
    assert not [r.error for r in reports if r.error]
    cfg = Config(maintainers_file=None)
    run_stages(engine, cfg, tmp_path / "cache", quiet)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(schema.commits)).scalar()
        diffs = conn.execute(
            select(func.count())
            .select_from(schema.commits)
            .where(schema.commits.c.diff.is_not(None))
        ).scalar()
    engine.dispose()
    assert n == 2 and diffs == 2  # the commits were read, with their diffs
    assert not marker.exists(), marker.read_text()


def test_public_inbox_runs_nothing(tmp_path: Path) -> None:
    """A public-inbox archive (v2 layout) whose epoch's config and hooks name commands, read
    first whole and then incrementally: every message stored, no marker."""
    marker = tmp_path / "MARKER"
    epoch = init(tmp_path / "inbox" / "git" / "0.git")
    for n in range(3):
        add_message(epoch, message(n))
    textconv = _script(tmp_path / "textconv.sh", marker, 'cat "$1"')
    (epoch / "info").mkdir(exist_ok=True)
    (epoch / "info" / "attributes").write_text("* diff=evil\n")
    with (epoch / "config").open("a") as f:
        f.write(
            f'[diff "evil"]\n\ttextconv = {textconv}\n\tcommand = {textconv}\n'
            f"[diff]\n\texternal = {textconv}\n[core]\n\tfsmonitor = {textconv}\n"
        )
    for name in ("reference-transaction", "post-checkout", "pre-auto-gc"):
        _script(epoch / "hooks" / name, marker)
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "inbox", [str(tmp_path / "inbox")])
    quiet = Reporter(quiet=True)
    assert not [r.error for r in ingest.run_update(engine, tmp_path / "cache", quiet) if r.error]
    assert not marker.exists(), marker.read_text()
    add_message(epoch, message(3))
    # The hooks are live: plain git (the test's own update-ref) runs them.
    assert "reference-transaction" in marker.read_text()
    marker.unlink()
    assert not [r.error for r in ingest.run_update(engine, tmp_path / "cache", quiet) if r.error]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.messages)).scalar() == 4
    engine.dispose()
    assert not marker.exists(), marker.read_text()


def test_safe_argv_shape() -> None:
    argv = git_argv(["log", "-p"])
    assert argv[0] == "git" and argv[-2:] == ["log", "-p"]
    pairs = {argv[i + 1] for i, a in enumerate(argv[:-2]) if a == "-c"}
    assert "core.hooksPath=/dev/null" in pairs
    assert "protocol.ext.allow=never" in pairs
    assert "core.fsmonitor=false" in pairs


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("-ureboot@x:", "may not begin with '-'"),
        ("-oProxyCommand=touch MARKER@x:y", "may not begin with '-'"),
        ("--upload-pack=touch MARKER", "no such file"),
        ("ext::sh", "remote-helper"),
    ],
)
def test_option_like_locations_refused(
    tmp_path: Path, location: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused with a reason, by the check on add and by every path to git; nothing runs."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError, match=reason):
        check_repo(location)
    for call in (
        lambda: resolve_repo(location, tmp_path / "cache"),
        lambda: mirror(location, tmp_path / "cache"),
    ):
        with pytest.raises(SourceError):
            call()
    engine = open_store(str(tmp_path / "s.db"))
    with pytest.raises(SourceError, match=reason):
        ingest.add_repo(engine, "r", location, [])
    engine.dispose()
    assert not list(tmp_path.glob("MARKER*"))


@pytest.mark.parametrize(
    "location",
    [
        "https://example.org/x.git",
        "git@example.org:x.git",
        "ssh://git@example.org/x.git",
        "file:///srv/x.git",
    ],
)
def test_ordinary_urls_accepted(location: str) -> None:
    check_location(location)


@pytest.mark.parametrize(
    "location",
    ["git@-oProxyCommand=x:y", "ext::sh -c touch%20x", "fd::3", "x@y:--upload-pack=z"],
)
def test_hostile_urls_refused(location: str) -> None:
    with pytest.raises(SourceError):
        check_location(location)


def test_dash_path_is_read_as_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local repository whose name begins with '-' is still a repository: given relative,
    it reaches git as an absolute path, never as an option."""
    marker = tmp_path / "MARKER"
    monkeypatch.chdir(tmp_path)
    repo = tmp_path / "-ureboot"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "f").write_text("x\n")
    git(repo, "add", "f")
    git(repo, "commit", "-q", "-m", "init")
    git(repo, "bundle", "create", str(tmp_path / "-b.bundle"), "main")
    check_repo("-ureboot")
    assert resolve_repo("-ureboot", tmp_path / "cache").resolve() == (repo / ".git").resolve()
    check_repo("-b.bundle")
    mirrored = resolve_repo("-b.bundle", tmp_path / "cache")
    assert (mirrored / "HEAD").is_file()
    assert not marker.exists()
