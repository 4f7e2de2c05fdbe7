"""A robot's report sent from a person's address: the devicetree bindings robot mails from
its maintainer's address ("My bot found errors running 'make dt_binding_check' ..."), and its
"This patch series was applied (using b4) to base:" was read as a maintainer's notice that
the series went in (58 series of the million corpus "merged" by it); it also counted as a
reviewer's reply and first response. The linux-pci/linux-usb audit found it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from patchlens.identity.bots import is_robot_report
from patchlens.review.analysis import analyze
from patchlens.store import schema
from tests.test_review_incremental import PATCH, _build, _by_message_id

REPORT = """\
On Fri, 13 Jun 2025 11:29:54 +0800, Jacky Chou wrote:
> This patch series adds support for the ASPEED PCIe Root Complex.


My bot found new DTB warnings on the .dts files added or changed in this
series.

Some warnings may be from an existing SoC .dtsi. Ultimately, it is up to the platform
maintainer whether these warnings are acceptable or not.

This patch series was applied (using b4) to base:
 Base: tags/v6.16-rc1-6-g8a22d9e79cf0 (best guess, 5/6 blobs matched)

If this is not the correct base, please add 'base-commit' tag
(or use b4 which does this automatically)

Reviewed-by: Nobody <nobody@example.com>
"""


@pytest.mark.parametrize(
    ("line", "robot"),
    [
        ("My bot found errors running 'make dt_binding_check' on your patch:", True),
        ("My bot found new DTB warnings on the .dts files added or changed in this", True),
        ("  my bot found errors", True),
        ("Hi Rob, my bot found nothing", False),
        ("Applied, thanks!", False),
        (None, False),
    ],
)
def test_robot_report_openings(line: str | None, robot: bool) -> None:
    assert is_robot_report(line) is robot


def test_a_report_gives_no_notice_and_no_trailer() -> None:
    a = analyze(
        1, "Re: [PATCH 0/7] Add ASPEED PCIe Root Complex support", REPORT, None, False, True
    )
    assert a.notices == [] and a.trailers == []
    assert a.row["first_line"].startswith("My bot found")


def _mail(mid: str, subject: str, body: str, date: str, sender: str, irt: str | None = None):
    head = f"From: {sender}\nSubject: {subject}\nMessage-ID: <{mid}>\nDate: {date}\n"
    if irt:
        head += f"In-Reply-To: <{irt}>\nReferences: <{irt}>\n"
    return f"{head}\n{body}".encode()


DAY = [
    _mail(
        "p@x",
        "[PATCH] PCI: aspeed: add a driver",
        PATCH,
        "Fri, 13 Jun 2025 11:29:54 +0800",
        "Jacky Chou <jacky@example.com>",
    ),
    _mail(
        "bot@x",
        "Re: [PATCH] PCI: aspeed: add a driver",
        REPORT,
        "Mon, 16 Jun 2025 21:46:50 +0000",
        '"Rob Herring (Arm)" <robh@kernel.org>',
        "p@x",
    ),
]


def test_a_report_from_a_persons_address_is_a_robots_reply(tmp_path: Path) -> None:
    db, _ = _build(tmp_path / "a", [DAY])
    engine = create_engine(f"sqlite:///{db}")
    rp, sm = schema.replies, schema.series_metrics
    with engine.connect() as conn:
        bots = dict(conn.execute(select(rp.c.message_pk, rp.c.is_bot)).all())
        ((merged, by, first),) = conn.execute(
            select(sm.c.merged, sm.c.merged_by, sm.c.time_to_first_response)
        ).all()
    engine.dispose()
    assert list(bots.values()) == [True]
    assert (merged, by, first) == ("none", None, None)
    once, _ = _build(tmp_path / "b", [DAY[:1], DAY[1:]])
    assert _by_message_id(db)["replies"] == _by_message_id(once)["replies"]
