"""Benchmark: review reconstruction on the EROFS archive, from scratch and for one new day.

The archive is cloned, its branch set back to the last commit before the final day of mail,
ingested and reconstructed; then the branch is moved forward and `update` runs again, which
reads only that day and rewrites only what it changes. Times are wall-clock, best of N.

    python bench/reconstruct.py [--repeat 3] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete

from patchlens.stages import ingest
from patchlens.stages.progress import Reporter
from patchlens.stages.review import analyse_new, build_structure, load_mails, reconstruct
from patchlens.store import schema
from patchlens.store.db import open_store

DATA = Path(
    os.environ.get("PATCHLENS_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
DERIVED = (
    schema.replies,
    schema.version_members,
    schema.series_versions,
    schema.series,
    schema.message_threads,
    schema.message_notices,
    schema.message_trailers,
    schema.message_analysis,
)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    bundle = DATA / "erofs" / "linux-erofs-archive.0.bundle"
    if not bundle.is_file():
        sys.exit(f"missing benchmark data: {bundle}")
    quiet = Reporter(quiet=True)
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "archive.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(bundle), str(repo)], check=True)
        head = git(repo, "rev-parse", "HEAD")
        last = int(git(repo, "log", "-1", "--format=%ct", head))
        day = git(repo, "rev-list", f"--since={last - 86400}", head).split()
        base = git(repo, "rev-parse", f"{day[-1]}^")
        print(f"archive: {git(repo, 'rev-list', '--count', head)} messages; last day: {len(day)}")

        scratch: list[float] = []
        analysis: list[float] = []
        structure: list[float] = []
        incremental: list[float] = []
        for i in range(args.repeat):
            db = Path(tmp) / f"s{i}.db"
            git(repo, "update-ref", "refs/heads/master", base)
            engine = open_store(str(db))
            ingest.add_list(engine, "erofs", [str(repo)])
            ingest.run_update(engine, Path(tmp) / "cache", quiet, args.jobs)

            t0 = time.perf_counter()
            rep = reconstruct(engine, quiet, args.jobs)
            scratch.append(time.perf_counter() - t0)

            # The two halves of a from-scratch run, measured apart.
            with engine.begin() as conn:
                for table in DERIVED:
                    conn.execute(delete(table))
            t0 = time.perf_counter()
            analyse_new(engine, quiet, args.jobs)
            analysis.append(time.perf_counter() - t0)
            with engine.connect() as conn:
                t0 = time.perf_counter()
                mails, threads = load_mails(conn)
                build_structure(mails, threads)
                structure.append(time.perf_counter() - t0)
            reconstruct(engine, quiet, args.jobs)

            git(repo, "update-ref", "refs/heads/master", head)
            t0 = time.perf_counter()
            ingest.run_update(engine, Path(tmp) / "cache", quiet, args.jobs)
            inc = reconstruct(engine, quiet, args.jobs)
            incremental.append(time.perf_counter() - t0)
            engine.dispose()
        print(
            f"from scratch: {rep.analysed} messages, {rep.threads} threads, {rep.versions} "
            f"versions, {rep.series} series, {rep.replies} replies"
        )
        print(f"new day: {inc.analysed} messages analysed, {inc.changed_rows} rows changed")
        for name, xs in (
            ("reconstruction from scratch", scratch),
            ("  analysis of every message", analysis),
            ("  structure (threads, versions, series, replies)", structure),
            ("one new day: ingest + reconstruction", incremental),
        ):
            print(f"{name:50s} best {min(xs):6.2f} s   median {statistics.median(xs):6.2f} s")


if __name__ == "__main__":
    main()
