"""What a maintainer's notice says was merged, and which postings are stable backports: a
notice of a subset ("Re: (subset) [PATCH v14 00/10]", b4's) is a partial merge; a notice
to a version that a later full version replaced is not the series' merge (the series went
on); a posting tagged for a stable tree is a backport, not a version (the audit's EROFS
cases: a v14 "(subset)" notice made a series of v15-v19 "fully merged", and [PATCH stable
5.15.y] postings were versions 2-4 of a mainline series)."""

from __future__ import annotations

import pytest

from patchlens.mail.subject import parse_subject
from patchlens.metrics.backlog import facts, merge_changes, merge_notice
from patchlens.metrics.model import PatchFacts, ReplyFacts, SeriesFacts, VersionFacts
from patchlens.review.model import is_stable_backport

DAY = 86400


def _version(seq: int, date: int, *notices: tuple[int, bool], partial: bool = False):
    v = VersionFacts(
        f"v{seq}", seq, seq, date, False, {1: PatchFacts(seq * 10, 1, date, 1, 0, ("a.c",))}
    )
    v.partial = partial
    for i, (when, subset) in enumerate(notices):
        v.replies.append(
            ReplyFacts(
                seq * 100 + i,
                when,
                "maint",
                1,
                False,
                False,
                2,
                False,
                notices=("applied",),
                subset=subset,
            )
        )
    return v


def _series(*versions: VersionFacts) -> SeriesFacts:
    return SeriesFacts("s", "t", "author", "a@x", list(versions))


def test_a_notice_of_a_subset_is_a_partial_merge() -> None:
    s = _series(_version(1, 0, (DAY, True)))
    f = facts(s, 2 * DAY)
    assert (f.merged, f.merged_by) == ("partly", "notice")
    whole = facts(_series(_version(1, 0, (DAY, False))), 2 * DAY)
    assert (whole.merged, whole.merged_by) == ("fully", "notice")


def test_a_notice_to_a_version_replaced_after_it_is_not_the_merge() -> None:
    s = _series(_version(1, 0, (DAY, True)), _version(2, 3 * DAY))
    assert merge_notice(s.versions) is None
    # Up to the day v2 came, v1's notice stood.
    assert facts(s, 2 * DAY).merged == "partly"
    assert facts(s, 4 * DAY).merged == "none"
    # A notice after the next version was posted still counts (sent late to the old thread).
    late = _series(_version(1, 0, (4 * DAY, False)), _version(2, 3 * DAY))
    assert facts(late, 5 * DAY).merged == "fully"
    # A partial re-roll after the notice replaces no version.
    partial = _series(_version(1, 0, (DAY, False)), _version(2, 3 * DAY, partial=True))
    assert facts(partial, 4 * DAY).merged == "fully"
    # The later version's own notice is the merge.
    again = _series(_version(1, 0, (DAY, True)), _version(2, 3 * DAY, (5 * DAY, False)))
    assert merge_notice(again.versions).date == 5 * DAY
    assert facts(again, 6 * DAY).merged == "fully"


@pytest.mark.parametrize(
    ("subject", "backport"),
    [
        ("[PATCH stable 5.15.y] erofs: fix compact 4B support for 16k block size", True),
        ("[PATCH stable 5.15.y/5.10.y/5.4.y] erofs: x", True),
        ("[PATCH 5.15.y/5.10.y] erofs: x", True),
        ("[PATCH 6.1-stable] x", True),
        ("[PATCH for-stable] x", True),
        ("[PATCH 4.19 stable] x", True),
        ("[PATCH 6.6 3/9] x", True),
        ("[PATCH AUTOSEL 6.6 21/43] x", True),
        ("[PATCH for Xen 4.7 0/4] x", False),
        ("[PATCH for-4.19] x", False),
        ("[PATCH net-next] x", False),
        ("[PATCH v2] erofs-utils: mkfs: use scandir for stable output", False),
        ("[PATCH v2 stable-8.2] x", True),
        # Branches whose names hold the word, and its negation, are not stable trees.
        ("[PATCH mm-stable] x", False),
        ("[PATCH v2 mm-hotfixes-stable 1/2] x", False),
        ("[PATCH drm-misc-next-stable] x", False),
        ("[PATCH RFC stable-api] x", False),
        ("[PATCH not-for-stable] x", False),
    ],
)
def test_stable_backports(subject: str, backport: bool) -> None:
    assert is_stable_backport(parse_subject(subject)) is backport


def test_a_patch_sent_again_unchanged_is_merged_with_its_twin() -> None:
    """The matcher links a commit to one posting; a later posting of the same diff (same
    patch-id: a RESEND, a re-post minutes later) is merged with it, so a one-patch series
    is fully merged, not partly (6 of EROFS's 23 partly merged series had one patch)."""

    version = _twin
    twin = _series(version(1, "abc", 5 * DAY), version(2, "abc", None))
    assert facts(twin, 6 * DAY).merged == "fully"
    changed = _series(version(1, "abc", 5 * DAY), version(2, "def", None))
    assert facts(changed, 6 * DAY).merged == "partly"
    # A patch with no diff (no patch-id) is no twin of anything.
    blank = _series(version(1, "", 5 * DAY), version(2, "", None))
    assert facts(blank, 6 * DAY).merged == "partly"


def test_a_notice_of_the_whole_after_a_subset_is_the_merge() -> None:
    s = _series(_version(1, 0, (DAY, True), (3 * DAY, False)))
    assert facts(s, 2 * DAY).merged == "partly"
    assert facts(s, 4 * DAY).merged == "fully"
    assert merge_notice(s.versions).date == 3 * DAY


def _twin(seq: int, patch_id: str, commit: int | None) -> VersionFacts:
    p = PatchFacts(seq, 1, seq * DAY, 1, 0, ("a.c",), commit, patch_id=patch_id)
    return VersionFacts(f"v{seq}", seq, seq, seq * DAY, False, {1: p})


@pytest.mark.parametrize(
    "series",
    [
        _series(_version(1, 0, (DAY, True))),
        _series(_version(1, 0, (DAY, False)), _version(2, 3 * DAY)),
        _series(_version(1, 0, (DAY, True)), _version(2, 3 * DAY, (5 * DAY, False))),
        _series(_version(1, 0, (DAY, True), (3 * DAY, False))),
        _series(_version(1, 0, (4 * DAY, False)), _version(2, 3 * DAY)),
        _series(_twin(1, "abc", 5 * DAY), _twin(2, "abc", None)),
        _series(_twin(1, "abc", 5 * DAY), _twin(2, "def", None)),
    ],
)
def test_merge_changes_follow_the_facts(series: SeriesFacts) -> None:
    """The dates at which a series turns merged (what blocks its dependents, and the
    prediction's history) follow the same rules as its state at each date."""
    dates = list(range(0, 8 * DAY, DAY // 2))
    changes = dict(merge_changes(series, dates))
    state = False
    for when in dates:
        state = changes.get(when, state)
        f = facts(series, when)  # None before the first posting
        assert state == (f is not None and f.merged == "fully"), when
