"""What a maintainer's notice says was merged, and which postings are stable backports: a
notice of a subset ("Re: (subset) [PATCH v14 00/10]", b4's; "I've applied the first 4
patches"; an "Applied" to patch 3 of 10) is a partial merge until notices cover a whole
version; a notice stands when the author posts again; a posting tagged for a stable tree is
a backport, not a version (the audits' cases: a v14 "(subset)" notice made a series of
v15-v19 "fully merged", [PATCH stable 5.15.y] postings were versions 2-4 of a mainline
series; on linux-iio "I've applied the first 4 patches" of 12 was "fully merged", a v10
sent after "I'd already picked up v9" undid the merge, and 136 series whose maintainer
applied them ("Applied to the togreg branch") were never merged)."""

from __future__ import annotations

import random

import pytest

from patchlens.mail.replytext import analyze_reply
from patchlens.mail.subject import parse_subject
from patchlens.metrics.backlog import facts, merge_changes, merge_notice, notice_covers
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


def test_a_notice_stands_when_the_author_posts_again() -> None:
    """A maintainer who took v1 said so; a v2 sent anyway, a RESEND or a backport does not
    undo it (linux-iio: "I'd already picked up v9" in reply to v10)."""
    s = _series(_version(1, 0, (DAY, False)), _version(2, 3 * DAY))
    assert merge_notice(s.versions).date == DAY
    assert facts(s, 2 * DAY).merged == facts(s, 4 * DAY).merged == "fully"
    # A notice of a subset of v1, then v2 without one: partly merged still.
    part = _series(_version(1, 0, (DAY, True)), _version(2, 3 * DAY))
    assert facts(part, 4 * DAY).merged == "partly"
    # The later version's own notice of the whole is the merge.
    again = _series(_version(1, 0, (DAY, True)), _version(2, 3 * DAY, (5 * DAY, False)))
    assert merge_notice(again.versions).date == 5 * DAY
    assert facts(again, 6 * DAY).merged == "fully"


def _notice(when: int, idx: int, body: str, author: bool = False) -> ReplyFacts:
    """A reply whose notice, tree and scope are read from its text, as analysis does."""
    rt = analyze_reply(body)
    assert rt.notices, body
    return ReplyFacts(
        int(when),
        when,
        "author" if author else "maint",
        idx,
        author,
        False,
        2,
        False,
        notices=rt.notices,
        notice_tree=rt.notice_tree,
        notice_scope=rt.notice_scope,
        bare_kinds=rt.bare_kinds,
    )


def _version_of(n: int, *replies: ReplyFacts) -> VersionFacts:
    patches = {i: PatchFacts(i, i, 0, 1, 0, ("a.c",)) for i in range(1, n + 1)}
    v = VersionFacts("v1", 1, 1, 0, True, patches)
    v.replies.extend(replies)
    return v


@pytest.mark.parametrize(
    ("n", "replies", "merged"),
    [
        # What the notice says it took wins over the patch it answers.
        (12, [(0, "I've applied the first 4 patches to the togreg branch.")], "partly"),
        (10, [(1, "Series applied to the togreg branch of iio.git.")], "fully"),
        (3, [(3, "Applied patches 1-3. Thanks!")], "fully"),
        (3, [(0, "Applied all but the last patch.")], "partly"),
        # Unsaid: the cover letter's answer is the whole, a patch's answer that patch.
        (3, [(0, "Applied, thanks.")], "fully"),
        (3, [(2, "Applied, thanks.")], "partly"),
        (3, [(i, "Applied to the togreg branch.") for i in (1, 2, 3)], "fully"),
        # b4's thank-you lists what it applied, wherever it answers.
        (
            3,
            [
                (
                    1,
                    "Applied to the vfs.fixes branch of the vfs/vfs.git tree.\n\n"
                    "[1/3] iomap: a\n      https://git.kernel.org/c/1\n[2/3] fuse: b\n"
                    "[3/3] iomap: c\n",
                )
            ],
            "fully",
        ),
        (
            3,
            [(0, "Applied to the vfs.fixes branch.\n\n[1/3] iomap: a\n[3/3] iomap: c\n")],
            "partly",
        ),
    ],
)
def test_a_notice_takes_what_it_says(n: int, replies: list, merged: str) -> None:
    v = _version_of(
        n, *(_notice(DAY * (k + 1), idx, body) for k, (idx, body) in enumerate(replies))
    )
    s = _series(v)
    f = facts(s, 30 * DAY)
    assert (f.merged, f.merged_by) == (merged, "notice")


def test_b4s_subset_notices_take_the_patches_they_list() -> None:
    """b4's "(subset)" thank-you lists what it applied: two of them listing [1/3][2/3] and
    then [3/3] take the whole version."""
    first = _notice(DAY, 0, "Applied, thanks!\n\n[1/3] a: b\n[2/3] a: c\n")
    second = _notice(2 * DAY, 0, "Applied, thanks!\n\n[3/3] a: d\n")
    first.subset = second.subset = True
    v = _version_of(3, first)
    assert facts(_series(v), 1.5 * DAY).merged == "partly"
    v.replies.append(second)
    assert facts(_series(v), 3 * DAY).merged == "fully"
    # Without a list, a subset is a part it does not name.
    bare = _notice(DAY, 0, "Applied, thanks!")
    bare.subset = True
    assert facts(_series(_version_of(3, bare)), 2 * DAY).merged == "partly"


def test_a_tweak_or_a_dropped_tag_is_no_part() -> None:
    """'Applied with a few tweaks', 'after dropping the Fixes tag': said of the patch, not of
    patches left out: the patch answered is taken (the whole of a one-patch version)."""
    one = _version_of(1, _notice(DAY, 1, "Applied after dropping the Fixes tag."))
    assert facts(_series(one), 2 * DAY).merged == "fully"
    two = _version_of(
        2,
        _notice(DAY, 1, "Applied."),
        _notice(2 * DAY, 2, "Applied with a few minor tweaks."),
    )
    assert facts(_series(two), 3 * DAY).merged == "fully"
    these = _version_of(4, _notice(DAY, 3, "Applied with these tweaks."))
    assert facts(_series(these), 2 * DAY).merged == "partly"


def test_v3_1_8_of_8_is_whole() -> None:
    v = _version_of(8, _notice(DAY, 0, "v3 1-8 applied."))
    assert notice_covers(v.replies[0], v) == frozenset(range(1, 9))
    assert facts(_series(v), 2 * DAY).merged == "fully"


def test_a_maintainer_applying_their_own_series_is_a_merge() -> None:
    """An author's notice counts when it says committed or names where the patches went (a
    maintainer applying their own series: "Applied to the togreg branch"); an author's bare
    "applied" speaks of a suggestion taken into the next version."""
    tree = _series(_version_of(2, _notice(DAY, 0, "Applied to the togreg branch.", author=True)))
    assert facts(tree, 2 * DAY).merged == "fully"
    bare = _series(_version_of(2, _notice(DAY, 0, "Thanks, applied.", author=True)))
    assert facts(bare, 2 * DAY).merged == "none"
    # Not a version or a generic word for a tree ("queued up for v2", "the next cycle").
    for body in ("This has already been queued up for v2.", "Applied to next."):
        said = _series(_version_of(2, _notice(DAY, 0, body, author=True)))
        assert facts(said, 2 * DAY).merged == "none", body
    # "Pushed" by the verb alone: LTP's and BlueZ's maintainers to their own series; with an
    # object it is the author sending it.
    for body in ("Pushed.", "Hi!\nPushed, thanks.", "Both pushed.", "Pushed with minor changes."):
        pushed = _series(_version_of(2, _notice(DAY, 0, body, author=True)))
        assert facts(pushed, 2 * DAY).merged == "fully", body
    for body in (
        "I addressed your comment and pushed the patch",
        "Fixed and pushed in the new patch.",
        "So I pushed out a fix series to the list.",
    ):
        sent = _series(_version_of(2, _notice(DAY, 0, body, author=True)))
        assert facts(sent, 2 * DAY).merged == "none", body


def test_a_series_merged_by_a_pull_request_has_its_merge_date() -> None:
    """A later pull request listing the series is its merge, dated when it was sent: what a
    series depending on it waits for (merged_at) and the prediction's history."""
    from patchlens.metrics.backlog import merged_at

    v = _version_of(2)
    for i in (1, 2):
        v.pulled.append(
            ReplyFacts(
                0,
                5 * DAY,
                "maint",
                0,
                False,
                False,
                0,
                False,
                notices=("pull request",),
                notice_scope=f"patches:{i}",
            )
        )
    s = _series(v)
    assert facts(s, 4 * DAY).merged == "none"
    assert facts(s, 6 * DAY).merged == "fully"
    assert merged_at(s) == 5 * DAY


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
        _series(_version_of(3, *(_notice(DAY * i, i, "Applied.") for i in (1, 2, 3)))),
        _series(_version_of(3, _notice(DAY, 2, "Applied."))),
        _series(
            _version_of(
                1,
                _notice(DAY, 1, "Applied after dropping the Fixes tag."),
            )
        ),
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


def test_the_first_patch_of_a_version_without_a_cover_letter_stands_for_it() -> None:
    """Without a cover letter, "Applied, thanks." to patch 1 takes the version (on
    linux-bluetooth, 52 of 53 such series went in whole); to patch 2 it takes patch 2; and a
    maintainer who answers each patch takes each so ("Applied to the fixes-togreg branch" on
    patch 1, comments on patch 2)."""

    def coverless(*replies: ReplyFacts) -> VersionFacts:
        v = _version_of(3, *replies)
        v.has_cover = False
        return v

    first = coverless(_notice(DAY, 1, "Applied, thanks."))
    assert notice_covers(first.replies[0], first) is None
    assert facts(_series(first), 2 * DAY).merged == "fully"
    second = coverless(_notice(DAY, 2, "Applied, thanks."))
    assert notice_covers(second.replies[0], second) == frozenset({2})
    comment = ReplyFacts(9, DAY - 60, "maint", 2, False, False, 5, False)
    each = coverless(_notice(DAY, 1, "Applied to the fixes-togreg branch."), comment)
    assert notice_covers(each.replies[0], each) == frozenset({1})
    assert facts(_series(each), 2 * DAY).merged == "partly"
    # With a cover letter, patch 1 is patch 1.
    covered = _version_of(3, _notice(DAY, 1, "Applied, thanks."))
    assert notice_covers(covered.replies[0], covered) == frozenset({1})


def test_a_patch_merged_through_another_series_leaves_a_whole_notice_standing() -> None:
    """A patch went in through another series' posting of the same diff (its `through`):
    it counts as merged, but a notice that took the whole version still stands (the other
    patches may have gone in changed, where no diff matches); a link of the series' own
    overrides the notice as before (LTP: a series whose three patches went in through
    Petr Vorel's v8, his third modified, read partly merged by commit)."""
    v = _version_of(3, _notice(2 * DAY, 0, "Merged, thanks!"))
    v.patches[1].commit_date, v.patches[1].through = 5 * DAY, "x@y"
    f = facts(_series(v), 6 * DAY)
    assert (f.merged, f.merged_by) == ("fully", "notice")
    assert merge_changes(_series(v), [DAY, 2 * DAY, 6 * DAY]) == [(2 * DAY, True)]
    # Without the notice, the patch merged through another series is a partial merge.
    alone = _version_of(3)
    alone.patches[1].commit_date, alone.patches[1].through = 5 * DAY, "x@y"
    f = facts(_series(alone), 6 * DAY)
    assert (f.merged, f.merged_by) == ("partly", "commit")
    # A link of its own decides, the notice aside.
    own = _version_of(3, _notice(2 * DAY, 0, "Merged, thanks!"))
    own.patches[1].commit_date = 5 * DAY
    f = facts(_series(own), 6 * DAY)
    assert (f.merged, f.merged_by) == ("partly", "commit")
    assert merge_changes(_series(own), [DAY, 2 * DAY, 6 * DAY]) == [
        (2 * DAY, True),
        (6 * DAY, False),
    ]


def _random_series(rng: random.Random) -> SeriesFacts:
    """A small series drawn at random: up to three versions (some laid over the one before)
    of up to three patches, some linked (some ambiguously, some through another series, some
    twins of each other by patch-id), with notices of every scope and pull requests."""
    scopes = ["", "", "whole", "some", "patches:1", "patches:1,2", "first:1", "last:1", "count:2"]
    versions, date = [], 0
    for vi in range(rng.randint(1, 3)):
        date += rng.randint(0, 5)
        n = rng.randint(1, 3)
        patches = {}
        for i in range(1, n + 1):
            cd = rng.choice([None, None, rng.randint(0, 30)])
            patches[i] = PatchFacts(
                100 * vi + i,
                i,
                date,
                1,
                0,
                ("f",),
                cd,
                ambiguous=cd is not None and rng.random() < 0.15,
                patch_id=rng.choice(["p1", "p2", "p3", "p4", ""]),
                normalized_title=rng.choice("abcd"),
                message_id=f"m{vi}-{i}",
                through="x@t" if cd is not None and rng.random() < 0.3 else "",
            )
        replies = []
        for k in range(rng.randint(0, 3)):
            r = ReplyFacts(
                1000 * vi + k,
                date + rng.randint(0, 20),
                rng.choice(["m", "n", "a"]),
                rng.randint(0, n),
                rng.random() < 0.2,
                False,
                1,
                False,
                message_id=f"r{vi}-{k}",
                notices=rng.choice([("applied",), ("committed",), ("pushed",), ("merged",)])
                if rng.random() < 0.6
                else (),
                notice_scope=rng.choice(scopes),
                subset=rng.random() < 0.1,
                notice_tree=rng.choice(["", "", "for-next"]),
            )
            replies.append(r)
        replies.sort(key=lambda r: (r.date, r.message_id))
        pulled = []
        if rng.random() < 0.2:
            pulled.append(
                ReplyFacts(
                    0,
                    date + rng.randint(0, 25),
                    "m",
                    0,
                    False,
                    False,
                    0,
                    False,
                    message_id=f"pull{vi}",
                    notices=("pull request",),
                    notice_scope="patches:" + ",".join(map(str, sorted(patches))),
                )
            )
        v = VersionFacts(f"v{vi}", vi + 1, vi + 1, date, rng.random() < 0.5, patches, replies)
        v.partial, v.pulled = vi > 0 and rng.random() < 0.4, pulled
        versions.append(v)
    return SeriesFacts("s", "t", "a", "a@x", versions)


def test_merge_changes_says_what_facts_says_at_every_date() -> None:
    """`merge_changes` (one pass over the dates) and `facts(s, d).merged == "fully"` are the
    same rule at every date, over a thousand random series (a review helper's property test:
    it found a linked patch dated by its own commit where its twin's came first)."""
    dates = list(range(-1, 60))
    for seed in range(1000):
        se = _random_series(random.Random(seed))
        changes = dict(merge_changes(se, dates))
        state = False
        for d in dates:
            state = changes.get(d, state)
            f = facts(se, d)
            assert (f is not None and f.merged == "fully") == state, (seed, d)
