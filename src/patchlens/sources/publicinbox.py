"""public-inbox archives (v1 and v2), as lore.kernel.org serves them.

Each commit adds one message blob (v2: the file `m`; v1: a fan-out path); a v2 deletion
writes `d` instead, and is skipped. The cursor is the last commit read per epoch.

A first read takes every object in pack order (`git cat-file --batch-all-objects
--unordered`): 2.3x faster than walking commits through pygit2 here, because deltas are
resolved in the order they are stored. Incremental reads ask for the new blobs by name.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from patchlens.sources.base import Batch, Plan, RawMessage, SourceError
from patchlens.sources.gitutil import (
    GIT_ENV,
    git,
    git_argv,
    is_bundle,
    is_git_dir,
    is_url,
    resolve_repo,
)

_EPOCH = re.compile(r"^(\d+)\.git$")


def epochs(location: str, cache: Path) -> list[tuple[str, Path]]:
    """(epoch name, git dir) pairs, oldest first, for every public-inbox layout."""
    path = Path(location).expanduser()
    if not is_url(location) and path.is_dir() and (path / "git").is_dir():
        found = sorted(
            (int(m.group(1)), p)
            for p in (path / "git").iterdir()
            if (m := _EPOCH.match(p.name)) and is_git_dir(p)
        )
        if not found:
            raise SourceError(f"{location}: a git/ folder without epochs (git/0.git, ...)")
        return [(str(n), p) for n, p in found]
    return [("0", resolve_repo(location, cache))]


def _new_commits(gitdir: Path, since: str | None) -> list[tuple[str, int, str]]:
    """(commit, commit time, message blob) for each commit after `since`, oldest first."""
    rev = ["HEAD"] if not since else [f"{since}..HEAD"]
    out = git(
        ["log", "--reverse", "--format=%x00%H %ct", "--raw", "--no-abbrev", "--no-renames", *rev],
        cwd=gitdir,
    )
    result = []
    for rec in out.split(b"\0")[1:]:
        lines = rec.split(b"\n")
        sha, ct = lines[0].split()
        blob = None
        for line in lines[1:]:
            if not line.startswith(b":"):
                continue
            meta, _, fname = line.partition(b"\t")
            parts = meta.split()
            status = parts[4][:1]
            if status in (b"A", b"M") and fname != b"d":
                blob = parts[3].decode()
        if blob:
            result.append((sha.decode(), int(ct), blob))
    return result


def _read_objects(stream: IO[bytes]) -> Iterator[tuple[str, bytes]]:
    """(sha, content) of blobs from `git cat-file --batch` output."""
    while True:
        header = stream.readline()
        if not header:
            return
        parts = header.split()
        if len(parts) == 2 and parts[1] == b"missing":
            continue
        size = int(parts[2])
        data = stream.read(size)
        stream.read(1)  # the newline after each object
        if parts[1] == b"blob":
            yield parts[0].decode(), data


class PublicInboxSource:
    format = "public-inbox"

    def __init__(self, location: str, cache: Path) -> None:
        self.location = location
        self.cache = cache

    def plan(self, cursor: dict[str, Any] | None, batch_size: int) -> Plan:
        cursor = dict(cursor or {})
        work = []
        for name, gitdir in epochs(self.location, self.cache):
            since = cursor.get(name)
            if since and git(["rev-parse", "HEAD"], cwd=gitdir).strip().decode() == since:
                continue
            commits = _new_commits(gitdir, since)
            if commits:
                work.append((name, gitdir, since, commits))
        total = sum(len(c) for *_, c in work)
        return Plan(total=total, batches=self._batches(work, cursor, batch_size))

    def _batches(
        self,
        work: list[tuple[str, Path, str | None, list[tuple[str, int, str]]]],
        cursor: dict[str, Any],
        batch_size: int,
    ) -> Iterator[Batch]:
        for name, gitdir, since, commits in work:
            by_blob: dict[str, list[tuple[str, int]]] = {}
            for sha, ct, blob in commits:
                by_blob.setdefault(blob, []).append((sha, ct))
            # A smaller delta cache: git's default 96 MB buys no speed here (measured).
            if since is None:
                args = [
                    "-c",
                    "core.deltaBaseCacheLimit=16m",
                    "cat-file",
                    "--batch-all-objects",
                    "--batch",
                    "--unordered",
                ]
                stdin = None
            else:
                args = ["-c", "core.deltaBaseCacheLimit=16m", "cat-file", "--batch"]
                stdin = "".join(b + "\n" for b in by_blob).encode()
            batch: list[RawMessage] = []
            proc = subprocess.Popen(
                git_argv(args),
                cwd=gitdir,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=GIT_ENV,
                bufsize=1 << 20,
            )
            assert proc.stdout is not None
            try:
                if stdin:
                    assert proc.stdin is not None
                    # The blob list is small next to the output; write it before reading.
                    proc.stdin.write(stdin)
                    proc.stdin.close()
                for sha, data in _read_objects(proc.stdout):
                    for commit, ct in by_blob.pop(sha, ()):
                        batch.append(RawMessage(data, commit, ct))
                    if len(batch) >= batch_size:
                        yield Batch(batch)
                        batch = []
            finally:
                proc.stdout.close()
                if proc.poll() is None and by_blob:
                    proc.kill()  # stopped early (interrupt): do not wait for the rest
                err = proc.stderr.read() if proc.stderr else b""
                code = proc.wait()
            if code != 0:
                raise SourceError(
                    f"{self.location}: git cat-file failed: {err.decode('utf-8', 'replace')}"
                )
            if by_blob:
                raise SourceError(
                    f"{self.location}: {len(by_blob)} message blobs missing from {gitdir}"
                )
            cursor[name] = commits[-1][0]
            yield Batch(batch, dict(cursor))


def looks_like_public_inbox(path: Path) -> bool:
    if path.is_dir() and (path / "git").is_dir():
        return any(_EPOCH.match(p.name) for p in (path / "git").iterdir())
    return is_bundle(path) or is_git_dir(path)
