"""Backlog states of a series as of any date, in the order docs/METRICS.md gives. Pure.

A state is decided from a few facts (merged? every patch reviewed? who spoke last? when was
the last activity?) that hold at a date. The facts of today are stored with the metrics, so
the dashboard can give today's state with SQL; `state()` recomputes them for any past date.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from patchlens.metrics.model import SeriesEv, VersionEv

DAY = 86400
STATES = (
    "merged",
    "partly merged",
    "other tree",
    "unknown",
    "abandoned",
    "stale",
    "nearly complete",
    "new",
    "waiting on author",
    "under review",
)

# The backlog: series that still wait for something. Stale series wait longest, so they are
# counted with the rest, never hidden.
OPEN_STATES = ("stale", "new", "under review", "waiting on author", "nearly complete")


@dataclass(frozen=True)
class BacklogRules:
    stale_days: int = 30
    abandoned_days: int = 180


@dataclass(frozen=True)
class Facts:
    merged: str  # none | partly | fully
    nearly_complete: bool
    has_reviewer_reply: bool
    reviewer_spoke_last: bool
    last_date: int
    in_repo: bool = True


def _version_at(v: VersionEv, when: int) -> VersionEv:
    """The version as it stood at `when`: later replies and commits removed."""
    patches = {
        i: (p if (p.commit_date or 0) <= when else replace(p, commit_date=None))
        for i, p in v.patches.items()
    }
    return VersionEv(
        v.key,
        v.seq,
        v.version,
        v.date,
        v.has_cover,
        patches,
        [r for r in v.replies if r.date <= when],
    )


def facts(s: SeriesEv, when: int, in_repo: bool = True) -> Facts | None:
    """What decides the state at `when`; None if the series was not posted yet."""
    versions = [_version_at(v, when) for v in s.versions if v.date <= when]
    if not versions:
        return None
    latest = versions[-1]
    merged_any = any(
        p.commit_date and not p.ambiguous for v in versions for p in v.patches.values()
    )
    fully = bool(latest.patches) and all(
        p.commit_date and not p.ambiguous for p in latest.patches.values()
    )
    reviewer = [r for r in latest.replies if r.reviewer]
    cover_reviewed = any(r.review and r.patch_idx == 0 for r in reviewer)
    nearly = bool(latest.patches) and all(
        p.carried_review or cover_reviewed or any(r.review and r.patch_idx == i for r in reviewer)
        for i, p in latest.patches.items()
    )
    spoke = [r for r in latest.replies if not r.is_bot]
    return Facts(
        merged="fully" if merged_any and fully else "partly" if merged_any else "none",
        nearly_complete=nearly,
        has_reviewer_reply=any(r.reviewer for v in versions for r in v.replies),
        reviewer_spoke_last=bool(spoke) and not spoke[-1].is_author,
        last_date=max([v.date for v in versions] + [r.date for v in versions for r in v.replies]),
        in_repo=in_repo,
    )


def decide(f: Facts, when: int, rules: BacklogRules = BacklogRules()) -> str:
    if f.merged == "fully":
        return "merged"
    if f.merged == "partly":
        return "partly merged"
    if not f.in_repo:
        # Its files are in no registered repository: a merge there cannot be seen.
        return "other tree"
    idle = when - f.last_date
    if idle >= rules.abandoned_days * DAY:
        return "abandoned"
    if idle >= rules.stale_days * DAY:
        return "stale"
    if f.nearly_complete:
        return "nearly complete"
    if not f.has_reviewer_reply:
        return "new"
    if f.reviewer_spoke_last:
        return "waiting on author"
    return "under review"


def state(
    s: SeriesEv, when: int, rules: BacklogRules = BacklogRules(), in_repo: bool = True
) -> str | None:
    """The series' state at `when`, or None if it had not been posted yet."""
    f = facts(s, when, in_repo)
    return None if f is None else decide(f, when, rules)
