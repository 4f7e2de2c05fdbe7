#!/usr/bin/env python3
"""Benchmark: an update with nothing new, on the EROFS store (target: under 1 s).

The store is the one the tests build (tests/conftest.py, `erofs_store`): the EROFS archive
(a bare clone of its bundle, as a lore mirror is), the 2024 mbox and erofs-utils (branch dev),
ingested and run through the stages once. Then each round times a second update that finds
nothing new, three ways, interleaved so that the noise of a shared machine hits them alike:

  in process   `ingest.run_update` then `run_stages`, what `patchlens update` does after
               starting (the figure tests/test_ingest_erofs.py used to assert under 1 s;
               the test keeps only that the second update adds and changes nothing)
  CLI          `python -m patchlens -q update` in a fresh process: the above plus the
               interpreter, the imports and opening the store
  baseline     `python -c "import patchlens.cli"`: what the CLI costs before it does anything

Best and median of --repeat rounds. Exits 1 when a no-op update is not a no-op (it stored
something or the stages did not skip).

    .venv/bin/python bench/noop_update.py [--repeat 5] [--db STORE]
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

from sqlalchemy import Engine, func, select
from userenv import user_environment  # bench/

from patchlens.config import Config
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import cache_dir, database_url, open_store

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("PATCHLENS_DATA") or ROOT.parent / "shared" / "data") / "erofs"
TARGET_S = 1.0
QUIET = Reporter(quiet=True)


def build_store(tmp: Path) -> Path:
    """The tests' EROFS store, in `tmp`."""
    archive, mbox, utils = (
        DATA / "linux-erofs-archive.0.bundle",
        DATA / "erofs-2024.mbox.gz",
        DATA / "erofs-utils.bundle",
    )
    for p in (archive, mbox, utils):
        if not p.is_file():
            sys.exit(f"benchmark data missing: {p} (../shared/data, or $PATCHLENS_DATA)")
    mirror = tmp / "erofs.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(archive), str(mirror)], check=True)
    db = tmp / "erofs.db"
    engine = open_store(str(db))
    ingest.add_list(engine, "linux-erofs", [str(mirror)])
    ingest.add_list(engine, "erofs-2024", [str(mbox)])
    ingest.add_repo(engine, "erofs-utils", str(utils), ["dev"])
    cache = cache_dir(database_url(str(db)))
    errors = [r.error for r in ingest.run_update(engine, cache, QUIET) if r.error]
    if errors:
        sys.exit(f"ingest failed: {errors}")
    run_stages(engine, Config(), cache, QUIET)
    engine.dispose()
    return db


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in schema.metadata.sorted_tables
        }


def in_process(engine: Engine, cache: Path) -> tuple[float, float]:
    """One no-op update in this process: (ingest seconds, stages seconds). Exits if it did
    anything: a figure for an update that was not a no-op would mean nothing."""
    t0 = time.perf_counter()
    reports = ingest.run_update(engine, cache, QUIET)
    t1 = time.perf_counter()
    rep = run_stages(engine, Config(), cache, QUIET)
    t2 = time.perf_counter()
    if sum(r.new for r in reports) or not rep.skipped or rep.analysed:
        sys.exit(f"not a no-op: {sum(r.new for r in reports)} new, stages {rep}")
    return t1 - t0, t2 - t1


def timed(cmd: list[str]) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("PATCHLENS_DB", "PATCHLENS_CONFIG")}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall


def line(label: str, xs: list[float]) -> str:
    return f"  {label:<36} best {min(xs):6.3f} s   median {statistics.median(xs):6.3f} s"


def main() -> None:
    user_environment()
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="rounds (5)")
    ap.add_argument("--db", help="an EROFS store already built and updated (else one is built)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="patchlens-noop-") as tmp:
        t0 = time.perf_counter()
        db = Path(args.db) if args.db else build_store(Path(tmp))
        if not args.db:
            print(f"setup: the EROFS store built in {time.perf_counter() - t0:.0f} s")
        engine = open_store(str(db))
        cache = cache_dir(database_url(str(db)))
        before = counts(engine)
        cli = [sys.executable, "-m", "patchlens", "--db", str(db), "-q", "update"]
        ingest_s, stages_s, total_s, cli_s, import_s = [], [], [], [], []
        for _ in range(max(1, args.repeat)):
            a, b = in_process(engine, cache)
            ingest_s.append(a)
            stages_s.append(b)
            total_s.append(a + b)
            cli_s.append(timed(cli))
            import_s.append(timed([sys.executable, "-c", "import patchlens.cli"]))
        if counts(engine) != before:
            sys.exit("a no-op update changed the number of rows of a table")
        engine.dispose()
    print(f"NO-OP UPDATE on EROFS ({before['messages']:,} messages, {before['commits']:,} commits,")
    print(f"  {before['series']:,} series; {len(total_s)} rounds)")
    print(line("in process: ingest + stages", total_s))
    print(line("  ingest (run_update)", ingest_s))
    print(line("  stages (run_stages, skipped)", stages_s))
    print(line("CLI `patchlens -q update`", cli_s))
    print(line("  baseline: import patchlens.cli", import_s))
    verdict = "met" if statistics.median(total_s) < TARGET_S else "missed"
    print(f"target: in process under {TARGET_S:.0f} s (median): {verdict}")


if __name__ == "__main__":
    main()
