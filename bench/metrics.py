"""Benchmark: the metrics step, all of it and for one day of new mail (issue 11).

Times `run_metrics` owed "full" (load every series, compute durations, counts, state facts,
review events and people, write what changed) and owed what one new day of mail owes it:
the series with a posting or reply dated in the store's newest day and that day's messages,
as the structure step would owe them (the data is not changed, so this times the step's own
cost for that work: loading, computing and comparing those rows, the new-contributor check
and the people recount). Best and median of N, with the load average.

    python bench/metrics.py [--db STORE] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, func, select

from patchlens.config import Config
from patchlens.stages import changes
from patchlens.stages.context import build_context
from patchlens.stages.metrics import run_metrics
from patchlens.stages.pipeline import maintainers_dates, newest_sections, subsystems_for
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import cache_dir, database_url, open_store

sys.path.insert(0, str(Path(__file__).parent))
from match import build_store

DAY = 86400


def one_day(engine: Engine) -> changes.Work:
    """What the structure step owes metrics for the newest day of mail."""
    m, vm, rp, sv = (
        schema.messages,
        schema.version_members,
        schema.replies,
        schema.series_versions,
    )
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(m.c.date_utc))).scalar() or 0
        pks = {pk for (pk,) in conn.execute(select(m.c.id).where(m.c.date_utc > newest - DAY))}
        series: set[str] = set()
        for link in (vm, rp):
            series |= {
                k
                for (k,) in conn.execute(
                    select(sv.c.series_key)
                    .join(link, link.c.version_key == sv.c.key)
                    .join(m, m.c.id == link.c.message_pk)
                    .where(m.c.date_utc > newest - DAY)
                )
            }
    return changes.Work(series=series, messages=pks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="a store already built (else an EROFS one is built)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else build_store(Path(tmp))
        engine = open_store(str(db))
        with engine.connect() as conn:
            ctx = build_context(conn, Config(), cache_dir(database_url(str(db))))

        def run(work: changes.Work):
            with engine.begin() as conn:
                changes.owe(conn, changes.METRICS, work)
            t0 = time.perf_counter()
            rep = run_metrics(
                engine,
                Reporter(quiet=True),
                ctx.orgs.org,
                subsystems_for(ctx),
                people=ctx.people,
                is_bot=ctx.is_bot,
                sections=newest_sections(ctx),
                maintainers_dates=maintainers_dates(ctx),
            )
            return time.perf_counter() - t0, rep

        day = one_day(engine)
        print(f"one day owes {len(day.series):,} series and {len(day.messages):,} messages")
        for name, work in (("full", changes.Work(full=True)), ("one new day", day)):
            times = []
            for _ in range(args.repeat):
                seconds, rep = run(work)
                times.append(seconds)
            print(
                f"{name:12s} {rep.series:6,} series   best {min(times):6.3f} s"
                f"   median {statistics.median(times):6.3f} s   load {os.getloadavg()[0]:.2f}"
            )


if __name__ == "__main__":
    main()
