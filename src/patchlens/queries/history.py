"""The history of merged series as the store holds it: `match.history` over the stored
versions and links."""

from __future__ import annotations

from sqlalchemy import Connection, select

from patchlens.match.history import MergedAs, VersionRef, superseded_by_merged
from patchlens.store import schema


def load_superseded_by_merged(conn: Connection, as_of: int | None = None) -> dict[str, MergedAs]:
    """`superseded_by_merged` over the store's versions and links."""
    sv, vm, pc, c = (
        schema.series_versions,
        schema.version_members,
        schema.patch_commits,
        schema.commits,
    )
    versions = [
        VersionRef(r.key, r.series_key, r.seq, r.version, r.version_str, r.date, r.partial)
        for r in conn.execute(
            select(
                sv.c.key,
                sv.c.series_key,
                sv.c.seq,
                sv.c.version,
                sv.c.version_str,
                sv.c.date,
                sv.c.partial,
            )
        )
    ]
    merged: dict[str, int] = {}
    for key, when in conn.execute(
        select(vm.c.version_key, c.c.committer_date)
        .join(pc, pc.c.message_pk == vm.c.message_pk)
        .join(c, c.c.id == pc.c.commit_pk)
        .where(~pc.c.ambiguous)
    ):
        if key not in merged or when < merged[key]:
            merged[key] = when
    return superseded_by_merged(versions, merged, as_of)
