"""Small git repositories for tests, made with a fixed identity and fixed dates (so that shas
and patch-ids are the same on every run), and the patch a commit becomes on a list."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "a",
    "GIT_AUTHOR_EMAIL": "a@example.com",
    "GIT_COMMITTER_NAME": "a",
    "GIT_COMMITTER_EMAIL": "a@example.com",
    "GIT_AUTHOR_DATE": "1700000000 +0000",
    "GIT_COMMITTER_DATE": "1700000000 +0000",
}


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    """Run git in `repo` with the fixed identity and dates; its output, stripped."""
    return (
        subprocess.run(
            ["git", *args], cwd=repo, input=input, capture_output=True, check=True, env=ENV
        )
        .stdout.decode()
        .strip()
    )


def two_commit_repo(
    repo: Path,
    readme: str = "x\ny\n",
    message: str = "README: say y\n\nSigned-off-by: A <a@example.com>",
) -> Path:
    """A repository on branch main: README "x" ("init"), then `readme` in a signed-off commit
    (by default "x\\ny", "README: say y"), the one a test posts to a list (see
    `posted_patch`)."""
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README").write_text("x\n")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "init")
    (repo / "README").write_text(readme)
    git(repo, "commit", "-q", "-am", message)
    return repo


def posted_patch(repo: Path, mbox: Path) -> Path:
    """The last commit of `repo` as posted to a list (`git format-patch`), written as a
    one-message mbox at `mbox`: matching then has a posting and its commit to link."""
    mbox.write_text(git(repo, "format-patch", "-1", "--stdout") + "\n")
    return mbox
