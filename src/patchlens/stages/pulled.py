"""What each pull request lists, for the metrics stage: the subjects of its letter's shortlog
(mail/shortlog.py), normalised as postings' titles are, and the Message-IDs its patches point
back to (QEMU's `Message-ID:` trailers, the kernel's `Link:`), stored in `pull_items`. A
series' facts read the items that name its patches (queries/evidence.py): a patch listed by a
pull request sent after it was taken by the maintainer who sent it, said on the list or not.

A robot's note that patches went into a tree (mail/treenote.py: Greg Kroah-Hartman's 'patch
"x" added to usb-testing', Mark Brown's, the tip robots', GitHub's pushes) lists its patches
the same way, by subject and author and by the `Link:` they carry; its items are keyed by the
note's Message-ID.

The items of a pull request depend on its own messages only; a series' facts depend on the
items that name its patches. So a pull request that changes (or goes) owes a recomputation to
the series its old and new items name (`sync`), and nothing else does; a new note owes it to
the series it names (`sync_notes`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import Connection, or_, select

from patchlens.mail.shortlog import shortlog_subjects
from patchlens.mail.subject import parse_subject
from patchlens.mail.treenote import GITHUB_SENDER, NOTE_SUBJECTS, tree_note
from patchlens.match.pointers import pointer_ids
from patchlens.queries.sql import among, chunks, rows_in
from patchlens.store import schema
from patchlens.store.writer import sync_table

SUBJECT, MESSAGE = "subject", "message"


def pull_keys_among(conn: Connection, keys: Iterable[str]) -> set[str]:
    """The pull requests among `keys`, and the keys that had items (a pull request gone, or
    no longer one)."""
    keys = set(keys)
    if not keys:
        return set()
    sv, pi = schema.series_versions, schema.pull_items
    found = {
        k
        for (k,) in conn.execute(
            select(sv.c.series_key).where(sv.c.pull, among(conn, sv.c.series_key, keys)).distinct()
        )
    }
    had = {
        k
        for (k,) in conn.execute(
            select(pi.c.pull_key).where(among(conn, pi.c.pull_key, keys)).distinct()
        )
    }
    return found | had


def item_rows(conn: Connection, pull_keys: Collection[str] | None) -> list[dict[str, Any]]:
    """The pull_items rows of the pull requests of `pull_keys` (or all): dated when the pull
    request was first sent, by its sender (the series' author: a pull request is its
    sender's, review/series.py)."""
    sv, vm, m, st, mt = (
        schema.series_versions,
        schema.version_members,
        schema.messages,
        schema.series,
        schema.message_trailers,
    )
    q = (
        select(sv.c.series_key, sv.c.date, vm.c.idx, vm.c.message_pk)
        .join(vm, vm.c.version_key == sv.c.key)
        .where(sv.c.pull)
    )
    members = (
        conn.execute(q).all()
        if pull_keys is None
        else rows_in(conn, lambda ks: q.where(sv.c.series_key.in_(ks)), pull_keys)
    )
    if not members:
        return []
    keys = sorted({r.series_key for r in members})
    sent: dict[str, int] = {}
    for r in members:
        sent[r.series_key] = min(sent.get(r.series_key, r.date), r.date)
    senders = {
        r.key: (r.author_name, r.author_addr)
        for chunk in chunks(keys)
        for r in conn.execute(
            select(st.c.key, st.c.author_name, st.c.author_addr).where(st.c.key.in_(chunk))
        )
    }
    # The letter is the cover of a numbered pull request ([PULL 00/22]) and the only mail of
    # a [GIT PULL]; its patches carry the pointers. Each is read for both: a commit message
    # seldom holds a shortlog, a letter no pointer trailers.
    mails = sorted({r.message_pk for r in members})
    pull_of = {r.message_pk: r.series_key for r in members}
    # (pull, kind, value) -> the author's name as the shortlog writes it ("" for a
    # Message-ID; "" too when two authors of one pull request wrote commits of one subject).
    items: dict[tuple[str, str, str], str] = {}
    for chunk in chunks(mails):
        for pk, body in conn.execute(select(m.c.id, m.c.body).where(m.c.id.in_(chunk))):
            for author, subject in shortlog_subjects(body or ""):
                _name(
                    items, (pull_of[pk], SUBJECT, parse_subject(subject).normalized_title), author
                )
    pointers: dict[int, list[tuple[str, str]]] = {}
    for chunk in chunks(mails):
        for pk, key, value in conn.execute(
            select(mt.c.message_pk, mt.c.key, mt.c.value).where(
                mt.c.message_pk.in_(chunk), ~mt.c.given
            )
        ):
            pointers.setdefault(pk, []).append((key, value))
    for pk, trailers in pointers.items():
        for message_id in pointer_ids(trailers):
            items[(pull_of[pk], MESSAGE, message_id)] = ""
    out = []
    for (key, kind, value), author in sorted(items.items()):
        name, addr = senders.get(key, ("", ""))
        out.append(_row(key, kind, value, sent[key], name, addr, author))
    return out


def _name(items: dict[tuple[str, str, str], str], item: tuple[str, str, str], author: str) -> None:
    """List `item` (pull, kind, value) by `author`; "" when two authors' commits share it (it
    then names either's posting). An item with no value is none."""
    if item[2]:
        items[item] = author if items.get(item, author) == author else ""


def _row(
    key: str, kind: str, value: str, date: int, name: str, addr: str, author: str
) -> dict[str, Any]:
    return {
        "pull_key": key,
        "kind": kind,
        "value": value,
        "date": date,
        "sender_name": name or "",
        "sender_addr": addr or "",
        "author": author,
    }


def note_rows(conn: Connection, pks: Collection[int] | None) -> list[dict[str, Any]]:
    """The pull_items rows of the robots' notes among the messages `pks` (or all): each
    patch's normalised subject (by its author's name) and the postings a carried `Link:`
    names, dated when the note was sent, by its sender. The notes are found by their subjects
    (mail/treenote.NOTE_SUBJECTS) and GitHub's sender: by an index-free scan in a full
    rebuild, by key among an update's new mail."""
    m = schema.messages
    q = select(
        m.c.id, m.c.message_id, m.c.subject, m.c.body, m.c.date_utc, m.c.from_name, m.c.from_addr
    ).where(
        or_(*(m.c.subject.ilike(s) for s in NOTE_SUBJECTS), m.c.from_addr == GITHUB_SENDER),
        m.c.date_utc.is_not(None),
    )
    found = (
        conn.execute(q).all()
        if pks is None
        else rows_in(conn, lambda ks: q.where(m.c.id.in_(ks)), pks)
    )
    out = []
    for r in found:
        note = tree_note(r.subject or "", r.from_addr or "", r.body or "")
        if note is None:
            continue
        items: dict[tuple[str, str, str], str] = {}
        for title, author in note.patches:
            _name(items, (r.message_id, SUBJECT, parse_subject(title).normalized_title), author)
        for mid in pointer_ids(note.pointers):
            _name(items, (r.message_id, MESSAGE, mid), "")
        out += [
            _row(key, kind, value, r.date_utc, r.from_name, r.from_addr, author)
            for (key, kind, value), author in sorted(items.items())
        ]
    return out


def sync_notes(conn: Connection, pks: Collection[int]) -> tuple[int, set[str]]:
    """Write the items of the tree robots' notes among the new messages `pks`; (rows
    changed, the series they name, which owe a recomputation)."""
    rows = note_rows(conn, pks)
    if not rows:
        return 0, set()
    pi = schema.pull_items
    keys = sorted({r["pull_key"] for r in rows})
    changed = sync_table(
        conn, pi, ("pull_key", "kind", "value"), rows, where=pi.c.pull_key.in_(keys)
    )
    return changed, series_listed(conn, {(r["kind"], r["value"]) for r in rows})


def series_listed(conn: Connection, items: Iterable[tuple[str, str]]) -> set[str]:
    """The series (not pull requests) holding a posting that an item names: by normalised
    title (the postings' partial index) or by Message-ID."""
    a, m = schema.message_analysis, schema.messages
    subjects = sorted({v for kind, v in items if kind == SUBJECT})
    messages = sorted({v for kind, v in items if kind == MESSAGE})
    return _series_holding(
        conn, a, a.c.message_pk, a.c.normalized_title, subjects, a.c.is_posting
    ) | (_series_holding(conn, m, m.c.id, m.c.message_id, messages))


def _series_holding(
    conn: Connection, table: Any, pk: Any, column: Any, values: list[str], *where: Any
) -> set[str]:
    """The series (not pull requests) with a member whose `column` (of `table`, joined by its
    message key `pk`) is among `values`."""
    sv, vm = schema.series_versions, schema.version_members
    out: set[str] = set()
    for chunk in chunks(values):
        q = (
            select(sv.c.series_key)
            .select_from(table)
            .join(vm, vm.c.message_pk == pk)
            .join(sv, sv.c.key == vm.c.version_key)
            .where(*where, column.in_(chunk), ~sv.c.pull)
        )
        out.update(k for (k,) in conn.execute(q))
    return out


def sync(conn: Connection, pull_keys: Collection[str] | None) -> tuple[int, set[str]]:
    """Rewrite the items of the pull requests of `pull_keys` (or all, and every tree robot's
    note's); (rows changed, the series their old or new items name, which owe a
    recomputation). With `pull_keys` None (a full rebuild) every series is redone anyway and
    none are returned."""
    pi = schema.pull_items
    rows = item_rows(conn, pull_keys)
    if pull_keys is None:
        rows += note_rows(conn, None)
        changed = sync_table(conn, pi, ("pull_key", "kind", "value"), rows)
        return changed, set()
    if not pull_keys:
        return 0, set()
    where = among(conn, pi.c.pull_key, pull_keys)
    old = {(r.kind, r.value) for r in conn.execute(select(pi.c.kind, pi.c.value).where(where))}
    changed = sync_table(conn, pi, ("pull_key", "kind", "value"), rows, where=where)
    named = old | {(r["kind"], r["value"]) for r in rows}
    return changed, series_listed(conn, named) if changed else set()


def listed_titles(conn: Connection, pks: Collection[int]) -> set[str]:
    """The series that pull requests' or notes' subject items name, among the titles of the
    new postings `pks`: a posting of a listed title may change which posting an item names
    (the one its author posted last before it, queries/evidence.py), so every series
    holding the title owes a recomputation, as in a full rebuild."""
    a, pi = schema.message_analysis, schema.pull_items
    titles = {
        t
        for chunk in chunks(sorted(pks))
        for (t,) in conn.execute(
            select(a.c.normalized_title).where(a.c.message_pk.in_(chunk), a.c.is_posting)
        )
        if t
    }
    listed = {
        (SUBJECT, v)
        for chunk in chunks(sorted(titles))
        for (v,) in conn.execute(
            select(pi.c.value).where(pi.c.kind == SUBJECT, pi.c.value.in_(chunk)).distinct()
        )
    }
    return series_listed(conn, listed) if listed else set()
