"""Rows for `patchlens export patches|people|metrics`: per patch, per person, per series, with
the units of every export (see patchlens.queries.formats)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, select

from patchlens.metrics.compute import patch_metrics
from patchlens.queries.community import review_balance
from patchlens.queries.evidence import load_series, people_of
from patchlens.queries.formats import column_names, with_units
from patchlens.queries.history import load_superseded_by_merged
from patchlens.queries.report import ReportFilter, metric_rows
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
METRICS_COLUMNS = column_names([c.name for c in schema.series_metrics.c] + ["state"])


def patch_rows(conn: Connection) -> list[dict[str, Any]]:
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


def people_rows(conn: Connection) -> list[dict[str, Any]]:
    """Everyone who reviewed or contributed, with the balance the dashboard shows."""
    balance = review_balance(conn, top=None)
    return [with_units(p) for p in balance["people"]]


def metrics_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every series with every metric and its state today."""
    return [with_units(r) for r in metric_rows(conn, ReportFilter())]


LINK_COLUMNS = ("message_id", "repo", "commit", "method", "score", "ambiguous", "evidence")


def links_export(conn: Connection) -> list[dict[str, object]]:
    """Every link, one a row, with what anyone needs to check it without patchlens."""
    pc, m, c, r = schema.patch_commits, schema.messages, schema.commits, schema.repos
    q = (
        select(
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
    ]
