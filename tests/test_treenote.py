"""A tree robot's note that a patch went into a branch (Greg Kroah-Hartman's 'patch "x" added
to char-misc-testing', Mark Brown's 'Applied "x" to the spi tree') is no series of its own: it
is a notice that the posting it names was applied, found by the patch's subject and author or
by the `Link:` it carries, as a pull request's shortlog is. A stable tree's note is a
backport, no merge. Whether the note comes in the same update as the posting or a later one,
the store is the same."""

from __future__ import annotations

import json
from pathlib import Path

from patchlens.config import Config
from patchlens.mail.treenote import note_tree, tree_note

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
    greg = "gregkh@linuxfoundation.org"
    note = tree_note(subject, greg, NOTE_BODY)
    assert note is not None
    assert (note.tree, note.patches) == (
        "char-misc-testing",
        (("iio: adc: fix the scale of channel 3", "Marcus Folkesson"),),
    )
    link = "https://lore.kernel.org/r/20220723092030.260812-1-marcus.folkesson@gmail.com"
    assert ("Link", link) in note.pointers
    assert note_tree('Patch "x" has been added to the 6.1-stable tree', greg) is None
    assert note_tree('patch "x" added to stable-queue', greg) is None
    assert note_tree("[PATCH] iio: adc: fix the scale of channel 3", greg) is None
    bare = tree_note(subject, greg, "No patch carried.\nFrom: Someone <s@example.org>\nLink: x\n")
    assert bare is not None and (bare.patches[0][1], bare.pointers) == ("", ())


BROONIE_BODY = """\
The patch

   spi: fix the delay of a transfer

has been applied to the spi tree at

   https://git.kernel.org/pub/scm/linux/kernel/git/broonie/spi.git for-5.5

All being well this means that it will be integrated into the linux-next
tree (usually sometime in the next 24 hours).

Thanks,
Mark

From 6445500b43129baac36c56d629cf1dd9e1104167 Mon Sep 17 00:00:00 2001
From: Alexandru Ardelean <alexandru.ardelean@analog.com>
Date: Thu, 26 Sep 2019 13:51:29 +0300
Subject: [PATCH] spi: fix the delay of a transfer

Signed-off-by: Alexandru Ardelean <alexandru.ardelean@analog.com>
Link: https://lore.kernel.org/r/20190926105147.7839-2-alexandru.ardelean@analog.com
Signed-off-by: Mark Brown <broonie@kernel.org>
---
 drivers/spi/spi.c | 2 +-
"""


def test_mark_browns_notes() -> None:
    """Mark Brown's notes for the trees he keeps carry the patch as Greg's do (linux-iio
    holds 21, each a series of its own by him until they were read as notes)."""
    subject = 'Applied "spi: fix the delay of a transfer" to the spi tree'
    note = tree_note(subject, "broonie@kernel.org", BROONIE_BODY)
    assert note is not None
    assert (note.tree, note.patches) == (
        "spi",
        (("spi: fix the delay of a transfer", "Alexandru Ardelean"),),
    )
    link = "https://lore.kernel.org/r/20190926105147.7839-2-alexandru.ardelean@analog.com"
    assert ("Link", link) in note.pointers
    assert note_tree('Re: Applied "x" to the spi tree', "someone@example.org") is None
    tagged = tree_note("[alsa-devel] " + subject, "broonie@kernel.org", BROONIE_BODY)
    assert tagged == note
    # The carried patch's From: as git writes a name it must encode, folded onto two lines
    # (16 of the million-message corpus' notes): the name decoded, to match the posting's.
    encoded = BROONIE_BODY.replace(
        "From: Alexandru Ardelean <alexandru.ardelean@analog.com>",
        "From: =?UTF-8?q?Amadeusz=20S=C5=82awi=C5=84ski?=\n <amadeuszx.slawinski@linux.intel.com>",
    )
    folded = tree_note(subject, "broonie@kernel.org", encoded)
    assert folded is not None and folded.patches[0][1] == "Amadeusz Sławiński"
    assert note_tree("Applied, thanks", "broonie@kernel.org") is None


PUSH = """\
  Branch: refs/heads/{branch}
  Home:   https://github.com/bluez/bluez
  Commit: d3a204b8a2c08d554faab5ad5bb8581620c457bb
      https://github.com/bluez/bluez/commit/d3a204b8a2c08d554faab5ad5bb8581620c457bb
  Author: Abhay Maheta <abhay.maheshbhai.maheta@intel.com>
  Date:   2022-10-18 (Tue, 18 Oct 2022)

  Changed paths:
    M lib/uuid.h

  Log Message:
  -----------
  lib/uuid: Add GMCS UUIDs

This adds GMCS UUIDs which will be used by Media Control Profile.


  Commit: 3973147aa8e424bd2ab78304b54d914208d560d1
      https://github.com/bluez/bluez/commit/3973147aa8e424bd2ab78304b54d914208d560d1
  Author: Luiz Augusto von Dentz <luiz.von.dentz@intel.com>
  Date:   2022-10-18 (Tue, 18 Oct 2022)

  Log Message:
  -----------
  shared/mcp: Add initial code for handling MCP


Compare: https://github.com/bluez/bluez/compare/7a32f2918035...3973147aa8e4
"""


def test_a_github_push_to_the_main_branch_lists_its_commits() -> None:
    """GitHub's push notification (BlueZ: about 1,700 on linux-bluetooth): every commit with
    its author. A push to another branch is BlueZ's CI robot testing a series: no merge."""
    subject = "[bluez/bluez] d3a204: lib/uuid: Add GMCS UUIDs"
    note = tree_note(subject, "noreply@github.com", PUSH.format(branch="master"))
    assert note is not None
    assert (note.tree, note.patches) == (
        "bluez/bluez",
        (
            ("lib/uuid: Add GMCS UUIDs", "Abhay Maheta"),
            ("shared/mcp: Add initial code for handling MCP", "Luiz Augusto von Dentz"),
        ),
    )
    assert tree_note(subject, "noreply@github.com", PUSH.format(branch="1031211")) is None
    assert tree_note(subject, "someone@example.org", PUSH.format(branch="master")) is None


def _mail(mid: str, subject: str, sender: str, date: str, body: str, irt: str = "") -> str:
    answers = f"In-Reply-To: <{irt}>\nReferences: <{irt}>\n" if irt else ""
    return (
        f"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\nFrom: {sender}\nSubject: {subject}\n"
        f"Message-ID: <{mid}>\nDate: {date}\nTo: linux-iio@vger.kernel.org\n{answers}\n{body}\n"
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
BLUEZ = _mail(
    "20221018100000.1-abhay.maheshbhai.maheta@intel.com",
    "[PATCH BlueZ] lib/uuid: Add GMCS UUIDs",
    "Abhay Maheta <abhay.maheshbhai.maheta@intel.com>",
    "Tue, 18 Oct 2022 10:00:00 +0000",
    "This adds GMCS UUIDs.\n---\n lib/uuid.h | 1 +\n\ndiff --git a/lib/uuid.h b/lib/uuid.h\n"
    "--- a/lib/uuid.h\n+++ b/lib/uuid.h\n@@ -1,2 +1,3 @@\n a\n+b\n c\n",
)
PUSHED = _mail(
    "bluez/bluez/push/refs/heads/master/000000-d3a204@github.com",
    "[bluez/bluez] d3a204: lib/uuid: Add GMCS UUIDs",
    "Luiz Augusto von Dentz <noreply@github.com>",
    "Wed, 19 Oct 2022 10:00:00 +0000",
    PUSH.format(branch="master"),
)
SPI = _mail(
    "20190926105147.7839-2-alexandru.ardelean@analog.com",
    "[PATCH] spi: fix the delay of a transfer",
    "Alexandru Ardelean <alexandru.ardelean@analog.com>",
    "Thu, 26 Sep 2019 13:51:29 +0300",
    "The delay was wrong.\n---\n drivers/spi/spi.c | 2 +-\n\ndiff --git a/drivers/spi/spi.c"
    " b/drivers/spi/spi.c\n--- a/drivers/spi/spi.c\n+++ b/drivers/spi/spi.c\n@@ -1,3 +1,3 @@\n"
    " a\n-b\n+c\n d\n",
)
APPLIED = _mail(
    "20191015111221.CAFB92741CD7@ypsilon.sirena.org.uk",
    # Behind a list's tag, as alsa-devel sent 1,611 of them.
    '[alsa-devel] Applied "spi: fix the delay of a transfer" to the spi tree',
    "Mark Brown <broonie@kernel.org>",
    "Tue, 15 Oct 2019 12:12:21 +0100",
    BROONIE_BODY.replace("\nFrom 6445", "\n>From 6445"),  # escaped in an mbox, as writers do
    "20190926105147.7839-2-alexandru.ardelean@analog.com",  # sent in reply to the patch
)
THERMAL = _mail(
    "20240411114021.12203-1-amishin@t-argos.ru",
    "[PATCH] thermal/drivers/tsens: Fix null pointer dereference",
    "Aleksandr Mishin <amishin@t-argos.ru>",
    "Thu, 11 Apr 2024 14:40:21 +0300",
    "Fix it.\n---\n drivers/thermal/qcom/tsens.c | 2 +-\n\ndiff --git a/drivers/thermal/qcom/"
    "tsens.c b/drivers/thermal/qcom/tsens.c\n--- a/drivers/thermal/qcom/tsens.c\n+++ b/drivers/"
    "thermal/qcom/tsens.c\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n d\n",
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
    growing.write_text(POSTING + BLUEZ + SPI + THERMAL + STABLE)
    steps = open_store(str(tmp_path / "steps.db"))
    ingest.add_list(steps, "l", [str(growing)])
    update(steps, tmp_path / "c1")

    def rows() -> list:
        with steps.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT series_key, merged, merge_evidence FROM series_metrics ORDER BY series_key"
            ).all()

    # The stable note is no series and no merge.
    assert [(k, m) for k, m, _e in rows()] == [
        ("20190926105147.7839-2-alexandru.ardelean@analog.com", "none"),
        ("20220723092030.260812-1-marcus.folkesson@gmail.com", "none"),
        ("20221018100000.1-abhay.maheshbhai.maheta@intel.com", "none"),
        ("20240411114021.12203-1-amishin@t-argos.ru", "none"),
    ]
    growing.write_text(POSTING + BLUEZ + SPI + THERMAL + STABLE + NOTE + PUSHED + APPLIED + TIP)
    update(steps, tmp_path / "c1")
    said = {k: (m, json.loads(e)) for k, m, e in rows()}
    merged, note = said["20220723092030.260812-1-marcus.folkesson@gmail.com"]
    assert merged == "fully"
    assert (note["kind"], note["tree"], note["message_id"]) == (
        "applied",
        "char-misc-testing",
        "1663769332481@kroah.com",
    )
    merged, push = said["20221018100000.1-abhay.maheshbhai.maheta@intel.com"]
    assert (merged, push["kind"], push["tree"]) == ("fully", "applied", "bluez/bluez")
    merged, applied = said["20190926105147.7839-2-alexandru.ardelean@analog.com"]
    assert (merged, applied["kind"], applied["tree"]) == ("fully", "applied", "spi")
    merged, tip = said["20240411114021.12203-1-amishin@t-argos.ru"]
    assert (merged, tip["kind"], tip["tree"]) == ("fully", "applied", "thermal: thermal/fixes")
    assert len(said) == 4, sorted(said)  # the notes are no series of their own
    # A note in reply to its patch is no review written: the patch it carries is not.
    with steps.connect() as conn:
        events = conn.exec_driver_sql(
            "SELECT e.substantive, e.lines_written FROM review_events e"
            " JOIN messages m ON m.id = e.message_pk WHERE m.from_addr = 'broonie@kernel.org'"
        ).all()
    assert [tuple(e) for e in events] in ([], [(0, 0)])
    once = open_store(str(tmp_path / "once.db"))
    ingest.add_list(once, "l", [str(growing)])
    update(once, tmp_path / "c2")
    steps.dispose()
    once.dispose()
    a, b = logical_dump(tmp_path / "steps.db"), logical_dump(tmp_path / "once.db")
    assert a["pull_items"] and [t for t in a if a[t] != b[t]] == []


TIP_BODY = """\
The following commit has been merged into the thermal/fixes branch of thermal:

Commit-ID:     d998ddc86a27c92140b9f7984ff41e3d1d07a48f
Gitweb:        https://git.kernel.org/pub/scm/linux/kernel/git/thermal/linux.git//d998ddc86a27
Author:        Aleksandr Mishin <amishin@t-argos.ru>
AuthorDate:    Thu, 11 Apr 2024 14:40:21 +03:00
Committer:     Daniel Lezcano <daniel.lezcano@linaro.org>
CommitterDate: Tue, 23 Apr 2024 12:40:29 +02:00

thermal/drivers/tsens: Fix null pointer dereference

Signed-off-by: Aleksandr Mishin <amishin@t-argos.ru>
Link: https://lore.kernel.org/r/20240411114021.12203-1-amishin@t-argos.ru
---
 drivers/thermal/qcom/tsens.c | 2 +-
"""


def test_the_tip_robots_notes() -> None:
    """tip-bot2 and its kin (irqchip-bot, thermal-bot: 545 notes in the million-message
    corpus, each a series of its own "by" the robot before) say in the body that the commit
    was merged; the subject's bracket names the tree. A subject of that shape whose body
    does not say so is no note."""
    subject = "[thermal: thermal/fixes] thermal/drivers/tsens: Fix null pointer dereference"
    bot = "tip-bot2@linutronix.de"
    note = tree_note(subject, bot, TIP_BODY)
    assert note is not None
    assert (note.tree, note.patches) == (
        "thermal: thermal/fixes",
        (("thermal/drivers/tsens: Fix null pointer dereference", "Aleksandr Mishin"),),
    )
    assert ("Link", "https://lore.kernel.org/r/20240411114021.12203-1-amishin@t-argos.ru") in (
        note.pointers
    )
    assert tree_note(subject, bot, "A question about this commit.\n") is None
    assert tree_note("[RFC: x/y] a thought", "someone@example.org", TIP_BODY[60:]) is None


TIP = _mail(
    "171386762963.10875.3211283546932@tip-bot2",
    "[thermal: thermal/fixes] thermal/drivers/tsens: Fix null pointer dereference",
    "thermal-bot for Aleksandr Mishin <tip-bot2@linutronix.de>",
    "Tue, 23 Apr 2024 10:40:29 -0000",
    TIP_BODY,
)


def test_a_tip_note_is_no_posting() -> None:
    from patchlens.review.analysis import analyze

    subject = "[thermal: thermal/fixes] thermal/drivers/tsens: Fix null pointer dereference"
    diff = "diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n"
    a = analyze(1, subject, TIP_BODY, diff, True, False, "tip-bot2@linutronix.de")
    assert not a.row["is_posting"] and a.row["lines_written"] == 0 and a.trailers == []
    # The same subject with a body that says nothing of a merge stays a posting.
    b = analyze(2, subject, "Fix it.\n", diff, True, False, "someone@example.org")
    assert b.row["is_posting"]
