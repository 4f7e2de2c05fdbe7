"""The store's side of the search language (queries/search.py): the series keys of each term
only the store can answer (`to:`, `cc:`, `reviewed-by:`, `acked-by:`, `tested-by:`, `file:`,
`list:`), and pull requests as rows the search can test (`is:pull`).

The value of a term is only ever a bound parameter (a LIKE pattern with its wildcards
escaped), and each candidate SQL finds is checked again in Python against the casefolded
text, so what a term selects does not depend on the database's LIKE rules. Results are kept
per store and data version, as the rows they filter are (the most recent terms only).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, func, or_, select

from patchlens.queries.search import Search, Term
from patchlens.store import schema


def like(text: str) -> str:
    """A LIKE pattern for 'contains `text`', its wildcards escaped with backslash."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _posting_keys(conn: Connection, columns: list[Any], where: Any) -> Iterable[tuple[Any, ...]]:
    """(series key, *columns) of every posting (cover letter or patch) matching `where`."""
    vm, sv, m = schema.version_members, schema.series_versions, schema.messages
    q = (
        select(sv.c.series_key, *columns)
        .select_from(vm.join(sv, sv.c.key == vm.c.version_key).join(m, m.c.id == vm.c.message_pk))
        .where(where)
    )
    return conn.execute(q)


def _recipients(conn: Connection, t: Term) -> frozenset[str]:
    m = schema.messages
    pattern = like(t.arg)
    if t.op == "cc":
        cols, where = [m.c.cc_addrs], m.c.cc_addrs.ilike(pattern, escape="\\")
    else:  # to: the recipients, To and Cc (as Patchew's to:)
        cols = [m.c.to_addrs, m.c.cc_addrs]
        where = or_(
            m.c.to_addrs.ilike(pattern, escape="\\"), m.c.cc_addrs.ilike(pattern, escape="\\")
        )
    return frozenset(
        key
        for key, *addrs in _posting_keys(conn, cols, where)
        if any(t.arg in (a or "").casefold() for a in addrs)
    )


def _files(conn: Connection, t: Term) -> frozenset[str]:
    a = schema.message_analysis
    vm, sv = schema.version_members, schema.series_versions
    q = (
        select(sv.c.series_key, a.c.files)
        .select_from(
            vm.join(sv, sv.c.key == vm.c.version_key).join(a, a.c.message_pk == vm.c.message_pk)
        )
        .where(a.c.files.ilike(like(t.arg), escape="\\"))
    )
    return frozenset(
        key
        for key, files in conn.execute(q)
        if any(t.arg in f.casefold() for f in json.loads(files or "[]"))
    )


def _given(trailer_key: str) -> Callable[[Connection, Term], frozenset[str]]:
    """The lookup of a trailer term (`reviewed-by:`, `acked-by:`, `tested-by:`)."""

    def lookup(conn: Connection, t: Term) -> frozenset[str]:
        return _trailer_given(conn, t, trailer_key)

    return lookup


def _trailer_given(conn: Connection, t: Term, trailer_key: str) -> frozenset[str]:
    """Series with a `trailer_key` trailer (Reviewed-by) naming the text: given in a reply to
    one of its versions, or carried in one of its postings (a later version keeps the
    trailers it got)."""
    mt, rp, vm, sv = (
        schema.message_trailers,
        schema.replies,
        schema.version_members,
        schema.series_versions,
    )
    pattern = like(t.arg)
    named = or_(
        mt.c.value.ilike(pattern, escape="\\"),
        mt.c.email.ilike(pattern, escape="\\"),
        mt.c.name.ilike(pattern, escape="\\"),
    )
    trailer = (mt.c.key == trailer_key, named)
    cols = (sv.c.series_key, mt.c.value, mt.c.name, mt.c.email)
    in_replies = (
        select(*cols)
        .select_from(
            mt.join(rp, rp.c.message_pk == mt.c.message_pk).join(sv, sv.c.key == rp.c.version_key)
        )
        .where(*trailer)
    )
    in_postings = (
        select(*cols)
        .select_from(
            mt.join(vm, vm.c.message_pk == mt.c.message_pk).join(sv, sv.c.key == vm.c.version_key)
        )
        .where(*trailer)
    )
    keys: set[str] = set()
    for q in (in_replies, in_postings):
        for key, *texts in conn.execute(q):
            if any(t.arg in (x or "").casefold() for x in texts):
                keys.add(key)
    return frozenset(keys)


def list_members() -> Any:
    """(series key, list name) of every series with a posting seen on a list: the one
    query behind the list filter (queries/selection.py) and `list:`."""
    sv, vm, ms, ml = (
        schema.series_versions,
        schema.version_members,
        schema.message_sightings,
        schema.mailing_lists,
    )
    return (
        select(sv.c.series_key, ml.c.name)
        .join(vm, vm.c.version_key == sv.c.key)
        .join(ms, ms.c.message_pk == vm.c.message_pk)
        .join(ml, ml.c.id == ms.c.list_id)
        .distinct()
    )


def _lists(conn: Connection, t: Term) -> frozenset[str]:
    ml = schema.mailing_lists
    q = list_members().where(ml.c.name.ilike(like(t.arg), escape="\\"))
    return frozenset(key for key, name in conn.execute(q) if t.arg in name.casefold())


LOOKUPS = {
    "to": _recipients,
    "cc": _recipients,
    "file": _files,
    "reviewed-by": _given("Reviewed-by"),
    "acked-by": _given("Acked-by"),
    "tested-by": _given("Tested-by"),
    "list": _lists,
}


# The series of the most recent store terms asked, per store and data version: a search is
# paged and re-sorted with the same terms; any number of different searches (a crawler) keeps
# at most this many.
KEPT_TERMS = 256
_KEPT: OrderedDict[tuple[str, Any, str, str], frozenset[str]] = OrderedDict()
_KEPT_LOCK = threading.Lock()


def found(conn: Connection, search: Search) -> dict[Term, frozenset[str]]:
    """The series keys of each store term of `search` (the most recent KEPT_TERMS kept until
    an update finishes)."""
    from patchlens.queries.selection import data_version

    store = (str(conn.engine.url), data_version(conn))
    out: dict[Term, frozenset[str]] = {}
    for t in search.store_terms():
        key = (*store, t.op, t.arg)
        with _KEPT_LOCK:
            keys = _KEPT.get(key)
            if keys is not None:
                _KEPT.move_to_end(key)
        if keys is None:
            keys = LOOKUPS[t.op](conn, t)
            with _KEPT_LOCK:
                _KEPT[key] = keys
                while len(_KEPT) > KEPT_TERMS:
                    _KEPT.popitem(last=False)
        out[t] = keys
    return out


def pull_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every pull request as a row the filters and the search test like a series row: the
    figures a pull request has (dates, versions, patches, replies, time to merge), zero or
    none for those it has not (a pull request is a batch of reviewed patches: no review
    metrics of its own), its state "merged" when a notice says so and "pull request"
    otherwise, and `is_pull` set."""
    pr = schema.pull_requests
    sm_columns = [c for c in schema.series_metrics.c]
    sv, vm, ma = schema.series_versions, schema.version_members, schema.message_analysis
    # The patches of each pull request's latest version: its messages that carry a diff (a
    # [GIT PULL] mail alone is a letter, like a cover: a pull request may carry none).
    latest: dict[str, tuple[int, int]] = {}
    diffs = (
        select(sv.c.series_key, sv.c.seq, func.count(ma.c.patch_id))
        .join(pr, pr.c.series_key == sv.c.series_key)
        .outerjoin(vm, (vm.c.version_key == sv.c.key) & (vm.c.idx > 0))
        .outerjoin(ma, ma.c.message_pk == vm.c.message_pk)
        .group_by(sv.c.key, sv.c.series_key, sv.c.seq)
    )
    for key, seq, n in conn.execute(diffs):
        if key not in latest or seq > latest[key][0]:
            latest[key] = (seq, n)
    # has:reply is "answered by someone other than the author or a bot", and the review
    # replies count those answers alone, as a series' do: pr-tracker-bot's "has been merged"
    # is a reply of every merged pull request, and no answer.
    rp = schema.replies
    answers: dict[str, int] = dict(
        conn.execute(
            select(sv.c.series_key, func.count())
            .join(rp, rp.c.version_key == sv.c.key)
            .join(pr, pr.c.series_key == sv.c.series_key)
            .where(~rp.c.is_bot, ~rp.c.is_author)
            .group_by(sv.c.series_key)
        ).all()
    )
    rows = []
    for r in conn.execute(
        select(pr, schema.series.c.author_name).outerjoin(
            schema.series, schema.series.c.key == pr.c.series_key
        )
    ):
        p = dict(r._mapping)
        row: dict[str, Any] = {}
        for c in sm_columns:
            row[c.name] = None if c.nullable else (0 if c.type.python_type in (int, bool) else "")
        merged = p["merged_by"] is not None
        row.update(
            {
                "series_key": p["series_key"],
                "title": p["title"],
                "author": p["author"],
                "author_addr": p["author_addr"],
                "author_name": p["author_name"] or "",
                "first_date": p["first_date"],
                "last_date": p["last_date"],
                "versions": p["versions"],
                "patches": latest.get(p["series_key"], (0, 0))[1],
                "reviewers": None,  # not counted for pull requests
                "review_replies": answers.get(p["series_key"], 0),
                "new_contributor": False,
                "in_repo": True,
                "repo_registered": True,
                "subsystems": [],
                "anomalies": [],
                "merged": "fully" if merged else "none",
                "merged_by": p["merged_by"],
                # From the posting to the notice that says it was merged, as for a series
                # merged by notice (none for a notice dated before the posting).
                "time_to_merge": (
                    round((p["merged_date"] - p["first_date"]) / 3600, 3)
                    if merged
                    and p["merged_date"] is not None
                    and p["merged_date"] >= p["first_date"]
                    else None
                ),
                "merge_evidence": p["merge_evidence"],
                "has_reviewer_reply": p["series_key"] in answers,
                "search_text": p["title"].casefold(),
                "state": "merged" if merged else "pull request",
                "is_pull": True,
            }
        )
        rows.append(row)
    return rows
