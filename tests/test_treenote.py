"""A tree robot's note that a patch went into a branch (Greg Kroah-Hartman's 'patch "x" added
to char-misc-testing') is no series of its own: it is a notice that the posting it names was
applied, found by the patch's subject and author or by the `Link:` it carries, as a pull
request's shortlog is. A stable tree's note is a backport, no merge. Whether the note comes
in the same update as the posting or a later one, the store is the same."""

from __future__ import annotations

import json
from pathlib import Path

from patchlens.config import Config
from patchlens.mail.treenote import note_branch, tree_note

NOTE_BODY = """\

This is a note to let you know that I've just added the patch titled

    iio: adc: fix the scale of channel 3

to my char-misc git tree which can be found at
    git://git.kernel.org/pub/scm/linux/kernel/git/gregkh/char-misc.git
in the char-misc-testing branch.

If you have any questions about this process, please let me know.


From 9e8284501c8d9e2bde4dfcddaf0201ee7cc8f2a7 Mon Sep 17 00:00:00 2001
From: Marcus Folkesson <marcus.folkesson@gmail.com>
Date: Sat, 23 Jul 2022 11:20:30 +0200
Subject: iio: adc: fix the scale of channel 3

The scale was wrong.

Signed-off-by: Marcus Folkesson <marcus.folkesson@gmail.com>
Link: https://lore.kernel.org/r/20220723092030.260812-1-marcus.folkesson@gmail.com
Signed-off-by: Jonathan Cameron <Jonathan.Cameron@huawei.com>
---
 drivers/iio/adc/x.c | 2 +-
"""


def test_what_a_note_says() -> None:
    subject = 'patch "iio: adc: fix the scale of channel 3" added to char-misc-testing'
    note = tree_note(subject, NOTE_BODY)
    assert note is not None
    assert (note.title, note.branch, note.author) == (
        "iio: adc: fix the scale of channel 3",
        "char-misc-testing",
        "Marcus Folkesson",
    )
    assert (
        "Link",
        "https://lore.kernel.org/r/20220723092030.260812-1-marcus.folkesson@gmail.com",
    ) in note.pointers
    assert note_branch('Patch "x" has been added to the 6.1-stable tree') is None
    assert note_branch('patch "x" added to stable-queue') is None
    assert note_branch("[PATCH] iio: adc: fix the scale of channel 3") is None
    bare = tree_note(subject, "No patch carried.\nFrom: Someone <s@example.org>\nLink: x\n")
    assert bare is not None and (bare.author, bare.pointers) == ("", ())


def _mail(mid: str, subject: str, sender: str, date: str, body: str) -> str:
    return (
        f"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\nFrom: {sender}\nSubject: {subject}\n"
        f"Message-ID: <{mid}>\nDate: {date}\nTo: linux-iio@vger.kernel.org\n\n{body}\n"
    )


POSTING = _mail(
    "20220723092030.260812-1-marcus.folkesson@gmail.com",
    "[PATCH] iio: adc: fix the scale of channel 3",
    "Marcus Folkesson <marcus.folkesson@gmail.com>",
    "Sat, 23 Jul 2022 11:20:30 +0200",
    "The scale was wrong.\n\nSigned-off-by: Marcus Folkesson <marcus.folkesson@gmail.com>\n"
    "---\n drivers/iio/adc/x.c | 2 +-\n\ndiff --git a/drivers/iio/adc/x.c b/drivers/iio/adc/x.c\n"
    "--- a/drivers/iio/adc/x.c\n+++ b/drivers/iio/adc/x.c\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n d\n",
)
NOTE = _mail(
    "1663769332481@kroah.com",
    'patch "iio: adc: fix the scale of channel 3" added to char-misc-testing',
    "<gregkh@linuxfoundation.org>",
    "Wed, 21 Sep 2022 16:08:52 +0200",
    NOTE_BODY,
)
STABLE = _mail(
    "2023010101-stable@kroah.com",
    'Patch "iio: adc: fix the scale of channel 3" has been added to the 6.1-stable tree',
    "<gregkh@linuxfoundation.org>",
    "Sun, 01 Jan 2023 10:00:00 +0100",
    NOTE_BODY,
)


def test_a_note_merges_the_posting_it_names_in_one_update_or_two(tmp_path: Path) -> None:
    from patchlens.stages import ingest
    from patchlens.stages.pipeline import run_stages
    from patchlens.stages.progress import Reporter
    from patchlens.store.db import open_store
    from tests.helpers.storedump import logical_dump

    quiet = Reporter(quiet=True)

    def update(engine, cache: Path) -> None:
        reports = ingest.run_update(engine, cache, quiet, jobs=1)
        assert not [r.error for r in reports if r.error]
        run_stages(engine, Config(), cache, quiet, jobs=1)

    growing = tmp_path / "l.mbox"
    growing.write_text(POSTING + STABLE)
    steps = open_store(str(tmp_path / "steps.db"))
    ingest.add_list(steps, "l", [str(growing)])
    update(steps, tmp_path / "c1")

    def rows() -> list:
        with steps.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT series_key, merged, merge_evidence FROM series_metrics"
            ).all()

    # The stable note is no series and no merge.
    ((key, merged, _evidence),) = rows()
    assert key == "20220723092030.260812-1-marcus.folkesson@gmail.com" and merged == "none"
    growing.write_text(POSTING + STABLE + NOTE)
    update(steps, tmp_path / "c1")
    ((key, merged, evidence),) = rows()
    assert merged == "fully"
    said = json.loads(evidence)
    assert (said["kind"], said["tree"], said["message_id"]) == (
        "applied",
        "char-misc-testing",
        "1663769332481@kroah.com",
    )
    once = open_store(str(tmp_path / "once.db"))
    ingest.add_list(once, "l", [str(growing)])
    update(once, tmp_path / "c2")
    steps.dispose()
    once.dispose()
    a, b = logical_dump(tmp_path / "steps.db"), logical_dump(tmp_path / "once.db")
    assert a["pull_items"] and [t for t in a if a[t] != b[t]] == []
