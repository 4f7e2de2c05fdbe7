"""stgit's patchsets (Darrick Wong's "[PATCHSET 1/2] xfs: bug fixes for 7.0" on linux-xfs):
each is the cover letter of the patches threaded under it, the numbers counting the
patchsets sent together. Read as patch 1 of 2 with no diff, the two covers made a series of
their own, in the backlog, beside their patches (the linux-xfs audit)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, select

from patchlens.store import schema
from tests.test_kept_subject import _mail
from tests.test_review_incremental import PATCH, _build

D = "Darrick J. Wong <djwong@kernel.org>"
SENT = [
    _mail("s1@x", "[PATCHSET 1/2] xfs: bug fixes for 7.0", "Fixes.\n", 0, D),
    _mail("s1p1@x", "[PATCH 1/2] xfs: fix one", PATCH, 0, D, "s1@x"),
    _mail("s1p2@x", "[PATCH 2/2] xfs: fix two", PATCH, 0, D, "s1@x"),
    _mail("s2@x", "[PATCHSET 2/2] fs: bug fixes for 7.0", "More.\n", 1, D),
    _mail("s2p1@x", "[PATCH 1/1] fs: fix three", PATCH, 1, D, "s2@x"),
]


def test_each_patchset_is_the_cover_of_its_patches(tmp_path: Path) -> None:
    db, _ = _build(tmp_path / "a", [SENT])
    engine = create_engine(f"sqlite:///{db}")
    sv = schema.series_versions
    with engine.connect() as conn:
        rows = sorted(tuple(r) for r in conn.execute(select(sv.c.key, sv.c.n_patches, sv.c.title)))
    engine.dispose()
    assert rows == [("s1@x", 2, "xfs: bug fixes for 7.0"), ("s2@x", 1, "fs: bug fixes for 7.0")]


def _at(mid: str, subject: str, body: str, date: str, irt: str | None = None) -> bytes:
    head = f"From: {D}\nSubject: {subject}\nMessage-ID: <{mid}>\nDate: {date}\n"
    if irt:
        head += f"In-Reply-To: <{irt}>\nReferences: <{irt}>\n"
    return f"{head}\n{body}".encode()


def test_a_patchset_takes_its_patches_whatever_their_total(tmp_path: Path) -> None:
    """A patchset's cover counts patchsets, not patches: its patches sent 90 minutes later
    under it are its own (the review helper's case), not a series apart."""
    sent = [
        _at("c@x", "[PATCHSET] xfs: fixes", "Fixes.\n", "Mon, 1 Dec 2025 10:00:00 +0000"),
        _at("p1@x", "[PATCH 1/2] xfs: one", PATCH, "Mon, 1 Dec 2025 11:30:00 +0000", "c@x"),
        _at("p2@x", "[PATCH 2/2] xfs: two", PATCH, "Mon, 1 Dec 2025 11:30:01 +0000", "c@x"),
    ]
    db, _ = _build(tmp_path / "a", [sent])
    engine = create_engine(f"sqlite:///{db}")
    sv = schema.series_versions
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(sv.c.key, sv.c.n_patches, sv.c.total))]
    engine.dispose()
    assert rows == [("c@x", 2, 2)]


def test_a_patchset_with_a_diff_is_a_patch_of_its_own(tmp_path: Path) -> None:
    sent = [_at("d@x", "[PATCHSET] xfs: fix one", PATCH, "Mon, 1 Dec 2025 10:00:00 +0000")]
    db, _ = _build(tmp_path / "a", [sent])
    engine = create_engine(f"sqlite:///{db}")
    sv = schema.series_versions
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(sv.c.key, sv.c.n_patches, sv.c.cover_pk))]
    engine.dispose()
    assert rows == [("d@x", 1, None)]
