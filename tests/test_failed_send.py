"""A cover letter whose patches did not go out (the send failed after it), followed minutes
later by the whole version sent again: the lone cover took the place of the earlier
version's successor, and the complete version, which could follow neither (one successor
each; a repost needs a second piece of evidence beside its title), became a series of its
own. The million-corpus audit found it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, select

from patchlens.store import schema
from tests.test_review_incremental import PATCH, _build, mail


def _v(mid: str, subject: str, body: str, when: str, parent: str | None = None) -> bytes:
    return mail(mid, subject, body, f"Mon, 1 Jan 2024 {when} +0000", parent)


V1 = [
    _v("c1@x", "[PATCH 0/2] fix things", "cover\n", "01:00:00"),
    _v("p1@x", "[PATCH 1/2] fix a", PATCH, "01:00:01", "c1@x"),
    _v("p2@x", "[PATCH 2/2] fix b", PATCH.replace("+b", "+c"), "01:00:02", "c1@x"),
]
LONE = [_v("c2@x", "[PATCH v2 0/2] fix things", "v2: fixed a\n", "10:00:00")]
WHOLE = [
    _v("d2@x", "[PATCH v2 0/2] fix things", "v2: fixed a\n", "10:07:00"),
    _v("q1@x", "[PATCH v2 1/2] fix a", PATCH, "10:07:01", "d2@x"),
    _v("q2@x", "[PATCH v2 2/2] fix b", PATCH.replace("+b", "+c"), "10:07:02", "d2@x"),
]


def _series(db: Path) -> dict[str, list[str]]:
    engine = create_engine(f"sqlite:///{db}")
    sv = schema.series_versions
    with engine.connect() as conn:
        rows = conn.execute(select(sv.c.series_key, sv.c.key).order_by(sv.c.seq)).all()
    engine.dispose()
    out: dict[str, list[str]] = {}
    for series, key in rows:
        out.setdefault(series, []).append(key)
    return out


def test_a_lone_cover_and_its_version_sent_again_are_one_series(tmp_path: Path) -> None:
    db, _ = _build(tmp_path / "a", [V1 + LONE + WHOLE])
    assert list(_series(db).values()) == [["c1@x", "c2@x", "d2@x"]]


def test_a_lone_cover_hours_before_is_not_a_failed_send(tmp_path: Path) -> None:
    """Only a sending minutes apart is the same version sent again: eight hours later (a
    cross-posted series' lone cover here, then other work of the same title) the title
    alone says too little (the second review's case)."""
    later = [m.replace(b" 10:07:", b" 18:07:") for m in WHOLE]
    db, _ = _build(tmp_path / "a", [V1 + LONE + later])
    assert ["c1@x", "c2@x", "d2@x"] not in list(_series(db).values())
