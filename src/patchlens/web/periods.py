"""Per-period tables without their long empty stretches: a store with one message dated 2001
and one dated 2077 among years of mail gave every period between, 914 empty months in each of
the performance page's five tables (1 MB of HTML, 0.45 s a request on a million-message
store). A run of at least GAP periods without a series is one row saying so, and a run of
CHART_GAP one slot of a time chart; the figures are those of the rows it stands for (none),
and the CSV and the API keep every period."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

# Shorter runs of empty periods stay as rows: a quiet month or two is part of the picture.
GAP = 3
# A time chart keeps its axis even (each period in its place, a lull seen as a gap in the
# lines) and breaks it only for a stretch this long, which is a hole in the data rather than
# a lull: a year of months, three years of quarters.
CHART_GAP = 12


@dataclass(frozen=True)
class Gap:
    """`count` consecutive periods, from `first` to `last` (oldest to newest), without a
    series."""

    first: str
    last: str
    count: int
    gap: bool = True


def with_gaps(rows: Iterable[dict[str, Any]], *fields: str, min_run: int = GAP) -> Iterator[Any]:
    """`rows` (in either order) with each run of at least `min_run` rows whose `fields`
    (default: series) are all 0 as one Gap."""
    fields = fields or ("series",)
    run: list[dict[str, Any]] = []

    def flush() -> Iterator[Any]:
        if len(run) >= min_run:
            labels = [r["period"] for r in run]
            yield Gap(min(labels), max(labels), len(run))
        else:
            yield from run
        run.clear()

    for r in rows:
        if not any(r.get(f) for f in fields):
            run.append(r)
            continue
        yield from flush()
        yield r
    yield from flush()


def chart_rows(rows: list[dict[str, Any]], *fields: str) -> list[dict[str, Any]]:
    """`rows` (oldest first) for a time chart: each run of CHART_GAP empty periods one slot
    labelled with its first and last period, without values (nothing drawn) and with the
    fields counted 0."""
    out: list[dict[str, Any]] = []
    for r in with_gaps(rows, *fields, min_run=CHART_GAP):
        if isinstance(r, Gap):
            out.append({"period": f"{r.first}…{r.last}", **{f: 0 for f in fields or ("series",)}})
        else:
            out.append(r)
    return out
