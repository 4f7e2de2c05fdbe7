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
# Transports git may use for a URL we are given; any other (ext::, fd::, a remote helper)
# could run a command named in the URL.
_SCHEMES = frozenset({"http", "https", "git", "ssh", "git+ssh", "ssh+git", "file"})
_SCP = re.compile(r"^(?:([^@/:]+)@)?([^@/:]+):(.*)\Z", re.S)

# Configuration that outranks the repository's own (command-line `-c` beats every file), so
# that nothing a repository or archive carries runs: no hooks; no fsmonitor daemon or command;
# no pager, editor, askpass or credential helper of a repository's choosing; no transport but
# http(s), git, ssh and file (ext:: and fd:: run commands); no submodule recursion. Textconv
# and external diff drivers are chosen by attributes under names we cannot know in advance,
# so the commands that make diffs take --no-textconv and --no-ext-diff (DIFF_SAFETY) as well.
# Only our own cache mirrors are ever fetched into, so a repository's remotes, ssh command
# and upload-pack settings are never used. `git log` shows no signatures (a repository's
# log.showSignature would print gpg's lines among what is parsed, and run its gpg.program),
# and names paths one way whatever the repository says (core.quotePath: the readings with and
# without diffs must name a file alike, stages/horizon.py).
SAFE_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.pager=cat",
    "core.editor=false",
    "core.askPass=",
    "core.alternateRefsCommand=",
    "credential.helper=",
    "protocol.allow=never",
    "protocol.http.allow=always",
    "protocol.https.allow=always",
    "protocol.git.allow=always",
    "protocol.ssh.allow=always",
    "protocol.file.allow=always",
    "protocol.ext.allow=never",
    "protocol.fd.allow=never",
    "submodule.recurse=false",
    "fetch.recurseSubmodules=false",
    "log.showSignature=false",
    "gpg.program=false",
    "gpg.ssh.program=false",
    "gpg.x509.program=false",
    "core.quotePath=true",
)
# Memory, not safety. git maps its packs in windows of up to 1 GiB, 8 GiB in all, and every
# page of a window it touched counts in its memory while mapped (`git log -p` touches most of
# a pack). Windows of 1 MiB, 16 MiB mapped at once, cost no time measured (util-linux, 8,000
# commits in one `git log -p`: 16.9 s with git's defaults, 17.1 s with these) and took the
# log's peak RSS from 287 to 177 MB. The repository reader also bounds the log's delta cache
# (gitrepo.LOG_CONFIG); docs/PERFORMANCE.md has the figures.
MEMORY_CONFIG = ("core.packedGitWindowSize=1m", "core.packedGitLimit=16m")
DIFF_SAFETY = ("--no-textconv", "--no-ext-diff")
GIT_ENV = {
    **os.environ,
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
    # Ignore the user's and the system's config: diff options there would change patch-ids,
    # and commands there (a pager, a credential helper) are not ours to run.
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_ATTR_NOSYSTEM": "1",
    # Protocols marked "user" in git's policy are refused when the URL did not come from a
    # person at a terminal; git's own submodule and redirect handling use this.
    "GIT_PROTOCOL_FROM_USER": "0",
    # A partial clone's promisor remote (named in the repository's config) is never fetched.
    "GIT_NO_LAZY_FETCH": "1",
}
for _var in (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_EXTERNAL_DIFF",
    "GIT_PAGER",
    "GIT_ASKPASS",
    "GIT_EDITOR",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_TEMPLATE_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
):
    # Set outside, these would point git at another repository, index or config than the
    # one we name, or run a command of the caller's environment on every diff or prompt.
    GIT_ENV.pop(_var, None)


def git_argv(args: list[str] | tuple[str, ...]) -> list[str]:
    """The command line for `git args` run on a repository or archive we do not trust: every
    git invocation goes through here (see SAFE_CONFIG for what it turns off and why)."""
    out = ["git"]
    for item in (*SAFE_CONFIG, *MEMORY_CONFIG):
        out += ["-c", item]
    return [*out, *args]


def check_location(location: str) -> None:
    """SourceError unless `location` is a path or a URL of a transport we allow, in which
    nothing can be read as an option: git gets `--` before locations as well, but a URL whose
    user, host or path begins with '-' is refused here with a clear message."""
    if not location or "\0" in location:
        raise SourceError(f"{location!r}: not a location")
    if "::" in location.split("/", 1)[0]:
        raise SourceError(f"{location}: a remote-helper address (transport::...) is not allowed")
    if location.startswith("-") and (is_url(location) or ":" in location):
        raise SourceError(f"{location}: a URL may not begin with '-'")
    if "://" in location:
        scheme, rest = location.split("://", 1)
        if scheme.lower() not in _SCHEMES:
            raise SourceError(f"{location}: transport {scheme!r} is not allowed")
        if rest.startswith("-") or rest.split("/", 1)[0].split("@", 1)[-1].startswith("-"):
            raise SourceError(f"{location}: a host may not begin with '-'")
        return
    # git reads "a colon before any slash" as an scp-like ssh address, whatever we call it.
    head = location.split("/", 1)[0]
    if ":" in head:
        m = _SCP.match(location)
        if m is None or any(part and part.startswith("-") for part in m.groups()):
            raise SourceError(f"{location}: a user, host or path may not begin with '-'")


def run_git(
    args: list[str],
    cwd: Path | None = None,
    *,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """git on the safe command line (git_argv) and environment (GIT_ENV unless `env`), its
    output captured. A SourceError when git is not installed; the exit status, and a timeout
    (subprocess.TimeoutExpired), are the caller's to read."""
    try:
        return subprocess.run(
            git_argv(args),
            cwd=cwd,
            input=input,
            capture_output=True,
            env=GIT_ENV if env is None else env,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as e:
        raise SourceError("the git command is not installed") from e


def git(args: list[str], cwd: Path | None = None, *, input: bytes | None = None) -> bytes:
    """git's output; a SourceError naming the command and git's message when it fails."""
    proc = run_git(args, cwd, input=input)
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
    check_location(location)
    digest = hashlib.sha1(location.encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(location.rstrip("/")).name)[:60]
    dest = cache / f"{name}-{digest}.git"
    if not is_git_dir(dest):
        tmp = dest.with_name(dest.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)  # left by an interrupted clone
        cache.mkdir(parents=True, exist_ok=True)
        git(["clone", "--quiet", "--mirror", "--", location, str(tmp)])
        tmp.rename(dest)  # atomic: an interrupted clone never looks complete
    elif fetch:
        git(["fetch", "--quiet", "--prune", "--", location, "+refs/*:refs/*"], cwd=dest)
    return dest


def resolve_repo(location: str, cache: Path, fetch: bool = True) -> Path:
    """A git dir for any location git accepts: a repository, a bundle, or a URL."""
    check_location(location)
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
    check_location(url)
    env = {**GIT_ENV}
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=15")
    try:
        proc = run_git(["ls-remote", "--heads", "--", url], env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SourceError(f"{url}: unreachable (no answer in {timeout:g} s)") from None
    if proc.returncode != 0:
        reason = _first_line(proc.stderr.decode("utf-8", "replace"))
        raise SourceError(f"{url}: unreachable: {reason}")


def check_repo(location: str) -> None:
    """SourceError unless `location` is something git can read commits from: a repository,
    a bundle, or a URL that answers. Says what it is instead when it is not."""
    check_location(location)
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
