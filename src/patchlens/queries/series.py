"""Reading the reconstruction back: one series' timeline, every version for the export."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, select

from patchlens.queries.formats import iso
from patchlens.queries.history import load_superseded_by_merged
from patchlens.queries.sql import CHUNK, grouped
from patchlens.store import schema


def find_series(conn: Connection, ident: str) -> str | None:
    """The series key for a series key, a version key, or any member or reply Message-ID."""
    ident = ident.strip().strip("<>")
    if conn.execute(select(schema.series.c.key).where(schema.series.c.key == ident)).first():
        return ident
    sv = schema.series_versions
    hit = conn.execute(select(sv.c.series_key).where(sv.c.key == ident)).scalar()
    if hit:
        return hit
    pk = conn.execute(
        select(schema.messages.c.id).where(schema.messages.c.message_id == ident)
    ).scalar()
    if pk is None:
        return None
    for table, col in ((schema.version_members, "message_pk"), (schema.replies, "message_pk")):
        vkey = conn.execute(select(table.c.version_key).where(table.c[col] == pk)).scalar()
        if vkey:
            return conn.execute(select(sv.c.series_key).where(sv.c.key == vkey)).scalar()
    return None


def versions_detail(conn: Connection, series_keys: list[str] | None) -> list[dict[str, Any]]:
    """Every version (of the given series, or all) with members and replies, in order."""
    sv, vm, r, m, ma, mt, mn = (
        schema.series_versions,
        schema.version_members,
        schema.replies,
        schema.messages,
        schema.message_analysis,
        schema.message_trailers,
        schema.message_notices,
    )
    q = select(sv).order_by(sv.c.series_key, sv.c.seq)
    wanted = None if series_keys is None else set(series_keys)
    if wanted is not None and len(wanted) <= CHUNK:
        q = q.where(sv.c.series_key.in_(sorted(wanted)))
    # More keys than a query may bind: read every version and keep theirs.
    versions = [
        dict(row._mapping) for row in conn.execute(q) if wanted is None or row.series_key in wanted
    ]
    vkeys = [v["key"] for v in versions]
    posted = {
        "message_id": m.c.message_id,
        "date": m.c.date_utc,
    }
    members = grouped(
        conn,
        vm.c.version_key,
        vkeys,
        {
            "idx": vm.c.idx,
            "pk": m.c.id,
            "subject": m.c.subject,
            **posted,
            **{k: ma.c[k] for k in ("lines_added", "lines_removed", "files")},
            "normalized_title": ma.c.normalized_title,
            "patch_id": ma.c.patch_id,
        },
        vm.join(m, m.c.id == vm.c.message_pk).join(ma, ma.c.message_pk == m.c.id),
        (vm.c.version_key, vm.c.idx),
    )
    for mm in (mm for lst in members.values() for mm in lst):
        mm["files"] = json.loads(mm["files"])
    replies = grouped(
        conn,
        r.c.version_key,
        vkeys,
        {
            "pk": m.c.id,
            **posted,
            "from_name": m.c.from_name,
            "from_addr": m.c.from_addr,
            "patch_idx": r.c.addressed_idx,
            "is_author": r.c.is_author,
            "is_bot": r.c.is_bot,
            **{k: ma.c[k] for k in ("lines_written", "lines_quoted", "first_line")},
        },
        r.join(m, m.c.id == r.c.message_pk).join(ma, ma.c.message_pk == m.c.id),
        (m.c.date_utc, m.c.message_id),
    )
    pks = [x["pk"] for lst in replies.values() for x in lst]
    trailers = grouped(
        conn,
        mt.c.message_pk,
        pks,
        {k: mt.c[k] for k in ("key", "name", "email", "given")},
        mt,
        (mt.c.message_pk, mt.c.seq),
    )
    notices = {
        pk: [n["kind"] for n in found]
        for pk, found in grouped(
            conn, mn.c.message_pk, pks, {"kind": mn.c.kind}, mn, (mn.c.message_pk, mn.c.kind)
        ).items()
    }
    nxt = {v["prev_key"]: v["key"] for v in versions if v["prev_key"]}
    for v in versions:
        v["members"] = members.get(v["key"], [])
        v["replies"] = replies.get(v["key"], [])
        v["next_key"] = nxt.get(v["key"])
        v["missing"] = json.loads(v["missing"])
        v["link_evidence"] = json.loads(v["link_evidence"]) if v["link_evidence"] else None
        for rep in v["replies"]:
            rep["trailers"] = [
                t for t in trailers.get(rep["pk"], []) if t["given"] and t["key"] != "Cc"
            ]
            rep["notices"] = notices.get(rep["pk"], [])
    by_key = {v["key"]: v for v in versions}
    for v in versions:
        _patch_trailers(v, rerolled_version(v, by_key))
    seen: dict[str, list[dict[str, Any]]] = {}
    for v in sorted(versions, key=lambda v: (v["series_key"], v["seq"])):
        earlier = seen.setdefault(v["series_key"], [])
        v["label"] = distinct_label(version_label(v, earlier, rerolled_version(v, by_key)), earlier)
        earlier.append(v)
    return versions


def rerolled_version(v: dict[str, Any], by_key: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The full version a partial re-roll replaces patches of. The store names the version
    re-rolled (itself perhaps a partial re-roll of another): the chain is followed to its
    first version among `by_key`. Pure."""
    w = by_key.get(v["rerolls_key"] or "")
    seen = {v["key"]}
    while w is not None and w["rerolls_key"] and w["key"] not in seen:
        seen.add(w["key"])
        nxt = by_key.get(w["rerolls_key"])
        if nxt is None:
            break
        w = nxt
    return w


def distinct_label(label: str, earlier: list[dict[str, Any]]) -> str:
    """`label`, or, when an earlier version of the series (`earlier`, labelled) reads the
    same (a partial re-roll sent again, two "v1.1"), with which posting of it this is: two
    headers of one page never read alike. Pure."""
    same = sum(1 for e in earlier if e["label"].split(" · posting ")[0] == label)
    return f"{label} · posting {same + 1}" if same else label


def version_label(
    v: dict[str, Any], earlier: list[dict[str, Any]], rerolled: dict[str, Any] | None
) -> str:
    """What a version is, in words, so that two "v6" on one page are told apart. Pure.

    "v3", "v3 RFC", "v6 · RESEND · posting 2 of v6", "v19 · partial re-roll of v18 (patch 3)",
    "v2 · sent again, not marked RESEND · posting 2 of v2", "v5 · pull request",
    "v1 · stable backport", "v1 · posted after it was committed", "v2 · a patch of v1 sent
    alone" (split out of it).
    """
    name = f"v{v['version_str'] or v['version']}"
    words = [name + (" RFC" if v["rfc"] else "")]
    if v.get("pull"):
        words.append("pull request")
    if v.get("backport"):
        words.append("stable backport")
    if v.get("committed"):
        words.append("posted after it was committed")
    if v["partial"] and rerolled is not None:
        idx = [mm["idx"] for mm in v.get("members", []) if mm["idx"] > 0]
        which = ", ".join(str(i) for i in idx)
        base = f"v{rerolled['version_str'] or rerolled['version']}"
        words.append(f"partial re-roll of {base} (patch{'es' if len(idx) != 1 else ''} {which})")
        if v["resend"]:
            words.append("RESEND")
        return " · ".join(words)
    if v["partial"] and "." not in (v["version_str"] or ""):
        # Laid over without re-rolling a version: one patch split out of the version in
        # force before it (review/versions.py split_out).
        whole = next((e for e in reversed(earlier) if not e["partial"]), None)
        if whole is not None:
            words.append(f"a patch of v{whole['version_str'] or whole['version']} sent alone")
            again = [
                e
                for e in earlier
                if e["partial"]
                and (e["version_str"] or str(e["version"]))
                == (v["version_str"] or str(v["version"]))
            ]
            if v["resend"]:
                words.append("RESEND")
            if again:
                words.append(f"posting {len(again) + 1} of {name}")
            return " · ".join(words)
    same = [
        e
        for e in earlier
        if not e["partial"]
        and (e["version_str"] or str(e["version"])) == (v["version_str"] or str(v["version"]))
    ]
    if v["resend"]:
        words.append("RESEND")
    elif same:
        words.append("sent again, not marked RESEND")
    if same:
        words.append(f"posting {len(same) + 1} of {name}")
    return " · ".join(words)


def _patch_trailers(v: dict[str, Any], rerolled: dict[str, Any] | None) -> None:
    """Each patch's trailers given on the list: in replies to it, and in replies to its
    cover letter (they apply to every patch) or, for a partial re-roll, to the cover of the
    version it re-rolls."""
    cover_replies = [r for r in v["replies"] if r["patch_idx"] == 0]
    if rerolled is not None:
        cover_replies += [r for r in rerolled["replies"] if r["patch_idx"] == 0]
    for mm in v["members"]:
        if mm["idx"] == 0:
            mm["trailers"] = []
            continue
        given = []
        for r in [r for r in v["replies"] if r["patch_idx"] == mm["idx"]] + cover_replies:
            given.extend(
                {**t, "by": r["from_addr"], "reply": r["message_id"]} for t in r["trailers"]
            )
        mm["trailers"] = given


EXPORT_COLUMNS = (
    "series",
    "version_key",
    "seq",
    "version",
    "flags",
    "title",
    "author",
    "date",
    "total",
    "cover",
    "patches",
    "missing",
    "previous_version",
    "next_version",
    "superseded_by_merged",
    "link_evidence",
    "replies",
)


def given_by(t: dict[str, Any], reply: dict[str, Any], address_first: bool = False) -> str:
    """Who gave a trailer of a reply, as the series page names them: the name or address
    it carries (`address_first`: the address before the name), else the reply's sender, who
    gave it (a bare "Acked + applied." carries neither)."""
    named = (t["email"] or t["name"]) if address_first else (t["name"] or t["email"])
    return named or reply["from_addr"]


def export_rows(conn: Connection, keys: set[str] | None = None) -> list[dict[str, Any]]:
    """One record per series version (of the series `keys`, or every one), self-contained,
    for checking without patchlens; the version's date is ISO 8601 UTC (see
    patchlens.queries.formats)."""
    merged_as = load_superseded_by_merged(conn)
    out = []
    for v in versions_detail(conn, None if keys is None else sorted(keys)):
        cover = next((mm["message_id"] for mm in v["members"] if mm["idx"] == 0), None)
        by_idx = {mm["idx"]: mm["message_id"] for mm in v["members"]}
        out.append(
            {
                "series": v["series_key"],
                "version_key": v["key"],
                "seq": v["seq"],
                "version": v["version_str"] or str(v["version"]),
                "flags": version_flags(v),
                "title": v["title"],
                "author": v["author_addr"],
                "date": iso(v["date"]),
                "total": v["total"],
                "cover": cover,
                "patches": [mm["message_id"] for mm in v["members"] if mm["idx"] > 0],
                "missing": v["missing"],
                "previous_version": v["prev_key"],
                "next_version": v["next_key"],
                # The later version that was merged, when there is one (its key).
                "superseded_by_merged": merged_as[v["key"]].key if v["key"] in merged_as else None,
                "link_evidence": v["link_evidence"],
                "replies": [
                    {
                        "message_id": rep["message_id"],
                        "person": rep["from_addr"],
                        "patch": by_idx.get(rep["patch_idx"]),
                        "patch_idx": rep["patch_idx"],
                        "lines_written": rep["lines_written"],
                        "lines_quoted": rep["lines_quoted"],
                        "is_author": rep["is_author"],
                        "is_bot": rep["is_bot"],
                        "trailers": [
                            f"{t['key']}: {given_by(t, rep, address_first=True)}"
                            for t in rep["trailers"]
                        ],
                        "notices": rep["notices"],
                    }
                    for rep in v["replies"]
                ],
            }
        )
    return out


def review_status(conn: Connection) -> dict[str, Any]:
    """Counts of the reconstruction: what `status` prints and `status --json` returns."""

    def n(q: Any) -> int:
        return int(conn.execute(q).scalar_one() or 0)

    sv, r, mt = schema.series_versions, schema.replies, schema.message_trailers
    given = dict(
        conn.execute(
            select(mt.c.key, func.count())
            .join(r, r.c.message_pk == mt.c.message_pk)
            .where(mt.c.given, ~r.c.is_bot, ~r.c.is_author)
            .group_by(mt.c.key)
        ).all()
    )
    notices = dict(
        conn.execute(
            select(schema.message_notices.c.kind, func.count())
            .join(r, r.c.message_pk == schema.message_notices.c.message_pk)
            .group_by(schema.message_notices.c.kind)
        ).all()
    )
    return {
        "threads": n(select(func.count(func.distinct(schema.message_threads.c.thread_key)))),
        "series": n(select(func.count()).select_from(schema.series)),
        "versions": n(select(func.count()).select_from(sv)),
        "versions_linked": n(select(func.count()).where(sv.c.prev_key.is_not(None))),
        "patches": n(
            select(func.count())
            .select_from(schema.version_members)
            .where(schema.version_members.c.idx > 0)
        ),
        "cover_letters": n(
            select(func.count())
            .select_from(schema.version_members)
            .where(schema.version_members.c.idx == 0)
        ),
        "review_replies": n(select(func.count()).select_from(r).where(~r.c.is_bot, ~r.c.is_author)),
        "author_replies": n(select(func.count()).select_from(r).where(r.c.is_author)),
        "bot_replies": n(select(func.count()).select_from(r).where(r.c.is_bot)),
        "trailers_given": given,
        "notices": notices,
    }


def version_flags(v: dict[str, Any]) -> list[str]:
    """The subject tags that say what kind of posting a version is, as the exports list them."""
    tags = (("RFC", "rfc"), ("RESEND", "resend"), ("PULL", "pull"), ("PARTIAL", "partial"))
    return [tag for tag, column in tags if v[column]]
