"""A patch posted after it went in ("[LTP] [COMMITTED] [PATCH]", GCC's "[committed]", GDB's
"[pushed]") is merged work posted for the record, not a series under review: LTP's audit found
167 such posts counted as series, "abandoned" or waiting in a store without the repository,
with no reviewer needed. A series posted for review and then posted again as committed stays
review work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from patchlens.mail.subject import parse_subject
from patchlens.metrics.backlog import facts
from patchlens.metrics.model import PatchFacts, SeriesFacts, VersionFacts
from patchlens.queries.evidence import committed_notice
from patchlens.review.model import is_committed_posting
from patchlens.store import schema
from tests.test_review_incremental import PATCH, _build, _by_message_id, mail


@pytest.mark.parametrize(
    ("subject", "committed"),
    [
        ("[LTP] [COMMITTED] [PATCH] insmod01: Add license to the dummy module", True),
        ("[LTP] [COMMITTED][PATCH 1/1] ver_linux: Fix util-linux version", True),
        ("[LTP] [PATCH] [COMMITTED] syscalls/fcntl33: Fix typo", True),
        ("[LTP] [PATCH COMMITTED] mtest06/mmap1: add note", True),
        ("[committed] Fix PR middle-end/123", True),
        ("[pushed] gdb: fix a crash", True),
        ("[PATCH][pushed] gdb: fix a crash", True),
        ("[APPLIED] [PATCH] x", True),
        ("[LTP] [PATCH] syscalls: commit the pending changes", False),
        ("[PATCH v2] xen: fix foo", False),
    ],
)
def test_committed_postings(subject: str, committed: bool) -> None:
    s = parse_subject(subject)
    assert is_committed_posting(s) is committed
    if committed:  # a flag, never a list tag nor a prefix of the title
        assert not any(p.upper() in ("COMMITTED", "PUSHED", "APPLIED") for p in s.prefixes)


def _versions(*committed: bool) -> SeriesFacts:
    vs = [VersionFacts(f"v{i}", i, 1, i, False, committed=c) for i, c in enumerate(committed, 1)]
    return SeriesFacts("s", "t", "author", "a@x", vs)


def test_the_kind_of_a_series() -> None:
    assert _versions(True).kind == "committed"
    assert _versions(True, True).kind == "committed"
    # Posted for review, then again once committed: review work, merged.
    assert _versions(False, True).kind == "series"
    assert _versions(False).kind == "series"


DAY1 = [
    mail(
        "c@x",
        "[LTP] [COMMITTED] [PATCH] foo: fix the build",
        PATCH,
        "Mon, 1 Jan 2024 10:00:00 +0000",
    ),
    mail("r@x", "[LTP] [PATCH] bar: fix it", PATCH, "Mon, 1 Jan 2024 11:00:00 +0000"),
    mail("b1@x", "[LTP] [PATCH] baz: fix it", PATCH, "Mon, 1 Jan 2024 12:00:00 +0000"),
]
DAY2 = [
    mail(
        "b2@x",
        "[LTP] [COMMITTED] [PATCH] baz: fix it",
        PATCH,
        "Tue, 2 Jan 2024 12:00:00 +0000",
    ),
]


DAY3 = [
    mail("q1@x", "[LTP] [COMMITTED] [PATCH] qux: fix it", PATCH, "Wed, 3 Jan 2024 10:00:00 +0000"),
    mail("q2@x", "[LTP] [PATCH v2] qux: fix it", PATCH, "Wed, 3 Jan 2024 12:00:00 +0000"),
]


def test_a_committed_posting_followed_by_a_version_for_review_is_no_merge(
    tmp_path: Path,
) -> None:
    """A version posted for review after the committed one: the committed posting was not the
    series' end (on LTP, a committed patch linked as v1 of another series' v2)."""
    db, _ = _build(tmp_path / "a", [DAY3])
    engine = create_engine(f"sqlite:///{db}")
    sv, sm = schema.series_versions, schema.series_metrics
    with engine.connect() as conn:
        chains = dict(conn.execute(select(sv.c.key, sv.c.series_key)).all())
        states = dict(conn.execute(select(sm.c.series_key, sm.c.merged)).all())
    engine.dispose()
    assert chains == {"q1@x": "q1@x", "q2@x": "q1@x"}
    assert states == {"q1@x": "none"}


def test_a_committed_posting_is_no_series_under_review(tmp_path: Path) -> None:
    db, _ = _build(tmp_path / "a", [DAY1, DAY2])
    engine = create_engine(f"sqlite:///{db}")
    sv, sm = schema.series_versions, schema.series_metrics
    with engine.connect() as conn:
        flags = dict(conn.execute(select(sv.c.key, sv.c.committed)).all())
        chains = dict(conn.execute(select(sv.c.key, sv.c.series_key)).all())
        measured = {k for (k,) in conn.execute(select(sm.c.series_key))}
    engine.dispose()
    assert flags == {"c@x": True, "r@x": False, "b1@x": False, "b2@x": True}
    # baz posted for review, then again as committed: one series of two versions.
    assert chains["b2@x"] == chains["b1@x"] == "b1@x"
    # The series under review are measured; the committed post alone is not one of them.
    assert measured == {"r@x", "b1@x"}
    # Without a repository the committed posting is what shows baz merged: its author's
    # notice "committed", dated by the posting (nothing shows bar merged).
    with engine.connect() as conn:
        merged = {
            k: (by, ev)
            for k, by, ev in conn.execute(
                select(sm.c.series_key, sm.c.merged_by, sm.c.merge_evidence)
            )
        }
        states = dict(conn.execute(select(sm.c.series_key, sm.c.merged)).all())
    engine.dispose()
    assert merged["r@x"] == (None, None)
    assert states == {"r@x": "none", "b1@x": "fully"}
    by, evidence = merged["b1@x"]
    assert by == "notice"
    ev = json.loads(evidence)
    assert (ev["kind"], ev["message_id"], ev["date"]) == (
        "committed",
        "b2@x",
        "2024-01-02T12:00:00Z",
    )
    # Built a day at a time or at once, the store is the same.
    once, _ = _build(tmp_path / "b", [DAY1 + DAY2])
    a, b = _by_message_id(db), _by_message_id(once)
    for table in ("series", "series_versions", "version_members", "series_metrics"):
        assert a[table] == b[table], table


def _partial_series(idx: list[int]) -> SeriesFacts:
    v1 = VersionFacts(
        "v1",
        1,
        1,
        1,
        False,
        {i: PatchFacts(10 + i, i, 1, 1, 1, ("x.c",), message_id=f"a{i}@x") for i in (1, 2, 3)},
    )
    v2 = VersionFacts(
        "v2",
        2,
        2,
        2,
        False,
        {i: PatchFacts(20 + i, i, 2, 1, 1, ("x.c",), message_id=f"b{i}@x") for i in idx},
        partial=True,
        committed=True,
    )
    v2.pulled.append(committed_notice(v2, ("addr:a@x", "a@x")))
    return SeriesFacts("s", "t", "addr:a@x", "a@x", [v1, v2])


@pytest.mark.parametrize("idx", [[2], [2, 3]])
def test_a_committed_partial_reroll_merges_a_part(idx: list[int]) -> None:
    """'[COMMITTED] [PATCH v2 2/3]' re-sends one patch of three: a part of the series went
    in, even when the re-roll holds that one patch only (found by the review helper)."""
    f = facts(_partial_series(idx), 10)
    assert f is not None and f.merged == "partly"


COVERED = [
    mail("k0@x", "[LTP] [PATCH 0/2] qux: fix", "cover\n", "Thu, 4 Jan 2024 10:00:00 +0000"),
    mail("k1@x", "[LTP] [PATCH 1/2] qux: one", PATCH, "Thu, 4 Jan 2024 10:00:01 +0000", "k0@x"),
    mail("k2@x", "[LTP] [PATCH 2/2] qux: two", PATCH, "Thu, 4 Jan 2024 10:00:02 +0000", "k0@x"),
    mail(
        "l0@x",
        "[LTP] [COMMITTED] [PATCH v2 0/2] qux: fix",
        "cover\n",
        "Fri, 5 Jan 2024 10:00:00 +0000",
    ),
    mail(
        "l1@x",
        "[LTP] [COMMITTED] [PATCH v2 1/2] qux: one",
        PATCH,
        "Fri, 5 Jan 2024 10:05:00 +0000",
        "l0@x",
    ),
    mail(
        "l2@x",
        "[LTP] [COMMITTED] [PATCH v2 2/2] qux: two",
        PATCH,
        "Fri, 5 Jan 2024 10:05:01 +0000",
        "l0@x",
    ),
]


@pytest.mark.parametrize("sent", [COVERED, COVERED[:4]])
def test_a_committed_version_with_a_cover_letter_is_traced_to_it(
    tmp_path: Path, sent: list[bytes]
) -> None:
    """The notice names the cover letter and its date, whole, even when the committed cover
    letter came alone (its patches lost)."""
    db, _ = _build(tmp_path / "a", [sent])
    engine = create_engine(f"sqlite:///{db}")
    sm = schema.series_metrics
    with engine.connect() as conn:
        ((merged, by, evidence),) = conn.execute(
            select(sm.c.merged, sm.c.merged_by, sm.c.merge_evidence)
        ).all()
    engine.dispose()
    ev = json.loads(evidence)
    assert (merged, by) == ("fully", "notice")
    assert (ev["message_id"], ev["date"]) == ("l0@x", "2024-01-05T10:00:00Z")
