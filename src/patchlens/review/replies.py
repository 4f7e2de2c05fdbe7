"""Which posting each reply answers, and whether its sender is the author or a bot."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from patchlens.identity.bots import BotMatcher
from patchlens.identity.people import Identities
from patchlens.review.model import Mail, Version
from patchlens.review.series import kept_subjects


@dataclass(frozen=True, slots=True)
class ReplyLink:
    message_pk: int
    version_key: str
    addressed_pk: int
    addressed_idx: int  # 0: the cover letter
    is_author: bool
    is_bot: bool


def attribute_replies(
    mails: Iterable[Mail], versions: list[Version], is_bot: BotMatcher, people: Identities
) -> list[ReplyLink]:
    """Each reply in a version's thread, linked to the nearest posting above it. Pure."""
    member: dict[str, tuple[Version, int, Mail]] = {}
    for v in versions:
        if v.cover is not None:
            member[v.cover.message_id] = (v, 0, v.cover)
        for i, p in v.patches.items():
            member[p.message_id] = (v, i, p)
    by_id = {m.message_id: m for m in mails}
    kept = kept_subjects(by_id)
    out = []
    for m in by_id.values():
        if m.message_id in member or (m.is_posting and m.message_id not in kept):
            continue
        seen: set[str] = set()
        cur = m.parent
        hit = None
        while cur and cur not in seen:
            seen.add(cur)
            if cur in member:
                hit = member[cur]
                break
            parent = by_id.get(cur)
            cur = parent.parent if parent else None
        if hit is None and m.thread in member:
            # A lost message broke the parent chain; the thread's root is still known.
            hit = member[m.thread]
        if hit is None:
            continue
        v, idx, posting = hit
        out.append(
            ReplyLink(
                m.pk,
                v.key,
                posting.pk,
                idx,
                people(m.from_name, m.from_addr) == people(v.author_name, v.author_addr),
                is_bot(m.from_name, m.from_addr) or m.robot_report,
            )
        )
    return out
