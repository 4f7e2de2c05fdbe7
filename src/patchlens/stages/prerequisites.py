"""Prerequisites of series, resolved against the store, for the metrics stage: which series
or commit each `Depends-on:` / `prerequisite-*:` / `base-commit:` line a posting carries
names (the lines were read at analysis: review/dependencies.py), and until when a series is
blocked by prerequisite series that are not merged (metrics/backlog.py blocked_until).

The rows of `series_prerequisites` depend on other series (the one a Message-ID, patch-id or
change-id resolves to, and its merge date), so `dependents_of` says which stored series a
change in some series owes a recomputation: those whose rows name it (by key), and those whose
unresolved rows name one of its postings (it may be the prerequisite that just arrived).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, select

from patchlens.identity.people import Identities
from patchlens.metrics.backlog import blocked_until
from patchlens.metrics.model import SeriesFacts
from patchlens.queries.evidence import load_series
from patchlens.queries.sql import chunks
from patchlens.review.dependencies import CHANGE_ID, MESSAGE_ID, PATCH_ID
from patchlens.store import schema


def named(conn: Connection, keys: Iterable[str] | None) -> dict[str, list[tuple[str, str, str]]]:
    """Per series (of `keys`, or all), the prerequisites its postings name, each once, in the
    order of versions and patches: (kind, value, label)."""
    sv, vm, a = schema.series_versions, schema.version_members, schema.message_analysis
    q = (
        select(sv.c.series_key, sv.c.seq, vm.c.idx, a.c.prerequisites)
        .join(vm, vm.c.version_key == sv.c.key)
        .join(a, a.c.message_pk == vm.c.message_pk)
        .where(a.c.prerequisites != "[]")
    )
    rows: list[Any] = []
    if keys is None:
        rows = list(conn.execute(q))
    else:
        for chunk in chunks(sorted(set(keys))):
            rows += conn.execute(q.where(sv.c.series_key.in_(chunk))).all()
    out: dict[str, dict[tuple[str, str], tuple[str, str, str]]] = {}
    for key, _seq, _idx, text in sorted(rows, key=lambda r: (r[0], r[1], r[2])):
        for kind, value, label in json.loads(text):
            out.setdefault(key, {}).setdefault((kind, value), (kind, value, label))
    return {k: list(v.values()) for k, v in out.items()}


def _series_by(conn: Connection, column: Any, values: list[str]) -> dict[str, list[str]]:
    """value -> the series holding a posting whose `column` (a messages or message_analysis
    column) equals it, earliest posted first."""
    sv, vm, m, a = (
        schema.series_versions,
        schema.version_members,
        schema.messages,
        schema.message_analysis,
    )
    out: dict[str, list[str]] = {}
    for chunk in chunks(sorted(set(values))):
        q = (
            select(column, sv.c.series_key, func.min(sv.c.date))
            .select_from(vm)
            .join(sv, sv.c.key == vm.c.version_key)
            .join(m, m.c.id == vm.c.message_pk)
            .join(a, a.c.message_pk == vm.c.message_pk)
            .where(column.in_(chunk))
            .group_by(column, sv.c.series_key)
        )
        for value, key, date in conn.execute(q):
            out.setdefault(value, []).append((date or 0, key))  # type: ignore[arg-type]
    return {v: [k for _d, k in sorted(ks)] for v, ks in out.items()}  # type: ignore[misc]


def rows(conn: Connection, keys: Iterable[str] | None) -> list[dict[str, Any]]:
    """The series_prerequisites rows of the series of `keys` (or all): each named
    prerequisite, resolved to another series where the store can (commits are resolved by
    the pages: queries/rounds.py)."""
    found = named(conn, keys)
    values: dict[str, list[str]] = {k: [] for k in (MESSAGE_ID, PATCH_ID, CHANGE_ID)}
    for items in found.values():
        for kind, value, _label in items:
            if kind in values:
                values[kind].append(value)
    m, a = schema.messages, schema.message_analysis
    series_of = {
        MESSAGE_ID: _series_by(conn, m.c.message_id, values[MESSAGE_ID]),
        PATCH_ID: _series_by(conn, a.c.patch_id, values[PATCH_ID]),
        CHANGE_ID: _series_by(conn, a.c.change_id, values[CHANGE_ID]),
    }
    out = []
    for key in sorted(found):
        for seq, (kind, value, label) in enumerate(found[key]):
            other = [k for k in series_of.get(kind, {}).get(value, []) if k != key]
            out.append(
                {
                    "series_key": key,
                    "seq": seq,
                    "kind": kind,
                    "value": value,
                    "label": label,
                    "prereq_key": other[0] if other else None,
                }
            )
    return out


def set_blocked(
    conn: Connection,
    people: Identities,
    loaded: list[SeriesFacts],
    prereq_rows: list[dict[str, Any]],
    first: dict[str, int] | None = None,
) -> None:
    """Set each loaded series' `blocked_until` from its prerequisite series (loading those
    not among `loaded`; `first`: the authors' first dates the caller has, which loading
    would otherwise read again for every series of the store)."""
    wanted: dict[str, set[str]] = {}
    for r in prereq_rows:
        if r["prereq_key"]:
            wanted.setdefault(r["series_key"], set()).add(r["prereq_key"])
    by_key = {se.key: se for se in loaded}
    missing = {k for ks in wanted.values() for k in ks} - set(by_key)
    if missing:
        by_key.update((se.key, se) for se in load_series(conn, people, missing, first=first))
    for se in loaded:
        prereqs = [by_key[k] for k in sorted(wanted.get(se.key, ())) if k in by_key]
        se.blocked_until = blocked_until(prereqs)


def dependents_of(conn: Connection, keys: Iterable[str]) -> set[str]:
    """The stored series whose prerequisites name one of the series of `keys`: by the key
    they resolved to, or by a value of one of its postings (Message-ID, patch-id,
    change-id) that may resolve to it now."""
    sp, sv, vm, m, a = (
        schema.series_prerequisites,
        schema.series_versions,
        schema.version_members,
        schema.messages,
        schema.message_analysis,
    )
    wanted = sorted(set(keys))
    out: set[str] = set()
    ids: dict[str, set[str]] = {MESSAGE_ID: set(), PATCH_ID: set(), CHANGE_ID: set()}
    for chunk in chunks(wanted):
        out |= {
            k for (k,) in conn.execute(select(sp.c.series_key).where(sp.c.prereq_key.in_(chunk)))
        }
        for mid, pid, cid in conn.execute(
            select(m.c.message_id, a.c.patch_id, a.c.change_id)
            .select_from(vm)
            .join(sv, sv.c.key == vm.c.version_key)
            .join(m, m.c.id == vm.c.message_pk)
            .join(a, a.c.message_pk == vm.c.message_pk)
            .where(sv.c.series_key.in_(chunk))
        ):
            ids[MESSAGE_ID].add(mid)
            if pid:
                ids[PATCH_ID].add(pid)
            if cid:
                ids[CHANGE_ID].add(cid)
    for kind, values in ids.items():
        for chunk in chunks(sorted(values)):
            out |= {
                k
                for (k,) in conn.execute(
                    select(sp.c.series_key).where(sp.c.kind == kind, sp.c.value.in_(chunk))
                )
            }
    return out
