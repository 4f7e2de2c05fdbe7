"""Benchmark: review reconstruction on the EROFS archive, from scratch and for one new day.

The archive is cloned, its branch set back to the last commit before the final day of mail,
ingested and put through the stages as `patchlens update` does (stages/pipeline.run_stages);
then the branch is moved forward and `update` runs again, which reads only that day and
rewrites only what it changes. Each step's time is that of its progress task in the pipeline.
"Reconstruction" is analysis + the review step (no repository: matching has no commits).
Times are wall-clock, best of N.

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from patchlens.config import Config
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter, Task
from patchlens.stages.review import build_structure, load_mails
from patchlens.store.db import open_store

DATA = Path(
    os.environ.get("PATCHLENS_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
ANALYSIS, REVIEW = "analysing messages", "reconstructing review (messages)"


class StepTimes(Reporter):
    """A silent reporter that times each step's progress task (one per step), by name."""

    def __init__(self) -> None:
        super().__init__(quiet=True)
        self.seconds: dict[str, float] = {}

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Task]:
        t0 = time.perf_counter()
        with super().task(description, total) as task:
            yield task
        self.seconds[description] = time.perf_counter() - t0


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
        stages: list[float] = []
        analysis: list[float] = []
        structure: list[float] = []
        incremental: list[float] = []
        new_day: list[float] = []
        for i in range(args.repeat):
            db = Path(tmp) / f"s{i}.db"
            cache = Path(tmp) / "cache"
            git(repo, "update-ref", "refs/heads/master", base)
            engine = open_store(str(db))
            ingest.add_list(engine, "erofs", [str(repo)])
            ingest.run_update(engine, cache, quiet, args.jobs)

            steps = StepTimes()
            t0 = time.perf_counter()
            rep = run_stages(engine, Config(), cache, steps, args.jobs)
            stages.append(time.perf_counter() - t0)
            scratch.append(steps.seconds[ANALYSIS] + steps.seconds[REVIEW])
            analysis.append(steps.seconds[ANALYSIS])
            # The structural pass alone: read and build, without writing.
            with engine.connect() as conn:
                t0 = time.perf_counter()
                mails, threads = load_mails(conn)
                build_structure(mails, threads)
                structure.append(time.perf_counter() - t0)

            git(repo, "update-ref", "refs/heads/master", head)
            steps = StepTimes()
            t0 = time.perf_counter()
            ingest.run_update(engine, cache, quiet, args.jobs)
            t_ingest = time.perf_counter() - t0
            inc = run_stages(engine, Config(), cache, steps, args.jobs)
            incremental.append(time.perf_counter() - t0)
            new_day.append(t_ingest + sum(steps.seconds.get(k, 0.0) for k in (ANALYSIS, REVIEW)))
            engine.dispose()
        rec = rep.review
        print(
            f"from scratch: {rep.analysed} messages, {rec.threads} threads, {rec.versions} "
            f"versions, {rec.series} series, {rec.replies} replies"
        )
        print(
            f"new day: {inc.analysed} messages analysed, {inc.review.changed_rows} rows changed"
            " in review"
        )
        for name, xs in (
            ("reconstruction from scratch", scratch),
            ("  analysis of every message", analysis),
            ("  structure (threads, versions, series, replies)", structure),
            ("one new day: ingest + reconstruction", new_day),
            ("every stage from scratch (analysis to metrics)", stages),
            ("one new day: ingest + every stage", incremental),
        ):
            print(f"{name:50s} best {min(xs):6.2f} s   median {statistics.median(xs):6.2f} s")


if __name__ == "__main__":
    main()
