"""The title words of each person's versions, counted over the whole store (tables
linker_words and linker_people) and kept in step with series_versions.

Why: linking (review.versions.Linker) discounts a person's common words, counted over all of
their earlier versions. An update that relinks from a date needs those counts as they stood
before the window it re-reads. Reading every earlier version of the people involved made each
update cost their whole history, and a cold build in batches quadratic. The stored totals, less
the versions an update re-reads, give the same counts exactly (the counts are a multiset sum,
whatever the order).

A version counts for each of its identities (author and sender, `Linker.identities`); pull
requests and backports are never linked, so never counted (`review.versions.linkable`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, delete, select

from patchlens.identity.people import Identities
from patchlens.mail.subject import normalize_title
from patchlens.queries.sql import rows_in
from patchlens.review.versions import title_tokens
from patchlens.store import schema
from patchlens.store.writer import add_counts

Sender = tuple[str, str]


class Tally:
    """Signed counts of versions per person and per (person, word)."""

    def __init__(self) -> None:
        self.people: Counter[str] = Counter()
        self.words: Counter[tuple[str, str]] = Counter()

    def add(self, idents: Iterable[str], title: str, sign: int = 1) -> None:
        words = title_tokens(normalize_title(title))
        for ident in set(idents):
            self.people[ident] += sign
            for w in words:
                self.words[(ident, w)] += sign

    def add_row(
        self, row: Mapping[str, Any], sender: Sender, people: Identities, sign: int = 1
    ) -> None:
        """A series_versions row (`sender`: its first message's From)."""
        if row["pull"] or row["backport"]:
            return
        idents = {people(row["author_name"], row["author_addr"]), people(*sender)}
        self.add(idents, row["title"], sign)

    def write(self, conn: Connection) -> None:
        add_counts(
            conn,
            schema.linker_people,
            "versions",
            [{"identity": i, "versions": n} for i, n in self.people.items() if n],
        )
        add_counts(
            conn,
            schema.linker_words,
            "versions",
            [{"identity": i, "word": w, "versions": n} for (i, w), n in self.words.items() if n],
        )


def senders(conn: Connection, keys: Iterable[str]) -> dict[str, Sender]:
    """The From of each version's first message (the version key is its Message-ID)."""
    m = schema.messages
    return {
        k: (name, addr)
        for k, name, addr in rows_in(
            conn,
            lambda c: select(m.c.message_id, m.c.from_name, m.c.from_addr).where(
                m.c.message_id.in_(c)
            ),
            set(keys),
        )
    }


def follow(
    conn: Connection,
    touched: list[dict[str, Any]],
    wanted: list[dict[str, Any]],
    people: Identities,
) -> None:
    """Keep the counts in step with a write of series_versions: `touched` holds every row
    written or removed, old values and new (store.writer.sync_table), `wanted` the rows the
    table now holds for the part written. A touched row equal to the wanted row of its key is
    new; any other is an old value, taken back."""
    if not touched:
        return
    now = {r["key"]: r for r in wanted}
    who = senders(conn, {r["key"] for r in touched})
    tally = Tally()
    for r in touched:
        sender = who.get(r["key"], ("", ""))
        tally.add_row(r, sender, people, 1 if now.get(r["key"]) == r else -1)
    tally.write(conn)


def rebuild(
    conn: Connection,
    rows: list[dict[str, Any]],
    senders_of: Mapping[str, Sender],
    people: Identities,
) -> None:
    """Counts made anew from every series_versions row (a full rebuild)."""
    clear(conn)
    tally = Tally()
    for r in rows:
        tally.add_row(r, senders_of.get(r["key"], ("", "")), people)
    tally.write(conn)


def clear(conn: Connection) -> None:
    conn.execute(delete(schema.linker_words))
    conn.execute(delete(schema.linker_people))


def stored(conn: Connection, idents: set[str]) -> dict[str, tuple[int, dict[str, int]]]:
    """The stored counts of `idents`: {identity: (versions, {word: versions})}."""
    lp, lw = schema.linker_people, schema.linker_words
    out: dict[str, tuple[int, dict[str, int]]] = {
        i: (n, {})
        for i, n in rows_in(
            conn, lambda c: select(lp.c.identity, lp.c.versions).where(lp.c.identity.in_(c)), idents
        )
    }
    for i, w, n in rows_in(
        conn,
        lambda c: select(lw.c.identity, lw.c.word, lw.c.versions).where(lw.c.identity.in_(c)),
        idents,
    ):
        out.setdefault(i, (0, {}))[1][w] = n
    return out
