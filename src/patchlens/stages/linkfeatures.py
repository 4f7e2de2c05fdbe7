"""What linking compares of each version, stored beside it (the `link_features` table).

An update relinks the versions of the people whose mail came in, from a date on, and must take
in what linking knows of their earlier versions (review.versions.Linker): their identifiers,
change-ids, patch titles, files and changed-line hashes. Recomputed from the member mails,
that cost half a second a day on a million-message store (every member's row, analysis and
fingerprint read back); read from one row per version, a fraction of it. The rows are written
with series_versions (stages/review.py `structure_rows`) and kept in step by the same writes,
so a store built in daily steps holds the same rows as one built at once.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from patchlens.mail.fingerprint import pack, unpack_packed
from patchlens.queries.sql import rows_in
from patchlens.review.model import Version
from patchlens.review.versions import NO_WORDS, Features, Seen
from patchlens.store import schema

FILL_PIECE = 2000  # versions read back and written per transaction when filling


def feature_row(v: Version) -> dict[str, Any]:
    """The stored row of a version's linking features. Pure."""
    f = Features.of(v)
    return {
        "key": v.key,
        "normalized_title": v.normalized_title,
        "message_ids": json.dumps(sorted(f.ids)),
        "change_ids": json.dumps(sorted(f.change_ids)),
        "patch_titles": json.dumps(sorted(f.patch_titles)),
        "files": json.dumps(sorted(f.files)),
        "hashes": pack(frozenset(f.hashes)),
        "patches": f.patches,
    }


def kept(conn: Connection, keys: list[str]) -> dict[str, tuple[Seen, Features]]:
    """What a linker keeps of each stored version among `keys` (`Seen` and the packed
    `Features`), from the stored rows; a version without a row (a store made before them,
    not yet filled) is left out, for the caller to read in full."""
    lf, sv = schema.link_features, schema.series_versions
    out: dict[str, tuple[Seen, Features]] = {}
    for r in rows_in(
        conn,
        lambda c: (
            select(
                lf,
                sv.c.date,
                sv.c.version,
                sv.c.version_str,
                sv.c.rfc,
                sv.c.thread_key,
                sv.c.total,
            )
            .join(sv, sv.c.key == lf.c.key)
            .where(lf.c.key.in_(c))
        ),
        keys,
    ):
        seen = Seen(
            r.key,
            r.date,
            r.version,
            r.version_str,
            r.rfc,
            r.thread_key,
            r.normalized_title,
            r.total,
        )
        out[r.key] = (
            seen,
            Features(
                ids=tuple(json.loads(r.message_ids)),
                mentioned=(),
                change_ids=tuple(json.loads(r.change_ids)),
                patch_titles=tuple(json.loads(r.patch_titles)),
                files=tuple(json.loads(r.files)),
                tokens=NO_WORDS,
                hashes=unpack_packed(r.hashes),
                patches=r.patches,
            ),
        )
    return out


def missing(conn: Connection) -> list[str]:
    """Keys of the stored versions without their features row, in order."""
    lf, sv = schema.link_features, schema.series_versions
    return list(
        conn.execute(
            select(sv.c.key)
            .where(~select(lf.c.key).where(lf.c.key == sv.c.key).exists())
            .order_by(sv.c.key)
        ).scalars()
    )
