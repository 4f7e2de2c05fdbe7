"""Postings as reconstruction sees them (review/model.py Mail), for tests of grouping and
linking that need no store: one sender, a patch each, dated in seconds."""

from __future__ import annotations

from patchlens.mail.subject import parse_subject
from patchlens.review.model import Mail


def posting(mid: str, subject: str, date: int, parent: str | None = None) -> Mail:
    """A patch by "A" <a@x> with Message-ID `mid`, dated `date` (its pk too), in reply to
    `parent` (its thread then), else a thread of its own."""
    return Mail(
        pk=date,
        message_id=mid,
        subject=parse_subject(subject),
        from_name="A",
        from_addr="a@x",
        date=date,
        thread=parent or mid,
        parent=parent,
        has_patch=True,
        is_posting=True,
    )
