"""public-inbox archives (v1 and v2), as lore.kernel.org serves them.

Each commit adds one message blob (v2: the file `m`; v1: a fan-out path); a v2 deletion
writes `d` instead, and is skipped. The cursor is the last commit read per epoch.

Every read asks `git cat-file --batch` for the new message blobs by name, oldest first,
the names coming from the plan's `git log --raw`. A first read once took every object in pack
order instead (`--batch-all-objects --unordered`, 2.3x faster than walking commits through
pygit2), but that reads the commits and trees as well, three objects for each message, and
every object an alternate store lends: on self-contained lore epochs (linux-iio, -usb,
-wireless, 67k-106k messages) git took 20-28% less CPU by name and peaked 15 MB lower, and on
an epoch borrowing a larger archive's objects (a cut of linux-iio) 3.1x less
(docs/PERFORMANCE.md).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from patchlens.sources.base import Batch, Damage, Plan, RawMessage, SourceError
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


def _read_objects(stream: IO[bytes]) -> Iterator[tuple[str, bytes | None]]:
    """(sha, content) of blobs from `git cat-file --batch` output; (sha, None) for an object
    git reports missing. Ends at an object cut short (git died while writing it)."""
    while True:
        header = stream.readline()
        if not header:
            return
        parts = header.split()
        if len(parts) == 2 and parts[1] == b"missing":
            yield parts[0].decode(), None
            continue
        size = int(parts[2])
        data = stream.read(size)
        if len(data) < size:
            return
        stream.read(1)  # the newline after each object
        if parts[1] == b"blob":
            yield parts[0].decode(), data


def _lose(
    by_blob: dict[str, list[tuple[str, int]]],
    blob: str,
    reason: str,
    where: str,
    failed: list[tuple[str, int, str]],
    damage: list[Damage],
) -> None:
    """Record a blob git could not give: each commit that added it, with the reason."""
    for commit, ct in by_blob.pop(blob, ()):
        failed.append((commit, ct, blob))
        damage.append(Damage(f"{where} commit {commit} blob {blob}", reason))


def _write_names(proc: subprocess.Popen[bytes], names: list[str]) -> None:
    """Give git `names`, a piece at a time (a million-message epoch's names are 41 MB), and
    close its input, also when git died on an object (or was stopped): what it wrote before
    is read."""
    stdin = proc.stdin
    assert stdin is not None
    with contextlib.suppress(OSError, ValueError):  # a broken pipe: git stopped
        for i in range(0, len(names), 10_000):
            stdin.write("".join(n + "\n" for n in names[i : i + 10_000]).encode())
    with contextlib.suppress(OSError, ValueError):
        stdin.close()


def _retry_key(name: str) -> str:
    return f"retry:{name}"


class PublicInboxSource:
    """Reads around damage: a blob missing (a partial mirror) or unreadable (a corrupt
    pack) is reported with its commit and skipped, and kept in the cursor (`retry:<epoch>`)
    so every later update asks for it again."""

    format = "public-inbox"

    def __init__(self, location: str, cache: Path) -> None:
        self.location = location
        self.cache = cache

    def plan(self, cursor: dict[str, Any] | None, batch_size: int) -> Plan:
        cursor = dict(cursor or {})
        work = []
        for name, gitdir in epochs(self.location, self.cache):
            since = cursor.get(name)
            retry = [tuple(r) for r in cursor.get(_retry_key(name), [])]
            if since and git(["rev-parse", "HEAD"], cwd=gitdir).strip().decode() == since:
                commits = []
            else:
                commits = _new_commits(gitdir, since)
            if commits or retry:
                head = commits[-1][0] if commits else since
                work.append((name, gitdir, head, retry + commits))
        total = sum(len(c) for *_, c in work)
        return Plan(total=total, batches=self._batches(work, cursor, batch_size))

    def _cat_file(self, gitdir: Path, errors: IO[bytes]) -> subprocess.Popen[bytes]:
        """`git cat-file --batch`, to be given blob names on its standard input; its errors
        go to the file `errors`, not to a pipe read at the end: git reports each corrupt
        object and goes on, and a pipe full of such lines would stop it while this process
        waits for its output."""
        # A smaller delta cache: git's default 96 MB buys no speed here (measured). Smaller
        # pack windows too: git maps up to 1 GiB of pack at a time by default, and the mapped
        # pages count in the run's memory; 16 MB windows within 32 MB took a 35k-message
        # archive's cat-file from 260 MB to 73 MB peak RSS at the same speed (PERFORMANCE.md).
        args = [
            "-c",
            "core.deltaBaseCacheLimit=16m",
            "-c",
            "core.packedGitWindowSize=16m",
            "-c",
            "core.packedGitLimit=32m",
            "cat-file",
            "--batch",
        ]
        return subprocess.Popen(
            git_argv(args),
            cwd=gitdir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=GIT_ENV,
            bufsize=1 << 20,
        )

    def _batches(
        self,
        work: list[tuple[str, Path, str | None, list[tuple[str, int, str]]]],
        cursor: dict[str, Any],
        batch_size: int,
    ) -> Iterator[Batch]:
        for name, gitdir, head, commits in work:
            by_blob: dict[str, list[tuple[str, int]]] = {}
            for sha, ct, blob in commits:
                by_blob.setdefault(blob, []).append((sha, ct))
            failed: list[tuple[str, int, str]] = []
            damage: list[Damage] = []

            where = f"{self.location}: epoch {name}"
            # The blobs wanted, by name and in order: after a failure, the one git could not
            # read is the first not answered, and the rest are asked for again.
            blobs = list(by_blob)
            batch: list[RawMessage] = []
            while True:
                with tempfile.TemporaryFile() as errors:
                    proc = self._cat_file(gitdir, errors)
                    assert proc.stdout is not None
                    try:
                        # Written by a thread: a list of thousands fills the pipe while git's
                        # output fills the other.
                        writer = threading.Thread(
                            target=_write_names, args=(proc, blobs), daemon=True
                        )
                        writer.start()
                        for sha, data in _read_objects(proc.stdout):
                            if data is None:
                                _lose(
                                    by_blob,
                                    sha,
                                    "message blob missing (a partial mirror?)",
                                    where,
                                    failed,
                                    damage,
                                )
                                continue
                            for commit, ct in by_blob.pop(sha, ()):
                                batch.append(RawMessage(data, commit, ct))
                            if len(batch) >= batch_size:
                                yield Batch(batch, None, damage)
                                batch, damage = [], []
                    finally:
                        proc.stdout.close()
                        if proc.poll() is None and by_blob:
                            proc.kill()  # stopped early (interrupt): do not wait for the rest
                        code = proc.wait()
                        errors.seek(max(0, errors.seek(0, os.SEEK_END) - 4000))
                        err = errors.read()  # its last lines say why it stopped
                if not by_blob or code == 0:
                    break
                reason = err.decode("utf-8", "replace").strip().splitlines()
                left = [b for b in blobs if b in by_blob]
                if not left:
                    break
                why = "unreadable: " + (reason[-1] if reason else f"git exit {code}")
                _lose(by_blob, left[0], why, where, failed, damage)
                blobs = left[1:]
                if not blobs:
                    break
            for blob in list(by_blob):
                # Listed but never answered (git stopped without a word): tried again later.
                _lose(by_blob, blob, "not read: git cat-file ended first", where, failed, damage)
            cursor[name] = head
            cursor.pop(_retry_key(name), None)
            if failed:
                cursor[_retry_key(name)] = [list(f) for f in failed]
            yield Batch(batch, dict(cursor), damage)


def looks_like_public_inbox(path: Path) -> bool:
    if path.is_dir() and (path / "git").is_dir():
        return any(_EPOCH.match(p.name) for p in (path / "git").iterdir())
    return is_bundle(path) or is_git_dir(path)
