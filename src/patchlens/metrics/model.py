"""A series as the metrics see it: its versions, patches, replies and commits, with dates.

Plain data, built from the store by `queries/evidence.py`, so that every metric is a pure
function of it (docs/METRICS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from patchlens.review.model import in_force, lay

# A reply with at least this many written lines is a substantive comment, not a bare ack.
SUBSTANTIVE_LINES = 3


@dataclass(slots=True)
class PatchFacts:
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
    subject: str = ""
    patch_id: str = ""  # git patch-id --stable of its diff ("" when it has none)
    # What a pull request that lists it names it by (stages/pulled.py item_rows).
    normalized_title: str = ""
    message_id: str = ""
    # Its author's name (the "From:" line's when someone else sent it), which a pull
    # request's shortlog names (queries/evidence.py).
    author_name: str = ""
    # The paths its renames and copies came from (not in `files`): MAINTAINERS sections are
    # looked up by these too, as get_maintainer.pl does.
    old_files: tuple[str, ...] = ()
    # Without a link of its own, merged through another series' posting of the same patch
    # (queries/evidence.py went_in_elsewhere): that posting's Message-ID ("" otherwise).
    through: str = ""


@dataclass(slots=True)
class ReplyFacts:
    pk: int
    date: int
    who: str  # identity of the sender
    patch_idx: int  # 0: the cover letter
    is_author: bool
    is_bot: bool
    lines_written: int
    review: bool  # gives Reviewed-by or Acked-by
    addr: str = ""  # the address it was sent from (organisations are per address and date)
    message_id: str = ""
    # Maintainers' notices it gives ("applied", "committed", ...) and the tree one names.
    notices: tuple[str, ...] = ()
    notice_tree: str = ""
    # b4's "Re: (subset) [PATCH ...]": the notice names some of the patches, not all.
    subset: bool = False
    # Which patches the notice says were taken (mail/replytext.py notice_scope).
    notice_scope: str = ""
    # The notice kinds it says by their verb alone ("Pushed, thanks.": mail/replytext.py).
    bare_kinds: tuple[str, ...] = ()
    # The commits of a registered repository it names as what fixed or replaced the patch
    # it answers (mail/fixedby.py; resolved by queries/evidence.py): (sha, subject) each.
    fixed_by: tuple[tuple[str, str], ...] = ()

    @property
    def reviewer(self) -> bool:
        return not self.is_author and not self.is_bot

    @property
    def substantive(self) -> bool:
        return self.reviewer and self.lines_written >= SUBSTANTIVE_LINES


@dataclass(slots=True)
class VersionFacts:
    key: str
    seq: int
    version: int
    date: int
    has_cover: bool
    patches: dict[int, PatchFacts] = field(default_factory=dict)
    replies: list[ReplyFacts] = field(default_factory=list)  # sorted by date
    title: str = ""
    partial: bool = False  # a partial re-roll: a few patches of the version before sent again
    pull: bool = False  # a pull request
    backport: bool = False  # a stable-tree backport or stable review: merged work again
    committed: bool = False  # posted after it was committed ("[COMMITTED] [PATCH]")
    # Notices that are not replies (queries/evidence.py): later pull requests and tree
    # robots' notes that list some of its patches, each a notice of those patches ("pull
    # request", its scope the patches listed), and the version itself when it was posted
    # after it was committed (its author's "committed"); kept apart from `replies`, which
    # are what people answered.
    pulled: list[ReplyFacts] = field(default_factory=list)


@dataclass(slots=True)
class SeriesFacts:
    key: str
    title: str
    author: str  # identity
    author_addr: str
    versions: list[VersionFacts] = field(default_factory=list)  # by seq
    subsystems: tuple[str, ...] = ()
    expected_reviewers: frozenset[str] = frozenset()
    org: str = ""
    new_contributor: bool = False
    # Blocked by prerequisite series until this date (metrics/backlog.py blocked_until), as
    # the metrics stage resolved them; None when it names none.
    blocked_until: int | None = None
    # The registered repository most of its files (and renamed files' old paths) are in,
    # as the metrics stage found it (stages/metrics.py home_repo); None when none holds any.
    # Which MAINTAINERS it is looked up in (stages/pipeline.py maintainers_of).
    repo: int | None = None

    @property
    def first_date(self) -> int:
        return self.versions[0].date

    @property
    def latest(self) -> VersionFacts:
        return self.versions[-1]

    @property
    def current(self) -> VersionFacts:
        """The version in force (the latest full version: review/model.py in_force), with the
        patches of later partial re-rolls laid over it.

        A v19 that re-sends patch 3 of the ten of v18 leaves the series at ten patches, one
        of them new: its size, title and merge state are those of v18 with patch 3 replaced.
        """
        return current_version(self.versions)

    @property
    def kind(self) -> str:
        """series | pull | stable | committed: pull requests, stable backports and patches
        posted after they were committed are not review work. A series with a version posted
        for review before its committed one is review work, merged by its commit or, without
        one, by the committed posting (queries/evidence.py committed_notice)."""
        if all(v.pull for v in self.versions):
            return "pull"
        if all(v.backport for v in self.versions):
            return "stable"
        if all(v.committed for v in self.versions):
            return "committed"
        return "series"


def current_version(versions: list[VersionFacts]) -> VersionFacts:
    """The version in force among `versions` (in order: review/model.py in_force) with the
    partial re-rolls after it laid over it (see SeriesFacts.current). Pure: the inputs are
    not changed."""
    assert versions, "a series has at least one version"
    at = in_force([v.partial for v in versions])
    v = versions[at]
    base = VersionFacts(
        v.key,
        v.seq,
        v.version,
        v.date,
        v.has_cover,
        dict(v.patches),
        list(v.replies),
        v.title,
        v.partial,
        v.pull,
        v.backport,
        v.committed,
    )
    # A patch laid over takes its place (`laid_places`): a patch sent again alone is
    # numbered 1 whatever its place ("[PATCH v2] <title of 3/5>"), and the replies to it
    # answer that place (a Reviewed-by to it reviews patch 3 of the version).
    over = laid_places(versions)
    for later in versions[at + 1 :]:
        _base, places = over[later.key]
        for i, p in later.patches.items():
            base.patches[places[i]] = p
        moved = [
            replace(r, patch_idx=places[r.patch_idx])
            if places.get(r.patch_idx, r.patch_idx) != r.patch_idx
            else r
            for r in later.replies
        ]
        base.replies = sorted(base.replies + moved, key=lambda r: (r.date, r.message_id))
    return base


def laid_places(
    versions: list[VersionFacts],
) -> dict[str, tuple[VersionFacts, dict[int, int]]]:
    """Per version laid over another (`partial`, after a full version): that version (the
    latest full one before it, as review/model.py in_force picks) and the place there of
    each of its patches (review/model.py lay: by title when sent alone, else by number).
    Pure."""
    out: dict[str, tuple[VersionFacts, dict[int, int]]] = {}
    base: VersionFacts | None = None
    titles: dict[int, str] = {}
    for v in versions:
        if not v.partial or base is None:
            base, titles = v, {i: p.normalized_title for i, p in v.patches.items()}
            continue
        out[v.key] = (base, lay(titles, {i: p.normalized_title for i, p in v.patches.items()}))
    return out
