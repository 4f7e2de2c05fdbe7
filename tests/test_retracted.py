"""A notice its sender took back in a reply to it: Mark Brown's "Sorry, this was done in
error - dropped it." four minutes after a b4 thank-you for v3 (alsa-devel), Carlos
Maiolino's "this message was triggered by accident. I didn't merge it" (linux-xfs). The
taken-back notice was the series' merge, and its date the merge date. The audits found
both."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from patchlens.mail.replytext import is_retraction
from patchlens.store import schema
from tests.test_review_incremental import PATCH, _build, mail


@pytest.mark.parametrize(
    ("line", "taken_back"),
    [
        ("Sorry, this was done in error - dropped it.  Sorry for the noise.", True),
        ("My apologies Darrick, this message was triggered by accident. I didn't", True),
        ("Thanks, I've dropped it from my queue", True),
        ("Applied, thanks!", False),
        ("I dropped the Fixes tag and applied it", False),
        ("I have applied it, thanks", False),
        ("Dropped for now so that the fix can go first.", True),
        ("Unapplied, the precursor fix was dropped.", True),
        ("And pulled out again.", True),
        ("This was applied in error, I reverted it", True),
        # A part taken back, or taken after all (the second review's cases).
        ("I didn't apply patch 2 as it needs a DT ack, the rest is in.", False),
        ("I dropped the patch that touched drivers/foo, applied the rest", False),
        ("Applied by mistake to the wrong branch, moved it to togreg", False),
        ("Note I didn't merge the dts patch", False),
        ("Dropped the Fixes tag and applied.", False),
        (None, False),
    ],
)
def test_what_takes_a_notice_back(line: str | None, taken_back: bool) -> None:
    assert is_retraction(line) is taken_back


def _merge(db: Path) -> tuple[str, str | None]:
    engine = create_engine(f"sqlite:///{db}")
    sm = schema.series_metrics
    with engine.connect() as conn:
        (row,) = conn.execute(select(sm.c.merged, sm.c.merge_evidence)).all()
    engine.dispose()
    return row[0], row[1]


DAYS = [
    [
        mail("p@x", "[PATCH] fix things", PATCH, "Mon, 1 Jan 2024 10:00:00 +0000"),
        mail(
            "ty@x",
            "Re: [PATCH] fix things",
            "Applied to the for-next branch, thanks!\n",
            "Tue, 2 Jan 2024 10:00:00 +0000",
            "p@x",
            sender="Mark Maintainer",
        ),
    ],
    [
        mail(
            "oops@x",
            "Re: [PATCH] fix things",
            "Sorry, this was done in error - dropped it.\n",
            "Tue, 2 Jan 2024 10:04:00 +0000",
            "ty@x",
            sender="Mark Maintainer",
        ),
    ],
]


def test_a_notice_taken_back_merges_nothing(tmp_path: Path) -> None:
    before, _ = _build(tmp_path / "a", DAYS[:1])
    assert _merge(before)[0] == "fully"
    once, _ = _build(tmp_path / "b", [DAYS[0] + DAYS[1]])
    twice, _ = _build(tmp_path / "c", DAYS)
    assert _merge(once) == _merge(twice) == ("none", None)


def test_only_its_sender_takes_a_notice_back(tmp_path: Path) -> None:
    other = [m.replace(b"Mark Maintainer <mark@", b"Other Person <other@") for m in DAYS[1]]
    db, _ = _build(tmp_path / "a", [DAYS[0] + other])
    assert _merge(db)[0] == "fully"
