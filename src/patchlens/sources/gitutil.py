"""Running git, and keeping local mirrors of bundles and remote repositories in a cache."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from patchlens.sources.base import SourceError

_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.I)
GIT_ENV = {
    **os.environ,
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
    # Ignore the user's and the system's config: diff options there would change patch-ids.
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(args: list[str], cwd: Path | None = None, *, input: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=input,
            capture_output=True,
            env=GIT_ENV,
            check=False,
        )
    except FileNotFoundError as e:
        raise SourceError("the git command is not installed") from e
    if proc.returncode != 0:
        where = f" in {cwd}" if cwd else ""
        msg = proc.stderr.decode("utf-8", "replace").strip()
        raise SourceError(f"git {' '.join(args[:3])}{where} failed: {msg}")
    return proc.stdout


def is_url(location: str) -> bool:
    return bool(_URL.match(location))


def is_bundle(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as f:
        head = f.read(20)
    return head.startswith((b"# v2 git bundle", b"# v3 git bundle"))


def is_git_dir(path: Path) -> bool:
    return path.is_dir() and (path / "HEAD").is_file() and (path / "objects").is_dir()


def mirror(location: str, cache: Path, fetch: bool = True) -> Path:
    """A local bare mirror of a bundle or URL, fetched up to date; made on first use."""
    digest = hashlib.sha1(location.encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(location.rstrip("/")).name)[:60]
    dest = cache / f"{name}-{digest}.git"
    if not is_git_dir(dest):
        tmp = dest.with_name(dest.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)  # left by an interrupted clone
        cache.mkdir(parents=True, exist_ok=True)
        git(["clone", "--quiet", "--mirror", location, str(tmp)])
        tmp.rename(dest)  # atomic: an interrupted clone never looks complete
    elif fetch:
        git(["fetch", "--quiet", "--prune", location, "+refs/*:refs/*"], cwd=dest)
    return dest


def resolve_repo(location: str, cache: Path, fetch: bool = True) -> Path:
    """A git dir for any location git accepts: a repository, a bundle, or a URL."""
    path = Path(location).expanduser()
    if is_url(location) or is_bundle(path):
        return mirror(location if is_url(location) else str(path.resolve()), cache, fetch)
    if is_git_dir(path):
        return path
    if (path / ".git").is_dir():
        return path / ".git"
    if not path.exists():
        raise SourceError(f"{location}: no such file or directory")
    raise SourceError(f"{location}: not a git repository, bundle or URL")


REMOTE_TIMEOUT = 30  # seconds: an unreachable host fails here rather than hanging the command


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line.removeprefix("fatal: ")
    return "no answer"


def check_remote(url: str, timeout: float = REMOTE_TIMEOUT) -> None:
    """SourceError unless `git ls-remote` answers for `url` within `timeout` seconds."""
    env = {**GIT_ENV}
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=15")
    try:
        proc = subprocess.run(
            ["git", "ls-remote", "--heads", url],
            capture_output=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as e:
        raise SourceError("the git command is not installed") from e
    except subprocess.TimeoutExpired:
        raise SourceError(f"{url}: unreachable (no answer in {timeout:g} s)") from None
    if proc.returncode != 0:
        reason = _first_line(proc.stderr.decode("utf-8", "replace"))
        raise SourceError(f"{url}: unreachable: {reason}")


def check_repo(location: str) -> None:
    """SourceError unless `location` is something git can read commits from: a repository,
    a bundle, or a URL that answers. Says what it is instead when it is not."""
    if is_url(location):
        check_remote(location)
        return
    path = Path(location).expanduser()
    if not path.exists():
        raise SourceError(f"{location}: no such file or directory")
    if is_git_dir(path) or (path / ".git").exists() or is_bundle(path):
        return
    if path.is_dir():
        raise SourceError(f"{location}: a folder that is not a git repository")
    try:
        with path.open("rb") as f:
            head = f.read(5)
    except OSError as e:
        raise SourceError(f"{location}: cannot read: {e}") from e
    if head.startswith(b"From "):
        raise SourceError(
            f"{location}: an mbox file, not a git repository (mail archives go to add-list)"
        )
    if head.startswith((b"\x1f\x8b", b"\xfd7zXZ", b"BZh")):
        raise SourceError(
            f"{location}: a compressed file, not a git repository or bundle "
            "(mail archives go to add-list)"
        )
    raise SourceError(f"{location}: not a git repository or bundle")
