"""A series as the metrics see it: its versions, patches, replies and commits, with dates.

Plain data, built from the store by `metrics/load.py`, so that every metric is a pure
function of it (docs/METRICS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A reply with at least this many written lines is a substantive comment, not a bare ack.
SUBSTANTIVE_LINES = 3


@dataclass(slots=True)
class PatchEv:
    pk: int
    idx: int
    date: int
    lines_added: int
    lines_removed: int
    files: tuple[str, ...]
    commit_date: int | None = None  # committer date of the linked commit
    ambiguous: bool = False  # linked, but another posting fitted as well
    # Carries a Reviewed-by/Acked-by from someone else, given to an earlier version.
    carried_review: bool = False


@dataclass(slots=True)
class ReplyEv:
    pk: int
    date: int
    who: str  # identity of the sender
    patch_idx: int  # 0: the cover letter
    is_author: bool
    is_bot: bool
    lines_written: int
    review: bool  # gives Reviewed-by or Acked-by
    addr: str = ""  # the address it was sent from (organisations are per address and date)

    @property
    def reviewer(self) -> bool:
        return not self.is_author and not self.is_bot

    @property
    def substantive(self) -> bool:
        return self.reviewer and self.lines_written >= SUBSTANTIVE_LINES


@dataclass(slots=True)
class VersionEv:
    key: str
    seq: int
    version: int
    date: int
    has_cover: bool
    patches: dict[int, PatchEv] = field(default_factory=dict)
    replies: list[ReplyEv] = field(default_factory=list)  # sorted by date


@dataclass(slots=True)
class SeriesEv:
    key: str
    title: str
    author: str  # identity
    author_addr: str
    versions: list[VersionEv] = field(default_factory=list)  # by seq
    subsystems: tuple[str, ...] = ()
    expected_reviewers: frozenset[str] = frozenset()
    org: str = ""
    new_contributor: bool = False

    @property
    def first_date(self) -> int:
        return self.versions[0].date

    @property
    def latest(self) -> VersionEv:
        return self.versions[-1]
