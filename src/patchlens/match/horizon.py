"""Which commits no stage needs the diff of: those committed far before every archived mail.

A repository's old history costs most of its reading: git's diffs, their patch-ids,
fingerprints and compression (util-linux: 57% of its commits are older than a list whose
archive starts in 2019). Its diff serves matching alone (the commit page shows it), and
matching compares a commit only with postings sent at most a week after it (`EARLY`), by
diff, by subject and by someone else's identical diff alike. Only the author's own
identical diff (its patch-id) has no window: a re-send of a commit two years old. Commits
committed more than `HORIZON_MARGIN` (two years, the diff window) before the archives
begin are therefore read without their diffs: their files named, not counted, their
trailers read (sources/gitrepo.py `read_history_slice`).

Where the archives begin is not the earliest date of any message: mail carries wrong dates
(on linux-kselftest, six patches sent with git format-patch's fixed date "Mon Sep 17
00:00:00 2001", 18 years before the archive). It is the first message that mail on
another day follows within `START_WINDOW` days (`START_DAYS` distinct days in all): any
number of messages with one wrong date are one day. Two days are enough, so that a list's
sparse early years still count (a posting from them keeps the commits around it read
whole); a store without such mail has no start, and nothing is skipped. Adding mail can
only move the start earlier (stages/horizon.py reads those diffs then).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from patchlens.match.matcher import DAY, DIFF_WINDOW

HORIZON_MARGIN = DIFF_WINDOW
START_DAYS = 2
START_WINDOW = 90  # days


def archive_start(dates: Iterable[int]) -> int | None:
    """The first of `dates` (ascending) that mail on START_DAYS distinct days follows within
    START_WINDOW days (its own day included); None when none does. Reads no further than
    that (the caller may stream every date of the store)."""
    days: deque[tuple[int, int]] = deque()  # (day number, first date of that day)
    for d in dates:
        day = d // DAY
        if days and days[-1][0] == day:
            continue
        days.append((day, d))
        while day - days[0][0] > START_WINDOW:
            days.popleft()
        if len(days) >= START_DAYS:
            return days[0][1]
    return None


def horizon_of(start: int | None) -> int | None:
    """The commit date below which commits are read without their diffs, for archives that
    begin at `start` (None: no horizon, every diff is read)."""
    return None if start is None else start - HORIZON_MARGIN
