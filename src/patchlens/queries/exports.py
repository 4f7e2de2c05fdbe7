"""Rows for `patchlens export series|patches|people|metrics|links`: per version, patch, person,
series and link, with the units of every export (see patchlens.queries.formats). Each takes
the one filter: an export covers the series `select_series` keeps (every series when no
filter is given, as with a filter that keeps every one; `is:pull` selects pull requests)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, exists, select

from patchlens.metrics.backlog import BacklogRules
from patchlens.metrics.compute import patch_metrics
from patchlens.queries.evidence import load_series, people_of
from patchlens.queries.filters import Filters
from patchlens.queries.formats import column_names, with_units
from patchlens.queries.history import load_superseded_by_merged
from patchlens.queries.selection import export_keys, select_series, selected_keys
from patchlens.queries.series import EXPORT_COLUMNS, export_rows
from patchlens.store import schema

PATCH_COLUMNS = column_names(
    (
        "message_id",
        "series",
        "version_seq",
        "superseded",
        "superseded_by_merged",
        "version_key",
        "idx",
        "time_to_first_response",
        "time_to_first_review",
        "time_to_merge",
        "reviewed",
        "merged",
        "lines_added",
        "lines_removed",
        "files_changed",
        "commit",
        "match_method",
        "match_score",
    )
)
PEOPLE_COLUMNS = (
    "identity",
    "name",
    "address",
    "org",
    "review_replies",
    "reviews",
    "flag_only",
    "substantive",
    "lines_written",
    "series_reviewed",
    "series_authored",
    "patches_authored",
    "replies_received",
    "given_per_received",
)
_METRICS = [c.name for c in schema.series_metrics.c] + ["state"]
METRICS_COLUMNS = column_names(_METRICS)


def series_rows(conn: Connection, f: Filters, rules: BacklogRules) -> list[dict[str, Any]]:
    """Every version of the selected series, with its patches and replies."""
    return export_rows(conn, export_keys(conn, f, rules))


def patch_rows(conn: Connection, f: Filters, rules: BacklogRules) -> list[dict[str, Any]]:
    """Every patch posted in the selected series, with the commit it became. Without a
    filter, of every series the metrics count, as the patches page lists them (pull requests
    and the groupings the metrics leave out are not series; `is:pull` selects the pull
    requests' own)."""
    keys = export_keys(conn, f, rules)
    people = people_of(conn)
    msgid = dict(conn.execute(select(schema.messages.c.id, schema.messages.c.message_id)).all())
    commit = {
        mpk: (sha, method, score)
        for mpk, sha, method, score in conn.execute(
            select(
                schema.patch_commits.c.message_pk,
                schema.commits.c.sha,
                schema.patch_commits.c.method,
                schema.patch_commits.c.score,
            ).join(schema.commits, schema.commits.c.id == schema.patch_commits.c.commit_pk)
        )
    }
    merged_as = {
        k: f"v{m.version_str or m.version}" for k, m in load_superseded_by_merged(conn).items()
    }
    rows = []
    for se in load_series(conn, people):
        if se.key not in keys:
            continue
        superseded_after = {v.key: i < len(se.versions) - 1 for i, v in enumerate(se.versions)}
        for v in se.versions:
            for r in patch_metrics(v):
                sha, method, score = commit.get(r["message_pk"], (None, None, None))
                rows.append(
                    {
                        "message_id": msgid[r.pop("message_pk")],
                        "series": se.key,
                        "version_seq": v.seq,
                        "superseded": superseded_after[v.key],
                        # "v4" when a later version of the series went in: what became of it.
                        "superseded_by_merged": merged_as.get(v.key),
                        **r,
                        "commit": sha,
                        "match_method": method,
                        "match_score": score,
                    }
                )
    return [with_units(r) for r in rows]


def people_rows(conn: Connection, f: Filters, rules: BacklogRules) -> list[dict[str, Any]]:
    """Everyone who reviewed or contributed to the selected series, with the balance the
    dashboard's community page shows for them."""
    from patchlens.queries.community import review_balance  # numpy: not for every command

    balance = review_balance(conn, top=None, series=selected_keys(conn, f, rules))
    return [with_units(p) for p in balance["people"]]


def metrics_rows(conn: Connection, f: Filters, rules: BacklogRules) -> list[dict[str, Any]]:
    """The selected series with every metric and its state today."""
    return [with_units({k: r[k] for k in _METRICS}) for r in select_series(conn, f, rules)]


LINK_COLUMNS = ("message_id", "repo", "commit", "method", "score", "ambiguous", "evidence")


def links_rows(conn: Connection, f: Filters, rules: BacklogRules) -> list[dict[str, object]]:
    """Every link of a patch of the selected series, one a row, with what anyone needs to
    check it without patchlens."""
    keys = selected_keys(conn, f, rules)
    pc, m, c, r = schema.patch_commits, schema.messages, schema.commits, schema.repos
    vm, sv, sm = schema.version_members, schema.series_versions, schema.series_metrics
    posted_in: dict[int, set[str]] = {}
    if keys is not None:
        for pk, key in conn.execute(
            select(vm.c.message_pk, sv.c.series_key).join(sv, sv.c.key == vm.c.version_key)
        ):
            posted_in.setdefault(pk, set()).add(key)
    q = (
        select(
            pc.c.message_pk,
            m.c.message_id,
            r.c.name,
            c.c.sha,
            pc.c.method,
            pc.c.score,
            pc.c.ambiguous,
            pc.c.evidence,
        )
        .select_from(pc)
        .join(m, m.c.id == pc.c.message_pk)
        .join(c, and_(c.c.id == pc.c.commit_pk))
        .join(r, r.c.id == pc.c.repo_id)
        .order_by(r.c.name, c.c.committer_date, c.c.sha)
    )
    if keys is None:
        # The links of every series' patches (as `export_keys` reads it), by the database:
        # no map of every posting in memory.
        q = q.where(
            exists(
                select(vm.c.message_pk)
                .join(sv, sv.c.key == vm.c.version_key)
                .join(sm, sm.c.series_key == sv.c.series_key)
                .where(vm.c.message_pk == pc.c.message_pk)
            )
        )
    return [
        {
            "message_id": row.message_id,
            "repo": row.name,
            "commit": row.sha,
            "method": row.method,
            "score": row.score,
            "ambiguous": row.ambiguous,
            "evidence": row.evidence,
        }
        for row in conn.execute(q)
        if keys is None or posted_in.get(row.message_pk, set()) & keys
    ]


@dataclass(frozen=True)
class Export:
    """One `patchlens export NAME`: its rows over the selected series, its columns (the
    header of an empty file), the format it is written in by default, what it holds."""

    rows: Callable[[Connection, Filters, BacklogRules], list[dict[str, Any]]]
    columns: Sequence[str]
    default_format: str
    doc: str


EXPORTS = {
    "series": Export(
        series_rows,
        EXPORT_COLUMNS,
        "json",
        "Per series version: cover, patches in order, previous/next version, every reply.",
    ),
    "links": Export(
        links_rows,
        LINK_COLUMNS,
        "tsv",
        "Every posting-to-commit link: message_id, repo, commit, method, score.",
    ),
    "metrics": Export(
        metrics_rows,
        METRICS_COLUMNS,
        "csv",
        "One row per series: every metric of docs/METRICS.md, the state facts, anomalies.",
    ),
    "patches": Export(
        patch_rows,
        PATCH_COLUMNS,
        "csv",
        "One row per posted patch: its version, metrics, and the commit it became.",
    ),
    "people": Export(
        people_rows,
        PEOPLE_COLUMNS,
        "csv",
        "One row per person: review given against contributions received, organisation.",
    ),
}
