"""A series a reply closes by naming the commit that fixed or replaced it is "fixed elsewhere"
(mail/fixedby.py, metrics/backlog.py fix_notice): not merged, and not abandoned by its author
either. The wordings are LTP's (2019-2025), the negatives what sits beside them there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from patchlens.mail.fixedby import fixing_commits
from patchlens.mail.replytext import analyze_reply
from patchlens.metrics.backlog import Facts, decide, fix_notice
from patchlens.metrics.model import PatchFacts, ReplyFacts, VersionFacts
from patchlens.store import schema
from patchlens.store.db import open_store
from patchlens.web.app import create_app
from tests.helpers.gitrepos import git, two_commit_repo
from tests.helpers.storedump import logical_dump
from tests.test_went_in_elsewhere import _mail, _patch, _states, list_and_repo

SHA = "5e1e0e2d81e564df09542b7caa2a66928c05dd3a"


def _fixes(body: str) -> tuple[str, ...]:
    return analyze_reply(body).fixed_by


@pytest.mark.parametrize(
    ("body", "want"),
    [
        ('Hi You,\n\nFYI fixed in 5398d6c41 ("setfsuid02: using -1").\n', ("5398d6c41",)),
        ('For a record, this has been fixed by b4970ae94 ("lapi/fs: ...") [1]\n', ("b4970ae94",)),
        (
            'IMHO this was in the end fixed by 105b0fe17 ("setpgid02: Use pid_max")\n',
            ("105b0fe17",),
        ),
        (
            f"There was a bug in the library check,\nshould have been fixed by:\n\ncommit {SHA}\n",
            (SHA,),
        ),
        (
            "Hopefully this has been fixed already by setting LC_ALL=C.\n9acdbed6ce0f0f99\n",
            ("9acdbed6ce0f0f99",),
        ),
        (
            'For a record, merged alternative solution:\neb786468b ("rpc_lib.sh: Check")\n',
            ("eb786468b",),
        ),
        (
            "there were other fixes merged, therefore closing this.\n\n"
            '7d39a10b7 ("a")\n848dd6fba ("b")\n',
            ("7d39a10b7", "848dd6fba"),
        ),
        (
            "Already fixed in:\nhttps://github.com/linux-test-project/ltp/commit/" + SHA + "\n",
            (SHA,),
        ),
        ("> fixed by 1234567abc in the quote\nThanks, applied.\n", ()),
        (
            "Isn't this fixed by Peter yesterday?\n"
            "commit 8422d4680b21e6576da63c677b5d49f46b477df0\n",
            (),
        ),
        ('Is this also already fixed by:\ncommit a64e5a596067 ("bdev: add back")\n', ()),
        (
            "This has the very same problem as we have fixed in:\n"
            "commit 70766c8f6f9d164057396c8d40a2575903f97efa\n",
            (),
        ),
        ("This I suppose got broken in:\ncommit 55bfa08e179de16773f19b703de70262896383ea\n", ()),
        ("I'm sorry, I was wrong stating that the error was fixed by 492542072.\n", ()),
        ("This will be fixed by 1234567abc once it lands.\n", ()),
        ("The reported issue has been fixed in linux next 20200817 tag.\n", ()),
        ('Fixes: 893ca0abe7 ("lib: multiply the timeout")\n', ()),
        # The kernel lists' wordings (2019-2026).
        (
            "Already fixed here[1].\n\n\tM.\n\n[1]\nhttps://git.kernel.org/pub/scm/linux/kernel/"
            "git/kvmarm/kvmarm.git/commit/?id=1a8248c74c81a15a32dc3344fb5c622e19072791\n",
            ("1a8248c74c81a15a32dc3344fb5c622e19072791",),
        ),
        ('This has been taken care of:\n  3d8bf50860c7d ("rtw88: fix")\n', ("3d8bf50860c7d",)),
        (
            'Henry Martin already fixed this in commit 484d3f15cc6c ("cpufreq: x").\n',
            ("484d3f15cc6c",),
        ),
        (
            'This is a duplicate of commit 5b54860943dc ("powerpc: x"), please drop this.\n',
            ("5b54860943dc",),
        ),
        (
            'Fixed upstream.\n\n3ece3e8e5976 ("PCI/MSI: Handle the NOMASK flag")\n',
            ("3ece3e8e5976",),
        ),
        (
            "I have already applied an identical patch from Dan:\n\nhttps://git.kernel.org/pub/"
            "scm/linux/kernel/git/kvalo/ath.git/commit/?h=ath-next&id=11e41e2929378df945bf\n",
            ("11e41e2929378df945bf",),
        ),
        ("This is the same type of race as fixed in commit\n57ba4cb85bffc0c7c6567c89\n", ()),
        ('I think the patch reintroduces the overflow fixed by\ncommit a2fca52ee640 ("x").\n', ()),
        (
            'I think BIO_MAX_PAGES is replaced by BIO_MAX_VECS with\ncommit a8affc03a9b3 ("x").\n',
            (),
        ),
        (
            "This should be fixed in a dedicated patch, because this fixes commit:\nef0da3b8a2f1\n",
            (),
        ),
        (
            "The problem is fixed [1], so please rebase your series.\n\n[1] https://x/commit/1f9adbc728\n",
            (),
        ),
        ("One was already fixed by commit f45bca8c5052, whereas the other is still present.\n", ()),
    ],
)
def test_which_commits_a_reply_names_as_the_fix(body: str, want: tuple[str, ...]) -> None:
    assert _fixes(body) == want


def test_fixing_commits_reads_written_paragraphs() -> None:
    assert fixing_commits([["Fixed in:"], [f"commit {SHA[:12]}"]]) == (SHA[:12],)
    assert fixing_commits([["Fixed in:"], ["see the list below"], [f"commit {SHA[:12]}"]]) == ()


def _reply(
    pk: int, idx: int, date: int, fixed: bool = True, bot: bool = False, who: str = "addr:m@x"
) -> ReplyFacts:
    return ReplyFacts(
        pk, date, who, idx, False, bot, 2, False, fixed_by=(((SHA, "t"),) if fixed else ())
    )


def _version(cover: bool, patches: int, replies: list[ReplyFacts], **kw) -> VersionFacts:
    v = VersionFacts(kw.pop("key", "k"), 1, 1, kw.pop("date", 100), cover, **kw)
    v.patches = {i: PatchFacts(i, i, 100, 1, 0, ("a.c",)) for i in range(1, patches + 1)}
    v.replies = replies
    return v


def test_a_fix_notice_speaks_for_the_whole_version_only_from_its_head() -> None:
    assert fix_notice([_version(False, 1, [_reply(1, 1, 200)])]) is not None
    assert fix_notice([_version(True, 3, [_reply(1, 0, 200)])]) is not None
    # No cover letter: the first patch stands in for one; patch 3 of 5 is that patch alone.
    assert fix_notice([_version(False, 5, [_reply(1, 1, 200)])]) is not None
    assert fix_notice([_version(False, 5, [_reply(1, 3, 200)])]) is None
    assert fix_notice([_version(True, 3, [_reply(1, 1, 200)])]) is None
    assert fix_notice([_version(False, 1, [_reply(1, 1, 200, bot=True)])]) is None
    assert fix_notice([_version(False, 1, [_reply(1, 1, 200, fixed=False)])]) is None
    # Its sender had answered patches 2 and 3 before: the notice to patch 1 is patch 1's.
    answered = [_reply(1, 2, 150, fixed=False), _reply(2, 3, 160, fixed=False), _reply(3, 1, 200)]
    assert fix_notice([_version(False, 3, answered)]) is None
    # A patch sent again alone after the notice, laid over the version: the author answered.
    again = _version(False, 1, [], key="k2", date=300, partial=True)
    assert fix_notice([_version(False, 3, [_reply(1, 1, 200)]), again]) is None
    # A later full version is a new start.
    v2 = _version(False, 3, [], key="k2", date=300)
    assert fix_notice([_version(False, 3, [_reply(1, 1, 200)]), v2]) is None


def test_fixed_elsewhere_from_the_replys_date_after_partly_merged() -> None:
    f = Facts("none", False, True, True, 1_000, fixed_at=500)
    assert decide(f, 600) == "fixed elsewhere"
    assert decide(f, 400) == "waiting on author"
    assert decide(Facts("partly", False, True, True, 1_000, fixed_at=500), 600) == "partly merged"
    # Idle past the abandoned threshold, still fixed elsewhere: it was closed, not left.
    assert decide(f, 10**9) == "fixed elsewhere"


def _build(tmp_path: Path, name: str, late: bool) -> Path:
    """b posts a change of README; the maintainer answers that the repository's commit fixed
    it already, naming the commit by 12 digits and its title (with markup in it). `late`:
    the repository brings that commit only in a second update."""
    (tmp_path / name).mkdir()
    repo = tmp_path / name / "repo"
    two_commit_repo(
        repo, "x\ny\n", 'README: say y <b>"now"</b>\n\nSigned-off-by: a <a@example.com>'
    )
    tip = git(repo, "rev-parse", "HEAD")
    diff = (
        "diff --git a/README b/README\nindex 587be6b..0000001 100644\n--- a/README\n+++ b/README\n"
        "@@ -1 +1,2 @@\n x\n+z\n"
    )
    mbox = tmp_path / name / "list.mbox"
    mbox.write_text(
        _mail(
            "p@t",
            "b <b@example.com>",
            2,
            "[PATCH] Explain the second letter",
            _patch("z", "b", diff),
        )
        + _mail(
            "r@t",
            "m <m@example.com>",
            20,
            "Re: [PATCH] Explain the second letter",
            f'Hi,\n\nThanks, but this was already fixed by commit {tip[:12]} ("README: say y").\n',
            "p@t",
        )
    )

    def before(engine: Engine) -> None:
        assert _states(engine)["p@t"][0] == "waiting on author"

    engine = list_and_repo(tmp_path, name, mbox, repo, late, before)
    assert _states(engine)["p@t"][0] == "fixed elsewhere"
    return tmp_path / f"{name}.db"


def test_a_series_a_reply_says_another_commit_fixed(tmp_path: Path) -> None:
    db = _build(tmp_path, "once", late=False)
    sm = schema.series_metrics
    with open_store(str(db)).connect() as conn:
        (text,) = conn.execute(select(sm.c.fixed_by).where(sm.c.series_key == "p@t")).one()
        assert conn.execute(schema.message_fixes.select()).all()
    ev = json.loads(text)
    assert ev["message_id"] == "r@t" and ev["who"] == "addr:m@example.com"
    assert [c[1] for c in ev["commits"]] == ['README: say y <b>"now"</b>']
    page = TestClient(create_app(f"sqlite:///{db}")).get("/series/p@t")
    assert "fixed elsewhere" in page.text and 'class="fixed-by"' in page.text
    assert f"/commits/{ev['commits'][0][0]}" in page.text
    assert "<b>" not in page.text and "&lt;b&gt;" in page.text


def test_the_fixing_commit_arriving_later_gives_the_store_one_run_gives(tmp_path: Path) -> None:
    daily = logical_dump(_build(tmp_path, "daily", late=True))["series_metrics"]
    assert daily == logical_dump(_build(tmp_path, "once", late=False))["series_metrics"]


def test_what_else_reads_the_state_sees_the_series_closed() -> None:
    """The review load stops counting it from the reply; a dependent is no longer blocked by
    it; the findings leave another tree's series out as the merge rate's base does."""
    from patchlens.metrics.backlog import BacklogRules, blocked_until
    from patchlens.metrics.findings import seen
    from patchlens.metrics.model import SeriesFacts
    from patchlens.queries.load import _end_of_wait

    row = {"merged": "none", "time_to_merge": None, "last_date": 1_000, "fixed_at": 500}
    assert _end_of_wait(row, BacklogRules()) == 500
    prereq = SeriesFacts("p", "t", "addr:a@x", "a@x", [_version(False, 1, [_reply(1, 1, 200)])])
    assert blocked_until([prereq]) == 200
    kernel = {"state": "fixed elsewhere", "repo_registered": True, "in_repo": False}
    assert not seen({**kernel, "merged": "none"})
    assert seen({**kernel, "in_repo": True, "merged": "none"})


@pytest.mark.parametrize(
    "body",
    [
        "This has been fixed here[1].\n\n[1] https://git.kernel.org/x.git/commit/?id=1a2b3c4d5e6f\n",
        "Already fixed by:\n\n1a2b3c4d5e6f Fix the leak in foo\n",
        'Already fixed by:\n\n1a2b3c4d5e6f ("foo: bar") in v6.8-rc1\n',
        "Already fixed by:\n\ncommit 1a2b3c4d5e6f upstream.\n",
        "This was already fixed by 1a2b3c4d5e6f as part of the cleanup series.\n",
        "Already fixed by 1a2b3c4d5e6f, thanks again.\n",
        "Already fixed by 1a2b3c4d5e6f, but thanks for the patch.\n",
        "Already fixed by 1a2b3c4d5e6f. Still, thanks for sending.\n",
        "I had a similar patch, this was already fixed by 1a2b3c4d5e6f.\n",
        "This was taken\ncare of by 1a2b3c4d5e6f.\n",
    ],
)
def test_polite_closings_and_reference_lines_are_read(body: str) -> None:
    assert _fixes(body) == ("1a2b3c4d5e6f",)


def test_the_cheap_test_passes_whatever_the_detector_reads() -> None:
    """mail/fixedby.may_name_fix runs before `fixing_commits`: it may not turn away a reply
    the detector would read (the cases above and the parametrized ones)."""
    from patchlens.mail.fixedby import may_hold_hash, may_name_fix

    cases = [
        "This was taken\ncare of by 1a2b3c4d5e6f.\n",
        "Already fixed here[1].\n\n[1]\nhttps://x/commit/?id=1a8248c74c81a15a\n",
        'there were other fixes merged, therefore closing this.\n\n7d39a10b7 ("a")\n',
        "This is a duplicate of commit 5b54860943dc, please drop this.\n",
        "It is unnecessary after commit a37c0f48950b.\n",
    ]
    for body in cases:
        assert _fixes(body), body
        assert may_hold_hash(body) and may_name_fix(body), body


def test_a_fix_notice_taken_back_and_a_hash_read_at_its_date() -> None:
    from patchlens.mail.fixedby import fix_taken_back
    from patchlens.queries.evidence import named_commits

    assert fix_taken_back("Sorry, wrong commit.") and fix_taken_back("Never mind, I was wrong")
    assert not fix_taken_back("Thanks!") and not fix_taken_back(None)
    old, later = ("1a2b3c4d5e6f00", "old", 100), ("1a2b3c4d5e6f11", "later", 10**9)
    # A short hash that starts an older commit and a later one names the older.
    assert named_commits([[old, later]], 200) == (("1a2b3c4d5e6f00", "old"),)
    assert named_commits([[later]], 200) == ()
    assert named_commits([[old, ("1a2b3c4d5e6f22", "also old", 150)]], 200) == ()


def test_a_reply_to_a_partial_rerolls_own_cover_is_not_the_whole() -> None:
    """Patches 1-2 of v1 still under review; patch 3 sent again with a cover letter of its
    own, answered "already fixed by X": that speaks for patch 3, not the series."""
    v1 = _version(False, 3, [])
    again = _version(True, 1, [_reply(1, 0, 400)], key="k2", date=300, partial=True)
    assert fix_notice([v1, again]) is None
