#!/usr/bin/env python3
"""Benchmark: one new day of mail on an existing store (issue 11, target 1: under 3 s).

A public-inbox archive (and optionally a git repository) is cloned, both are set back to the
state of --days days before the archive's newest message, a store is built from that with one
`patchlens update`, then the sources are moved forward to their heads and the update that reads
the new day(s) is timed, through the command line as a user runs it (a fresh process: the
interpreter, the imports and opening the store included). In the same round, as the baseline,
`patchlens update --force` on the same store recomputes everything after ingest: the ratio
new-day / force says how much of the history a new day still costs. A no-op update follows.

Each timed command's summary (the steps it ran, with their times) is printed after the figures.

    .venv/bin/python bench/new_day.py --archive ../shared/data/erofs/linux-erofs-archive.0.bundle \\
        --repo ../shared/data/erofs/erofs-utils.bundle --branch dev [--days 1] [--keep DIR]

The archive may be a bundle or a public-inbox epoch (a bare git repository), e.g. one of the
corpus lists (/work/corpus/lists/NAME/git/0.git).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from userenv import user_environment  # bench/

DAY = 86400
ROOT = Path(__file__).resolve().parents[1]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def _cli(db: Path, *args: str) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "patchlens", "--db", str(db), *args]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    wall = time.perf_counter() - t0
    if out.returncode not in (0, 3):  # 3: some source was damaged, reported
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return wall, out.stdout + out.stderr


def main() -> None:
    user_environment()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archive", type=Path, required=True)
    ap.add_argument("--repo", type=Path)
    ap.add_argument("--branch", default="master")
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="newday-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        archive = work / "archive.git"
        if not archive.exists():
            subprocess.run(
                ["git", "clone", "-q", "--mirror", str(args.archive), str(archive)], check=True
            )
        ref = _git(archive, "symbolic-ref", "HEAD").removeprefix("refs/heads/")
        head = _git(archive, "rev-parse", ref)
        end = int(_git(archive, "log", "-1", "--format=%ct", head))
        cut = end - args.days * DAY
        back = _git(archive, "rev-list", "-1", f"--before={cut}", head)
        new_msgs = int(_git(archive, "rev-list", "--count", f"{back}..{head}"))
        _git(archive, "update-ref", f"refs/heads/{ref}", back)
        repo = None
        if args.repo:
            repo = work / "repo.git"
            if not repo.exists():
                subprocess.run(
                    ["git", "clone", "-q", "--mirror", str(args.repo), str(repo)], check=True
                )
            rhead = _git(repo, "rev-parse", args.branch)
            rback = _git(repo, "rev-list", "-1", "--first-parent", f"--before={cut}", rhead)
            if rback:
                _git(repo, "update-ref", f"refs/heads/{args.branch}", rback)
        db = work / "store.db"
        if db.exists():
            db.unlink()
        shutil.rmtree(work / "store.db.cache", ignore_errors=True)
        _cli(db, "add-list", "bench", str(archive))
        if repo is not None:
            _cli(db, "add-repo", "bench-repo", str(repo), "--branch", args.branch)
        cold, _ = _cli(db, "update")
        # To time or profile the new day again: copy both back (the cache holds what an
        # update keeps between runs, such as the map of people).
        shutil.copy(db, work / "cold.db")
        shutil.rmtree(work / "cold.db.cache", ignore_errors=True)
        if (work / "store.db.cache").is_dir():
            shutil.copytree(work / "store.db.cache", work / "cold.db.cache")
        _git(archive, "update-ref", f"refs/heads/{ref}", head)
        if repo is not None:
            _git(repo, "update-ref", f"refs/heads/{args.branch}", rhead)
        new_day, log_new = _cli(db, "update")
        noop, _ = _cli(db, "update")
        force, log_force = _cli(db, "update", "--force")
        load = os.getloadavg()[0]
        print(f"archive {args.archive} ({new_msgs} archive commits in the last {args.days} day(s))")
        print(f"cold update        {cold:7.1f} s")
        print(f"new day            {new_day:7.2f} s")
        print(f"no-op              {noop:7.2f} s")
        print(f"--force (baseline) {force:7.2f} s   ratio new day / force = {new_day / force:.2f}")
        print(f"load average (1 min) at the end: {load:.1f}")
        print("--- new day ---\n" + log_new[-3000:])
        print("--- force ---\n" + log_force[-3000:])
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
