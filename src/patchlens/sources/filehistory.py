"""Files of a git repository as of a branch: the file at its head (the project's .mailmap), and
every version of one file, dated by the commit that brought it there (the MAINTAINERS file in
force on the day a series was posted)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from patchlens.sources.gitutil import GIT_ENV, git, git_argv


def file_at(gitdir: str | Path, branch: str, path: str) -> str | None:
    """The text of `path` at the head of `branch`, or None when it has no such file."""
    # cat-file, not show: it never runs a textconv filter the repository may name.
    proc = subprocess.run(
        git_argv(["cat-file", "blob", f"{branch}:{path}"]),
        cwd=Path(gitdir),
        capture_output=True,
        env=GIT_ENV,
        check=False,
    )
    return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else None


def file_history(
    gitdir: str | Path, path: str, branch: str = "HEAD"
) -> list[tuple[int, Callable[[], str] | None]]:
    """(commit time, loader of the text) for each version of `path` on `branch`, oldest first;
    the loader is None where a commit deleted the file. No such file: an empty list.

    We follow first parents: a change made on a side branch takes effect when it is merged,
    and the file at a mainline commit is what was in force then (a side-branch commit's file
    may lack mainline changes of the meantime). On a linear history this is plain
    `git log -- path`. A commit that leaves the content as it was (a change and its revert
    on a side branch) adds no version. Texts are read when asked for: the Linux file has
    thousands of versions and a run reads a few.
    """
    cwd = Path(gitdir)
    log = git(
        ["log", "--first-parent", "--format=%H %ct", "--end-of-options", branch, "--", path],
        cwd=cwd,
    )
    commits = [ln.split() for ln in log.decode("ascii", "replace").splitlines() if ln.strip()]
    if not commits:
        return []
    commits.reverse()  # oldest first
    query = "".join(f"{sha}:{path}\n" for sha, _ in commits).encode()
    check = git(["cat-file", "--batch-check"], cwd=cwd, input=query).decode().splitlines()
    versions: list[tuple[int, Callable[[], str] | None]] = []
    blobs: list[str | None] = []
    for (_, ct), line in zip(commits, check, strict=True):
        parts = line.split()
        blob = parts[0] if len(parts) == 3 and parts[1] == "blob" else None
        if blobs and blobs[-1] == blob:
            continue
        blobs.append(blob)
        versions.append((int(ct), None if blob is None else _blob_text(cwd, blob)))
    return versions


def _blob_text(cwd: Path, blob: str) -> Callable[[], str]:
    def load() -> str:
        return git(["cat-file", "blob", blob], cwd=cwd).decode("utf-8", "replace")

    return load
