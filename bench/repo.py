#!/usr/bin/env python3
"""Repository-side benchmark (issue 11, target 2): a cold `patchlens update` of a store that
has one repository and no list, against `git log -p BRANCH | git patch-id --stable` on the
same repository, in pairs run one after the other (so that load drift on a shared machine hits
both), with the peak memory of each process tree.

The figure is the median of the pairs' wall-time ratios. `--ingest-only` times the ingest
stage alone (`ingest.run_update`), without the stages after it.

Usage: .venv/bin/python bench/repo.py [REPO] [--branch B] [--repeat N] [--ingest-only]
REPO defaults to erofs-utils cloned from ../shared/data/erofs/erofs-utils.bundle (branch dev);
for the 18k-commit case use a public repository cloned under /work/corpus/repos (never in
this repository), e.g. util-linux (23k commits on master).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ingest import GIT_ENV, Run, best, check, data_dir, machine, measure, med
from userenv import user_environment  # bench/

SELF = str(Path(__file__).resolve())


def child_update(db: str, ingest_only: str) -> None:
    """The CLI's update (or its ingest stage alone) in this process, timing import and run."""
    t0 = time.perf_counter()
    from patchlens.cli import app
    from patchlens.stages import heap, ingest
    from patchlens.stages.progress import Reporter
    from patchlens.store.db import cache_dir, database_url, open_store

    heap.keep_large_blocks_apart()  # as the command line's main() does first
    t1 = time.perf_counter()
    if ingest_only == "1":
        engine = open_store(db)
        reports = ingest.run_update(engine, cache_dir(database_url(db)), Reporter(quiet=True))
        if any(r.error for r in reports):
            sys.exit(f"ingest failed: {[r.error for r in reports]}")
    else:
        app(["--db", db, "-q", "update"], standalone_mode=False)
    t2 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "update_s": t2 - t1}))


def new_store(db: Path, repo: Path, branch: str) -> None:
    from patchlens.stages import ingest
    from patchlens.store.db import open_store

    for p in db.parent.glob(db.name + "*"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    engine = open_store(str(db))
    ingest.add_repo(engine, repo.name, str(repo), [branch])
    engine.dispose()


def count(db: Path, table: str) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def main(argv: list[str] | None = None) -> None:
    user_environment()
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("repo", nargs="?", type=Path, help="a git repository (bare or not)")
    ap.add_argument("--branch", default=None, help="branch (default: dev for erofs-utils)")
    ap.add_argument("--repeat", type=int, default=3, help="pairs (3)")
    ap.add_argument("--ingest-only", action="store_true", help="time the ingest stage alone")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child_update(*args.child)
        return
    for line in machine():
        print(line)
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="patchlens-bench-repo-") as tmp_s:
        tmp = Path(tmp_s)
        repo, branch = args.repo, args.branch
        if repo is None:
            repo, branch = tmp / "erofs-utils.git", branch or "dev"
            bundle = data_dir() / "erofs" / "erofs-utils.bundle"
            subprocess.run(
                ["git", "clone", "-q", "--bare", str(bundle), str(repo)], check=True, env=GIT_ENV
            )
        repo = repo.resolve()
        branch = branch or "master"
        commits = int(
            subprocess.run(
                ["git", "rev-list", "--count", branch],
                cwd=repo,
                env=GIT_ENV,
                capture_output=True,
                check=True,
            ).stdout
        )
        print(f"repository {repo} ({branch}): {commits:,} commits; {args.repeat} pairs\n")
        db = tmp / "store.db"
        baseline = f"git log -p {branch} | git patch-id --stable >/dev/null"
        pairs: list[tuple[Run, Run]] = []
        for i in range(max(1, args.repeat)):
            print(f"pair {i + 1} ...", flush=True)
            git_run = check(measure(["sh", "-c", baseline], cwd=repo, env=GIT_ENV), "git")
            new_store(db, repo, branch)
            cmd = [sys.executable, SELF, "--child", str(db), "1" if args.ingest_only else "0"]
            ours = check(measure(cmd), "patchlens")
            ours.info["stored"] = count(db, "commits")
            pairs.append((git_run, ours))
    what = "ingest stage" if args.ingest_only else "patchlens -q update"
    print(
        f"\n  {'':<36}{'median s':>9}{'best s':>9}{'commit/s':>9}{'tree MB':>9}{'PSS MB':>8}"
        f"{'main':>6}{'worker':>7}{'git':>6}"
    )
    for label, runs in (
        ("git log -p | git patch-id --stable", [g for g, _ in pairs]),
        (f"{what} (repository alone)", [o for _, o in pairs]),
    ):
        walls = [r.wall for r in runs]
        print(
            f"  {label:<36}{med(walls):9.2f}{best(walls):9.2f}{commits / med(walls):9,.0f}"
            f"{max(r.tree_mb for r in runs):9.0f}{max(r.pss_mb for r in runs):8.0f}"
            f"{max(r.main_mb for r in runs):6.0f}{max(r.worker_mb for r in runs):7.0f}"
            f"{max(r.git_mb for r in runs):6.0f}"
        )
    print(f"  load average at the end: {os.getloadavg()[0]:.1f}")
    ratios = [o.wall / g.wall for g, o in pairs]
    print(
        f"  commits stored {pairs[0][1].info['stored']:,}; patchlens import (median)"
        f" {med([o.info['import_s'] for _, o in pairs]):.2f} s"
    )
    print(
        f"  ratio patchlens/git, median of pairs {med(ratios):.2f}"
        f" (each: {', '.join(f'{x:.2f}' for x in ratios)}): {1 / med(ratios):.0%} of git's rate"
    )


if __name__ == "__main__":
    main()
