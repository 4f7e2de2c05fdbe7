"""The history of merged series as the store holds it: `match.history` over the stored
versions and links."""

from __future__ import annotations

import json
from dataclasses import replace

from sqlalchemy import Connection, select

from patchlens.match.history import MergedAs, VersionRef, superseded_by_merged
from patchlens.store import schema


def load_superseded_by_merged(conn: Connection, as_of: int | None = None) -> dict[str, MergedAs]:
    """`superseded_by_merged` over the store's versions and links, and the patches the metrics
    found merged through another series' posting of the same patch (kept in the merge
    evidence, queries/evidence.py went_in_elsewhere), so that the series page, the exports
    and the states agree on which versions are merged."""
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
    for key, when in _through(conn):
        if key not in merged or when < merged[key]:
            merged[key] = when
    return superseded_by_merged(_with_titles(conn, versions, merged), merged, as_of)


def _with_titles(
    conn: Connection, versions: list[VersionRef], merged: dict[str, int]
) -> list[VersionRef]:
    """`versions`, those of a series with a merged partial version given their patches'
    normalised titles (what a merged partial version supersedes is read from them)."""
    wanted = {v.series_key for v in versions if v.partial and v.key in merged}
    keys = sorted(v.key for v in versions if v.series_key in wanted)
    if not keys:
        return versions
    vm, a = schema.version_members, schema.message_analysis
    titles: dict[str, set[str]] = {}
    for i in range(0, len(keys), 500):
        for key, title in conn.execute(
            select(vm.c.version_key, a.c.normalized_title)
            .join(a, a.c.message_pk == vm.c.message_pk)
            .where(vm.c.version_key.in_(keys[i : i + 500]), vm.c.idx > 0)
        ):
            if title:
                titles.setdefault(key, set()).add(title)
    return [replace(v, titles=frozenset(titles.get(v.key, ()))) for v in versions]


def _through(conn: Connection) -> list[tuple[str, int]]:
    """(version key, commit date) of each patch merged through another series' posting."""
    sm, m, vm, pc, c = (
        schema.series_metrics,
        schema.messages,
        schema.version_members,
        schema.patch_commits,
        schema.commits,
    )
    pairs = [
        pair
        for (ev,) in conn.execute(
            select(sm.c.merge_evidence).where(sm.c.merge_evidence.is_not(None))
        )
        for pair in json.loads(ev).get("through") or []
    ]
    if not pairs:
        return []
    ids = sorted({x for pair in pairs for x in pair})
    version_of: dict[str, list[str]] = {}
    when: dict[str, int] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        for mid, key in conn.execute(
            select(m.c.message_id, vm.c.version_key)
            .join(vm, vm.c.message_pk == m.c.id)
            .where(m.c.message_id.in_(chunk))
        ):
            version_of.setdefault(mid, []).append(key)
        for mid, date in conn.execute(
            select(m.c.message_id, c.c.committer_date)
            .join(pc, pc.c.message_pk == m.c.id)
            .join(c, c.c.id == pc.c.commit_pk)
            .where(m.c.message_id.in_(chunk), ~pc.c.ambiguous)
        ):
            when[mid] = date
    return [
        (key, when[posting])
        for patch, posting in pairs
        if posting in when
        for key in version_of.get(patch, ())
    ]
