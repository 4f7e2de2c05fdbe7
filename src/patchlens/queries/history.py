"""The history of merged series as the store holds it: `match.history` over the stored
versions and links."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Select, select

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
    own: dict[int, int] = {}  # message pk -> the date of its own (non-ambiguous) commit
    for key, pk, when in conn.execute(
        select(vm.c.version_key, vm.c.message_pk, c.c.committer_date)
        .join(pc, pc.c.message_pk == vm.c.message_pk)
        .join(c, c.c.id == pc.c.commit_pk)
        .where(~pc.c.ambiguous)
    ):
        own[pk] = min(own.get(pk, when), when)
        if key not in merged or when < merged[key]:
            merged[key] = when
    through = _through(conn)
    for _pk, key, when in through:
        if key not in merged or when < merged[key]:
            merged[key] = when
    for pk, _key, when in through:
        own[pk] = min(own.get(pk, when), when)
    return superseded_by_merged(_with_titles(conn, versions, merged, own), merged, as_of)


def _with_titles(
    conn: Connection, versions: list[VersionRef], merged: dict[str, int], own: dict[int, int]
) -> list[VersionRef]:
    """`versions`, those of a series with a merged partial version given their patches'
    normalised titles and the merges of their own (`own`: message pk -> date), from which
    what a merged partial version supersedes is read (match/history.py sends_again)."""
    wanted = {v.series_key for v in versions if v.partial and v.key in merged}
    keys = sorted(v.key for v in versions if v.series_key in wanted)
    if not keys:
        return versions
    vm, a = schema.version_members, schema.message_analysis
    titles: dict[str, list[str]] = {}
    done: dict[str, list[tuple[str, int]]] = {}
    for i in range(0, len(keys), 500):
        for key, pk, title in conn.execute(
            select(vm.c.version_key, vm.c.message_pk, a.c.normalized_title)
            .join(a, a.c.message_pk == vm.c.message_pk)
            .where(vm.c.version_key.in_(keys[i : i + 500]), vm.c.idx > 0)
            .order_by(vm.c.version_key, vm.c.idx)
        ):
            titles.setdefault(key, []).append(title or "")
            if pk in own:
                done.setdefault(key, []).append((title or "", own[pk]))
    return [
        replace(v, titles=tuple(titles.get(v.key, ())), merged_titles=tuple(done.get(v.key, ())))
        if v.series_key in wanted
        else v
        for v in versions
    ]


def _through(conn: Connection) -> list[tuple[int, str, int]]:
    """(message pk, version key, commit date) of each patch the metrics found merged through
    another series' posting (the merge evidence's pairs), but for a patch that has a link of
    its own since (even an ambiguous one: the metrics drop it then, and are owed)."""
    sm, m, vm, pc = (
        schema.series_metrics,
        schema.messages,
        schema.version_members,
        schema.patch_commits,
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
    patches = sorted({patch for patch, _posting in pairs})
    member: dict[str, tuple[int, str]] = {}  # a Message-ID is in one version at most
    linked: set[str] = set()
    for i in range(0, len(patches), 500):
        chunk = patches[i : i + 500]
        for mid, pk, key in conn.execute(
            select(m.c.message_id, m.c.id, vm.c.version_key)
            .join(vm, vm.c.message_pk == m.c.id)
            .where(m.c.message_id.in_(chunk))
        ):
            member[mid] = (pk, key)
        linked.update(
            conn.execute(
                select(m.c.message_id)
                .join(pc, pc.c.message_pk == m.c.id)
                .where(m.c.message_id.in_(chunk))
            ).scalars()
        )
    went = earliest_commits(conn, (posting for _patch, posting in pairs))
    return [
        (*member[patch], went[posting]["date"])
        for patch, posting in pairs
        if posting in went and patch in member and patch not in linked
    ]


def linked_postings(*columns: Any) -> Select[Any]:
    """`columns` of each posting linked, not ambiguously, to a commit: patch_commits joined
    to the commit, the posting's message, its analysis and its version (all the look-ups
    of "went in through another series" start here: queries/evidence.py went_in_elsewhere
    and `_went_inside`, `earliest_commits`). Callers join more and add their conditions."""
    pc, c, m, a, vm, sv = (
        schema.patch_commits,
        schema.commits,
        schema.messages,
        schema.message_analysis,
        schema.version_members,
        schema.series_versions,
    )
    return (
        select(*columns)
        .select_from(pc)
        .join(c, c.c.id == pc.c.commit_pk)
        .join(m, m.c.id == pc.c.message_pk)
        .join(a, a.c.message_pk == pc.c.message_pk)
        .join(vm, vm.c.message_pk == pc.c.message_pk)
        .join(sv, sv.c.key == vm.c.version_key)
        .where(~pc.c.ambiguous)
    )


def earliest_commits(conn: Connection, message_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Message-ID -> the earliest commit its posting is linked to, not ambiguously (the one
    the metrics take for a patch merged through it, queries/evidence.py went_in_elsewhere):
    the posting's Message-ID, series, subject, normalised title and patch-id, the commit's
    sha and date. The series page (queries/dashboard.py _mark_through) and `_through` read
    it."""
    m, sv, c, a = schema.messages, schema.series_versions, schema.commits, schema.message_analysis
    ids = sorted(set(message_ids))
    found: dict[str, dict[str, Any]] = {}
    columns = (m.c.message_id, m.c.subject, sv.c.series_key, c.c.sha, c.c.committer_date)
    for i in range(0, len(ids), 500):
        for r in conn.execute(
            linked_postings(*columns, a.c.normalized_title, a.c.patch_id).where(
                m.c.message_id.in_(ids[i : i + 500])
            )
        ):
            if r.message_id not in found or r.committer_date < found[r.message_id]["date"]:
                found[r.message_id] = {
                    "message_id": r.message_id,
                    "series_key": r.series_key,
                    "subject": r.subject,
                    "sha": r.sha,
                    "date": r.committer_date,
                    "normalized_title": r.normalized_title or "",
                    "patch_id": r.patch_id or "",
                }
    return found
