"""Rows for `patchlens export patches|people`: per patch and per person."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from patchlens.metrics.community import balances, display_names
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
    people = people_of(conn)
    names = display_names(
        [
            (people(n, a), n, a)
            for n, a in conn.execute(select(s.messages.c.from_name, s.messages.c.from_addr))
        ]
    )
    orgs = {
        a: o for a, o in conn.execute(select(s.series_metrics.c.author, s.series_metrics.c.org))
    }
    out = []
    for b in balances(load_series(conn, people)):
        row = b.row()
        key = row.pop("key")
        out.append({"person": names.get(key, key), "identity": key, "org": orgs.get(key), **row})
    return out
