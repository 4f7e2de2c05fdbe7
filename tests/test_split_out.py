"""A patch taken out of a bigger version and sent alone ("[PATCH v2] <the title of 2/3>") is
laid over that version like a partial re-roll (review/versions.py laid_over): the version
stays in force with that patch replaced, so the series is merged when all its patches are,
not when the one sent alone is (a SoC's 19 patches merged by its dt-binding resent alone)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from sqlalchemy import select

from patchlens.mail.subject import parse_subject
from patchlens.metrics.backlog import laid_places, notice_merge
from patchlens.metrics.model import PatchFacts, ReplyFacts, VersionFacts, current_version
from patchlens.review.model import Mail, Version, grouped_partial
from patchlens.review.series import group_versions
from patchlens.review.versions import Link, laid_over
from patchlens.stages.review import Structure, structure_rows
from tests.helpers.postings import posting

DAY = 86400


def series(*later: list[Mail]) -> list[Version]:
    """v1 "foo: add X" (a cover and 3 patches), then each of `later` as its own posting."""
    first = [
        posting("c@x", "[PATCH 0/3] foo: add X", 0),
        posting("p1@x", "[PATCH 1/3] foo: prepare", 1, "c@x"),
        posting("p2@x", "[PATCH 2/3] foo: add helper", 2, "c@x"),
        posting("p3@x", "[PATCH 3/3] foo: add X", 3, "c@x"),
    ]
    versions = group_versions(first + [m for post in later for m in post])
    return sorted(versions, key=lambda v: v.date)


def links(chain: list[Version], **evidence: dict[str, float]) -> dict[str, Link]:
    return {
        b.key: Link(a.key, b.key, 1.0, evidence.get(b.key.split("@")[0], {"patch-titles": 1.0}))
        for a, b in pairwise(chain)
    }


def test_a_patch_sent_alone_is_laid_over_its_version() -> None:
    chain = series(
        [posting("s2@x", "[PATCH v2] foo: add helper", 5 * DAY)],
        [posting("s3@x", "[PATCH v3] foo: add helper", 9 * DAY)],
    )
    assert laid_over(chain, links(chain)) == [False, True, True]


def test_the_series_under_its_own_title_reduced_to_one_patch_is_its_next_version() -> None:
    chain = series([posting("s2@x", "[PATCH v2] foo: add X", 5 * DAY)])
    assert laid_over(chain, links(chain)) == [False, False]


def test_a_patch_tied_by_the_series_change_id_is_its_next_version() -> None:
    chain = series([posting("s2@x", "[PATCH v2] foo: add helper", 5 * DAY)])
    assert laid_over(chain, links(chain, s2={"change-id": 2.0})) == [False, False]


def test_a_patch_of_another_title_or_a_whole_version_is_in_force() -> None:
    chain = series(
        [posting("o@x", "[PATCH v2] foo: something else", 5 * DAY)],
        [
            posting("d@x", "[PATCH v3 0/2] foo: add X", 9 * DAY),
            posting("d1@x", "[PATCH v3 1/2] foo: add helper", 9 * DAY + 1, "d@x"),
            posting("d2@x", "[PATCH v3 2/2] foo: add X", 9 * DAY + 2, "d@x"),
        ],
        [posting("e@x", "[PATCH v4] foo: add helper", 12 * DAY)],
    )
    assert laid_over(chain, links(chain)) == [False, False, False, True]


def test_the_series_keeps_the_title_and_patches_of_the_version_in_force() -> None:
    chain = series([posting("s2@x", "[PATCH v2] foo: add helper", 5 * DAY)])
    st = Structure(
        {},
        chain,
        list(links(chain).values()),
        {"c@x": [v.key for v in chain]},
        [],
        [m for v in chain for m in v.members],
    )
    rows = structure_rows(st, featured=set())
    assert [r["partial"] for r in rows["series_versions"]] == [False, True]
    assert rows["series"][0]["title"] == "foo: add X"


def _facts(key: str, seq: int, titles: dict[int, str], linked: set[int]) -> VersionFacts:
    v = VersionFacts(key, seq, seq, seq, False, partial=seq > 1)
    for i, t in titles.items():
        v.patches[i] = PatchFacts(
            seq * 10 + i, i, seq, 1, 1, (), 1 if i in linked else None, normalized_title=t
        )
    return v


def test_the_patch_laid_over_takes_the_place_of_its_title() -> None:
    """Sent alone, patch 2 comes as 1: it replaces patch 2 of the version in force, not 1."""
    base = _facts("v1", 1, {1: "prepare", 2: "add helper", 3: "add x"}, {1, 3})
    alone = _facts("v2", 2, {1: "add helper"}, {1})
    current = current_version([base, alone])
    assert {i: p.pk for i, p in current.patches.items()} == {1: 11, 2: 21, 3: 13}
    retitled = _facts("v2", 2, {2: "add a helper"}, {2})  # a re-roll "v2 2/3" retitled
    assert {i: p.pk for i, p in current_version([base, retitled]).patches.items()} == {
        1: 11,
        2: 22,
        3: 13,
    }


@pytest.mark.slow
def test_grouping_partial_is_read_back_from_a_stored_row(erofs_store) -> None:
    """An update reads stored versions back for grouping and linking again, with grouping's
    own flag (review/model.py grouped_partial), not the stored one, which a split-out sets
    too: on EROFS, grouping's flag of every version is what its row gives back, and the
    store holds split-outs laid over (partial, no re-rolled version, one patch)."""
    from patchlens.stages.review import load_mails
    from patchlens.store import schema

    _db, engine, _ = erofs_store
    with engine.connect() as conn:
        mails, _threads = load_mails(conn)
        sv = schema.series_versions
        split = conn.execute(
            select(sv.c.key).where(sv.c.partial, sv.c.rerolls_key.is_(None), sv.c.n_patches == 1)
        ).all()
    versions = group_versions(mails)
    assert len(versions) > 2_000
    assert all(v.partial == grouped_partial(v.version_str, v.rerolls) for v in versions)
    assert len(split) >= 20


def _notice(pk: int, idx: int, scope: str = "") -> ReplyFacts:
    return ReplyFacts(
        pk,
        pk,
        "m",
        idx,
        False,
        False,
        1,
        False,
        message_id=f"n{pk}",
        notices=("applied",),
        notice_scope=scope,
    )


def test_a_notice_of_a_patch_sent_alone_is_a_notice_of_that_patch() -> None:
    """ "Applied" to the patch sent alone merges that patch of the series, not the series
    (metrics/backlog.py notice_merge); with the rest noticed too, the series is merged."""
    base = _facts("v1", 1, {1: "prepare", 2: "add helper", 3: "add x"}, set())
    alone = _facts("v2", 2, {1: "add helper"}, set())
    alone.replies.append(_notice(100, 1))
    whole, first = notice_merge([base, alone])
    assert whole is None and first is not None and first.pk == 100
    base.replies.append(_notice(50, 0, "patches:1,3"))
    whole, _first = notice_merge([base, alone])
    assert whole is not None and whole.pk == 100
    assert laid_places([base, alone]) == {"v2": (base, {1: 2})}


def test_notices_and_facts_place_a_patch_alone_alike() -> None:
    """A re-roll "v2 3/3" retitles patch 3; then "v3", that new title alone, takes place 3 in
    the merge facts and in the notices both (review/model.py place_of, as laid so far)."""
    base = _facts("v1", 1, {1: "prepare", 2: "add helper", 3: "add x"}, {1, 2})
    retitled = _facts("v2", 2, {3: "add x better"}, set())
    alone = _facts("v3", 3, {1: "add x better"}, {1})
    current = current_version([base, retitled, alone])
    assert {i: p.pk for i, p in current.patches.items()} == {1: 11, 2: 12, 3: 31}
    assert laid_places([base, retitled, alone])["v3"] == (base, {1: 3})
    base.replies += [_notice(1, 1, "patches:1"), _notice(2, 2, "patches:2")]
    alone.replies.append(_notice(3, 1))
    whole, _first = notice_merge([base, retitled, alone])
    assert whole is not None and whole.pk == 3


def test_patches_re_rolled_keep_their_numbers() -> None:
    """Two patches of one title: "v2 1/2" replaces patch 1; two patches re-rolled together
    keep their numbers whatever their titles say."""
    base = _facts("v1", 1, {1: "update readme", 2: "update readme"}, {2})
    again = _facts("v2", 2, {1: "update readme"}, {1})
    assert {i: p.pk for i, p in current_version([base, again]).patches.items()} == {1: 21, 2: 12}
    base = _facts("v1", 1, {1: "one", 2: "two", 3: "three"}, set())
    two = _facts("v2", 2, {2: "one", 3: "one again"}, set())
    assert {i: p.pk for i, p in current_version([base, two]).patches.items()} == {
        1: 11,
        2: 22,
        3: 23,
    }


def test_a_patch_sent_alone_once_committed_is_a_notice_of_that_patch() -> None:
    """ "[COMMITTED] [PATCH v2] <the title of 2/3>" says that patch went in, not the series."""
    from patchlens.queries.evidence import committed_notice

    base = _facts("v1", 1, {1: "prepare", 2: "add helper", 3: "add x"}, set())
    alone = _facts("v2", 2, {1: "add helper"}, set())
    alone.replies.append(committed_notice(alone, ("a", "a@x")))
    whole, first = notice_merge([base, alone])
    assert whole is None and first is not None
    base.replies.append(_notice(1, 0, "patches:1,3"))
    whole, _first = notice_merge([base, alone])
    assert whole is not None and "committed" in whole.notices


def test_an_untitled_patch_or_patch_1_without_a_cover() -> None:
    """A patch sent alone without a title is no split-out; without a cover letter, patch 1
    sent alone is one, as patch 2 is (the series has no title of its own then)."""
    coverless = [
        posting("p1@x", "[PATCH 1/3] foo: prepare", 0),
        posting("p2@x", "[PATCH 2/3] foo: add helper", 1, "p1@x"),
        posting("p3@x", "[PATCH 3/3] foo: add X", 2, "p1@x"),
    ]
    for title in ("foo: prepare", "foo: add helper"):
        chain = sorted(
            group_versions([*coverless, posting("s@x", f"[PATCH v2] {title}", 5 * DAY)]),
            key=lambda v: v.date,
        )
        assert laid_over(chain, links(chain)) == [False, True], title
    chain = series([posting("s2@x", "[PATCH v2] foo: add helper", 5 * DAY)])
    chain[0].patches[2].subject = parse_subject("[PATCH 2/3]")
    chain[1].patches[1].subject = parse_subject("[PATCH v2]")
    assert "" in chain[0].patch_titles() and chain[1].patch_titles() == {""}
    assert laid_over(chain, links(chain)) == [False, False]


def test_interdiffs_lay_a_patch_alone_in_the_place_of_its_title() -> None:
    """The version after a patch split out is compared with the whole version's patches 1
    and 3 and the patch sent alone in place 2 (queries/rounds.py standing)."""
    from patchlens.queries.rounds import standing

    by_key = {
        "v1": {"key": "v1", "series_key": "s", "seq": 1, "partial": False, "n_patches": 3},
        "v2": {"key": "v2", "series_key": "s", "seq": 2, "partial": True, "n_patches": 1},
    }
    posts = {
        "v1": {i: {"idx": i, "normalized_title": t} for i, t in enumerate(("x", "a", "b", "c"))},
        "v2": {1: {"idx": 1, "normalized_title": "b"}},
    }
    got = {i: (k, p["normalized_title"]) for i, (k, p) in standing(by_key, posts, "v2").items()}
    assert got == {1: ("v1", "a"), 2: ("v2", "b"), 3: ("v1", "c")}


def test_the_series_page_says_a_patch_was_sent_alone() -> None:
    from patchlens.queries.series import version_label

    def row(seq: int, partial: bool, vstr: str = "") -> dict:
        return {"version": seq, "version_str": vstr, "rfc": False, "partial": partial}

    v1 = {**row(1, False), "resend": False}
    v2 = {**row(2, True, "2"), "resend": False}
    assert version_label(v2, [v1], None) == "v2 · a patch of v1 sent alone"
    again = version_label(v2, [v1, v2], None)
    assert again == "v2 · a patch of v1 sent alone · posting 2 of v2"


def test_a_review_of_a_patch_sent_alone_reviews_its_place() -> None:
    """A Reviewed-by to the patch sent alone reviews the patch of the version in force it
    replaces: with patches 1 and 2 reviewed there, the series is nearly complete."""
    from patchlens.metrics.backlog import facts
    from patchlens.metrics.model import SeriesFacts

    def review(pk: int, idx: int) -> ReplyFacts:
        return ReplyFacts(pk, pk, f"r{pk}", idx, False, False, 5, True, message_id=f"r{pk}")

    base = _facts("v1", 1, {1: "prepare", 2: "add helper", 3: "add x"}, set())
    alone = _facts("v2", 2, {1: "add x"}, set())
    base.replies += [review(5, 1), review(6, 2)]
    alone.replies.append(review(7, 1))
    current = current_version([base, alone])
    assert [(r.pk, r.patch_idx) for r in current.replies] == [(5, 1), (6, 2), (7, 3)]
    assert alone.replies[0].patch_idx == 1  # the input is not changed
    s = SeriesFacts("v1", "t", "a", "a@x", [base, alone])
    got = facts(s, 10**6, in_repo=True, repo_registered=True)
    assert got is not None and got.nearly_complete


def test_a_patch_that_says_more_patches_or_a_title_shared_is_no_split_out() -> None:
    """ "[PATCH v2 2/4]" alone (its other patches went to other lists) is a version of its
    own; so is a patch titled as two patches of the version in force."""
    chain = series([posting("s2@x", "[PATCH v2 2/4] foo: add helper", 5 * DAY)])
    assert laid_over(chain, links(chain)) == [False, False]
    twice = [
        posting("c@x", "[PATCH 0/3] foo: add X", 0),
        posting("p1@x", "[PATCH 1/3] foo: update readme", 1, "c@x"),
        posting("p2@x", "[PATCH 2/3] foo: update readme", 2, "c@x"),
        posting("p3@x", "[PATCH 3/3] foo: add helper", 3, "c@x"),
        posting("s@x", "[PATCH v2] foo: update readme", 5 * DAY),
    ]
    chain = sorted(group_versions(twice), key=lambda v: v.date)
    assert laid_over(chain, links(chain)) == [False, False]


def test_two_postings_of_one_label_read_apart() -> None:
    """A partial re-roll sent again, or two "v1.1": the later header says which posting it
    is (queries/series.py versions_detail)."""
    from patchlens.queries.series import distinct_label, version_label

    def row(seq: int, vstr: str, partial: bool, resend: bool = False) -> dict:
        return {
            "key": f"k{seq}",
            "series_key": "s",
            "seq": seq,
            "version": int(float(vstr)),
            "version_str": vstr,
            "rfc": False,
            "partial": partial,
            "resend": resend,
            "members": [{"idx": 3}],
        }

    v1 = row(1, "1", False)
    rr, again = row(2, "2", True), row(3, "2", True, resend=True)
    assert version_label(again, [v1, rr], v1).endswith("(patch 3) · RESEND")
    earlier: list[dict] = []
    labels = []
    for v in (v1, row(2, "1.1", True), row(3, "1.1", True)):
        v["label"] = distinct_label(version_label(v, earlier, None), earlier)
        labels.append(v["label"])
        earlier.append(v)
    assert len(set(labels)) == 3, labels


def test_prediction_features_read_a_patch_sent_alone_as_the_state_does() -> None:
    """Before its commit, a patch sent alone still takes its place (its title kept), and a
    version laid over after a reviewer spoke answers them (metrics/prediction_features.py)."""
    from patchlens.metrics.backlog import facts
    from patchlens.metrics.model import SeriesFacts
    from patchlens.metrics.prediction_features import own_features_at

    def review(pk: int, idx: int, date: int) -> ReplyFacts:
        return ReplyFacts(pk, date, f"r{pk}", idx, False, False, 5, True, message_id=f"r{pk}")

    base = _facts("v1", 1, {1: "prepare", 2: "add x"}, set())
    alone = _facts("v2", 2, {1: "add x"}, {1})  # its commit comes at 100
    alone.date = 5
    alone.patches[1].commit_date = 100
    base.replies.append(review(3, 1, 3))
    alone.replies.append(review(6, 1, 6))
    s = SeriesFacts("v1", "t", "a", "a@x", [base, alone])
    feats = own_features_at(s, 50)
    got = facts(s, 50, in_repo=True, repo_registered=True)
    assert got is not None and got.nearly_complete
    assert feats is not None and feats["reviewed_share"] == 1.0
    later = _facts("v3", 3, {1: "prepare"}, set())
    later.date = 8
    base.replies.append(review(7, 2, 7))
    s = SeriesFacts("v1", "t", "a", "a@x", [base, _facts("v2", 2, {1: "add x"}, set()), later])
    s.versions[1].date = 4
    feats = own_features_at(s, 9)
    got = facts(s, 9, in_repo=True, repo_registered=True)
    assert got is not None and not got.reviewer_spoke_last
    assert feats is not None and feats["reviewer_spoke_last"] == 0.0
