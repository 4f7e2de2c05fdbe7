#!/usr/bin/env python3
"""Assemble a Linux-scale corpus of real public-inbox archives (issue 11) for the benches.

The Linux list archives on public git hosting (`linux-mailinglist-archives/<list>.<N>`) are
each one public-inbox epoch: a bare git repository whose every commit adds one raw RFC 822
message as the blob `m` (a `d` blob marks a deletion). patchlens reads a bare epoch directly,
and a folder `git/N.git` of epochs as one v2 archive, so this script only lays out, per list:

    OUT/lists/<list>/git/<N>.git     a `git clone --bare --shared` of the fetched epoch

A shared clone holds no object of its own (it borrows them through objects/info/alternates),
so nothing is copied, the fetched mirror is never written to, and the benches may move a
clone's branch (e.g. hold back the last day of mail) without touching the mirror.

For every epoch it checks that it is a git dir whose newest commit carries `m` and whose
message looks like mail, counts the messages (commits adding or changing `m`), and takes the
date range (author dates, which public-inbox sets from the message's Date, capped at
the commit time: some Date headers are decades ahead) and the tip. It
writes OUT/manifest.json, which bench/scale.py and bench/grow.py read.

Usage:
  bench/corpus.py --out /work/corpus  PATH [NAME=PATH ...]

PATH is a fetched epoch (a bare git dir, e.g. .../linux-usb.vger.kernel.org.0/repo); the list
name and epoch number are taken from the folder name `<list>.<host>.<N>` (or from
`<name>.<N>=PATH`, or `NAME=PATH` for epoch 0). Several epochs of one list become one v2
archive. Nothing here imports patchlens.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

# `<list>.<host...>.<epoch>` as the linux-mailinglist-archives repositories are named, with
# an optional `<owner>+` prefix that fetched mirrors carry.
_REPO_NAME = re.compile(r"^(?:[^+]*\+)?(?P<list>[A-Za-z0-9_-]+)(?:\.[A-Za-z0-9_.-]+)?\.(?P<n>\d+)$")
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass
class Epoch:
    """One public-inbox epoch as laid out under OUT, with what was counted in it."""

    n: int
    source: str
    path: str
    head: str
    messages: int
    commits: int
    deletions: int
    missing: int
    first: str
    last: str
    first_ts: int
    last_ts: int
    bytes_on_disk: int


@dataclass
class ListEntry:
    """A list: its v2 archive folder (what `patchlens add-list NAME PATH` takes)."""

    name: str
    path: str
    messages: int = 0
    missing: int = 0
    first: str = ""
    last: str = ""
    epochs: list[Epoch] = field(default_factory=list)


def git(gitdir: Path, *args: str) -> bytes:
    """A git command in `gitdir`; its stdout, or exit with git's own message."""
    proc = subprocess.run(["git", *args], cwd=gitdir, capture_output=True)
    if proc.returncode != 0:
        sys.exit(f"{gitdir}: git {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def parse_source(arg: str) -> tuple[str, int, Path]:
    """(list name, epoch, path) from `PATH`, `NAME=PATH` or `NAME.N=PATH`."""
    if "=" in arg:
        name, _, path_s = arg.partition("=")
        n = 0
        if m := re.match(r"^(.*)\.(\d+)$", name):
            name, n = m.group(1), int(m.group(2))
    else:
        path_s = arg
        p = Path(arg).resolve()
        base = p.parent.name if p.name in ("repo", ".git") else p.name
        base = base.removesuffix(".git")
        m = _REPO_NAME.match(base)
        if not m:
            sys.exit(f"{arg}: cannot tell the list and epoch from the folder name; use NAME.N=PATH")
        name, n = m.group("list"), int(m.group("n"))
    if not _SAFE.match(name):
        sys.exit(f"{arg}: list name {name!r} is not a plain name")
    return name, n, Path(path_s).expanduser().resolve()


def check_epoch(path: Path) -> str:
    """The tip commit of a fetched epoch; exits if it is not a public-inbox epoch."""
    if not ((path / "HEAD").is_file() and (path / "objects").is_dir()):
        sys.exit(f"{path}: not a bare git repository")
    head = git(path, "rev-parse", "--verify", "HEAD^{commit}").decode().strip()
    names = git(path, "ls-tree", "--name-only", head).decode().split()
    if "m" not in names:
        sys.exit(f"{path}: the newest commit has no file `m`: not a public-inbox epoch")
    msg = git(path, "cat-file", "blob", f"{head}:m")[:65536].lower()
    if b"\nmessage-id:" not in msg and not msg.startswith(b"message-id:"):
        sys.exit(f"{path}: the newest message has no Message-ID header: not mail?")
    return head


def count_epoch(path: Path, head: str) -> tuple[int, int, int, int, int, int]:
    """(messages, commits, deletions, first and last message time, missing blobs) up to
    `head`.

    A message is a commit that adds or changes `m`; one that writes `d` is a deletion."""
    out = git(path, "log", "--format=%x00%at %ct", "--raw", "--no-renames", "--no-abbrev", head)
    messages = commits = deletions = 0
    first = last = 0
    blobs: list[bytes] = []
    for rec in out.split(b"\0")[1:]:
        commits += 1
        lines = rec.split(b"\n")
        at, ct = (int(x) for x in lines[0].split())
        # A Date header from a wrong clock (years ahead) is not the archive's range: a
        # message cannot be written after it was archived, beyond a day of clock skew.
        ts = at if at <= ct + 86400 else ct
        for line in lines[1:]:
            if not line.startswith(b":"):
                continue
            meta, _, fname = line.partition(b"\t")
            status = meta.split()[4][:1]
            if fname == b"m" and status in (b"A", b"M"):
                messages += 1
                blobs.append(meta.split()[3])
                first = ts if not first else min(first, ts)
                last = max(last, ts)
            elif fname == b"d" and status in (b"A", b"M"):
                deletions += 1
    return messages, commits, deletions, first, last, missing_blobs(path, blobs)


def missing_blobs(path: Path, blobs: list[bytes]) -> int:
    """How many of `blobs` the repository lacks: fetched snapshots leave out files of 4 MiB
    and more, and patchlens reports each such message as an unreadable part."""
    proc = subprocess.run(
        ["git", "cat-file", "--batch-check"],
        cwd=path,
        input=b"".join(b + b"\n" for b in blobs),
        capture_output=True,
        check=True,
    )
    return sum(1 for line in proc.stdout.splitlines() if line.endswith(b" missing"))


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in (path / "objects").rglob("*") if f.is_file())


def lay_out(src: Path, dest: Path) -> None:
    """A bare shared clone of `src` at `dest` (made once; kept if it points at `src`)."""
    alternates = dest / "objects" / "info" / "alternates"
    if alternates.is_file():
        if alternates.read_text().strip() != str(src / "objects"):
            sys.exit(f"{dest}: already a clone of another repository; remove it first")
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", "--shared", "--no-tags", "--", str(src), str(dest)],
        check=True,
    )


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts)) if ts else ""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="working folder (outside the repo)")
    ap.add_argument("sources", nargs="+", help="fetched epochs: PATH, NAME=PATH or NAME.N=PATH")
    args = ap.parse_args(argv)
    out: Path = args.out.expanduser().resolve()
    lists: dict[str, ListEntry] = {}
    t0 = time.perf_counter()
    for arg in args.sources:
        name, n, src = parse_source(arg)
        head = check_epoch(src)
        entry = lists.setdefault(name, ListEntry(name, str(out / "lists" / name)))
        if any(e.n == n for e in entry.epochs):
            sys.exit(f"{arg}: epoch {n} of {name} given twice")
        dest = out / "lists" / name / "git" / f"{n}.git"
        lay_out(src, dest)
        # Counted at the clone's own tip: a bench may have moved it, and the manifest says
        # what patchlens will read; the fetched head is kept alongside.
        tip = git(dest, "rev-parse", "HEAD").decode().strip()
        if tip != head:
            print(f"note: {dest} is at {tip[:12]}, the fetched epoch at {head[:12]}")
        msgs, commits, dels, first, last, missing = count_epoch(dest, head)
        entry.epochs.append(
            Epoch(n, str(src), str(dest), head, msgs, commits, dels, missing,
                  iso(first), iso(last), first, last, disk_bytes(src))
        )  # fmt: skip
        print(f"{name:>20} epoch {n}: {msgs:>8,} messages  {iso(first)} .. {iso(last)}"
              f"  ({missing} blobs missing)")  # fmt: skip
    for entry in lists.values():
        entry.epochs.sort(key=lambda e: e.n)
        entry.messages = sum(e.messages for e in entry.epochs)
        entry.missing = sum(e.missing for e in entry.epochs)
        entry.first = min(e.first for e in entry.epochs if e.first)
        entry.last = max(e.last for e in entry.epochs)
    ordered = sorted(lists.values(), key=lambda e: -e.messages)
    total = sum(e.messages for e in ordered)
    manifest = {
        "made": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "out": str(out),
        "total_messages": total,
        "total_missing": sum(e.missing for e in ordered),
        "lists": [asdict(e) for e in ordered],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{'total':>20}: {total:,} messages in {len(ordered)} lists "
          f"({time.perf_counter() - t0:.0f} s) -> {out / 'manifest.json'}")  # fmt: skip


if __name__ == "__main__":
    main()
