"""Rows for `patchlens export patches|people`: per patch and per person."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from patchlens.metrics.community import review_balance
from patchlens.metrics.compute import patch_metrics
from patchlens.metrics.load import load_series, people_of
from patchlens.store import schema as s


def patch_rows(conn: Connection) -> list[dict[str, Any]]:
    people = people_of(conn)
    msgid = dict(conn.execute(select(s.messages.c.id, s.messages.c.message_id)).all())
    commit = {
        mpk: (sha, method, score)
        for mpk, sha, method, score in conn.execute(
            select(
                s.patch_commits.c.message_pk,
                s.commits.c.sha,
                s.patch_commits.c.method,
                s.patch_commits.c.score,
            ).join(s.commits, s.commits.c.id == s.patch_commits.c.commit_pk)
        )
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
                        **r,
                        "commit": sha,
                        "match_method": method,
                        "match_score": score,
                    }
                )
    return rows


def people_rows(conn: Connection) -> list[dict[str, Any]]:
    """Everyone who reviewed or contributed, with the balance the dashboard shows."""
    balance = review_balance(conn, top=None)
    return sorted(balance["reviewers"], key=lambda p: (-p["review_replies"], p["identity"]))
