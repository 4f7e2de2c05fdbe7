"""Analysed messages read as review's Mails: one column list and one conversion for the
full rebuild (stages/review.py) and the incremental one (stages/review_incremental.py)."""

from __future__ import annotations

import json
from collections.abc import Collection
from functools import lru_cache
from typing import Any

from sqlalchemy import Column

from patchlens.identity.bots import is_robot_report
from patchlens.mail.subject import as_sent, parse_subject
from patchlens.review.model import Mail
from patchlens.review.threads import MessageRef, ThreadLink
from patchlens.store import schema


def mail_columns() -> list[Column[Any]]:
    """What reconstruction reads of a message and its analysis."""
    m, a = schema.messages, schema.message_analysis
    return [
        m.c.id,
        m.c.message_id,
        m.c.in_reply_to,
        m.c.refs,
        m.c.subject,
        m.c.date_utc,
        m.c.from_name,
        m.c.from_addr,
        m.c.has_patch,
        a.c.is_posting,
        a.c.is_pull,
        a.c.files,
        a.c.change_id,
        a.c.mentioned_ids,
        a.c.author_name,
        a.c.author_addr,
        a.c.first_line,
    ]


def analysed_messages():
    """Messages with their analysis: one row per message."""
    m, a = schema.messages, schema.message_analysis
    return m.join(a, a.c.message_pk == m.c.id)


def message_ref(r: Any) -> MessageRef:
    """What threading needs of a row of `mail_columns`."""
    return MessageRef(
        r.id, r.message_id, r.in_reply_to, tuple(r.refs.split()), r.subject, r.date_utc
    )


# Replies repeat their posting's subject ("Re: [PATCH v3 2/7] ..."): a rebuild parses each
# distinct subject once. Subject is frozen, so sharing one between mails is safe.
_subject = lru_cache(maxsize=1 << 16)(parse_subject)


def mail_of(r: Any, t: ThreadLink, hashes: Collection[int]) -> Mail:
    """A row of `mail_columns` as a Mail in thread `t`, with its diff's fingerprint."""
    return Mail(
        pk=r.id,
        message_id=r.message_id,
        subject=as_sent(_subject(r.subject), r.has_patch),
        from_name=r.from_name,
        from_addr=r.from_addr,
        date=r.date_utc or 0,
        thread=t.thread,
        parent=t.parent,
        has_patch=r.has_patch,
        is_posting=r.is_posting,
        files=tuple(json.loads(r.files)) if r.is_posting else (),
        change_id=r.change_id,
        mentioned=frozenset(json.loads(r.mentioned_ids)),
        author_name=r.author_name or "",
        author_addr=r.author_addr or "",
        hashes=hashes,
        is_pull=bool(r.is_pull),
        robot_report=not r.is_posting and is_robot_report(r.first_line),
    )
