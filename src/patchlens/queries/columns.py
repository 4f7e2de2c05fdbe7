"""The series rows kept per data version, as numpy columns, for the pages that summarise many
series at once (the performance page and its API, the duration charts).

On a million-message store (86,000 series) such a page made some twenty passes over the
rows' dicts per request, 0.9 s; over columns each pass is a few vector operations. The
figures are those of `metrics.distributions` and `queries.responses` (`summary`, `by_period`,
`by_key`, `by_role`, `by_role_per_period`), value for value, the values themselves taken from
the rows (an int stays an int): tests/test_columns.py compares both on real stores.

A selection made from the kept rows (`selection.select_series(kept=True)`) maps to positions
in them; one that is not (pull requests of a search) has none, and the caller uses the plain
functions.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection

from patchlens.metrics.backlog import BacklogRules
from patchlens.metrics.distributions import is_partial, period_of, timeline
from patchlens.metrics.roles import RESPONSE_ROLES
from patchlens.queries.responses import ROLE_COLUMNS
from patchlens.queries.selection import all_series, per_version

Row = dict[str, Any]


class Picked(Sequence[Row]):
    """The kept rows at some positions, made into rows only as they are read (a list of
    thousands of which a page shows 25)."""

    def __init__(self, rows: list[Row], positions: np.ndarray) -> None:
        self.rows, self.positions = rows, positions

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self.rows[int(p)] for p in self.positions[i]]
        return self.rows[int(self.positions[i])]


class Columns:
    """Columns over `rows` (every series kept for a data version), built as pages ask for
    them: a float column per numeric field (NaN for None) and label codes per grouping."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows  # held: their ids name positions only while they are alive
        self.pos = {id(r): i for i, r in enumerate(rows)}
        self._floats: dict[str, np.ndarray] = {}
        self._codes: dict[Any, tuple[np.ndarray, list[str]]] = {}
        self._orders: dict[Any, np.ndarray] = {}
        self._members: dict[Any, tuple[np.ndarray, np.ndarray, list[str]]] = {}
        self._lock = threading.Lock()

    def positions(self, rows: Sequence[Row]) -> np.ndarray | None:
        """The positions of `rows` among the kept ones, in their order; None when one of
        them is not a kept row."""
        pos = self.pos
        try:
            return np.fromiter((pos[id(r)] for r in rows), dtype=np.int64, count=len(rows))
        except KeyError:
            return None

    def floats(self, field: str) -> np.ndarray:
        """`field` of every row as floats, NaN where it is None."""
        col = self._floats.get(field)
        if col is None:
            with self._lock:
                col = np.array(
                    [math.nan if (v := r.get(field)) is None else v for r in self.rows],
                    dtype=np.float64,
                )
                self._floats[field] = col
        return col

    def codes(self, name: Any, label: Callable[[Row], str]) -> tuple[np.ndarray, list[str]]:
        """Each row's label under `label` as a code into the sorted list of labels (so codes
        sort as their labels do), built once per `name`."""
        got = self._codes.get(name)
        if got is None:
            with self._lock:
                labels = [label(r) for r in self.rows]
                names = sorted(set(labels))
                index = {n: i for i, n in enumerate(names)}
                got = (np.fromiter((index[x] for x in labels), np.int64, len(labels)), names)
                self._codes[name] = got
        return got

    def mask(self, idx: np.ndarray) -> np.ndarray:
        """A boolean per kept row: whether it is at `idx`."""
        out = np.zeros(len(self.rows), dtype=bool)
        out[idx] = True
        return out

    def order(self, name: Any, key: Callable[[Row], Any]) -> np.ndarray:
        """Every position, sorted by `key` of its row (a stable sort), built once per `name`:
        a selection in that order is `order[mask[order]]`."""
        got = self._orders.get(name)
        if got is None:
            with self._lock:
                got = np.array(
                    sorted(range(len(self.rows)), key=lambda i: key(self.rows[i])), dtype=np.int64
                )
                self._orders[name] = got
        return got

    def memberships(
        self, name: Any, members: Callable[[Row], list[str]]
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Each (row, member) pair of a many-valued field: the rows' positions, the members'
        codes into the sorted member names, and the names; built once per `name`."""
        got = self._members.get(name)
        if got is None:
            with self._lock:
                pairs = [(i, m) for i, r in enumerate(self.rows) for m in members(r)]
                names = sorted({m for _, m in pairs})
                index = {n: i for i, n in enumerate(names)}
                got = (
                    np.fromiter((i for i, _ in pairs), np.int64, len(pairs)),
                    np.fromiter((index[m] for _, m in pairs), np.int64, len(pairs)),
                    names,
                )
                self._members[name] = got
        return got


def columns(conn: Connection, rules: BacklogRules) -> Columns:
    """The columns of this data version's kept rows."""
    return per_version(conn, ("columns", rules), lambda: Columns(all_series(conn, rules)))


def counts(cols: Columns, idx: np.ndarray, field: str) -> Counter[str]:
    """How many of the rows at `idx` have each value of `field` (a Counter of the values)."""
    codes, names = cols.codes(field, lambda r: r[field])
    n = np.bincount(codes[idx], minlength=len(names)) if len(idx) else np.zeros(len(names), int)
    return Counter({names[i]: int(n[i]) for i in np.flatnonzero(n)})


def summarise(cols: Columns, idx: np.ndarray, field: str) -> dict[str, Any]:
    """`distributions.summary` of `field` over the rows at `idx`."""
    values = cols.floats(field)[idx]
    keep = ~np.isnan(values)
    at = idx[keep]
    n = len(at)
    if not n:
        return {"n": 0, "median": None, "p75": None, "p90": None}
    order = at[np.argsort(values[keep], kind="stable")]

    def ranked(q: float) -> Any:
        return cols.rows[int(order[max(1, math.ceil(q / 100 * n)) - 1])][field]

    return {"n": n, "median": ranked(50), "p75": ranked(75), "p90": ranked(90)}


def _groups(codes: np.ndarray, idx: np.ndarray) -> dict[int, np.ndarray]:
    """The positions at `idx` grouped by their code (each group in `idx`'s order)."""
    if not len(idx):
        return {}
    c = codes[idx]
    order = np.argsort(c, kind="stable")
    sorted_c = c[order]
    cuts = np.flatnonzero(np.diff(sorted_c)) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [len(sorted_c)]))
    return {int(sorted_c[s]): idx[order[s:e]] for s, e in zip(starts, ends, strict=True)}


def period_groups(
    cols: Columns, idx: np.ndarray, period: str
) -> tuple[dict[str, np.ndarray], list[str]]:
    """The positions at `idx` by period of first posting, and the periods from the first to
    the last, none skipped (`distributions.timeline`)."""
    codes, names = cols.codes(("period", period), lambda r: period_of(r["first_date"], period))
    groups = {names[c]: g for c, g in _groups(codes, idx).items()}
    return groups, timeline(groups, period)


def per_period(
    cols: Columns,
    idx: np.ndarray,
    field: str,
    period: str,
    since: int | None,
    until: int | None,
    grouped: tuple[dict[str, np.ndarray], list[str]] | None = None,
) -> list[dict[str, Any]]:
    """`distributions.by_period` of `field` over the rows at `idx` (`grouped`: their
    `period_groups`, when the caller has them)."""
    groups, periods = grouped or period_groups(cols, idx, period)
    empty = idx[:0]
    return [
        {
            "period": p,
            "series": len(groups.get(p, empty)),
            **summarise(cols, groups.get(p, empty), field),
            "partial": is_partial(p, period, since, until),
        }
        for p in periods
    ]


def per_key(
    cols: Columns,
    idx: np.ndarray,
    field: str,
    name: str,
    key: Callable[[Row], str],
    order: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """`distributions.by_key` of `field` over the rows at `idx`, grouped by `key` (named
    `name`, the name its codes are kept under)."""
    codes, names = cols.codes(("key", name), key)
    groups = {names[c]: g for c, g in _groups(codes, idx).items()}
    rank = {g: i for i, g in enumerate(order)}
    keys = sorted(groups, key=lambda g: (rank.get(g, len(rank)), g))
    return [{"group": g, **summarise(cols, groups[g], field)} for g in keys]


def _first_roles(cols: Columns, idx: np.ndarray) -> tuple[np.ndarray, list[str]]:
    codes, names = cols.codes("first_response_role", lambda r: r.get("first_response_role") or "")
    return codes[idx], names


def roles(cols: Columns, idx: np.ndarray) -> list[dict[str, Any]]:
    """`responses.by_role` over the rows at `idx`."""
    c, names = _first_roles(cols, idx)
    counts = np.bincount(c, minlength=len(names)) if len(c) else np.zeros(len(names), np.int64)
    count = {n: int(counts[i]) for i, n in enumerate(names)}
    responded = len(c) - count.get("", 0)
    out = []
    for role, col in ROLE_COLUMNS.items():
        first = count.get(role, 0)
        out.append(
            {
                "role": role,
                "first": first,
                "first_share": round(first / responded, 4) if responded else None,
                **{
                    (k if k == "n" else f"{k}_hours"): v
                    for k, v in summarise(cols, idx, col).items()
                },
            }
        )
    return out


def roles_per_period(
    cols: Columns,
    idx: np.ndarray,
    period: str,
    since: int | None,
    until: int | None,
    grouped: tuple[dict[str, np.ndarray], list[str]] | None = None,
) -> list[dict[str, Any]]:
    """`responses.by_role_per_period` over the rows at `idx`."""
    groups, periods = grouped or period_groups(cols, idx, period)
    empty = idx[:0]
    out = []
    for p in periods:
        g = groups.get(p, empty)
        c, names = _first_roles(cols, g)
        counts = np.bincount(c, minlength=len(names)) if len(c) else None
        row: dict[str, Any] = {"period": p, "series": len(g)}
        for role in RESPONSE_ROLES:
            i = names.index(role) if role in names else -1
            row[f"first_{role}"] = int(counts[i]) if counts is not None and i >= 0 else 0
            row[f"median_{role}_hours"] = summarise(cols, g, ROLE_COLUMNS[role])["median"]
        row["partial"] = is_partial(p, period, since, until)
        out.append(row)
    return out
