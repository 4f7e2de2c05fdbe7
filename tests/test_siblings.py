"""Patchsets sent as replies to one message that is neither's (Darrick Wong's patchbombs:
"[PATCHSET v31.0 02/10] atomic file content commits" and "[PATCHSET v4.0 01/10] various bug
fixes" both answer "[PATCHBOMB 6.12] xfs: ..."): the shared thread alone made the second a
version of the first, and the first's merge the second's. The linux-xfs audit found it."""

from __future__ import annotations

from pathlib import Path

from tests.test_failed_send import _series as series_of
from tests.test_review_incremental import PATCH, _build, mail


def _diff(name: str) -> str:
    return PATCH.replace("x.c", f"{name}.c").replace("-a\n+b", f"-{name}\n+{name}2")


def test_patchsets_of_one_patchbomb_are_not_versions_of_each_other(tmp_path: Path) -> None:
    day = [
        mail("bomb@x", "[PATCHBOMB 6.12] xfs: stuff", "Here it is.\n", "Mon, 1 Jan 2024 10:00:00"),
        mail(
            "a@x",
            "[PATCH v4 1/1] xfs: various bug fixes",
            _diff("a"),
            "Mon, 1 Jan 2024 10:01:00",
            "bomb@x",
        ),
        mail(
            "b@x",
            "[PATCH v31 1/1] xfs: atomic file commits",
            _diff("b"),
            "Mon, 1 Jan 2024 10:02:00",
            "bomb@x",
        ),
    ]
    db, _ = _build(tmp_path / "a", [day])
    assert sorted(series_of(db).values()) == [["a@x"], ["b@x"]]


def test_a_fix_sent_again_to_the_same_report_is_still_its_next_version(tmp_path: Path) -> None:
    """Two versions answering one bug report (the thread's first message): their title says
    they are one fix."""
    day = [
        mail("bug@x", "kernel oops in x", "It crashes.\n", "Mon, 1 Jan 2024 10:00:00"),
        mail("v1@x", "[PATCH] x: fix the oops", _diff("a"), "Mon, 1 Jan 2024 11:00:00", "bug@x"),
        mail("v2@x", "[PATCH v2] x: fix the oops", _diff("c"), "Tue, 2 Jan 2024 11:00:00", "bug@x"),
    ]
    db, _ = _build(tmp_path / "a", [day])
    assert sorted(series_of(db).values()) == [["v1@x", "v2@x"]]
