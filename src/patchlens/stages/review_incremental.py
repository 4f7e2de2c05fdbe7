"""Reconstruction of what new mail changes, instead of the whole history.

New mail can change (1) the threads of the messages it shares a Message-ID with, transitively,
and of those joined to them by subject (stages/closure.py); (2) the versions of the postings in
those threads, and of the same sender's postings within the windows grouping looks across
(broken threading, partial re-rolls); (3) the links of the versions that changed, and of every
later version of the same people (linking is decided in date order, and each decision reads
the earlier ones: `review.versions.Linker` resumes it from the stored prefix); (4) the series
made of those versions and the replies in those threads.

Each part is recomputed by the same pure functions the full rebuild uses, on a set closed
under what they read. Where closure rests on a window rather than a proof (the versions of a
sender around the new postings), the versions rebuilt from the rim of the set must come out as
stored; if one does not, the update falls back to the full rebuild and says why. So an
incremental update either gives what a full rebuild gives, or is one.
"""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from patchlens.identity.bots import BotMatcher
from patchlens.identity.people import Identities
from patchlens.mail.fingerprint import unpack_packed
from patchlens.mail.subject import normalize_title
from patchlens.queries.sql import dated_between, rows_in
from patchlens.review.model import Mail, Version, grouped_partial
from patchlens.review.replies import attribute_replies
from patchlens.review.series import REROLL_WINDOW, group_versions
from patchlens.review.threads import ThreadLink, build_threads
from patchlens.review.versions import (
    MAX_GAP,
    Features,
    Link,
    Linker,
    Seen,
    chains,
    title_tokens,
)
from patchlens.stages import linkfeatures, linkwords
from patchlens.stages.closure import thread_closure
from patchlens.stages.mails import mail_columns, mail_of, message_ref
from patchlens.store import schema

# Beyond this share of a store (of more than SMALL messages), rebuilding everything is as
# cheap and simpler.
MAX_SHARE = 0.3
SMALL = 2000


class Fallback(Exception):
    """The change reaches further than the incremental rebuild can prove: rebuild all."""


# -- loading ----------------------------------------------------------------------------------


def _message_rows(conn: Connection, pks) -> list[Any]:
    m, a = schema.messages, schema.message_analysis
    return rows_in(
        conn,
        lambda c: select(*mail_columns()).join(a, a.c.message_pk == m.c.id).where(m.c.id.in_(c)),
        pks,
    )


@dataclass
class Loaded:
    """Mails read so far, by primary key, with their threads (recomputed or stored)."""

    threads: MutableMapping[int, ThreadLink] = field(default_factory=dict)
    mails: MutableMapping[int, Mail] = field(default_factory=dict)

    def layer(self) -> Loaded:
        """A Loaded that reads through to this one and keeps what it reads itself, to be
        dropped with it (the history linking only counts through is read in pieces)."""
        return Loaded(ChainMap({}, self.threads), ChainMap({}, self.mails))


def load(conn: Connection, pks: set[int], got: Loaded, rows: list[Any] | None = None) -> None:
    """Read the mails `pks` not read yet; a thread not recomputed comes from the store.
    `rows`: their `_message_rows`, when the caller has just read them (threading does)."""
    todo = pks - got.mails.keys()
    if not todo:
        return
    fp = schema.diff_fingerprints
    got.threads.update(_stored_threads(conn, todo - got.threads.keys()))
    hashes = {
        pk: unpack_packed(h)
        for pk, h in rows_in(
            conn,
            lambda c: select(fp.c.pk, fp.c.hashes).where(fp.c.kind == "m", fp.c.pk.in_(c)),
            todo,
        )
    }
    if rows is None:
        rows = _message_rows(conn, todo)
    for r in rows:
        if r.id not in todo:
            continue
        t = got.threads.get(r.id)
        if t is None:
            raise Fallback(f"message {r.message_id} has no thread")
        got.mails[r.id] = mail_of(r, t, hashes.get(r.id, frozenset()))


def thread_messages(conn: Connection, threads: set[str]) -> set[int]:
    mt = schema.message_threads
    return {
        pk
        for (pk,) in rows_in(
            conn, lambda c: select(mt.c.message_pk).where(mt.c.thread_key.in_(c)), threads
        )
    }


def stored_versions(conn: Connection, keys: set[str], got: Loaded) -> dict[str, Version]:
    """Versions as the store holds them, with their member mails."""
    sv, vm = schema.series_versions, schema.version_members
    rows = rows_in(conn, lambda c: select(sv).where(sv.c.key.in_(c)), keys)
    members: dict[str, dict[int, int]] = {}
    for key, pk, idx in rows_in(
        conn,
        lambda c: select(vm.c.version_key, vm.c.message_pk, vm.c.idx).where(
            vm.c.version_key.in_(c)
        ),
        keys,
    ):
        members.setdefault(key, {})[idx] = pk
    load(conn, {pk for ms in members.values() for pk in ms.values()}, got)
    out = {}
    for r in rows:
        ms = members.get(r.key, {})
        cover = got.mails[ms[0]] if 0 in ms else None
        v = Version(
            key=r.key,
            author_name=r.author_name,
            author_addr=r.author_addr,
            sender_name="",
            sender_addr="",
            version=r.version,
            version_str=r.version_str,
            rfc=r.rfc,
            resend=r.resend,
            pull=r.pull,
            backport=r.backport,
            partial=grouped_partial(r.version_str, r.rerolls_key),
            title=r.title,
            normalized_title=normalize_title(r.title),
            total=r.total,
            thread=r.thread_key,
            date=r.date,
            cover=cover,
            patches={i: got.mails[pk] for i, pk in ms.items() if i > 0},
            rerolls=r.rerolls_key,
            committed=r.committed,
        )
        anchor = v.anchor
        # Every member of a version has its sender's address (series.py groups by it).
        v.sender_name, v.sender_addr = anchor.from_name, anchor.from_addr
        v.normalized_title = (
            anchor.subject.normalized_title if cover is None else v.normalized_title
        )
        out[r.key] = v
    return out


def version_facts(v: Version) -> tuple[Any, ...]:
    """What a version's stored row and members say, for comparing two computations."""
    return (
        v.key,
        v.version,
        v.version_str,
        v.rfc,
        v.resend,
        v.pull,
        v.backport,
        v.committed,
        v.partial,
        v.title,
        v.author_name,
        v.author_addr,
        v.total,
        tuple(v.missing),
        v.thread,
        v.date,
        v.cover.pk if v.cover else None,
        v.rerolls,
        tuple((i, p.pk) for i, p in sorted(v.patches.items())),
    )


# -- the whole incremental pass ----------------------------------------------------------------


@dataclass
class Delta:
    """What an incremental pass rebuilt: rows to write, each with the part of its table they
    replace (keys)."""

    rows: dict[str, list[dict[str, Any]]]
    scope: dict[str, set[Any]]
    threads: int = 0
    versions: int = 0
    series: int = 0
    links: int = 0
    replies: int = 0


def _versions_of_postings(conn: Connection, pks: set[int]) -> set[str]:
    vm = schema.version_members
    return {
        k
        for (k,) in rows_in(
            conn, lambda c: select(vm.c.version_key).where(vm.c.message_pk.in_(c)), pks
        )
    }


def rebuild_part(
    conn: Connection,
    new: set[int],
    people: Identities,
    is_bot: BotMatcher,
    total: int,
) -> Delta:
    """The structural rows new mail (`new`, primary keys) changes. Raises Fallback.

    A version outside the part that comes out otherwise than stored at every width joins the
    part: its messages are taken as new too, and the part is rebuilt (a part seeded with more
    messages than the new ones gives the same rows, only more of them), a few times."""
    seed = set(new)
    for _ in range(RESEED):
        try:
            return _rebuild_part(conn, seed, people, is_bot, total)
        except _RimSeed as rim:
            if rim.pks <= seed:
                raise Fallback(str(rim)) from None
            seed |= rim.pks
    raise Fallback(f"the part grew {RESEED} times and still met changed versions at its rim")


# How many times versions at the rim may join the part before everything is rebuilt.
RESEED = 4


class _RimSeed(Exception):
    """Versions at the rim changed at every width: their messages (`pks`) join the part."""

    def __init__(self, message: str, pks: set[int]) -> None:
        super().__init__(message)
        self.pks = pks


def _rebuild_part(
    conn: Connection,
    new: set[int],
    people: Identities,
    is_bot: BotMatcher,
    total: int,
) -> Delta:
    got = Loaded()
    # 1. Threads.
    closure = thread_closure(conn, new)
    if total > SMALL and len(closure) > MAX_SHARE * total:
        raise Fallback(f"new mail reaches {len(closure)} of {total} messages")
    rows = _message_rows(conn, closure)
    threads = build_threads(message_ref(r) for r in rows)
    before = _stored_threads(conn, closure)
    moved = {pk for pk, t in threads.items() if before.get(pk) != t}
    got.threads.update(threads)
    load(conn, closure, got, rows)

    # 2. Versions: the closure's postings and the same senders' postings around them, the
    # versions all of them belonged to, and the threads of those versions, until closed
    # (grouping walks up to the posting a patch answers).
    posts = [got.mails[pk] for pk in closure if got.mails[pk].is_posting]
    # A version at the rim of the window depends on mail outside it (a partial re-roll names
    # a version sent before it): when one comes out otherwise than stored, the window was too
    # narrow for it. Its own window is read first (its postings join those the windows are
    # taken around: a version drawn in through a thread may be far from any new posting), a
    # few times; then wider windows; then the versions join the part (`rebuild_part`).
    around = {m.pk: m for m in posts}
    last: _RimChanged | None = None
    for widen in WIDEN:
        try:
            part = _absorbing(
                conn, closure, moved, around, widen * REROLL_WINDOW, got, total, threads
            )
            break
        except _RimChanged as rim:
            last = rim
    else:
        assert last is not None
        raise _RimSeed(str(last), {m.pk for v in last.versions for m in v.members})
    scope, versions, changed, removed = part
    by_key = {v.key: v for v in versions}

    # 3. Links, resumed for the people of what changed.
    links_out: dict[str, Link | None] = {}
    link_scope: set[str] = set()
    reread: dict[str, Version] = {}
    if changed or removed:
        links_out, link_scope, reread = _relink(conn, changed, removed, by_key, people, got)

    # 4. Replies in every thread whose postings or shape changed.
    reply_threads = {t.thread for t in threads.values()} | {t.thread for t in before.values()}
    reply_threads |= {m.thread for v in changed + removed for m in v.members}
    reply_msgs = thread_messages(conn, reply_threads) | closure
    if reply_msgs - scope:
        raise Fallback("a changed thread reaches outside what was rebuilt")
    replies = attribute_replies([got.mails[pk] for pk in reply_msgs], versions, is_bot, people)

    # 5. Series: the chains through everything changed, relinked or answered.
    sv, rp = schema.series_versions, schema.replies
    removed_keys = {v.key for v in removed}
    touched = {v.key for v in changed} | removed_keys | link_scope
    touched |= {lk.prev for lk in links_out.values() if lk is not None}
    touched |= {r.version_key for r in replies}
    touched |= {
        k
        for (k,) in rows_in(
            conn, lambda c: select(rp.c.version_key).where(rp.c.message_pk.in_(c)), reply_msgs
        )
    }
    old_series = {
        s
        for (s,) in rows_in(conn, lambda c: select(sv.c.series_key).where(sv.c.key.in_(c)), touched)
    }
    chain_keys = {
        k
        for (k,) in rows_in(
            conn, lambda c: select(sv.c.key).where(sv.c.series_key.in_(c)), old_series
        )
    }
    chain_keys = (chain_keys - removed_keys) | {v.key for v in changed}
    here = {k: by_key[k] for k in chain_keys if k in by_key}
    # The stored versions linking decided again are read already (most of the chains').
    here.update((k, reread[k]) for k in chain_keys - here.keys() if k in reread)
    here.update(stored_versions(conn, chain_keys - here.keys(), got))
    stored_links = _stored_links(conn, chain_keys - link_scope)
    links = [lk for k, lk in links_out.items() if lk is not None and k in chain_keys]
    links += [lk for k, lk in stored_links.items() if lk.prev not in removed_keys]
    for lk in links:
        if lk.prev not in chain_keys or lk.next not in chain_keys:
            raise Fallback(f"the link {lk.prev} -> {lk.next} reaches outside what was rebuilt")
    series = chains(list(here.values()), links)
    # Last activity: the replies rebuilt here, and the stored ones to these versions elsewhere.
    activity = _stored_activity(conn, chain_keys, reply_msgs)
    for r in replies:
        if r.version_key in chain_keys:
            d = got.mails[r.message_pk].date
            activity[r.version_key] = max(activity.get(r.version_key, d), d)
    from patchlens.stages.review import Structure, structure_rows

    st = Structure(
        threads={pk: threads[pk] for pk in closure},
        versions=list(here.values()),
        links=links,
        series=series,
        replies=replies,
        mails=[
            got.mails[pk] for pk in reply_msgs | {mm.pk for v in here.values() for mm in v.members}
        ],
    )
    rows = structure_rows(st, activity, {v.key for v in changed})
    scope_rows = {
        "message_threads": closure,
        "series_versions": chain_keys | removed_keys,
        # What linking compares of a version follows from its members: only the versions
        # that changed (or went) have other rows.
        "link_features": {v.key for v in changed} | removed_keys,
        "version_members": {mm.pk for v in here.values() for mm in v.members}
        | {mm.pk for v in removed for mm in v.members},
        "series": old_series | set(series),
        "replies": reply_msgs,
    }
    return Delta(
        rows,
        scope_rows,
        threads=len({t.thread for t in threads.values()}),
        versions=len(here),
        series=len(series),
        links=len(links),
        replies=len(replies),
    )


def _absorbing(
    conn: Connection,
    closure: set[int],
    moved: set[int],
    around: dict[int, Mail],
    window: int,
    got: Loaded,
    total: int,
    threads: dict[int, ThreadLink],
) -> tuple[set[int], list[Version], list[Version], list[Version]]:
    """`_versions_part` at one width, the versions that come out changed at the rim taking
    their own postings into `around` (up to ABSORB rounds). Raises _RimChanged."""
    versions: list[Version] = []
    for _ in range(ABSORB):
        try:
            return _versions_part(
                conn, closure, moved, list(around.values()), window, got, total, threads
            )
        except _RimChanged as rim:
            fresh = [
                m for v in rim.versions for m in v.members if m.is_posting and m.pk not in around
            ]
            if not fresh:
                raise
            versions = rim.versions
            around.update((m.pk, m) for m in fresh)
    raise _RimChanged(f"versions at the rim still change after {ABSORB} rounds", versions)


class _RimChanged(Exception):
    """Not an error: the window around the new postings was too narrow (for `versions`)."""

    def __init__(self, message: str, versions: list[Version] | None = None) -> None:
        super().__init__(message)
        self.versions = versions or []


# How many rounds of reading the rim versions' own windows, per width, before widening.
ABSORB = 8


WIDEN = (1, 2, 4)


def _versions_part(
    conn: Connection,
    closure: set[int],
    moved: set[int],
    posts: list[Mail],
    window: int,
    got: Loaded,
    total: int,
    threads: dict[int, ThreadLink],
) -> tuple[set[int], list[Version], list[Version], list[Version]]:
    """The versions of the closure's postings, rebuilt with the same senders' postings within
    `window` around them and everything they belong to: (scope, versions, changed,
    removed). Raises _RimChanged when a version outside the closure would
    change.

    The window around a posting also reads what grouping measures from the versions it
    belongs to (stored and rebuilt, `_version_reach`): their members' totals (a cover "0/3"
    whose first patch says "1/4": another thread's partial re-roll reads the version's
    total), around their dates too (a re-roll is dated from the version it re-rolls, which a
    patch whose threading broke joins up to a day later, and a cover may be dated after its
    patches). Those are known once grouped: the part is grouped again with them, until
    nothing is new."""
    also: dict[int, _Reach] = {}
    while True:
        part = _versions_grouped(conn, closure, posts, window, also, got, total, threads)
        scope, old_keys, stored, versions = part
        wider = _version_reach(posts, [*versions, *stored.values()])
        new = [pk for pk, r in wider.items() if not r <= also.get(pk, _NOWHERE)]
        if not new:
            break
        also = {**also, **{pk: also.get(pk, _NOWHERE) | wider[pk] for pk in new}}
        # Grouped again only if the wider windows hold postings the part lacks.
        if not _sender_postings(conn, [p for p in posts if p.pk in new], window, also) - scope:
            break
    by_key = {v.key: v for v in versions}
    changed = []
    rim = []
    for v in versions:
        s = stored.get(v.key)
        same = (
            s is not None
            and version_facts(s) == version_facts(v)
            and not any(m.pk in moved for m in v.members)
        )
        if same:
            continue
        if not any(m.pk in closure for m in v.members):
            rim.append(v)
        changed.append(v)
    if rim:
        raise _RimChanged(
            f"version {rim[0].key} outside the new mail's threads changes"
            + (f" (and {len(rim) - 1} more)" if len(rim) > 1 else ""),
            rim,
        )
    removed = [stored[k] for k in old_keys if k not in by_key]
    return scope, versions, changed, removed


@dataclass(frozen=True)
class _Reach:
    """More to read around a posting than its own class at its own date: these classes
    (`_classes`), and around these dates too."""

    classes: frozenset[int] = frozenset()
    dates: frozenset[int] = frozenset()

    def __le__(self, other: _Reach) -> bool:
        return self.classes <= other.classes and self.dates <= other.dates

    def __or__(self, other: _Reach) -> _Reach:
        return _Reach(self.classes | other.classes, self.dates | other.dates)


_NOWHERE = _Reach()


def _version_reach(posts: list[Mail], versions: list[Version]) -> dict[int, _Reach]:
    """For each of `posts`, the classes of the members of the versions among `versions` it
    belongs to, and the dates of those versions, beyond its own class and date. Pure."""
    centres = {p.pk: p for p in posts}
    out: dict[int, _Reach] = {}
    for v in versions:
        members = v.members
        here = [centres[m.pk] for m in members if m.pk in centres]
        if not here:
            continue
        classes = {c for c in map(_classes, members) if c is not None}
        for p in here:
            reach = _Reach(frozenset(classes - {_classes(p)}), frozenset({v.date} - {p.date}))
            if reach.classes or reach.dates:
                out[p.pk] = out.get(p.pk, _NOWHERE) | reach
    return out


def _versions_grouped(
    conn: Connection,
    closure: set[int],
    posts: list[Mail],
    window: int,
    also: dict[int, _Reach],
    got: Loaded,
    total: int,
    threads: dict[int, ThreadLink],
) -> tuple[set[int], set[str], dict[str, Version], list[Version]]:
    """The part's messages (the closure, the windows of `posts`, their versions' members
    and threads), the stored versions of its postings, and its versions grouped again."""
    scope = set(closure) | _sender_postings(conn, posts, window, also)
    old_keys: set[str] = set()
    seen_threads = {t.thread for t in threads.values()}
    while True:
        load(conn, scope, got)
        keys = _versions_of_postings(conn, {pk for pk in scope if got.mails[pk].is_posting})
        new_keys = keys - old_keys
        old_keys |= keys
        member_pks = {
            pk
            for (pk,) in rows_in(
                conn,
                lambda c: select(schema.version_members.c.message_pk).where(
                    schema.version_members.c.version_key.in_(c)
                ),
                new_keys,
            )
        }
        load(conn, member_pks, got)
        more_threads = {got.mails[pk].thread for pk in scope | member_pks} - seen_threads
        seen_threads |= more_threads
        grown = (member_pks | thread_messages(conn, more_threads)) - scope
        if not grown:
            break
        scope |= grown
    if total > SMALL and len(scope) > MAX_SHARE * total:
        raise Fallback(f"new mail's versions reach {len(scope)} of {total} messages")
    stored = stored_versions(conn, old_keys, got)
    return scope, old_keys, stored, group_versions([got.mails[pk] for pk in scope])


def _stored_activity(conn: Connection, keys: set[str], skip: set[int]) -> dict[str, int]:
    """The latest stored reply to each version, leaving out the replies in `skip`."""
    rp, m = schema.replies, schema.messages
    out: dict[str, int] = {}
    for pk, key, date in rows_in(
        conn,
        lambda c: (
            select(rp.c.message_pk, rp.c.version_key, m.c.date_utc)
            .join(m, m.c.id == rp.c.message_pk)
            .where(rp.c.version_key.in_(c))
        ),
        keys,
    ):
        if pk not in skip and date is not None:
            out[key] = max(out.get(key, date), date)
    return out


def _stored_threads(conn: Connection, pks: set[int]) -> dict[int, ThreadLink]:
    mt = schema.message_threads
    return {
        pk: ThreadLink(thread, parent, depth, by_subject)
        for pk, thread, parent, depth, by_subject in rows_in(
            conn,
            lambda c: select(
                mt.c.message_pk, mt.c.thread_key, mt.c.parent_id, mt.c.depth, mt.c.by_subject
            ).where(mt.c.message_pk.in_(c)),
            pks,
        )
    }


def _sender_postings(
    conn: Connection, posts: list[Mail], window: int, also: dict[int, _Reach] | None = None
) -> set[int]:
    """Postings by the senders of `posts` within the grouping windows around them, among
    the messages already placed in threads (a cold build places them a batch at a time).

    Each sender's own windows: one old posting in the part (a thread answered years later)
    must not pull in everything its sender posted since. And only the postings grouping can
    read across threads beside each (`_classes`): a maintainer's hundred single patches a
    month are no context for the series he sends. `also`: more to read around some of
    `posts` (by primary key). Beside the postings of a total, the covers of the stored
    versions of that total: a version is dated by its cover, which may say another total
    than its patches, and those may be dated before it (a clock's skew)."""
    spans = _windows(posts, window, also or {})
    if not spans:
        return set()
    m, a, mt = schema.messages, schema.message_analysis, schema.message_threads
    vm, sv = schema.version_members, schema.series_versions
    out: set[int] = set()
    for i in range(0, len(spans), 100):
        some = spans[i : i + 100]

        def near(total_of: Any, some: list[tuple[str, int | None, int, int]] = some) -> Any:
            return or_(
                *(
                    # A message without a date is dated 0 by reconstruction (stages/mails.py).
                    and_(
                        m.c.from_addr == addr,
                        dated_between(m.c.date_utc, lo, hi),
                        *([] if total is None else [total_of == total]),
                    )
                    for addr, total, lo, hi in some
                )
            )

        postings = (
            select(m.c.id)
            .join(a, a.c.message_pk == m.c.id)
            .join(mt, mt.c.message_pk == m.c.id)
            .where(near(a.c.total), a.c.is_posting)
        )
        covers = (
            select(m.c.id)
            .join(vm, and_(vm.c.message_pk == m.c.id, vm.c.idx == 0))
            .join(sv, sv.c.key == vm.c.version_key)
            .where(near(sv.c.total))
        )
        out |= {pk for (pk,) in conn.execute(postings)}
        if any(total is not None for _addr, total, _lo, _hi in some):
            out |= {pk for (pk,) in conn.execute(covers)}
    return out


# A posting numbered without a total ("[PATCH 3]"): grouping may read any posting of its
# sender beside it.
_ANY = -1


def _classes(p: Mail) -> int | None:
    """Which of its sender's postings grouping can read beside `p` across threads: those of
    its total (`_ANY`: all of them), or none. Pure.

    review/series.py joins threads only by `_key` (a patch whose threading broke, siblings,
    a patch re-rolled under its own earlier version), which holds the total, and by the
    total of a partial re-roll; a version open under a key has a member of that key's total
    (its cover, or the patch it took its numbers from). A posting without an index (a single
    patch, a pull request) begins a version of its own and is never looked up by key."""
    s = p.subject
    if s.total is not None:
        return s.total
    return None if s.index is None else _ANY


def _windows(
    posts: list[Mail], window: int, also: dict[int, _Reach] | None = None
) -> list[tuple[str, int | None, int, int]]:
    """(sender, total or None for all, from, to): each sender's posting dates of each class
    (`_classes`, and the classes `also` gives for a posting, around its dates too) widened by
    `window`, overlaps merged. Pure."""
    dates: dict[tuple[str, int], list[int]] = {}
    for p in posts:
        cls = _classes(p)
        more = (also or {}).get(p.pk, _NOWHERE)
        for c in ({cls} if cls is not None else set()) | more.classes:
            dates.setdefault((p.from_addr, c), []).extend({p.date} | more.dates)
    spans: list[tuple[str, int | None, int, int]] = []
    for addr, cls in sorted(dates):
        total = None if cls == _ANY else cls
        lo = hi = None
        for d in sorted(dates[addr, cls]):
            if hi is not None and d - window <= hi:
                hi = d + window
                continue
            if lo is not None and hi is not None:
                spans.append((addr, total, lo, hi))
            lo, hi = d - window, d + window
        if lo is not None and hi is not None:
            spans.append((addr, total, lo, hi))
    return spans


def _stored_links(conn: Connection, keys: set[str]) -> dict[str, Link]:
    sv = schema.series_versions
    out = {}
    for key, prev, score, ev in rows_in(
        conn,
        lambda c: select(sv.c.key, sv.c.prev_key, sv.c.link_score, sv.c.link_evidence).where(
            sv.c.key.in_(c), sv.c.prev_key.is_not(None)
        ),
        keys,
    ):
        out[key] = Link(prev, key, score, json.loads(ev) if ev else {})
    return out


def _relink(
    conn: Connection,
    changed: list[Version],
    removed: list[Version],
    current: dict[str, Version],
    people: Identities,
    got: Loaded,
) -> tuple[dict[str, Link | None], set[str], dict[str, Version]]:
    """Links into every version, of the people of `changed` and `removed`, dated from the
    earliest of them on: the decisions that can differ. Returns {version key: link or None},
    the keys decided, and the stored versions among them as read (whole).

    Only the versions those decisions can see are read: from MAX_GAP before the first of them
    on. What counts as a common word of a person before that comes from the stored totals
    (stages/linkwords.py) less every stored version read here, so an update costs the
    people's recent history, not all of it."""
    linker = Linker(people)
    idents: set[str] = set()
    for v in changed + removed:
        idents |= linker.identities(v)
    t0 = min(v.date for v in changed + removed)
    gone = {v.key for v in removed}
    fresh = {v.key: v for v in changed}
    while True:
        later_stored = _heads(conn, _addresses(people, idents), t0)
        heads = {h.key: h for h in later_stored if h.key not in gone}
        for v in changed:
            heads[v.key] = _Head(
                v.key,
                v.date,
                v.title,
                v.pull or v.backport,
                v.author_name,
                v.author_addr,
                v.sender_name,
                v.sender_addr,
            )
        # A relay's address holds others' versions too (identity/people.py): only those of
        # the people relinked count, or one relayed author would pull in everyone it sent for.
        later = [
            h
            for h in heads.values()
            if h.date >= t0 and not h.skip and h.identities(people) & idents
        ]
        more = set()
        for h in later:
            more |= h.identities(people)
        if more <= idents:
            break
        idents |= more
    suffix_keys = {h.key for h in later}
    first = min((h.date for h in later), default=t0)
    cut = first - MAX_GAP
    # Every stored version counted in the totals that this relinking reads or replaces.
    window = {h.key: h for h in later_stored}
    window.update((h.key, h) for h in _heads(conn, _addresses(people, idents), cut, t0))
    window.update((h.key, h) for h in _heads_of(conn, (set(fresh) | gone) - window.keys()))
    totals = linkwords.stored(conn, idents)
    before = linkwords.Tally()
    for h in window.values():
        if not h.skip:
            before.add(h.identities(people) & idents, h.title, -1)
    for ident in idents:
        n, words = totals.get(ident, (0, {}))
        words = dict(words)
        for (i, w), d in before.words.items():
            if i == ident:
                words[w] = words.get(w, 0) + d
        linker.seed(ident, n + before.people[ident], {w: k for w, k in words.items() if k})
    for h in window.values():
        if h.key not in gone and h.key not in fresh:
            heads.setdefault(h.key, h)
    order = sorted((h for h in heads.values() if not h.skip), key=lambda h: (h.date, h.key))
    near = {h.key for h in order if h.key not in fresh and h.date >= cut}
    full = {k: current[k] for k in near if k in current}
    full.update(fresh)
    stream = _Stream(
        conn,
        [h.key for h in order if h.key in near and h.key not in full],
        got,
        suffix_keys,
    )
    stored = _stored_links(conn, {h.key for h in order})
    has_next = {lk.prev for k, lk in stored.items() if k not in suffix_keys}
    out: dict[str, Link | None] = {}
    for h in order:
        v = full.get(h.key) or stream.take(h.key)
        if h.key in suffix_keys:
            if not isinstance(v, Version):
                raise Fallback(f"version {h.key} to relink is not in the store")
            out[h.key] = linker.decide(v)
        elif isinstance(v, Version):
            linker.remember(v, h.key in has_next)
        elif v is not None:  # what linking keeps of it, stored
            linker.remember_kept(*v, h.identities(people), h.key in has_next)
        else:  # a version the store lists but could not give back in full
            linker.count(h.identities(people), title_tokens(normalize_title(h.title)))
    return out, suffix_keys, stream.whole_read


class _Stream:
    """Stored versions read in date order, a piece at a time, each given once and then
    forgotten: the linker keeps only what it needs of them (`Seen`), so memory holds one
    piece, not a prolific person's whole 400 days of mail.

    A version to decide again (in `whole`) is read in full, and kept (`whole_read`: the
    series rebuilt after linking hold it); any other, only remembered, as what linking keeps
    of it (stages/linkfeatures.py), or in full when the store has no such row for it (made
    before them and not filled yet), and forgotten."""

    PIECE = 2000

    def __init__(self, conn: Connection, keys: list[str], got: Loaded, whole: set[str]) -> None:
        self.conn, self.keys, self.got, self.whole = conn, keys, got, whole
        self.piece_of = {k: i // self.PIECE for i, k in enumerate(keys)}
        self.read = -1
        self.ahead: dict[str, Version | tuple[Seen, Features]] = {}
        self.whole_read: dict[str, Version] = {}

    def take(self, key: str) -> Version | tuple[Seen, Features] | None:
        piece = self.piece_of.get(key)
        if piece is None:
            return None
        while self.read < piece:
            self.read += 1
            start = self.read * self.PIECE
            keys = self.keys[start : start + self.PIECE]
            whole = {k for k in keys if k in self.whole}
            light = linkfeatures.kept(self.conn, [k for k in keys if k not in whole])
            full = stored_versions(self.conn, whole, self.got)
            self.whole_read.update(full)
            self.ahead = {  # the pieces before are all given out (keys come in order)
                **self.ahead,
                **light,
                **full,
                **stored_versions(self.conn, set(keys) - light.keys() - whole, self.got.layer()),
            }
        return self.ahead.pop(key, None)


@dataclass(frozen=True, slots=True)
class _Head:
    """What linking needs of a version it only counts the words of."""

    key: str
    date: int
    title: str
    skip: bool  # a pull request or backport: never linked
    author_name: str
    author_addr: str
    sender_name: str
    sender_addr: str

    def identities(self, people: Identities) -> set[str]:
        return {
            people(self.author_name, self.author_addr),
            people(self.sender_name, self.sender_addr),
        }


def _heads(conn: Connection, addrs: set[str], since: int, until: int | None = None) -> list[_Head]:
    """The stored versions authored or sent from `addrs`, dated from `since` (and before
    `until`), light."""
    return _head_rows(conn, _versions_of(conn, addrs, since, until))


def _heads_of(conn: Connection, keys: set[str]) -> list[_Head]:
    return _head_rows(conn, keys)


def _head_rows(conn: Connection, keys: set[str]) -> list[_Head]:
    sv, m = schema.series_versions, schema.messages
    return [
        _Head(
            r.key,
            r.date,
            r.title,
            r.pull or r.backport,
            r.author_name,
            r.author_addr,
            r.from_name,
            r.from_addr,
        )
        for r in rows_in(
            conn,
            lambda c: (
                select(
                    sv.c.key,
                    sv.c.date,
                    sv.c.title,
                    sv.c.pull,
                    sv.c.backport,
                    sv.c.author_name,
                    sv.c.author_addr,
                    m.c.from_name,
                    m.c.from_addr,
                )
                .join(m, m.c.message_id == sv.c.key)
                .where(sv.c.key.in_(c))
            ),
            keys,
        )
    ]


def _addresses(people: Identities, idents: set[str]) -> set[str]:
    return {a for ident in idents for a in people.addresses(ident)}


def _versions_of(conn: Connection, addrs: set[str], since: int, until: int | None) -> set[str]:
    """Keys of the stored versions authored or sent from `addrs`, dated in [since, until)."""
    sv, vm, m = schema.series_versions, schema.version_members, schema.messages
    bound = [sv.c.date >= since] + ([sv.c.date < until] if until is not None else [])
    keys = {
        k
        for (k,) in rows_in(
            conn, lambda c: select(sv.c.key).where(sv.c.author_addr.in_(c), *bound), addrs
        )
    }
    # A version is no older than its first message: its members sent before `since` belong
    # to no version in range, so the sender's messages are read from `since` on.
    keys |= {
        k
        for (k,) in rows_in(
            conn,
            lambda c: (
                select(vm.c.version_key)
                .join(m, m.c.id == vm.c.message_pk)
                .join(sv, sv.c.key == vm.c.version_key)
                .where(m.c.from_addr.in_(c), m.c.date_utc >= since, *bound)
            ),
            addrs,
        )
    }
    return keys
