"""The pure decisions of the conformance report (docs/METRICS.md, "Conformance"): which
period an archive covers, whether a commit can be judged against the archives at all, and
whether a review was given by the patch's own author.

An absence (no posting, no review) can only be claimed where the archives could have shown a
presence: a commit written before a list's archive begins, or committed after it ends, may
have been posted where the store cannot see. Merge commits and commits by machines are not
judged either: a merge brings in commits that are judged themselves, and a machine's commit
(a release bot, a translation robot) is not a patch anyone posts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from patchlens.identity.people import name_key

DAY = 86400
# A list's archive begins at the first message followed by another within this many days
# (and ends at the last one preceded by another): one message with a broken Date: header,
# years before the rest, does not open the archive's coverage.
COVERAGE_GAP_DAYS = 30
# The trailers that are a review. Tested-by, Reported-by and the like are not.
REVIEW_KEYS = ("Reviewed-by", "Acked-by", "Reviewed-and-tested-by")

JUDGED = "judged"
MERGE = "merge"
BOT = "bot"
BEFORE = "before_archive"
AFTER = "after_archive"
NO_ARCHIVE = "no_archive"
# Why a commit is not judged, in the order the report lists them.
NOT_JUDGED = (MERGE, BOT, NO_ARCHIVE, BEFORE, AFTER)


@dataclass(frozen=True)
class Coverage:
    """The period a list's archive covers: from `start` to `end` (epoch seconds, inclusive)."""

    list_name: str
    start: int
    end: int


def coverage_start(dates: Sequence[int], gap_days: int = COVERAGE_GAP_DAYS) -> int | None:
    """The first of `dates` (ascending) that another follows within `gap_days`; None when
    none does (too few messages to say what the archive covers)."""
    gap = gap_days * DAY
    for a, b in pairwise(dates):
        if b - a <= gap:
            return a
    return None


def coverage_end(dates_desc: Sequence[int], gap_days: int = COVERAGE_GAP_DAYS) -> int | None:
    """The last of `dates_desc` (descending) that another precedes within `gap_days`."""
    gap = gap_days * DAY
    for a, b in pairwise(dates_desc):
        if a - b <= gap:
            return a
    return None


def judge(
    is_merge: bool,
    is_bot: bool,
    author_date: int,
    committer_date: int,
    coverages: Iterable[Coverage],
) -> str:
    """JUDGED, or why the commit is not judged (one of NOT_JUDGED). A commit is judged when
    some list's archive covers its whole life, from the day it was written (author date) to
    the day it was committed: a posting of it can only lie in between."""
    if is_merge:
        return MERGE
    if is_bot:
        return BOT
    covs = list(coverages)
    if not covs:
        return NO_ARCHIVE
    if any(c.start <= author_date and committer_date <= c.end for c in covs):
        return JUDGED
    if author_date < min(c.start for c in covs):
        return BEFORE
    if committer_date > max(c.end for c in covs):
        return AFTER
    # Covered at each end by different lists, with a gap between them: nothing covers it
    # whole. Said as the nearer end.
    return BEFORE if all(author_date < c.start for c in covs if committer_date <= c.end) else AFTER


def same_person(
    a: tuple[str, str], b: tuple[str, str], identity_of: Callable[[str], str | None]
) -> bool:
    """Whether two (name, address) pairs are one person: one identity by address (the
    store's people, `identity_of` an address -> identity key), the same address, or the same
    full name of two or more words (identity/people.py's rule, for an address the archive
    never saw)."""
    (na, aa), (nb, ab) = a, b
    aa, ab = (aa or "").strip().lower(), (ab or "").strip().lower()
    if aa and ab:
        if aa == ab:
            return True
        ia, ib = identity_of(aa), identity_of(ab)
        if ia is not None and ia == ib:
            return True
    ka, kb = name_key(na or ""), name_key(nb or "")
    return ka is not None and ka == kb


_ADDR = re.compile(r"<([^<>\s]+@[^<>\s]+)>|([^\s<>\"']+@[^\s<>\"']+)")


def giver(name: str, email: str, value: str) -> tuple[str, str]:
    """Who a review trailer names: its parsed (name, email), or, when the parser found no
    address (a display name full of quotes and brackets), the last address in the value."""
    if email:
        return name, email
    found = _ADDR.findall(value or "")
    if not found:
        return name, ""
    a, b = found[-1]
    return name, (a or b).strip(".,;")
