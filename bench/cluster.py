#!/usr/bin/env python3
"""Benchmark: a cold `patchlens update` on a Dask LocalCluster of 1 and of 2 workers, and
locally, on the same archive in the same round (issue 11, target 5).

For each configuration a fresh store is built from the archive (a public-inbox epoch, an mbox,
anything `add-list` takes) with the CLI, `--scheduler` pointing at a LocalCluster started here
(worker processes, one thread each), so the parse and analysis batches travel to the workers
and back as they would to remote ones. Reports wall time, messages per second and messages per
second per worker, and the CPU seconds of the workers, from which docs/SCALE.md derives the
plan for lore-size archives. Configurations run interleaved over --rounds rounds, so the noise
of a shared machine hits each alike. The stores of one round are compared: every table must be
equal whatever ran the batches (exit 1 otherwise).

    .venv/bin/python bench/cluster.py --archive /work/corpus/lists/linux-pm/git/0.git \\
        [--rounds 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from userenv import user_environment  # bench/

ROOT = Path(__file__).resolve().parents[1]


def _count(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        con.close()


def _run(db: Path, archive: Path, scheduler: str | None) -> float:
    cli = [sys.executable, "-m", "patchlens", "-q", "--db", str(db)]
    subprocess.run([*cli, "add-list", "bench", str(archive)], check=True, capture_output=True)
    t0 = time.perf_counter()
    args = [*cli, "update"] + (["--scheduler", scheduler] if scheduler else [])
    out = subprocess.run(args, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode not in (0, 3):
        sys.exit(f"update failed ({out.returncode}): {out.stderr[-2000:]}")
    return wall


def _workers_cpu(client) -> float:
    def cpu() -> float:
        t = os.times()
        return t.user + t.system

    return sum(client.run(cpu).values())


def main() -> None:
    user_environment()
    import distributed

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archive", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="clusterbench-"))
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    from tests.helpers.storedump import logical_dump

    rows = []
    try:
        for rnd in range(args.rounds):
            dumps = {}
            for name, workers in (("local", 0), ("dask-1", 1), ("dask-2", 2)):
                db = work / f"{name}-{rnd}.db"
                for p in work.glob(f"{name}-{rnd}.db*"):
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
                cpu = 0.0
                if workers:
                    with (
                        distributed.LocalCluster(
                            n_workers=workers,
                            threads_per_worker=1,
                            processes=True,
                            dashboard_address=None,
                        ) as cl,
                        distributed.Client(cl) as client,
                    ):
                        before = _workers_cpu(client)
                        wall = _run(db, args.archive, cl.scheduler_address)
                        cpu = _workers_cpu(client) - before
                else:
                    wall = _run(db, args.archive, None)
                n = _count(db)
                load = os.getloadavg()[0]
                rows.append((rnd, name, workers, n, wall, cpu, load))
                print(
                    f"round {rnd} {name:7s} {n:>8,} msgs {wall:8.1f} s {n / wall:8.0f} msg/s"
                    + (
                        f" {n / wall / workers:8.0f} msg/s/worker, workers' CPU {cpu:7.1f} s"
                        if workers
                        else ""
                    )
                    + f"  load {load:.1f}",
                    flush=True,
                )
                dumps[name] = logical_dump(db)
            same = all(dumps[k] == dumps["local"] for k in dumps)
            print(f"round {rnd}: stores equal: {same}")
            if not same:
                sys.exit(1)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
