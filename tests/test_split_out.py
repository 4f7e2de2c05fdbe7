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

DAY = 86400


def posting(mid: str, subject: str, date: int, parent: str | None = None) -> Mail:
    return Mail(
        date, mid, parse_subject(subject), "A", "a@x", date, parent or mid, parent, True, True
    )


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
