"""Commits of a git repository, with their diffs, read through `git log -p --numstat`.

The `git` binary walks history with diffs several times faster than any Python binding here;
the range is cut into slices, each read by its own `git log` whose output streams into
`git patch-id --stable` (the same pipeline as `git log -p | git patch-id`) and through the
parser, record by record. A slice's parse, compression and fingerprints are the work of one
worker process (stages/ingest.py runs `read_slice` through the process pool), so the writing
process only stores what comes back.

File statistics are counted from the diff in hand (`git_file_stats`), not asked of git with
`--numstat`: numstat makes git diff every file a second time, which measured as much of git's
time as `-p` itself (util-linux: `log -p -M` 29 s of CPU, with `--numstat` 53 s).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import subprocess
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from patchlens.mail.diff import FileStat, file_stats, unquote_path
from patchlens.mail.fingerprint import pack
from patchlens.mail.headers import LATEST_DATE
from patchlens.mail.trailers import Trailer, parse_trailers
from patchlens.sources.base import SourceError
from patchlens.sources.gitutil import DIFF_SAFETY, GIT_ENV, git, git_argv
from patchlens.store.compression import compress_text_bytes

# "commit %H" first, so that `git patch-id` can name each patch; then NUL-separated fields.
_FORMAT = "commit %H%n%x00%x01%H%x00%P%x00%an%x00%ae%x00%ad%x00%cn%x00%ce%x00%cd%x00%B%x00"
# The "commit <sha>" line that opens the next record ends the current one.
_NEXT_COMMIT_B = re.compile(rb"commit [0-9a-f]{40,64}\n?\Z")
# git keeps up to 96 MiB of delta bases per process. A log of one 200-commit slice gets no
# faster from more than 32 MiB (util-linux, 8,000 commits in 40 slices: 21.7 s with 96 MiB,
# 19.0 s with 32, 19.9 s with 16), and each of the logs running beside the workers holds the
# difference: the largest slice's peak RSS 148 -> 83 MB. Only for the log: a clone's
# index-pack resolves a whole pack's deltas with the same cache, unmeasured at that size.
LOG_CONFIG = ["-c", "core.deltaBaseCacheLimit=32m"]
LOG_ARGS = [
    "log",
    "--no-walk=unsorted",
    "--stdin",
    "-p",
    "--no-color",
    *DIFF_SAFETY,
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
    diff_z: bytes | None = None  # the diff, compressed for the store
    # A non-merge commit's changed-line hashes (mail/fingerprint.py, packed), computed by the
    # reading thread from the diff it has in hand rather than read back from the store later.
    fingerprint: bytes | None = None
    # The diff hides some file's content (git_file_stats): its stats are to be read from
    # git's numstat instead.
    stats_hidden: bool = False
    # The diff as git's bytes, while a reading worker holds it (parse_log's `raw`).
    diff_raw: bytes | None = None
    # Read without its diff (`read_history_slice`): its files are named, not counted.
    diff_skipped: bool = False

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0].strip()

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


def _raw_date(value: str) -> tuple[int, int]:
    """(seconds, offset in minutes) of a raw git date. A commit's date is whatever its
    author's clock said: beyond 2038 (or before 1901) it is held at the limit of the store's
    32-bit dates (PostgreSQL's INTEGER), where such a commit sorts anyway. A date git cannot
    read (it prints none for "-5 +0000" or "abc") is 0, the epoch, and a time zone it
    cannot (more than four digits, which git fsck calls badTimezone) is 0: the commit stays
    readable, and keeps its date when it has one."""
    ts, _, tz = value.strip().partition(" ")
    digits = ts[1:] if ts.startswith("-") else ts
    if not (digits.isascii() and digits.isdigit()):
        return 0, 0
    sign = -1 if tz.startswith("-") else 1
    tz = tz.lstrip("+-")
    minutes = 0
    if tz.isascii() and tz.isdigit() and len(tz) <= 4:
        minutes = int(tz[:2] or 0) * 60 + int(tz[2:4] or 0)
    return min(max(int(ts), -LATEST_DATE - 1), LATEST_DATE), sign * minutes


# A record's first token in `git log --numstat -z --format=%x00%x01%H` output.
_NUMSTAT_HEAD = re.compile(rb"\x01([0-9a-f]{40}|[0-9a-f]{64})")


def _numstat_z(out: bytes) -> dict[str, list[FileStat]]:
    """Each commit's files from `git log --numstat -z` (NUMSTAT_ARGS): "added\tremoved\tpath",
    or for a rename "added\tremoved\t" and then the old and the new name, each a token
    between NULs, names as git has them (not quoted). Read token by token: a name may hold
    any byte but NUL, so the names of a rename are taken where they stand, never looked at
    for a record's start. Decoded as `mail.diff.unquote_path` decodes the quoted names of a
    diff's headers, so that both readings name a file alike."""
    stats: dict[str, list[FileStat]] = {}
    files: list[FileStat] | None = None
    tokens = out.split(b"\0")
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        head = _NUMSTAT_HEAD.fullmatch(token)
        if head:
            files = stats.setdefault(head.group(1).decode(), [])
            continue
        parts = token.removeprefix(b"\n").split(b"\t", 2)
        if files is None or len(parts) != 3 or not parts[0]:
            continue
        added, removed, path = parts
        old = None
        if not path:  # a rename: the old name, then the new one
            if i + 1 >= len(tokens):
                break
            old, path = tokens[i], tokens[i + 1]
            i += 2
        if not path:
            continue
        binary = added == b"-"
        files.append(
            FileStat(
                path.decode("utf-8", "replace"),
                old.decode("utf-8", "replace") if old else None,
                0 if binary else int(added),
                0 if binary else int(removed),
                binary,
            )
        )
    return stats


def parse_log(
    data: bytes,
    patch_ids: dict[str, str] | None = None,
    *,
    raw: bool = False,
    files_only: bool = False,
) -> Iterator[CommitRecord]:
    """CommitRecords from `git log` output in the LOG_ARGS format; with `raw`, each diff is
    left as git's bytes (`diff_raw`) instead of text (`_finish` needs no more). With
    `files_only`, the output is HISTORY_ARGS': each commit's files from git's --raw lines,
    no diff."""
    patch_ids = patch_ids or {}
    records = data.split(b"\0\x01")
    del data  # the caller passes its only reference: the records hold the bytes now
    del records[0]
    records.reverse()  # popped from the end: each record's bytes go once it is parsed
    while records:
        rec = records.pop()
        # The nine fields before the diff, found in place (a split would copy the diff too).
        fields = []
        pos = 0
        for _ in range(9):
            nul = rec.find(b"\0", pos)
            if nul == -1:
                raise SourceError(f"unexpected git log record: {rec[:80]!r}")
            fields.append(rec[pos:nul])
            pos = nul + 1
        sha, parents, an, ae, ad, cn, ce, cd, message = fields
        del fields
        # After the message: the diff; the next record's "commit" line closes it. Cut in bytes
        # (the marks are ASCII, which decodes byte for byte), and each piece taken once: a
        # 40 MB diff is not copied twice.
        end = len(rec)
        last = rec.rfind(b"commit ", max(pos, end - 80))
        if last != -1 and (last == pos or rec[last - 1] == 10) and _NEXT_COMMIT_B.match(rec, last):
            end = last
        cut = -1 if files_only else rec.find(b"\ndiff ", pos, end)
        hidden = False
        diff_raw: bytes | None = None
        files: list[FileStat] = _raw_files(rec, pos, end) if files_only else []
        diff_text = ""
        if cut != -1:
            files, hidden = git_file_stats(rec, cut + 1, end)
            if raw:
                diff_raw = rec[cut + 1 : end] or None
            else:
                diff_text = rec[cut + 1 : end].decode("utf-8", "surrogateescape")
        del rec
        msg = message.decode("utf-8", "replace").rstrip("\n")
        a_date, a_off = _raw_date(ad.decode())
        c_date, c_off = _raw_date(cd.decode())
        commit = sha.decode()
        yield CommitRecord(
            sha=commit,
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
            diff=diff_text or None,
            files=files,
            patch_id=patch_ids.get(commit),
            trailers=parse_trailers(msg),
            stats_hidden=hidden,
            diff_raw=diff_raw,
            diff_skipped=files_only,
        )


def _raw_files(rec: bytes, start: int, end: int) -> list[FileStat]:
    """The files of one commit from git's `--raw` lines (":100644 100644 <old> <new> M\tpath",
    "R087\told\tnew" for a rename), named as the diff's headers name them; nothing is
    counted (a skipped commit's lines are not known)."""
    out = []
    for line in rec[start:end].split(b"\n"):
        if not line.startswith(b":"):
            continue
        meta, _, names = line.partition(b"\t")
        status = meta.rsplit(b" ", 1)[-1][:1]
        paths = [unquote_path(n.decode("utf-8", "surrogateescape")) for n in names.split(b"\t")]
        if status in (b"R", b"C") and len(paths) == 2:
            out.append(FileStat(paths[1], paths[0], 0, 0, False))
        elif paths and paths[0]:
            out.append(FileStat(paths[0], None, 0, 0, False))
    return out


def default_branch(gitdir: Path) -> str:
    ref = git(["symbolic-ref", "-q", "HEAD"], cwd=gitdir).decode().strip()
    return ref.removeprefix("refs/heads/")


def branch_head(gitdir: Path, branch: str) -> str:
    for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}", branch):
        proc = subprocess.run(
            git_argv(["rev-parse", "-q", "--verify", "--end-of-options", f"{ref}^{{commit}}"]),
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
        git_argv(["cat-file", "-e", f"{sha}^{{commit}}"]),
        cwd=gitdir,
        capture_output=True,
        env=GIT_ENV,
        check=False,
    )
    return proc.returncode == 0


def rev_list(gitdir: Path, head: str, exclude: list[str]) -> list[str]:
    """Commits reachable from head and not from any of `exclude`, oldest first."""
    return [sha for sha, _ in rev_list_dated(gitdir, head, exclude)]


def rev_list_dated(gitdir: Path, head: str, exclude: list[str]) -> list[tuple[str, int]]:
    """The commits of `rev_list` (topological order, oldest first), each with its committer
    date as the store will have it: `%cd` read by `_raw_date`, as `parse_log` reads it (the
    horizon is compared with it; git's `--timestamp` reads a malformed committer line
    otherwise)."""
    args = [
        "log",
        "--reverse",
        "--topo-order",
        "--date=raw",
        "--format=%H %cd",
        "--end-of-options",
        head,
        *(f"^{e}" for e in exclude),
    ]
    out = []
    for line in git(args, cwd=gitdir).decode("utf-8", "replace").splitlines():
        sha, _, date = line.partition(" ")
        out.append((sha, _raw_date(date)[0]))
    return out


def present(gitdir: Path, shas: list[str]) -> set[str]:
    """Those of `shas` the repository still has (history rewritten or pruned loses some)."""
    if not shas:
        return set()
    out = git(
        ["cat-file", "--batch-check=%(objectname) %(objecttype)"],
        cwd=gitdir,
        input="".join(s + "\n" for s in shas).encode(),
    )
    return {
        parts[0]
        for line in out.decode("utf-8", "replace").splitlines()
        if len(parts := line.split()) == 2 and parts[1] == "commit"
    }


def _run_log(gitdir: Path, shas: list[str]) -> tuple[bytes, dict[str, str]]:
    """A slice's log, and its patch-ids from `git patch-id --stable` fed its diffs (as
    `read_slice` feeds them, see `_finish`), in one piece: for tools and tests."""
    proc = subprocess.run(
        git_argv([*LOG_CONFIG, *LOG_ARGS]),
        cwd=gitdir,
        input="".join(s + "\n" for s in shas).encode(),
        capture_output=True,
        env=GIT_ENV,
        check=False,
    )
    if proc.returncode != 0:
        raise SourceError(f"{gitdir}: git log failed: {proc.stderr.decode('utf-8', 'replace')}")
    fed: list[bytes] = []
    for _ in _finish(parse_log(proc.stdout), keep_text=False, feed=fed.append):
        pass
    pid = subprocess.run(
        git_argv(["patch-id", "--stable"]),
        cwd=gitdir,
        input=b"".join(fed),
        capture_output=True,
        env=GIT_ENV,
        check=False,
    )
    if pid.returncode != 0:
        raise SourceError(f"{gitdir}: git patch-id failed: {pid.stderr.decode('utf-8', 'replace')}")
    ids = {}
    for line in pid.stdout.decode().splitlines():
        parts = line.split()
        if len(parts) == 2:
            ids[parts[1]] = parts[0]
    return proc.stdout, ids


# How much of `git log`'s output a slice reader takes at a time: records are parsed as soon as
# they are whole, so a reader holds one chunk and the commit being read, not its whole slice.
READ_CHUNK = 1 << 20


def read_slice(gitdir: Path, shas: list[str], *, keep_text: bool = False) -> list[CommitRecord]:
    """One slice's commits, ready to store: log, patch-ids, parse, compressed diff and
    fingerprint. Runs in a worker process (stages/ingest.py), so none of it holds the
    writer's GIL.

    `git log` output streams through here into `git patch-id --stable` (the same pipeline
    as `git log -p | git patch-id`) and each record is parsed once it is whole, its diff
    compressed and fingerprinted, and the text dropped (unless `keep_text`): memory is bounded
    by the largest commit, not by the slice (util-linux's early slices of translations are
    hundreds of MB of diff)."""
    with tempfile.TemporaryFile() as log_err, tempfile.TemporaryFile() as pid_err:
        log = subprocess.Popen(
            git_argv([*LOG_CONFIG, *LOG_ARGS]),
            cwd=gitdir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_err,
            env=GIT_ENV,
        )
        pid = subprocess.Popen(
            git_argv(["patch-id", "--stable"]),
            cwd=gitdir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=pid_err,
            env=GIT_ENV,
        )
        ids_out: list[bytes] = []
        drain = threading.Thread(target=lambda: ids_out.append(_read_all(pid.stdout)))
        drain.start()
        records: list[CommitRecord] = []
        done = False
        try:
            assert log.stdin is not None and log.stdout is not None and pid.stdin is not None
            # `--stdin` makes git read every name before it writes anything: no deadlock.
            log.stdin.write("".join(s + "\n" for s in shas).encode())
            log.stdin.close()
            buf = bytearray()
            fd = log.stdout.fileno()
            feed = pid.stdin.write
            while chunk := os.read(fd, READ_CHUNK):
                start = max(0, len(buf) - 1)
                buf += chunk
                # Records whole so far: every one before the last record start seen.
                last = buf.rfind(b"\0\x01", start)
                if last > 0 and buf.find(b"\0\x01", 0, last) != -1:
                    records.extend(_finish(parse_log(_take(buf, last), raw=True), keep_text, feed))
            records.extend(_finish(parse_log(_take(buf, len(buf)), raw=True), keep_text, feed))
            del buf
            done = True
        except BrokenPipeError:
            pass  # patch-id (or git log) ended early: its exit status says why, below
        finally:
            if not done:  # neither git may be left waiting on a pipe nobody serves
                log.kill()
                pid.kill()
            for stream in (log.stdin, pid.stdin):
                if stream is not None and not stream.closed:
                    with contextlib.suppress(BrokenPipeError):
                        stream.close()
            log_rc = log.wait()
            drain.join()
            pid_rc = pid.wait()
            if log.stdout is not None:
                log.stdout.close()
        if log_rc != 0:
            raise SourceError(f"{gitdir}: git log failed: {_text(log_err)}")
        if pid_rc != 0:
            raise SourceError(f"{gitdir}: git patch-id failed: {_text(pid_err)}")
        if not done:
            raise SourceError(f"{gitdir}: git patch-id stopped reading the log")
    ids = {}
    for line in b"".join(ids_out).decode().splitlines():
        parts = line.split()
        if len(parts) == 2:
            ids[parts[1]] = parts[0]
    for r in records:
        r.patch_id = ids.get(r.sha)
    hidden = [r for r in records if r.stats_hidden]
    if hidden:
        numstats = _numstats(gitdir, [r.sha for r in hidden])
        for r in hidden:
            r.files = numstats.get(r.sha, r.files)
            r.stats_hidden = False
    return records


# A commit's metadata and the names of its files (renames found as -M finds them for the
# diff), without the diff: git compares trees, and file contents only among the added and
# deleted files of a commit to find renames, so util-linux's 13,135 commits before 2019
# take 0.4 s here against 19 s with -p (docs/PERFORMANCE.md).
HISTORY_ARGS = [
    "log",
    "--no-walk=unsorted",
    "--stdin",
    "--raw",
    "--no-color",
    *DIFF_SAFETY,
    "-M",
    "--date=raw",
    "--encoding=UTF-8",
    f"--format={_FORMAT}",
]


def read_history_slice(gitdir: Path, shas: list[str]) -> list[CommitRecord]:
    """Commits before the horizon (match/horizon.py): metadata, trailers and file names,
    without diff, patch-id, line counts or fingerprint, which no stage needs for them."""
    out = git(
        [*LOG_CONFIG, *HISTORY_ARGS], cwd=gitdir, input="".join(s + "\n" for s in shas).encode()
    )
    return list(parse_log(out, files_only=True))


def history_fields(r: CommitRecord) -> tuple:
    """What a commit read without its diff keeps (`read_history_slice`): its files' names
    and earlier names, their count, its metadata, message and trailers; equal for the same
    commit read whole (tests and bench/history_files.py compare the two readings)."""
    return (
        sorted({(f.path, f.old_path) for f in r.files}),
        len(r.files),
        r.parents,
        (r.author_name, r.author_email, r.author_date, r.author_offset),
        (r.committer_name, r.committer_email, r.committer_date, r.committer_offset),
        r.message,
        r.trailers,
    )


def read_part(gitdir: Path, part: tuple[bool, list[str]]) -> list[CommitRecord]:
    """One slice to read, whole (`read_slice`) or, when its first item says so, without
    diffs (`read_history_slice`)."""
    skip, shas = part
    return read_history_slice(gitdir, shas) if skip else read_slice(gitdir, shas)


NUMSTAT_ARGS = [
    "log",
    "--no-walk=unsorted",
    "--stdin",
    "--numstat",
    "-z",
    "--no-color",
    *DIFF_SAFETY,
    "-M",
    "--format=%x00%x01%H",
]


def _numstats(gitdir: Path, shas: list[str]) -> dict[str, list[FileStat]]:
    """git's numstat of each of `shas` (the few commits whose diff hides a file's content)."""
    out = git(NUMSTAT_ARGS, cwd=gitdir, input="".join(s + "\n" for s in shas).encode())
    return _numstat_z(out)


def _take(buf: bytearray, n: int) -> bytes:
    """The first `n` bytes of `buf`, removed from it: one copy, and `buf` holds them no more
    while they are parsed."""
    data = bytes(memoryview(buf)[:n])
    del buf[:n]
    return data


def _read_all(stream: IO[bytes] | None) -> bytes:
    return stream.read() if stream is not None else b""


def _text(err: IO[bytes]) -> str:
    err.seek(0)
    return err.read(4000).decode("utf-8", "replace")


# Changed lines (in the hunks: see git_fingerprint), and the white space `str.split()` removes:
# ASCII (deleted from bytes directly) and the rest (by their UTF-8 forms).
_CHANGED = re.compile(rb"\n([+-][^\n]*)")
ASCII_BLANKS = b" \t\v\f\r\x1c\x1d\x1e\x1f"
UNICODE_BLANKS = re.compile(
    rb"\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80"
)
# The same forms by their first byte, each found by its literal start (see _drop_unicode_blanks).
_BLANKS_BY_LEAD = (
    (b"\xc2", re.compile(rb"\xc2[\x85\xa0]")),
    (b"\xe1", re.compile(rb"\xe1\x9a\x80")),
    (b"\xe2", re.compile(rb"\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f")),
    (b"\xe3", re.compile(rb"\xe3\x80\x80")),
)


def _drop_unicode_blanks(data: bytes) -> bytes:
    """`UNICODE_BLANKS.sub(b"", data)`, a form at a time when `data` is UTF-8: the regex engine
    tries one alternation at every byte, where a pattern with a literal start is searched
    for directly (util-linux's translation updates since 2017, 395 MB of changed lines not all
    ASCII: 2.2 s at once, 0.8 s a form at a time with the UTF-8 check). In UTF-8 a lead byte
    starts a character wherever it stands, so each pass removes whole characters and leaves
    UTF-8: the passes remove exactly what one pass removes. In bytes that are not UTF-8
    (a lead byte without its continuation bytes before a blank) a removal could join two
    pieces into a form one pass would have left: those take the one pass."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return UNICODE_BLANKS.sub(b"", data)
    for lead, form in _BLANKS_BY_LEAD:
        if lead in data:
            data = form.sub(b"", data)
    return data


_FP_PIECE = 1 << 20


def git_fingerprint(diff: str | bytes | None) -> frozenset[int]:
    """mail.fingerprint.fingerprint of a diff git wrote, computed on its bytes by C loops:
    the Python loop over every line was most of a reading worker's time (util-linux's
    translation commits hold millions of lines).

    The same hashes, because git's output is well formed: within a file's part (from one
    "diff --git" line to the next), every line from its first hunk header on is a hunk header
    or a line the headers count, so its "+"/"-" lines are exactly the changed lines the
    counting loop finds (a mail diff may be mangled: mail keeps that loop). White space is
    deleted from the bytes: the ASCII kinds byte by byte, the others (NBSP, NEL, ...) by their
    UTF-8 forms, which start with a lead byte, where decoding with surrogateescape always
    starts a character: the bytes removed are exactly those of the characters `str.split()`
    removes."""
    if not diff:
        return frozenset()
    hashes: set[int] = set()
    # A file at a time, and a large file's hunks a piece of about _FP_PIECE bytes at a time
    # (cut at line ends): a commit of translations changes 650k lines, and lists of them all
    # (one small bytes object each) would hold hundreds of MB. Read in place, not split.
    data = diff.encode("utf-8", "surrogateescape") if isinstance(diff, str) else diff
    pos, size = 0, len(data)
    while pos < size:
        nxt = data.find(b"\ndiff --git ", pos)
        stop = size if nxt == -1 else nxt
        at = data.find(b"\n@@ ", pos, stop)
        while at != -1 and at < stop:
            end = data.find(b"\n", at + _FP_PIECE, stop) if stop - at > _FP_PIECE else -1
            end = stop if end == -1 else end
            joined = b"\n".join(_CHANGED.findall(data, at, end))
            if not joined.isascii():  # the other blanks are not ASCII; most diffs are
                joined = _drop_unicode_blanks(joined)
            joined = joined.translate(None, ASCII_BLANKS)
            hashes.update(map(zlib.crc32, [ln for ln in joined.split(b"\n") if len(ln) > 1]))
            at = end
        pos = size if nxt == -1 else nxt + 1
    return frozenset(hashes)


def git_file_stats(
    data: bytes, start: int = 0, end: int | None = None
) -> tuple[list[FileStat], bool]:
    """The numstat of a diff git wrote (`data[start:end]`, read in place): per file its path,
    old path when renamed, lines added and removed, and whether it is binary; and whether the
    diff hides some file's content (a rename or a mode change without a change of content
    shows neither hunks nor "Binary files", and numstat still calls a binary file binary: the
    caller asks git's numstat for such a commit, see `read_slice`).

    Each file's header (from its `diff --git` line to its first hunk) is read by
    `mail.diff.file_stats`, which names files as git does; its lines are counted by C loops,
    because in git's well-formed output every line from the first hunk header on is a header,
    a context line, a "+"/"-" line or a "\\ No newline" mark (see `git_fingerprint`): a line
    starting "+" or "-" there is exactly one numstat counts. Equal to `--numstat` on every
    util-linux and erofs-utils commit, but for renames of files whose names need quoting:
    numstat's "old => new" form garbles those, the diff's "rename from/to" lines do not."""
    out: list[FileStat] = []
    hidden = False
    pos = start
    end = len(data) if end is None else end
    while pos < end:
        nxt = data.find(b"\ndiff --git ", pos, end)
        stop = end if nxt == -1 else nxt
        first = data.find(b"\n@@ ", pos, stop)
        head = data[pos : stop if first == -1 else first].decode("utf-8", "surrogateescape")
        stats = file_stats(head)
        if stats:
            stat = stats[0]
            if first != -1 and not stat.binary:
                added, removed = data.count(b"\n+", first, stop), data.count(b"\n-", first, stop)
                stat = FileStat(stat.path, stat.old_path, added, removed, False)
            elif first == -1 and not stat.binary:
                hidden = hidden or _SAME_CONTENT.search(head) is not None
            out.append(stat)
        pos = stop + 1 if nxt != -1 else end
    # A file whose type changed (a file becoming a symlink) is two parts of one path in the
    # diff and one line of numstat's: numstat it is.
    if len({f.path for f in out}) < len(out):
        hidden = True
    return out, hidden


# A file part whose content the diff does not show: renamed or copied unchanged, or only its
# mode changed. (A new or deleted file without hunks is empty, which is not binary.)
_SAME_CONTENT = re.compile(r"^(?:similarity index 100%|old mode )", re.M)


def _finish(
    records: Iterator[CommitRecord], keep_text: bool, feed: Callable[[bytes], object] | None = None
) -> Iterator[CommitRecord]:
    """Compress each diff and fingerprint each non-merge commit, from the text in hand; give
    `feed` (`git patch-id`'s input) each diff under its "commit <sha>" line.

    patch-id is given the diffs alone, not git log's output: a raw commit message is not
    indented there, so a message quoting a patch ("diff --git ..." lines) or naming its
    upstream commit on a line of its own ("commit <sha> upstream.", as every stable backport
    does) would be read by patch-id as part of the patch or as the next commit."""
    for r in records:
        raw = r.diff_raw
        if raw is None and r.diff is not None:
            raw = r.diff.encode("utf-8", "surrogateescape")
        r.diff_raw = None
        if raw is not None:
            r.diff_z = compress_text_bytes(raw)
            if feed is not None:
                feed(b"commit " + r.sha.encode() + b"\n")
                feed(raw)
                if not raw.endswith(b"\n"):
                    feed(b"\n")
        if not r.is_merge:
            r.fingerprint = pack(git_fingerprint(raw))
        if not keep_text:
            r.diff = None
        elif r.diff is None and raw is not None:
            r.diff = raw.decode("utf-8", "surrogateescape")
        yield r


def slices(shas: list[str], size: int = 200) -> list[list[str]]:
    return [shas[i : i + size] for i in range(0, len(shas), size)]


def read_commits(
    gitdir: Path, shas: list[str], *, slice_size: int = 200, jobs: int = 2
) -> Iterator[list[CommitRecord]]:
    """CommitRecords for `shas`, in that order, one list per slice, read in `jobs` threads of
    this process, the diff text kept. The ingest stage reads in worker processes instead
    (read_slice through stages.parallel.ordered_map); this is for tools and tests."""
    read = functools.partial(read_slice, gitdir, keep_text=True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending: list[Future[list[CommitRecord]]] = []
        todo = iter(slices(shas, slice_size))
        for part in itertools.islice(todo, jobs + 1):
            pending.append(pool.submit(read, part))
        while pending:
            records = pending.pop(0).result()
            for part in itertools.islice(todo, 1):
                pending.append(pool.submit(read, part))
            yield records
