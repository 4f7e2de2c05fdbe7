"""A series a later pull request lists is merged by it: by its letter's shortlog (the kernel's
`git request-pull`) or by the Message-ID its patches point back to (QEMU's PULL patches). The
linux-iio audit found 29 of 148 open series, and 252 "unknown" ones, listed whole in a later
"[PULL] IIO ..." to Greg; on EROFS, Gao Xiang's "[GIT PULL] erofs ..." letters list the kernel
series the list reviewed."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from patchlens.mail.shortlog import shortlog_subjects
from patchlens.store.compression import decompress_text
from tests.conftest import data_path
from tests.helpers.xenqemu import build

LETTER = """\
The following changes since commit fe15c26ee26efa11741a7b632e9f23b01aca4cc6:

  Linux 6.3-rc1 (2023-03-05 14:52:03 -0800)

are available in the Git repository at:

  https://git.kernel.org/pub/scm/linux/kernel/git/jic23/iio.git tags/iio-for-6.4a

----------------------------------------------------------------
1st set of IIO new device support, features and cleanups for the 6.4 cycle.

* st,lsm6dsx
  - Add support for ASM330LHB automotive MEMS sensor.

----------------------------------------------------------------
Aidan MacDonald (2):
      iio: adc: axp20x_adc: Minor code cleanups
      iio: adc: axp20x_adc: Replace adc_en2 flag with adc_en2_mask field

Nuno Sá (1):
      iio: adc: ad7192: fix the name

 drivers/iio/adc/axp20x_adc.c | 12 ++++++------
 2 files changed, 6 insertions(+), 6 deletions(-)
"""


def test_the_shortlog_of_a_letter() -> None:
    assert shortlog_subjects(LETTER) == [
        "iio: adc: axp20x_adc: Minor code cleanups",
        "iio: adc: axp20x_adc: Replace adc_en2 flag with adc_en2_mask field",
        "iio: adc: ad7192: fix the name",
    ]
    assert shortlog_subjects("Applied, thanks.\n\n  indented text (1):\n") == []


def _own_shortlog(body: str) -> set[str]:
    """The subjects under the "Name (N):" lines, read again here with a regex of our own."""
    out: set[str] = set()
    for block in re.findall(r"(?m)^\S.*\(\d+\):\n((?: {6}\S.*\n?)+)", body):
        out.update(line.strip() for line in block.splitlines() if line.strip())
    return out


def _title(subject: str) -> str:
    return re.sub(r"^(?:re:\s*)?(?:\[[^\]]*\]\s*)+", "", subject.casefold()).strip()


def test_erofs_series_listed_by_a_later_pull_request_are_merged_by_it(erofs_store) -> None:
    """Read again here with a regex of its own: every series one of whose versions a later
    pull request's letter lists whole is merged; every series merged by a pull request has a
    patch its letter lists, in a version sent before it (the notices before it may have
    taken the others)."""
    db, _engine, _ = erofs_store
    con = sqlite3.connect(str(db))
    letters: dict[str, set[str]] = {}
    for key, body in con.execute(
        "SELECT sv.series_key, m.body FROM series_versions sv "
        "JOIN version_members vm ON vm.version_key = sv.key "
        "JOIN messages m ON m.id = vm.message_pk WHERE sv.pull"
    ):
        text = decompress_text(body) if isinstance(body, bytes) else body
        letters.setdefault(key, set()).update(s.casefold() for s in _own_shortlog(text))
    sent = dict(con.execute("SELECT series_key, min(date) FROM series_versions GROUP BY 1"))
    assert sum(1 for s in letters.values() if s) > 50
    versions: dict[str, list[tuple[int, list[str]]]] = {}
    for key, vdate, subjects in con.execute(
        "SELECT sv.series_key, sv.date, group_concat(m.subject, char(10)) "
        "FROM series_versions sv JOIN version_members vm ON vm.version_key = sv.key "
        "AND vm.idx > 0 JOIN messages m ON m.id = vm.message_pk "
        "JOIN series_metrics sm ON sm.series_key = sv.series_key GROUP BY sv.key"
    ):
        versions.setdefault(key, []).append((vdate, [_title(x) for x in subjects.split("\n")]))
    merged = dict(con.execute("SELECT series_key, merged FROM series_metrics"))
    whole = {
        key
        for key, vs in versions.items()
        if any(
            vdate <= sent[pull] and all(t in listed for t in titles)
            for vdate, titles in vs
            for pull, listed in letters.items()
        )
    }
    assert len(whole) > 100
    assert {k for k in whole if merged[k] != "fully"} == set()
    pulled = con.execute(
        "SELECT series_key, json_extract(merge_evidence, '$.message_id') FROM series_metrics "
        "WHERE json_extract(merge_evidence, '$.kind') = 'pull request' AND merged = 'fully'"
    ).fetchall()
    assert len(pulled) > 100
    for key, pull in pulled:
        assert any(
            vdate <= sent[pull] and any(t in letters[pull] for t in titles)
            for vdate, titles in versions[key]
        ), (key, pull)


def test_a_pull_requests_patches_pointing_back_merge_the_series(tmp_path: Path) -> None:
    """QEMU's PULL patches carry a Message-ID: trailer naming the posting they were applied
    from: Thomas Huth's v2 of "tests/functional: Fix broken decorators" (2 patches) is merged
    by his "[PULL 00/20]", although nobody said "applied" on the list."""
    mbox = data_path("xen-qemu-samples", "qemu-functional-decorators.mbox")
    engine = build(tmp_path, mbox)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT series_key, merged, merge_evidence FROM series_metrics"
        ).all()
        items = conn.exec_driver_sql("SELECT kind, value FROM pull_items ORDER BY value").all()
    # The PULL's patches point back to the v2 patches; its cover lists all 20 subjects.
    assert [tuple(r) for r in items if r.kind == "message"] == [
        ("message", "20250122134315.1448794-2-thuth@redhat.com"),
        ("message", "20250122134315.1448794-3-thuth@redhat.com"),
    ]
    assert sum(1 for r in items if r.kind == "subject") == 20
    (row,) = rows
    assert row.merged == "fully"
    assert '"kind": "pull request"' in row.merge_evidence
    assert "20250130131535.91297-1-thuth@redhat.com" in row.merge_evidence
