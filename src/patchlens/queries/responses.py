"""Time to first response by role over a set of series: how long maintainers, listed
reviewers, other people and bots took to respond first, and who responded first how often.

Read from the per-series values the metrics stage stores (metrics/roles.py decides them), so
any selection of series (a filter, a subsystem, a period) sums the same way.
"""

from __future__ import annotations

from typing import Any

from patchlens.metrics.distributions import is_partial, period_labels, summary, timeline
from patchlens.metrics.roles import RESPONSE_ROLES

# The stored column of each role's first response, in hours after the first posting.
ROLE_COLUMNS = {role: f"time_to_first_response_{role}" for role in RESPONSE_ROLES}


def by_role(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per role: how many series it responded to first (`first`) and its share of the series
    that got any response, and the distribution of its first response time over the series it
    responded to at all (`n` of them)."""
    responded = sum(1 for r in rows if r.get("first_response_role"))
    out = []
    for role, col in ROLE_COLUMNS.items():
        first = sum(1 for r in rows if r.get("first_response_role") == role)
        out.append(
            {
                "role": role,
                "first": first,
                "first_share": round(first / responded, 4) if responded else None,
                **{
                    (k if k == "n" else f"{k}_hours"): v
                    for k, v in summary(r.get(col) for r in rows).items()
                },
            }
        )
    return out


def by_role_per_period(
    rows: list[dict[str, Any]],
    period: str,
    since: int | None,
    until: int | None,
    labels: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Per period of first posting, oldest first (none skipped): the series posted, how many
    got a first response from each role, and each role's median first response in hours.
    `labels`: the rows' `distributions.period_labels`, when the caller has them."""
    groups: dict[str, list[dict[str, Any]]] = {}
    if labels is None:
        labels = period_labels(rows, period)
    for r, label in zip(rows, labels, strict=True):
        groups.setdefault(label, []).append(r)
    out = []
    for p in timeline(groups, period):
        g = groups.get(p, [])
        row: dict[str, Any] = {"period": p, "series": len(g)}
        for role, col in ROLE_COLUMNS.items():
            row[f"first_{role}"] = sum(1 for r in g if r.get("first_response_role") == role)
            row[f"median_{role}_hours"] = summary(r.get(col) for r in g)["median"]
        row["partial"] = is_partial(p, period, since, until)
        out.append(row)
    return out
