"""Percentiles of durations per month or quarter, and the filters they are cut by. Pure.

A time series keeps every period between its first and its last on the axis, the empty ones
too (a quarter without a series is a gap, not a quarter that never was), and says which
periods the data covers only in part (the one still running, or one cut by a date filter):
their figures rest on fewer series and on the fast ones (the slow ones have not ended yet).
"""

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
    return _ranked(sorted(values), q)


def _ranked(xs: list[float], q: float) -> float:
    """The nearest-rank percentile of sorted, non-empty `xs`."""
    return xs[max(1, math.ceil(q / 100 * len(xs))) - 1]


def summary(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """n, median, p75 and p90 of the values that are not None (sorted once for all three)."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return {"n": 0, "median": None, "p75": None, "p90": None}
    return {"n": len(xs), "median": _ranked(xs, 50), "p75": _ranked(xs, 75), "p90": _ranked(xs, 90)}


def period_of(ts: int, period: str) -> str:
    d = datetime.fromtimestamp(ts, UTC)
    if period == "month":
        return f"{d.year}-{d.month:02d}"
    if period == "quarter":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    if period == "year":
        return str(d.year)
    raise ValueError(f"unknown period {period!r} (month, quarter, year)")


def period_bounds(label: str, period: str) -> tuple[int, int]:
    """The UTC seconds at which the period `label` (as `period_of` writes it) starts and the
    next one starts."""
    if period == "month":
        y, m = int(label[:4]), int(label[5:7])
        start = datetime(y, m, 1, tzinfo=UTC)
        end = datetime(y + m // 12, m % 12 + 1, 1, tzinfo=UTC)
    elif period == "quarter":
        y, q = int(label[:4]), int(label[6:])
        start = datetime(y, 3 * q - 2, 1, tzinfo=UTC)
        end = datetime(y + q // 4, 3 * (q % 4) + 1, 1, tzinfo=UTC)
    elif period == "year":
        y = int(label)
        start, end = datetime(y, 1, 1, tzinfo=UTC), datetime(y + 1, 1, 1, tzinfo=UTC)
    else:
        raise ValueError(f"unknown period {period!r} (month, quarter, year)")
    return int(start.timestamp()), int(end.timestamp())


def timeline(labels: Iterable[str], period: str) -> list[str]:
    """Every period from the earliest of `labels` to the latest, none skipped."""
    present = sorted(set(labels))
    if not present:
        return []
    out = [present[0]]
    last_end = period_bounds(present[-1], period)[1]
    while True:
        nxt_start = period_bounds(out[-1], period)[1]
        if nxt_start >= last_end:
            return out
        out.append(period_of(nxt_start, period))


def is_partial(label: str, period: str, since: int | None, until: int | None) -> bool:
    """Whether the data covers the period only in part: it starts before `since` or ends
    after `until` (exclusive; the newest data of the store, or a date filter)."""
    start, end = period_bounds(label, period)
    return (since is not None and start < since) or (until is not None and end > until)


def mark_partial(
    rows: list[dict[str, Any]], period: str, since: int | None, until: int | None
) -> list[dict[str, Any]]:
    """Set `partial` on each row of a per-period list (see `is_partial`); returns the rows."""
    for r in rows:
        r["partial"] = is_partial(r["period"], period, since, until)
    return rows


def fill_periods(
    rows: list[dict[str, Any]], period: str, empty: dict[str, Any]
) -> list[dict[str, Any]]:
    """The per-period rows with a copy of `empty` for each period missing between the first
    and the last, oldest first."""
    have = {r["period"]: r for r in rows}
    return [have.get(p) or {"period": p, **empty} for p in timeline(have, period)]


def bucket_patches(n: int) -> str:
    """A series' size bucket; "0" is a version with no patch in the archive (a cover letter
    whose patches are missing), not a one-patch series."""
    return "0" if n <= 0 else "1" if n == 1 else "2-5" if n <= 5 else "6-15" if n <= 15 else "16+"


def bucket_lines(n: int) -> str:
    return "<10" if n < 10 else "10-99" if n < 100 else "100-999" if n < 1000 else "1000+"


def bucket_versions(n: int) -> str:
    return "1" if n <= 1 else "2" if n == 2 else "3-4" if n <= 4 else "5+"


BUCKET_ORDER = {
    "patches": ("0", "1", "2-5", "6-15", "16+"),
    "lines": ("<10", "10-99", "100-999", "1000+"),
    "versions": ("1", "2", "3-4", "5+"),
}
BUCKETS: dict[str, Callable[[dict[str, Any]], str]] = {
    "patches": lambda r: bucket_patches(r["patches"]),
    "lines": lambda r: bucket_lines(r["lines_added"] + r["lines_removed"]),
    "versions": lambda r: bucket_versions(r["versions"]),
}


def period_labels(rows: list[dict[str, Any]], period: str) -> list[str]:
    """The period of each row's first posting, in the rows' order: computed once for a page
    that summarises several durations over the same rows (`by_period(labels=...)`)."""
    return [period_of(r["first_date"], period) for r in rows]


def by_period(
    rows: list[dict[str, Any]],
    metric: str,
    period: str = "quarter",
    since: int | None = None,
    until: int | None = None,
    labels: list[str] | None = None,
) -> list[dict[str, Any]]:
    """One summary per period of the series' first posting, oldest first, with `series` (how
    many were posted then; `n` of them have the duration) and `partial` (see `is_partial`:
    `since`/`until` bound the data the rows could hold). Periods without a series between
    the first and the last are kept, with n = 0 and no percentiles. `labels`: the rows'
    `period_labels`, when the caller has them."""
    groups: dict[str, list[float | None]] = {}
    if labels is None:
        labels = period_labels(rows, period)
    for r, label in zip(rows, labels, strict=True):
        groups.setdefault(label, []).append(r.get(metric))
    return [
        {
            "period": p,
            "series": len(groups.get(p, ())),
            **summary(groups.get(p, ())),
            "partial": is_partial(p, period, since, until),
        }
        for p in timeline(groups, period)
    ]


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
