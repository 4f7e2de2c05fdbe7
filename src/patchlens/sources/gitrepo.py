"""Commits of a git repository, with their diffs, read through `git log -p`.

The `git` binary walks history with diffs several times faster than any Python binding here;
the range is cut into slices that run as parallel `git log` processes while this process
parses the output in order. Patch-ids are computed from the same diff text by the port of
`git patch-id --stable`, so the log is produced once.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from patchlens.mail.diff import FileStat, file_stats
from patchlens.mail.patchid import patch_id
from patchlens.mail.trailers import Trailer, parse_trailers
from patchlens.sources.base import SourceError
from patchlens.sources.gitutil import GIT_ENV, git

_FORMAT = "%x00%x01%H%x00%P%x00%an%x00%ae%x00%ad%x00%cn%x00%ce%x00%cd%x00%B%x00"
LOG_ARGS = [
    "log",
    "--no-walk=unsorted",
    "--stdin",
    "-p",
    "--no-color",
    "--no-ext-diff",
    "-M",
    "--date=raw",
    "--encoding=UTF-8",
    f"--format={_FORMAT}",
]


@dataclass(slots=True)
class CommitRecord:
    sha: str
    parents: list[str]
    author_name: str
    author_email: str
    author_date: int
    author_offset: int
    committer_name: str
    committer_email: str
    committer_date: int
    committer_offset: int
    message: str
    diff: str | None
    files: list[FileStat]
    patch_id: str | None
    trailers: list[Trailer]

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0].strip()

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


def _raw_date(value: str) -> tuple[int, int]:
    ts, _, tz = value.partition(" ")
    sign = -1 if tz.startswith("-") else 1
    tz = tz.lstrip("+-")
    minutes = int(tz[:2] or 0) * 60 + int(tz[2:4] or 0) if tz else 0
    return int(ts), sign * minutes


def parse_log(data: bytes) -> Iterator[CommitRecord]:
    """CommitRecords from `git log` output in the LOG_ARGS format."""
    for rec in data.split(b"\0\x01")[1:]:
        fields = rec.split(b"\0", 9)
        if len(fields) < 10:
            raise SourceError(f"unexpected git log record: {rec[:80]!r}")
        sha, parents, an, ae, ad, cn, ce, cd, message, rest = fields
        diff_text = rest.lstrip(b"\n").decode("utf-8", "surrogateescape")
        diff = diff_text if diff_text.strip() else None
        msg = message.decode("utf-8", "replace").rstrip("\n")
        a_date, a_off = _raw_date(ad.decode())
        c_date, c_off = _raw_date(cd.decode())
        yield CommitRecord(
            sha=sha.decode(),
            parents=parents.decode().split(),
            author_name=an.decode("utf-8", "replace"),
            author_email=ae.decode("utf-8", "replace").lower(),
            author_date=a_date,
            author_offset=a_off,
            committer_name=cn.decode("utf-8", "replace"),
            committer_email=ce.decode("utf-8", "replace").lower(),
            committer_date=c_date,
            committer_offset=c_off,
            message=msg,
            diff=diff,
            files=file_stats(diff) if diff else [],
            patch_id=patch_id(diff) if diff else None,
            trailers=parse_trailers(msg),
        )


def default_branch(gitdir: Path) -> str:
    ref = git(["symbolic-ref", "-q", "HEAD"], cwd=gitdir).decode().strip()
    return ref.removeprefix("refs/heads/")


def branch_head(gitdir: Path, branch: str) -> str:
    for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}", branch):
        proc = subprocess.run(
            ["git", "rev-parse", "-q", "--verify", f"{ref}^{{commit}}"],
            cwd=gitdir,
            capture_output=True,
            env=GIT_ENV,
            check=False,
        )
        if proc.returncode == 0:
            return proc.stdout.decode().strip()
    raise SourceError(f"{gitdir}: no branch {branch!r}")


def has_commit(gitdir: Path, sha: str) -> bool:
    proc = subprocess.run(
        ["git", "cat-file", "-e", f"{sha}^{{commit}}"],
        cwd=gitdir,
        capture_output=True,
        env=GIT_ENV,
        check=False,
    )
    return proc.returncode == 0


def rev_list(gitdir: Path, head: str, exclude: list[str]) -> list[str]:
    """Commits reachable from head and not from any of `exclude`, oldest first."""
    args = ["rev-list", "--reverse", "--topo-order", head, *(f"^{e}" for e in exclude)]
    return git(args, cwd=gitdir).decode().split()


def _run_log(gitdir: Path, shas: list[str]) -> bytes:
    proc = subprocess.run(
        ["git", *LOG_ARGS],
        cwd=gitdir,
        input="".join(s + "\n" for s in shas).encode(),
        capture_output=True,
        env=GIT_ENV,
        check=False,
    )
    if proc.returncode != 0:
        raise SourceError(f"{gitdir}: git log failed: {proc.stderr.decode('utf-8', 'replace')}")
    return proc.stdout


def read_commits(
    gitdir: Path, shas: list[str], *, slice_size: int = 200, jobs: int = 2
) -> Iterator[list[CommitRecord]]:
    """CommitRecords for `shas`, in that order, one list per slice.

    `jobs` git processes run ahead of the parser, so git's work overlaps the parsing.
    """
    slices = [shas[i : i + slice_size] for i in range(0, len(shas), slice_size)]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending: list[Future[bytes]] = []
        nxt = 0
        while nxt < len(slices) and len(pending) < jobs + 1:
            pending.append(pool.submit(_run_log, gitdir, slices[nxt]))
            nxt += 1
        while pending:
            out = pending.pop(0).result()
            if nxt < len(slices):
                pending.append(pool.submit(_run_log, gitdir, slices[nxt]))
                nxt += 1
            yield list(parse_log(out))
