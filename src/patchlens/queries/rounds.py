"""What changed between the versions of a series, and what review did to it: the read side
of issue 14's "what changed between versions" and "dependencies", for the series page, the
commit page and their API twins.

Per version after the first: its patches paired with the previous version's and the interdiff
of each pair (review/interdiff.py), the author's changelog notes (review/changelog.py), which
reviewers of the previous version answered this one, and which commented hunks of the
previous version read differently here. Per merged patch: whether the commit differs from the
version that got its Reviewed-by ("changed after review"). And the series' prerequisites and
dependents (stored by the metrics stage, stages/prerequisites.py).

Everything is computed when a page asks, from the stored messages: no derived table to keep
in step with incremental updates. The work is bounded (docs/METRICS.md says how): the last
MAX_ROUNDS transitions are compared, and interdiffs share PAGE_LINES lines per page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from patchlens.review import interdiff as idf
from patchlens.review.changelog import changelog
from patchlens.review.dependencies import COMMIT
from patchlens.review.model import lay
from patchlens.store import schema

MAX_ROUNDS = 12
PAGE_LINES = 4000
PAIR_LINES = 400  # lines of one interdiff shown
MAX_MERGED = 200  # merged patches compared with their commits on one page
REVIEW_KEYS = ("Reviewed-by", "Acked-by")


def _postings(conn: Connection, version_keys: list[str]) -> dict[str, dict[int, dict[str, Any]]]:
    """Per version, its postings by index (0: the cover letter) with their text and diff."""
    vm, m, a = schema.version_members, schema.messages, schema.message_analysis
    out: dict[str, dict[int, dict[str, Any]]] = {}
    if not version_keys:
        return out
    for r in conn.execute(
        select(
            vm.c.version_key,
            vm.c.idx,
            m.c.id,
            m.c.message_id,
            m.c.body,
            m.c.diff,
            a.c.title,
            a.c.normalized_title,
            a.c.patch_id,
        )
        .join(m, m.c.id == vm.c.message_pk)
        .join(a, a.c.message_pk == vm.c.message_pk)
        .where(vm.c.version_key.in_(version_keys))
    ):
        out.setdefault(r.version_key, {})[r.idx] = {
            "idx": r.idx,
            "pk": r.id,
            "message_id": r.message_id,
            "body": r.body or "",
            "diff": r.diff or "",
            "title": r.title or "",
            "normalized_title": r.normalized_title or "",
            "patch_id": r.patch_id,
        }
    return out


def _replies(conn: Connection, version_keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per version, the replies of reviewers (not the author, not a bot) with who sent them
    (the identity the metrics stage gave them, review_events) and their text."""
    r, ev, m = schema.replies, schema.review_events, schema.messages
    out: dict[str, list[dict[str, Any]]] = {}
    if not version_keys:
        return out
    for row in conn.execute(
        select(r.c.version_key, r.c.addressed_idx, ev.c.who, m.c.id, m.c.body, m.c.message_id)
        .join(ev, ev.c.message_pk == r.c.message_pk)
        .join(m, m.c.id == r.c.message_pk)
        .where(r.c.version_key.in_(version_keys))
        .order_by(m.c.date_utc, m.c.message_id)
    ):
        out.setdefault(row.version_key, []).append(
            {
                "idx": row.addressed_idx,
                "who": row.who,
                "pk": row.id,
                "body": row.body or "",
                "message_id": row.message_id,
            }
        )
    return out


def _patch(p: dict[str, Any], idx: int) -> idf.Patch:
    return idf.Patch(idx, p["title"], p["patch_id"], p["diff"])


def _show(who: str) -> str:
    return who.removeprefix("addr:")


def _laid_over(by_key: dict[str, dict[str, Any]], key: str) -> list[str]:
    """The version `key` and, when it is a partial re-roll, the versions it is laid over,
    newest first: the partial re-rolls before it back to the latest whole version that
    posted patches, and that one. Not the version the re-roll answered (`rerolls_key`),
    which may be older than a whole version since. The queue's current version
    (queries/queue.py) also lays partial re-rolls over the latest whole version, but stops
    at a cover letter sent alone, where this walks past it to the patches."""
    v = by_key.get(key)
    if v is None:
        return []
    if not v.get("partial") and v.get("n_patches", 1):
        return [key]
    earlier = sorted(
        (
            w
            for w in by_key.values()
            if w.get("series_key") == v.get("series_key") and w["seq"] < v["seq"]
        ),
        key=lambda w: w["seq"],
        reverse=True,
    )
    out = [key]
    for w in earlier:
        out.append(w["key"])
        if not w.get("partial") and w.get("n_patches", 1):
            break
    return out


def standing(
    by_key: dict[str, dict[str, Any]], posts: dict[str, dict[int, dict[str, Any]]], key: str
) -> dict[int, tuple[str, dict[str, Any]]]:
    """The patches version `key` stands for, by index: (the version that posted it, the
    posting). A partial re-roll (v2 of patch 2 alone) replaces a few patches of the version
    it is laid over and keeps the others: so the version after it (a whole v3) is compared
    with v1's patches 1 and 3 and v2's patch 2, not with patch 2 alone (which made patches 1
    and 3 of v3 "added" and cut their lineage at v3). A patch laid over stands
    in the place of the whole version's patch of its title, else of its number: a patch
    split out and sent alone comes as 1 (review/versions.py split_out; metrics/model.py
    current_version places it so too)."""
    out: dict[int, tuple[str, dict[str, Any]]] = {}
    laid = _laid_over(by_key, key)
    titles: dict[int, str] = {}
    for k in reversed(laid):  # the whole version, then what was laid over it in order
        mine = {i: p for i, p in posts.get(k, {}).items() if i > 0}
        named = {i: p.get("normalized_title") or "" for i, p in mine.items()}
        if k == laid[-1]:
            titles, places = named, {i: i for i in mine}
        else:
            places = lay(titles, named)
        for i, p in mine.items():
            out[places[i]] = (k, p)
    return out


def _places(stands: dict[int, tuple[str, dict[str, Any]]]) -> dict[tuple[str, int], int]:
    """(version key, the patch's own number there) -> its place in what a version stands for
    (`standing`)."""
    return {(k, p.get("idx", j)): j for j, (k, p) in stands.items()}


def rounds(conn: Connection, versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per version that follows another (`prev_key`), the last MAX_ROUNDS of them:
    pairs with interdiffs, added/dropped patches, changelog notes, reviewers who answered
    again, and commented hunks changed. `versions` as queries/series.versions_detail gives
    them (of one series)."""
    by_key = {v["key"]: v for v in versions}
    todo = [v for v in versions if v.get("prev_key") in by_key][-MAX_ROUNDS:]
    keys = sorted(
        {v["key"] for v in todo} | {k for v in todo for k in _laid_over(by_key, v["prev_key"])}
    )
    posts = _postings(conn, keys)
    replies = _replies(conn, keys)
    budget = PAGE_LINES
    out = []
    for v in todo:
        prev = by_key[v["prev_key"]]
        stands = standing(by_key, posts, prev["key"])
        at = _places(stands)
        new = posts.get(v["key"], {})
        old_patches = [_patch(p, i) for i, (_k, p) in sorted(stands.items())]
        new_patches = [_patch(p, i) for i, p in sorted(new.items()) if i > 0]
        pairs, budget = idf.compare(old_patches, new_patches, budget, PAIR_LINES)
        cut = any(p.truncated or p.too_large for p in pairs)
        if v.get("partial") or not new_patches:
            # A partial re-roll re-sends a few patches: the others are not dropped. Nor are
            # they by a cover letter sent alone, whose patches come as re-rolls after it.
            pairs = [p for p in pairs if p.new is not None]
        new_by_old = {p.old.idx: p.new for p in pairs if p.old is not None}
        notes = [
            {"idx": i, "notes": [{"header": n.header, "lines": list(n.lines)} for n in found]}
            for i, post in sorted(new.items())
            if (found := changelog(post["body"]))
        ]
        # The reviewers of what the previous version stands for: of the versions it is laid
        # over too, for the patches it kept of them. A partial re-roll answers for the
        # patches it re-sends alone (by their numbers before: a lone re-sent patch 3 may
        # come as 1) and for the cover letter, whose review covers every patch.
        resent = {p.old.idx for p in pairs if p.old is not None and p.new is not None}
        if v.get("total") and v.get("total") == prev.get("total"):
            # A re-sent patch rewritten past pairing still answers for its number (2/2 of
            # 2/2 in both versions).
            resent |= {p.new.idx for p in pairs if p.old is None and p.new is not None}
        earlier = [
            (k, r)
            for k in _laid_over(by_key, prev["key"])
            for r in replies.get(k, [])
            if (not r["idx"] or (k, r["idx"]) in at)
            and (not v.get("partial") or not r["idx"] or at.get((k, r["idx"])) in resent)
        ]
        before = {r["who"] for _k, r in earlier}
        after = {r["who"] for r in replies.get(v["key"], [])}
        followed = []
        for k, r in earlier:
            post = posts.get(k, {}).get(r["idx"])
            if not r["idx"] or post is None or not post["diff"]:
                continue
            if (k, r["idx"]) not in at:
                continue  # a patch a later partial re-roll replaced
            hunks = idf.commented_hunks(r["body"], post["diff"])
            if not hunks:
                continue
            nxt = new_by_old.get(at[(k, r["idx"])])
            changed = sum(idf.hunk_changed(h, nxt.diff if nxt else None) for h in hunks)
            followed.append(
                {
                    "who": _show(r["who"]),
                    "message_id": r["message_id"],
                    # Its place in what the previous version stands for, as the pairs'
                    # old numbers: a patch sent alone answered as 1 stands as 3.
                    "patch_idx": at[(k, r["idx"])],
                    "hunks": len(hunks),
                    "changed": changed,
                }
            )
        out.append(
            {
                "seq": v["seq"],
                "label": v.get("label", ""),
                "prev_seq": prev["seq"],
                "prev_label": prev.get("label", ""),
                "partial": bool(v.get("partial")),
                "pairs": [_pair_row(p) for p in pairs],
                "added": [p.new.idx for p in pairs if p.old is None and p.new],
                "dropped": [p.old.idx for p in pairs if p.new is None and p.old],
                "reordered": [p.new.idx for p in pairs if p.reordered and p.new],
                "renamed": [p.new.idx for p in pairs if p.renamed and p.new],
                "cut": cut,
                "changelog": notes,
                "reviewers_before": sorted(_show(w) for w in before),
                "answered_again": sorted(_show(w) for w in before & after),
                "not_again": sorted(_show(w) for w in before - after),
                "comments_followed": followed,
            }
        )
    return out


def _pair_row(p: idf.Pair) -> dict[str, Any]:
    return {
        "old_idx": p.old.idx if p.old else None,
        "new_idx": p.new.idx if p.new else None,
        "old_title": p.old.title if p.old else None,
        "new_title": p.new.title if p.new else None,
        "how": p.how,
        "renamed": p.renamed,
        "reordered": p.reordered,
        "identical": p.identical,
        "interdiff": p.lines,
        "truncated": p.truncated,
        "too_large": p.too_large,
    }


# --- changed after review -----------------------------------------------------------------


def _reviewed(conn: Connection, pks: list[int]) -> set[int]:
    """Those postings that a reviewer's reply gave Reviewed-by/Acked-by to (the reply
    addressed to the patch itself, or to its version's cover letter)."""
    r, mt, vm, ev = (
        schema.replies,
        schema.message_trailers,
        schema.version_members,
        schema.review_events,
    )
    if not pks:
        return set()
    direct = {
        pk
        for (pk,) in conn.execute(
            select(r.c.addressed_pk)
            .join(mt, mt.c.message_pk == r.c.message_pk)
            .join(ev, ev.c.message_pk == r.c.message_pk)
            .where(r.c.addressed_pk.in_(pks), mt.c.given, mt.c.key.in_(REVIEW_KEYS))
        )
    }
    covered = {
        vk
        for (vk,) in conn.execute(
            select(r.c.version_key)
            .join(mt, mt.c.message_pk == r.c.message_pk)
            .join(ev, ev.c.message_pk == r.c.message_pk)
            .join(vm, vm.c.version_key == r.c.version_key)
            .where(
                vm.c.message_pk.in_(pks),
                r.c.addressed_idx == 0,
                mt.c.given,
                mt.c.key.in_(REVIEW_KEYS),
            )
        )
    }
    if covered:
        direct |= {
            pk
            for (pk,) in conn.execute(
                select(vm.c.message_pk).where(
                    vm.c.version_key.in_(sorted(covered)), vm.c.message_pk.in_(pks)
                )
            )
        }
    return direct


def _carrying(conn: Connection, pks: list[int]) -> set[int]:
    """Those postings that carry a Reviewed-by/Acked-by given to an earlier version."""
    mt = schema.message_trailers
    if not pks:
        return set()
    return {
        pk
        for (pk,) in conn.execute(
            select(mt.c.message_pk).where(
                mt.c.message_pk.in_(pks), ~mt.c.given, mt.c.key.in_(REVIEW_KEYS)
            )
        )
    }


def backwards(
    versions: list[dict[str, Any]], posts: dict[str, dict[int, dict[str, Any]]]
) -> dict[str, dict[int, int]]:
    """Per version that follows another: for each of its patches paired with one of what
    the previous version stands for (`standing`), that patch's version and index there
    (new idx -> (version key, old idx))."""
    by_key = {v["key"]: v for v in versions}
    out: dict[str, dict[int, tuple[str, int]]] = {}
    for v in versions:
        prev = by_key.get(v.get("prev_key") or "")
        if prev is None:
            continue
        stands = standing(by_key, posts, prev["key"])
        old = [_patch(p, i) for i, (_k, p) in sorted(stands.items())]
        new = [_patch(p, i) for i, p in sorted(posts.get(v["key"], {}).items()) if i > 0]
        out[v["key"]] = {
            p.new.idx: (stands[p.old.idx][0], stands[p.old.idx][1].get("idx", p.old.idx))
            for p in idf.pair(old, new)
            if p.old and p.new
        }
    return out


def lineage(
    versions: list[dict[str, Any]],
    posts: dict[str, dict[int, dict[str, Any]]],
    back: dict[str, dict[int, tuple[str, int]]],
    version_key: str,
    idx: int,
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The posting at (`version_key`, `idx`) and the earlier postings it came from, newest
    first, following the pairing of each version with what its previous one stands for
    (`backwards`): (version, posting)."""
    by_key = {v["key"]: v for v in versions}
    out = []
    v = by_key.get(version_key)
    seen = set()
    while v is not None and idx in posts.get(v["key"], {}) and v["key"] not in seen:
        seen.add(v["key"])
        out.append((v, posts[v["key"]][idx]))
        step = back.get(v["key"], {})
        if idx not in step:
            break
        key, idx = step[idx]
        v = by_key.get(key)
    return out


def after_review(
    chain: list[tuple[dict[str, Any], dict[str, Any]]],
    reviewed: set[int],
    carried: set[int],
    commit_diff: str | None,
) -> dict[str, Any] | None:
    """Whether the commit a posting became differs from the version that got its review:
    the latest posting of its lineage (`chain`, newest first) a reviewer gave
    Reviewed-by/Acked-by to (`reviewed`), else the latest that carries one (`carried`),
    compared by changed lines with the commit's diff; None when no version of the patch was
    reviewed, or when the commit's diff was not read (`commit_diff` None: a commit before
    the history horizon, linked by a pointer; not compared, rather than a whole patch
    "removed"). With the
    interdiff from that posting to the commit."""
    if commit_diff is None:
        return None
    chosen = next(((v, p) for v, p in chain if p["pk"] in reviewed), None)
    if chosen is None:
        chosen = next(((v, p) for v, p in chain if p["pk"] in carried), None)
    if chosen is None:
        return None
    v, p = chosen
    a, b = idf.normalize(p["diff"]), idf.normalize(commit_diff or "")
    if len(a) > idf.MAX_PATCH_LINES or len(b) > idf.MAX_PATCH_LINES:
        return None  # not compared: too large to diff on a page
    changed = idf.changed_lines(a) != idf.changed_lines(b)
    lines, cut = idf.interdiff(a, b, PAIR_LINES) if changed else ([], False)
    return {
        "changed": changed,
        "reviewed_message_id": p["message_id"],
        "reviewed_seq": v["seq"],
        "reviewed_label": v.get("label", ""),
        "reviewed_title": p["title"],
        "interdiff": lines,
        "truncated": cut,
    }


def series_after_review(
    conn: Connection, versions: list[dict[str, Any]], only: int | None = None
) -> dict[int, dict[str, Any]]:
    """Per merged posting of the series (its message pk; only `only` when given), what
    `after_review` says of its commit. At most MAX_MERGED postings are compared."""
    c, pc = schema.commits, schema.patch_commits
    merged = [
        (v, mm)
        for v in versions
        for mm in v["members"]
        if mm.get("commit") and mm["idx"] and (only is None or mm["pk"] == only)
    ][:MAX_MERGED]
    if not merged:
        return {}
    diffs = {
        pk: None if skipped else diff or ""
        for pk, diff, skipped in conn.execute(
            select(pc.c.message_pk, c.c.diff, c.c.diff_skipped)
            .join(c, c.c.id == pc.c.commit_pk)
            .where(pc.c.message_pk.in_([mm["pk"] for _v, mm in merged]))
        )
    }
    posts = _postings(conn, [v["key"] for v in versions])
    back = backwards(versions, posts)
    pks = [p["pk"] for ps in posts.values() for i, p in ps.items() if i > 0]
    reviewed, carried = _reviewed(conn, pks), _carrying(conn, pks)
    out = {}
    for v, mm in merged:
        chain = lineage(versions, posts, back, v["key"], mm["idx"])
        found = after_review(chain, reviewed, carried, diffs.get(mm["pk"]))
        if found is not None:
            out[mm["pk"]] = found
    return out


# --- dependencies -------------------------------------------------------------------------


def _commit(conn: Connection, sha: str) -> str | None:
    """The one stored commit an (abbreviated) hash names, by a range of the sha index; None
    when none or several do. `sha` is hexadecimal (review/dependencies.py checks it)."""
    c = schema.commits
    if not sha or not all(ch in "0123456789abcdef" for ch in sha):
        return None
    upper = sha[:-1] + chr(ord(sha[-1]) + 1)
    found = conn.execute(
        select(c.c.sha).where(c.c.sha >= sha, c.c.sha < upper).distinct().limit(2)
    ).all()
    return found[0][0] if len(found) == 1 else None


def prerequisites(conn: Connection, key: str) -> dict[str, list[dict[str, Any]]]:
    """The series' prerequisites (each with the series or commit it resolved to) and the
    series that name it as theirs (its dependents)."""
    sp, se = schema.series_prerequisites, schema.series
    need = [
        dict(r._mapping)
        for r in conn.execute(
            select(sp.c.kind, sp.c.value, sp.c.label, sp.c.prereq_key, se.c.title)
            .outerjoin(se, se.c.key == sp.c.prereq_key)
            .where(sp.c.series_key == key)
            .order_by(sp.c.seq)
        )
    ]
    for p in need:
        p["commit_sha"] = _commit(conn, p["value"]) if p["kind"] == COMMIT else None
    dependents = [
        dict(r._mapping)
        for r in conn.execute(
            select(sp.c.series_key, sp.c.label, se.c.title)
            .join(se, se.c.key == sp.c.series_key)
            .where(sp.c.prereq_key == key)
            .order_by(sp.c.series_key, sp.c.seq)
        )
    ]
    seen: set[str] = set()
    dependents = [
        d for d in dependents if not (d["series_key"] in seen or seen.add(d["series_key"]))
    ]
    return {"prerequisites": need, "dependents": dependents}
