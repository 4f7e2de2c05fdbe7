"""What a maintainer's branch announcement says went in, and what a pull request's title
names. On linux-xfs the maintainers announce each move of a branch ("[ANNOUNCE] xfs-linux:
for-next updated to 625f2cf0ed12") with the new commits listed as `git shortlog` does, each
behind its hash; for xfsprogs it is the only word that a patch went in (patches of 314 of 966
series with no notice are listed by one). And a pull request's title went to every posting
of it, a series posted again in another series included: a 2021 posting "merged" by a 2023
pull of its 2023 version (alsa-devel), the merge counted twice. The million-corpus audits
found both."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, select

from patchlens.mail.treenote import note_tree, tree_note
from patchlens.store import schema
from tests.test_review_incremental import PATCH, _build, mail

ANNOUNCE = """\
Hi folks,

The for-next branch of the xfs-linux repository at:

	git://git.kernel.org/pub/scm/fs/xfs/xfs-linux.git

has just been updated.

The new head of the for-next branch is commit:

625f2cf0ed12 xfs: fix returned valued from xfs_defer_can_append

2 new commits:

A Author (1):
      [5be2161f245b] fix things

Carlos Maiolino (1):
      [625f2cf0ed12] xfs: fix returned valued from xfs_defer_can_append

Code Diffstat:

 fs/xfs/libxfs/xfs_defer.c    |  2 +-
 1 files changed, 1 insertions(+), 1 deletions(-)
"""


def test_an_announcement_lists_what_went_in() -> None:
    subject = "[ANNOUNCE] xfs-linux: for-next updated to 625f2cf0ed12"
    note = tree_note(subject, "cem@kernel.org", ANNOUNCE)
    assert note is not None and note.tree == "xfs-linux/for-next"
    assert note.patches == (
        ("fix things", "A Author"),
        ("xfs: fix returned valued from xfs_defer_can_append", "Carlos Maiolino"),
    )
    assert note_tree("[ANNOUNCE] xfsprogs for-next updated to b56b8825a89b", "") == (
        "xfsprogs/for-next"
    )
    assert note_tree("[ANNOUNCE] xfs: for-next tree updated to 1234567", "") == "xfs/for-next"
    assert note_tree("[Linux-xfs] [ANNOUNCE] xfs-linux: for-next rebased to 12345678", "") == (
        "xfs-linux/for-next"
    )
    # A stable branch's commits are backports; a branch moved onto mainline lists everyone's.
    assert note_tree("[ANNOUNCE] xfs-linux: xfs-6.6.y updated to 1234567", "") is None
    onto = ANNOUNCE.replace("fix things\n", "fix things\n      [0123456789ab] Linux 6.12-rc3\n")
    assert tree_note(subject, "cem@kernel.org", onto) is None
    # A reply to one is no announcement, and one listing nothing says nothing.
    assert note_tree("Re: [ANNOUNCE] xfs-linux: for-next updated to 625f2cf0ed12", "") is None
    assert tree_note(subject, "cem@kernel.org", "Hi folks, nothing new.\n") is None


def _merged(db: Path) -> dict[str, str]:
    engine = create_engine(f"sqlite:///{db}")
    sm = schema.series_metrics
    with engine.connect() as conn:
        out = dict(conn.execute(select(sm.c.series_key, sm.c.merged)).all())
    engine.dispose()
    return out


def test_an_announced_patch_is_merged_in_one_update_or_two(tmp_path: Path) -> None:
    posted = [mail("p1@x", "[PATCH] fix things", PATCH, "Mon, 1 Jan 2024 10:00:00 +0000")]
    note = [
        mail(
            "an@x",
            "[ANNOUNCE] xfs-linux: for-next updated to 625f2cf0ed12",
            ANNOUNCE,
            "Fri, 5 Jan 2024 10:00:00 +0000",
            sender="Carlos Maiolino",
        )
    ]
    once, _ = _build(tmp_path / "a", [posted + note])
    twice, _ = _build(tmp_path / "b", [posted, note])
    assert _merged(once) == _merged(twice) == {"p1@x": "fully"}


PULL = """\
The following changes since commit 0123456789ab:

  Linux 6.1 (2023-01-01)

are available in the Git repository at:

  git://git.example.org/tree.git tags/for-6.2

----------------------------------------------------------------
A Author (1):
      fix things

 x.c | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)
"""


def _pull() -> bytes:
    return mail(
        "pull@x",
        "[GIT PULL] tree for 6.2",
        PULL,
        "Mon, 1 Apr 2024 10:00:00 +0000",
        sender="Maintainer Person",
    )


def test_a_pull_requests_title_goes_to_the_posting_sent_last_before_it(tmp_path: Path) -> None:
    """Posted in January, posted again in March by its author, for the same file, as a series
    of its own (the linking did not join them: another title for the cover, more files),
    pulled in April: the March series went in, and the January one is not merged a second
    time."""
    # The same file among others (a port to another tree would share none), other lines.
    other = PATCH.replace("-a\n+b", "-p\n+q") + "".join(
        f"diff --git a/{f} b/{f}\n--- a/{f}\n+++ b/{f}\n@@ -1 +1 @@\n-{f}\n+{f}2\n"
        for f in ("y.c", "z.c")
    )
    day = [
        mail("old@x", "[PATCH] fix things", PATCH, "Mon, 1 Jan 2024 10:00:00 +0000"),
        mail("c2@x", "[PATCH v5 0/1] a new start", "cover\n", "Fri, 1 Mar 2024 10:00:00 +0000"),
        mail("new@x", "[PATCH v5 1/1] fix things", other, "Fri, 1 Mar 2024 10:00:01 +0000", "c2@x"),
        _pull(),
    ]
    db, _ = _build(tmp_path / "a", [day])
    merged = _merged(db)
    assert merged["c2@x"] == "fully"
    assert merged["old@x"] == "none"
    # The March posting arriving in a later update (the archive late) changes the January
    # series as one update does (the second review's case).
    late, _ = _build(tmp_path / "b", [[day[0], day[3]], day[1:3]])
    assert _merged(late) == merged


def test_a_port_of_the_title_to_another_tree_takes_nothing(tmp_path: Path) -> None:
    """The same author's same title in another project's files (a port of a kernel change to
    xfsprogs' libxfs) is not the kernel posting posted again."""
    port = PATCH.replace("x.c", "libxfs/x.c").replace("-a\n+b", "-p\n+q")
    day = [
        mail("k@x", "[PATCH] fix things", PATCH, "Mon, 1 Jan 2024 10:00:00 +0000"),
        mail("u@x", "[PATCH] fix things", port, "Tue, 2 Jan 2024 10:00:00 +0000"),
        _pull(),
    ]
    db, _ = _build(tmp_path / "a", [day])
    assert _merged(db) == {"k@x": "fully", "u@x": "fully"}
