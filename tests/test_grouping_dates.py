"""Grouping across threads (review/series.py) when a parent is dated after its child (a
clock's skew): the parent is placed with the child, so the versions open under a key are
not placed in date order. A patch whose threading broke joins the version of its key dated
within a day of it, either way, whatever else the sender posted in between."""

from __future__ import annotations

from patchlens.review.model import Mail
from patchlens.review.series import group_versions
from tests.helpers.postings import posting

DAY = 86400
T0 = 1_700_000_000


def members(mails: list[Mail]) -> dict[str, set[str]]:
    out = {}
    for v in group_versions(mails):
        ids = {p.message_id for p in v.patches.values()}
        if v.cover is not None:
            ids.add(v.cover.message_id)
        out[v.key] = ids
    return out


def test_a_version_placed_early_is_not_hidden_by_an_older_one() -> None:
    """A "v2 1/3" answers "1/3" and is dated ten days before it (a clock's skew), so "1/3"
    is placed with it, first. "2/3", threading broken, comes within an hour of "1/3". A
    "0/3" cover of another series, dated between, was the newest open version of the key
    before: the scan stopped at it, over a day older, and "2/3" began a version alone."""
    got = members(
        [
            posting("v2@x", "[PATCH v2 1/3] b: one", T0, "b1@x"),
            posting("b1@x", "[PATCH 1/3] b: one", T0 + 10 * DAY),
            posting("other@x", "[PATCH 0/3] c: other", T0 + 5 * DAY),
            posting("b2@x", "[PATCH 2/3] b: two", T0 + 10 * DAY + 3600),
        ]
    )
    assert any({"b1@x", "b2@x"} <= ids for ids in got.values()), got


def test_a_patch_does_not_join_a_version_dated_weeks_after_it() -> None:
    """A version placed before its date (a "v2" answering it came first, dated weeks
    before it) is weeks after a patch of its key whose threading broke: not the patch's
    posting, which begins a version of its own."""
    got = members(
        [
            posting("v2@x", "[PATCH v2 1/2] a: one", T0, "late@x"),
            posting("late@x", "[PATCH 1/2] a: one", T0 + 20 * DAY),
            posting("lone@x", "[PATCH 2/2] c: two", T0 + 3600),
        ]
    )
    assert {"lone@x"} in got.values(), got
