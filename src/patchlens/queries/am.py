"""Reading a series version for `git am`: its patches in order and the trailers its replies
gave, from the stored tables (series_versions, version_members, messages, replies,
message_trailers); review/am.py builds the mbox. One reader for the page's download link, the
API and `patchlens am`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from patchlens.mail.trailers import Trailer
from patchlens.queries.series import find_series
from patchlens.review.am import AmPatch, FollowUp, Posting, build, mboxrd
from patchlens.store import schema

_NUMBER = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,6}){0,3}")


@dataclass
class AmVersion:
    series_key: str
    version_key: str
    seq: int  # 1 for the first version of the series
    n_versions: int
    version_str: str
    title: str
    patches: list[AmPatch]
    missing: list[int]  # indexes announced (1..N) with no patch that has a diff
    skipped: list[str]  # Message-IDs of members with no diff to apply
    # Another version of the series carries the same number (a RESEND, a partial re-roll
    # numbered as its base, two postings without a number).
    number_shared: bool = False

    def mbox(self) -> bytes:
        return mboxrd([p.mail for p in self.patches])

    def filename(self) -> str:
        """The version's number as the subjects give it (`series-v19.mbox`, `series-v5.1.mbox`;
        v1 when none): a file named after the version's place in the series (v13 for the
        thirteenth posting, which was v19) made `git am` of "v13" apply v19. Made of digits
        and dots only, checked, else of the place (`series-13.mbox`): nothing else from the
        mail reaches a file name. When another version of the series has the same number (a
        RESEND), the place is added (`series-v2-posting3.mbox`), so that two downloads never
        share a name."""
        number = self.version_str or "1"
        if not _NUMBER.fullmatch(number):
            return f"series-{self.seq}.mbox"
        if self.number_shared:
            return f"series-v{number}-posting{self.seq}.mbox"
        return f"series-v{number}.mbox"

    def summary(self) -> dict[str, Any]:
        """The JSON twin: what the mbox holds, patch by patch."""
        return {
            "series": self.series_key,
            "version_key": self.version_key,
            "seq": self.seq,
            "n_versions": self.n_versions,
            "version": self.version_str,
            "title": self.title,
            "missing": self.missing,
            "skipped": self.skipped,
            "patches": [
                {
                    "message_id": p.message_id,
                    "subject": p.subject,
                    "trailers": [f"{t.key}: {t.value}" for t in p.own],
                    "added": [f"{t.key}: {t.value}" for t in p.added],
                    "link": p.link,
                }
                for p in self.patches
            ],
        }


def am_version(
    conn: Connection, ident: str, seq: int | None, link_template: str | None
) -> AmVersion | None:
    """Version `seq` (1-based, in the series' order; default the latest) of the series that
    `ident` names (a series or version key, or any member's or reply's Message-ID); None when
    there is no such series or version."""
    key = find_series(conn, ident)
    if key is None:
        return None
    sv = schema.series_versions
    numbers = [
        r.version_str or "1"
        for r in conn.execute(select(sv.c.version_str).where(sv.c.series_key == key))
    ]
    n_versions = len(numbers)
    q = select(sv).where(sv.c.series_key == key)
    q = q.where(sv.c.seq == seq) if seq is not None else q.order_by(sv.c.seq.desc()).limit(1)
    v = conn.execute(q).first()
    if v is None:
        return None
    numbered, skipped = _patches(conn, v.key, v.cover_pk)
    followups = _followups(conn, v.key, v.cover_pk)
    if v.partial and v.rerolls_key:
        # A partial re-roll (v3 of patch 2 only): the patches it does not replace come from
        # the version it re-rolls, with that version's trailers (its cover letter's too), as
        # b4 assembles them.
        base = conn.execute(select(sv.c.key, sv.c.cover_pk).where(sv.c.key == v.rerolls_key))
        row = base.first()
        if row is not None:
            kept, _ = _patches(conn, row.key, row.cover_pk)
            replaced = {i for i, _p in numbered}
            numbered = sorted(
                [*numbered, *((i, p) for i, p in kept if i not in replaced)], key=lambda x: x[0]
            )
            followups += _followups(conn, row.key, row.cover_pk)
    present = {i for i, _p in numbered}
    announced = range(1, (v.total or 0) + 1)
    missing = [i for i in announced if i not in present]
    patch_list = build([p for _i, p in numbered], followups, link_template)
    shared = numbers.count(v.version_str or "1") > 1
    return AmVersion(
        key, v.key, v.seq, n_versions, v.version_str, v.title, patch_list, missing, skipped, shared
    )


def _patches(
    conn: Connection, version_key: str, cover_pk: int | None
) -> tuple[list[tuple[int, Posting]], list[str]]:
    """The version's patches with their indexes, in order (the first posted when an index
    came twice), and the members without a diff."""
    vm, m = schema.version_members, schema.messages
    rows = conn.execute(
        select(
            vm.c.idx,
            m.c.id,
            m.c.message_id,
            m.c.from_name,
            m.c.from_addr,
            m.c.subject,
            m.c.date_utc,
            m.c.date_offset,
            m.c.body,
            m.c.diff,
        )
        .join(m, m.c.id == vm.c.message_pk)
        .where(vm.c.version_key == version_key)
        .order_by(vm.c.idx, m.c.date_utc, m.c.id)
    ).all()
    out: list[tuple[int, Posting]] = []
    skipped: list[str] = []
    seen: set[int] = set()
    for r in rows:
        if r.id == cover_pk:
            continue
        if not r.diff:
            skipped.append(r.message_id)
            continue
        if r.idx in seen:
            continue
        seen.add(r.idx)
        out.append(
            (
                r.idx,
                Posting(
                    r.message_id,
                    r.from_name,
                    r.from_addr,
                    r.subject,
                    r.date_utc,
                    r.date_offset,
                    r.body or "",
                    r.diff,
                ),
            )
        )
    return out, skipped


def _followups(conn: Connection, version_key: str, cover_pk: int | None) -> list[FollowUp]:
    """Trailers given in the version's replies (bots' left out), in the order sent."""
    r, m, mt, posting = (
        schema.replies,
        schema.messages,
        schema.message_trailers,
        schema.messages.alias("posting"),
    )
    rows = conn.execute(
        select(
            r.c.addressed_pk,
            posting.c.message_id.label("addressed"),
            m.c.from_name,
            m.c.from_addr,
            mt.c.key,
            mt.c.value,
            mt.c.name,
            mt.c.email,
        )
        .join(m, m.c.id == r.c.message_pk)
        .join(mt, mt.c.message_pk == r.c.message_pk)
        .join(posting, posting.c.id == r.c.addressed_pk)
        .where(r.c.version_key == version_key, r.c.is_bot.is_(False), mt.c.given.is_(True))
        .order_by(m.c.date_utc, m.c.id, mt.c.seq)
    ).all()
    return [
        FollowUp(
            x.addressed,
            cover_pk is not None and x.addressed_pk == cover_pk,
            x.from_name,
            x.from_addr,
            Trailer(x.key, x.value, x.name, x.email),
        )
        for x in rows
    ]
