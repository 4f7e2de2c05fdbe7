"""Percentiles of durations per month or quarter, and the filters they are cut by. Pure."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

DURATIONS = (
    "time_to_first_response",
    "time_to_first_review",
    "time_to_first_comment",
    "time_to_merge",
    "time_to_commit",
    "rework_time",
    "cycle_time",
)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100): always a value that occurred."""
    if not values:
        return None
    xs = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(xs)))
    return xs[rank - 1]


def summary(values: Iterable[float | None]) -> dict[str, float | int | None]:
    xs = [v for v in values if v is not None]
    return {
        "n": len(xs),
        "median": percentile(xs, 50),
        "p75": percentile(xs, 75),
        "p90": percentile(xs, 90),
    }


def period_of(ts: int, period: str) -> str:
    d = datetime.fromtimestamp(ts, UTC)
    if period == "month":
        return f"{d.year}-{d.month:02d}"
    if period == "quarter":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    if period == "year":
        return str(d.year)
    raise ValueError(f"unknown period {period!r} (month, quarter, year)")


def bucket_patches(n: int) -> str:
    return "1" if n <= 1 else "2-5" if n <= 5 else "6-15" if n <= 15 else "16+"


def bucket_lines(n: int) -> str:
    return "<10" if n < 10 else "10-99" if n < 100 else "100-999" if n < 1000 else "1000+"


def bucket_versions(n: int) -> str:
    return "1" if n <= 1 else "2" if n == 2 else "3-4" if n <= 4 else "5+"


BUCKET_ORDER = {
    "patches": ("1", "2-5", "6-15", "16+"),
    "lines": ("<10", "10-99", "100-999", "1000+"),
    "versions": ("1", "2", "3-4", "5+"),
}
BUCKETS: dict[str, Callable[[dict[str, Any]], str]] = {
    "patches": lambda r: bucket_patches(r["patches"]),
    "lines": lambda r: bucket_lines(r["lines_added"] + r["lines_removed"]),
    "versions": lambda r: bucket_versions(r["versions"]),
}


def by_period(
    rows: list[dict[str, Any]], metric: str, period: str = "quarter"
) -> list[dict[str, Any]]:
    """One summary per period of the series' first posting, oldest first."""
    groups: dict[str, list[float | None]] = {}
    for r in rows:
        groups.setdefault(period_of(r["first_date"], period), []).append(r.get(metric))
    return [{"period": p, **summary(v)} for p, v in sorted(groups.items())]


def by_key(
    rows: list[dict[str, Any]],
    metric: str,
    key: Callable[[dict[str, Any]], str],
    order: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """One summary per group, in `order` (then alphabetically for groups not in it)."""
    groups: dict[str, list[float | None]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r.get(metric))
    rank = {g: i for i, g in enumerate(order)}
    keys = sorted(groups, key=lambda g: (rank.get(g, len(rank)), g))
    return [{"group": g, **summary(groups[g])} for g in keys]
