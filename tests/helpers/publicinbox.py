"""Building small public-inbox archives (v1 and v2) with git plumbing, for tests."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from tests.helpers.gitrepos import ENV, git


def init(repo: Path) -> Path:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "--quiet", "--bare", "-b", "master")
    return repo


def add_message(repo: Path, raw: bytes, *, v1: bool = False, delete: bool = False) -> str:
    """Commit one message the way public-inbox does; returns the commit sha."""
    blob = git(repo, "hash-object", "-w", "--stdin", input=raw)
    if v1:
        h = hashlib.sha1(raw).hexdigest()
        sub = git(repo, "mktree", input=f"100644 blob {blob}\t{h[2:]}\n".encode())
        tree_in = f"040000 tree {sub}\t{h[:2]}\n"
    else:
        tree_in = f"100644 blob {blob}\t{'d' if delete else 'm'}\n"
    tree = git(repo, "mktree", input=tree_in.encode())
    parent = (
        subprocess.run(
            ["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=repo, capture_output=True, env=ENV
        )
        .stdout.decode()
        .strip()
    )
    args = ["commit-tree", tree, "-m", "msg"] + (["-p", parent] if parent else [])
    commit = git(repo, *args)
    git(repo, "update-ref", "refs/heads/master", commit)
    return commit


def message(n: int, body: str = "hello") -> bytes:
    return (
        f"From: P{n} <p{n}@example.com>\nSubject: [PATCH] test {n}\n"
        f"Message-ID: <m{n}@example.com>\nDate: Tue, 14 Nov 2023 22:13:20 +0000\n\n{body} {n}\n"
    ).encode()
