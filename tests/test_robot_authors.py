"""A robot that posts patches (the kernel test robot's own "[PATCH]"es, by lkp@intel.com) is
no new contributor: the linux-iio audit found its first series counted among newcomers'."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, select

from patchlens.store import schema
from tests.test_review_incremental import PATCH, _build, _by_message_id


def _robot(mid: str, subject: str, date: str) -> bytes:
    return (
        f"From: kernel test robot <lkp@intel.com>\nSubject: {subject}\nMessage-ID: <{mid}>\n"
        f"Date: {date}\n\n{PATCH}"
    ).encode()


def _person(mid: str, subject: str, date: str) -> bytes:
    return (
        f"From: New Person <new@example.org>\nSubject: {subject}\nMessage-ID: <{mid}>\n"
        f"Date: {date}\n\n{PATCH}"
    ).encode()


DAY1 = [
    _robot("r1@x", "[PATCH] iio: fix a warning", "Mon, 1 Jan 2024 10:00:00 +0000"),
    _person("p1@x", "[PATCH] iio: add a driver", "Mon, 1 Jan 2024 11:00:00 +0000"),
]
DAY2 = [
    _robot("r2@x", "[PATCH] pci: fix another warning", "Tue, 2 Jan 2024 10:00:00 +0000"),
    _person("p2@x", "[PATCH] pci: add a quirk", "Tue, 2 Jan 2024 11:00:00 +0000"),
]


def test_a_robot_is_no_new_contributor(tmp_path: Path) -> None:
    db, _ = _build(tmp_path / "a", [DAY1, DAY2])
    engine = create_engine(f"sqlite:///{db}")
    sm = schema.series_metrics
    with engine.connect() as conn:
        flags = dict(conn.execute(select(sm.c.series_key, sm.c.new_contributor)).all())
    engine.dispose()
    # The person's first series is a newcomer's; none of the robot's is.
    assert flags == {"r1@x": False, "p1@x": True, "r2@x": False, "p2@x": False}
    once, _ = _build(tmp_path / "b", [DAY1 + DAY2])
    assert _by_message_id(db)["series_metrics"] == _by_message_id(once)["series_metrics"]
