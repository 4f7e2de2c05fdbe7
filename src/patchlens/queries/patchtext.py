"""The patches' subjects and senders kept per data version, searched in memory: the patches
page's `q` (a case-insensitive substring of a patch's subject or sender) over every patch of
a million-message store took 0.7-0.9 s as an SQL `ILIKE` scan, which no ordinary index
serves; a search of one byte string kept per data version takes a few milliseconds.

Each patch (a version member after the cover letter) is one row: its message id, date and
added lines (the page's sort keys), its rank in subject order, and its subject and sender
address casefolded in one UTF-8 byte string, NUL between fields and rows (a NUL inside a
field, which hostile mail can carry, is kept as U+FFFD, in the text and in the query alike,
so a query never spans two fields). UTF-8 keeps code points whole, so a byte search of the
encoded query finds exactly the rows whose text contains it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
from sqlalchemy import Connection, select

from patchlens.queries.selection import per_version
from patchlens.store import schema

# An undated patch's date: after every date, as the page orders the patches of selected
# series (queries/dashboard.py), and never within a date filter.
UNDATED = np.iinfo(np.int64).max


@dataclass(frozen=True)
class PatchText:
    ids: np.ndarray  # message ids, one per patch row
    dates: np.ndarray  # UNDATED when the message has no date
    lines: np.ndarray  # lines added
    subject_rank: np.ndarray  # the row's place in the order of subjects
    starts: array[int]  # each row's first byte in `text` (bisected per hit: no numpy call)
    text: bytes

    def __len__(self) -> int:
        return len(self.ids)


def _clean(s: str | None) -> str:
    return (s or "").casefold().replace("\x00", "\ufffd")


def build(conn: Connection) -> PatchText:
    """Every patch of a series (what the patches page lists without a filter), read once."""
    vm, m, a = schema.version_members, schema.messages, schema.message_analysis
    sv, sm = schema.series_versions, schema.series_metrics
    ids: list[int] = []
    dates: list[int] = []
    lines: list[int] = []
    subjects: list[str] = []
    parts: list[bytes] = []
    for i, date, added, subject, sender in conn.execute(
        select(m.c.id, m.c.date_utc, a.c.lines_added, m.c.subject, m.c.from_addr)
        .select_from(
            vm.join(m, m.c.id == vm.c.message_pk)
            .join(a, a.c.message_pk == m.c.id)
            .join(sv, sv.c.key == vm.c.version_key)
            .join(sm, sm.c.series_key == sv.c.series_key)
        )
        .where(vm.c.idx > 0)
        .order_by(vm.c.message_pk)  # the messages in the order they are stored
    ):
        ids.append(i)
        dates.append(UNDATED if date is None else date)
        lines.append(added or 0)
        subjects.append(subject or "")
        parts.append(f"{_clean(subject)}\x00{_clean(sender)}\x00".encode())
    starts = array("q", accumulate((len(p) for p in parts[:-1]), initial=0) if parts else ())
    order = sorted(range(len(subjects)), key=subjects.__getitem__)
    rank = np.empty(len(order), dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(order), dtype=np.int64)
    return PatchText(
        ids=np.asarray(ids, dtype=np.int64),
        dates=np.asarray(dates, dtype=np.int64),
        lines=np.asarray(lines, dtype=np.int64),
        subject_rank=rank,
        starts=starts,
        text=b"".join(parts),
    )


def patch_text(conn: Connection) -> PatchText:
    """`build` once per store and data version."""
    return per_version(conn, "patch_text", lambda: build(conn))


def contains(q: str, *texts: str | None) -> bool:
    """Whether one of `texts` contains `q` as `matching` decides it (for rows read by key)."""
    needle = _clean(q)
    return any(needle in _clean(t) for t in texts)


def matching(pt: PatchText, q: str) -> np.ndarray:
    """Indexes of the rows whose subject or sender contains `q` (casefolded), ascending."""
    needle = _clean(q).encode()
    if not needle:
        return np.arange(len(pt), dtype=np.int64)
    text, starts = pt.text, pt.starts
    found: list[int] = []
    pos = text.find(needle)
    while pos != -1:
        row = bisect_right(starts, pos) - 1
        found.append(row)
        if row + 1 >= len(starts):
            break
        pos = text.find(needle, starts[row + 1])  # one hit per row is enough
    return np.asarray(found, dtype=np.int64)


def page_of(
    pt: PatchText,
    q: str,
    since: int | None,
    until: int | None,
    sort: str,
    desc: bool,
) -> np.ndarray:
    """The message ids of the rows `q` finds, dated in [since, until), in the page's order
    (by `sort`, then by message id; `desc` reverses both, as SQL's `ORDER BY col DESC, id
    DESC` does)."""
    rows = matching(pt, q)
    dates = pt.dates[rows]
    keep = np.ones(len(rows), dtype=bool)
    if since is not None:
        keep &= (dates != UNDATED) & (dates >= since)
    if until is not None:
        keep &= (dates != UNDATED) & (dates < until)
    rows = rows[keep]
    primary = {"date": pt.dates, "lines": pt.lines, "subject": pt.subject_rank}[sort][rows]
    ids = pt.ids[rows]
    order = np.lexsort((ids, primary))
    if desc:
        order = order[::-1]
    return ids[order]
