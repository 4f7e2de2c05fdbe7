"""The metrics stage of `update`: one row of metrics per series, rewritten where it changed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from patchlens.metrics.backlog import facts
from patchlens.metrics.compute import series_metrics
from patchlens.metrics.load import load_series
from patchlens.metrics.model import SeriesEv
from patchlens.review.people import Identities
from patchlens.store import schema as s
from patchlens.store.writer import sync_table

OrgOf = Callable[[str, int], str]
SubsystemsOf = Callable[[SeriesEv], tuple[tuple[str, ...], frozenset[str]] | None]


@dataclass
class MetricsReport:
    series: int = 0
    changed_rows: int = 0
    seconds: float = 0.0


def repo_paths(conn: Connection) -> set[str]:
    """Every path a registered repository's history touched."""
    cf = s.commit_files
    paths = {p for (p,) in conn.execute(select(cf.c.path).distinct())}
    paths |= {p for (p,) in conn.execute(select(cf.c.old_path).distinct()) if p}
    return paths


def metric_rows(
    all_series: list[SeriesEv],
    now: int,
    paths: set[str],
    org_of: OrgOf,
    subsystems_of: SubsystemsOf,
) -> list[dict[str, Any]]:
    """Pure: the series_metrics rows."""
    rows = []
    for se in all_series:
        files = {f for v in se.versions for p in v.patches.values() for f in p.files}
        in_repo = not paths or not files or bool(files & paths)
        f = facts(se, max(now, se.first_date), in_repo)
        assert f is not None
        m = series_metrics(se)
        subs = subsystems_of(se)
        unanswered = None
        if subs is not None and subs[0]:
            who = {r.who for v in se.versions for r in v.replies if r.reviewer}
            unanswered = not (who & subs[1])
        rows.append(
            {
                "series_key": se.key,
                "title": se.title,
                "author": se.author,
                "author_addr": se.author_addr,
                "org": org_of(se.author_addr, se.first_date),
                "new_contributor": se.new_contributor,
                "in_repo": in_repo,
                "subsystems": json.dumps(list(subs[0]) if subs else []),
                "unanswered_by_subsystem": unanswered,
                **{k: v for k, v in m.items() if k not in ("series_key", "anomalies")},
                "anomalies": json.dumps(m["anomalies"]),
                "merged": f.merged,
                "nearly_complete": f.nearly_complete,
                "has_reviewer_reply": f.has_reviewer_reply,
                "reviewer_spoke_last": f.reviewer_spoke_last,
            }
        )
    return rows


def run_metrics(
    engine: Engine,
    org_of: OrgOf,
    subsystems_of: SubsystemsOf,
    now: int | None = None,
    people: Identities | None = None,
) -> MetricsReport:
    t0 = time.perf_counter()
    rep = MetricsReport()
    with engine.begin() as conn:
        all_series = load_series(conn, people)
        rows = metric_rows(
            all_series, now or int(time.time()), repo_paths(conn), org_of, subsystems_of
        )
        rep.changed_rows = sync_table(conn, s.series_metrics, ("series_key",), rows)
    rep.series = len(rows)
    rep.seconds = time.perf_counter() - t0
    return rep
