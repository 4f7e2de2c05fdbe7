"""Atom feeds (RFC 4287): of any search of the series explorer (/series.atom with the query
string of /series), and, for the integrator, of a person's queue (`queue_feed`). A feed
reader or a chat bot subscribes to the question it asks ("open series touching fs/erofs/zdata.c
with no review") and sees each series as it moves.

Everything in an entry comes from mail and is hostile: it is written by ElementTree, which
escapes it, after the characters XML 1.0 cannot carry at all (most control characters, lone
surrogates) are taken out, so a message cannot break the feed or inject markup into it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from patchlens.queries.formats import iso

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
# At most this many entries in a feed: a reader polls it; the series page lists the rest.
FEED_MAX = 200
# What XML 1.0 cannot hold: C0 controls but tab, newline and return; U+FFFE, U+FFFF; lone
# surrogates.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(value: Any) -> str:
    """A value as text XML can carry (characters it cannot are dropped)."""
    return _NOT_XML.sub("", "" if value is None else str(value))


@dataclass(frozen=True)
class Entry:
    """One entry: `id` a URL that names it for good, `updated` Unix seconds."""

    id: str
    title: str
    updated: int
    link: str
    author_name: str
    author_email: str
    summary: str


def atom(feed_id: str, title: str, link: str, updated: int, entries: Sequence[Entry]) -> bytes:
    """The feed as UTF-8 XML: its id (the URL it is served at), title, the page it stands for
    (`link`, rel=alternate), when it last changed, and its entries in the order given."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        e = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
        if text is not None:
            e.text = xml_text(text)
        return e

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", feed_id)
    sub(feed, "title", title)
    sub(feed, "updated", iso(updated) or "")
    sub(feed, "link", rel="self", href=feed_id, type=MEDIA_TYPE)
    sub(feed, "link", rel="alternate", href=link, type="text/html")
    sub(feed, "generator", "patchlens")
    for e in entries:
        entry = sub(feed, "entry")
        sub(entry, "id", e.id)
        sub(entry, "title", e.title or "(no subject)")
        sub(entry, "updated", iso(e.updated) or "")
        sub(entry, "link", rel="alternate", href=e.link, type="text/html")
        author = sub(entry, "author")
        sub(author, "name", e.author_name or e.author_email or "unknown")
        if e.author_email:
            sub(author, "email", e.author_email)
        sub(entry, "summary", e.summary, type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")


def series_link(base: str, key: str) -> str:
    """The absolute URL of a series' page (the key quoted: it is a Message-ID from mail)."""
    return f"{base.rstrip('/')}/series/{quote(key, safe='@')}"


def _hours(h: float | None) -> str:
    if h is None:
        return "–"
    return f"{h:.1f} h" if h < 48 else f"{h / 24:.1f} d"


def series_entry(base: str, r: dict[str, Any]) -> Entry:
    """A series row (queries.selection.brief: key, title, author, dates, counts, state) as an
    entry, updated at its last activity."""
    parts = [r.get("state") or "", f"posted {iso(r.get('first_date')) or '?'}"]
    for key, label in (("versions", "version(s)"), ("patches", "patch(es)")):
        if r.get(key) is not None:
            parts.append(f"{r[key]} {label}")
    if r.get("reviewers") is not None:
        parts.append(f"{r['reviewers']} reviewer(s)")
    for key, label in (
        ("time_to_first_response", "first response after"),
        ("time_to_merge", "merged after"),
    ):
        if r.get(key) is not None:
            parts.append(f"{label} {_hours(r[key])}")
    summary = "; ".join(p for p in parts if p)
    return Entry(
        id=series_link(base, r["series_key"]),
        title=r.get("title") or "",
        updated=int(r.get("last_date") or r.get("first_date") or 0),
        link=series_link(base, r["series_key"]),
        author_name=r.get("author_name") or r.get("author_addr") or "",
        author_email=r.get("author_addr") or "",
        summary=summary,
    )


def series_feed(
    feed_id: str, title: str, link: str, rows: Iterable[dict[str, Any]], base: str, as_of: int
) -> bytes:
    """A feed of series rows in the order given (at most FEED_MAX): `feed_id` the URL it is
    served at, `link` the HTML page it stands for, `base` the site's URL (entries link to
    /series/<key> under it), `as_of` its date when it has no entries."""
    entries = [series_entry(base, r) for r, _ in zip(rows, range(FEED_MAX), strict=False)]
    updated = max((e.updated for e in entries), default=as_of)
    return atom(feed_id, title, link, updated, entries)


def queue_feed(
    base: str, person: str, rows: Iterable[dict[str, Any]], as_of: int, feed_id: str = ""
) -> bytes:
    """A person's review queue as a feed, for the queue of issue 14 (queries/queue.py, built
    apart): `rows` are the queue's series rows in the queue's order (each with at least
    `series_key`, `title`, `author_addr`, `first_date`, `last_date`, and what brief() gives
    if known), `person` their address. Serve it at /people/<address>/queue.atom with
    `Response(queue_feed(...), media_type=MEDIA_TYPE)`; the entries link to /series/<key>."""
    page = f"{base.rstrip('/')}/people/{quote(person, safe='@')}/queue"
    return series_feed(
        feed_id or page + ".atom",
        f"Review queue of {person}",
        page,
        rows,
        base,
        as_of,
    )
