"""Benchmark: computing every metric of every series on the EROFS store (issue: under 2 s).

Times `run_metrics` (load the series from the store, compute durations, counts, state facts,
review events and people, and write what changed), and the pure computation alone, best of N.

    python bench/metrics.py [--db STORE] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from patchlens.config import Config
from patchlens.metrics.compute import series_metrics
from patchlens.queries.evidence import load_series
from patchlens.stages.context import build_context
from patchlens.stages.metrics import run_metrics
from patchlens.stages.pipeline import subsystems_for
from patchlens.stages.progress import Reporter

sys.path.insert(0, str(Path(__file__).parent))
from match import build_store

from patchlens.store.db import open_store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="an EROFS store already built (else one is built)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else build_store(Path(tmp))
        engine = open_store(str(db))
        with engine.connect() as conn:
            ctx = build_context(conn, Config(), Path(tmp) / "cache")
        stage, load, compute = [], [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            rep = run_metrics(
                engine, Reporter(quiet=True), ctx.orgs.org, subsystems_for(ctx), people=ctx.people
            )
            stage.append(time.perf_counter() - t0)
            with engine.connect() as conn:
                t0 = time.perf_counter()
                all_series = load_series(conn, ctx.people)
                load.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for se in all_series:
                series_metrics(se)
            compute.append(time.perf_counter() - t0)
        print(f"{rep.series} series")
        for name, xs in (
            ("metrics stage (load, compute, write)", stage),
            ("  load the series from the store", load),
            ("  compute every series' metrics", compute),
        ):
            print(f"{name:40s} best {min(xs):6.3f} s   median {statistics.median(xs):6.3f} s")


if __name__ == "__main__":
    main()
