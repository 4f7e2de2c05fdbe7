"""Issue 13's subject forms, one by one; pull requests by body; bare patches under a versioned
cover; and the whole EROFS archive parsed as before, except the subjects these forms change.
"""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from patchlens.mail.subject import Subject, parse_subject
from patchlens.review.analysis import analyze
from patchlens.review.model import Mail, is_posting, is_request_pull
from patchlens.review.series import group_versions
from patchlens.store import schema
from tests.helpers.subjects import expect

FOO = ("foo: bar", "foo:bar")

FORMS: list[Subject] = [
    # A bracket without PATCH, read by its content: an index makes it patch information.
    expect("[net,v2,1/2] foo: bar", *FOO, version=2, version_str="2", index=1, total=2,
         prefixes=("net",)),
    expect("[1/3] foo: bar", *FOO, index=1, total=3),
    expect("[LTP] [net,v2,1/2] foo: bar", *FOO, version=2, version_str="2", index=1, total=2,
         prefixes=("net",), list_tags=("LTP",)),
    # PATCH glued to the index; Mercurial's "N of M".
    expect("[PATCH1/8] foo: bar", *FOO, index=1, total=8),
    expect("[PATCH100/123] foo: bar", *FOO, index=100, total=123),
    expect("[PATCH1 of 8] foo: bar", *FOO, index=1, total=8),
    expect("[PATCH 0 of 2] foo: bar", *FOO, index=0, total=2),
    expect("[PATCH 1 of 2] foo: bar", *FOO, index=1, total=2),
    expect("[PATCH 2 OF 2] foo: bar", *FOO, index=2, total=2),
    # The version glued before PATCH.
    expect("[v2PATCH1/4] foo: bar", *FOO, version=2, version_str="2", index=1, total=4),
    expect("[v2 PATCH1/4] foo: bar", *FOO, version=2, version_str="2", index=1, total=4),
    expect("[v2.3PATCH1/4] foo: bar", *FOO, version=2, version_str="2.3", index=1, total=4),
    expect("[v3RFC 2/5] foo: bar", *FOO, version=3, version_str="3", index=2, total=5, rfc=True,
         flags=("RFC",)),
    # A version outside the brackets, at the end of the title.
    expect("Hello, world (v2)", "Hello, world", "hello,world", is_patch=False, version=2,
         version_str="2"),
    expect("[PATCH] foo: bar (V6)", *FOO, version=6, version_str="6"),
    expect("[PATCH 3/4] foo: bar (v2.1)", *FOO, version=2, version_str="2.1", index=3, total=4),
    # ... only there, and only when the brackets gave none.
    expect("[PATCH v3] foo: bar (v2)", "foo: bar (v2)", "foo:bar(v2)", version=3,
         version_str="3"),
    expect("[PATCH] foo (v2) bar", "foo (v2) bar", "foo(v2)bar"),
    expect("[PATCH] (v2)", "(v2)", "(v2)"),
    # Replies that drop the colon.
    expect("RE meep", "meep", "meep", is_reply=True, is_patch=False),
    expect("Re meep", "meep", "meep", is_reply=True, is_patch=False),
    expect("Re [PATCH 1/2] foo: bar", *FOO, is_reply=True, index=1, total=2),
    expect("[Xen-devel] RE [PATCH] foo: bar", *FOO, is_reply=True, list_tags=("Xen-devel",)),
    # ... but not lower-case "re", a hyphenated "Re-", or "Re" inside the title.
    expect("re meep", "re meep", "re meep", is_patch=False),
    expect("Re-add the foo", "Re-add the foo", "re-add the foo", is_patch=False),
    expect("[PATCH] Re work the foo", "Re work the foo", "re work the foo"),
    # The kernel test robot's "[tree:branch N/M]" stays a list tag: not patch information.
    expect("[linux-next:master 3/5] drivers/x.c: error", "drivers/x.c: error",
         "drivers/x.c:error", is_patch=False, list_tags=("linux-next:master 3/5",)),
]  # fmt: skip


@pytest.mark.parametrize("expected", [pytest.param(c, id=c.raw) for c in FORMS])
def test_issue13_subject_forms(expected: Subject) -> None:
    assert parse_subject(expected.raw) == expected


# -- pull requests by their body ---------------------------------------------------------------

REQUEST_PULL = (
    "Please pull, thanks a lot.\n\n"
    "The following changes since commit ef7f8cec80a0ba7bd00ece46844c8994117dc910:\n\n"
    "  Merge git://git.kernel.org/pub/scm/linux/kernel/git/davem/net (2018-01-08)\n\n"
    "are available in the Git repository at:\n\n"
    "  git://git.kernel.org/pub/scm/linux/kernel/git/davem/net \n"
)
# git before 1.7.x: a shortlog under the base commit and "git repository" in lower case.
OLD_REQUEST_PULL = (
    "The following changes since commit e10117d36ef758da0690c95ecffc09d5dd7da479:\n"
    "  Linus Torvalds (1):\n        Merge branch 'upstream-linus'\n\n"
    "are available in the git repository at:\n\n"
    "  http://git.kernel.org/pub/scm/linux/kernel/git/benh/powerpc.git next\n"
)


def test_request_pull_bodies() -> None:
    assert is_request_pull(REQUEST_PULL)
    assert is_request_pull(OLD_REQUEST_PULL)
    assert is_request_pull(REQUEST_PULL.replace("\n", "\r\n"))
    # A quoted request-pull in a reply, or the sentence alone, is no pull request.
    quoted = "".join("> " + line + "\n" for line in REQUEST_PULL.splitlines())
    assert not is_request_pull(quoted)
    assert not is_request_pull("The following changes since commit abc are in my tree.\n")
    assert not is_request_pull(REQUEST_PULL.split("are available")[0])


def test_pull_by_body_is_a_posting() -> None:
    subject = parse_subject("[GIT] Networking")
    assert not subject.is_patch and not subject.pull
    assert not is_posting(subject, False, False)
    assert is_posting(subject, False, False, pull=True)
    assert is_posting(subject, False, True, pull=True)  # wherever it sits in a thread
    assert not is_posting(parse_subject("Re: [GIT] Networking"), False, True, pull=True)


def test_analysis_marks_pull_by_body_only_when_unnumbered() -> None:
    def row(subject: str, body: str, has_parent: bool = False) -> dict:
        return analyze(1, subject, body, None, False, has_parent).row

    pr = row("[GIT] Networking", REQUEST_PULL)
    assert pr["is_pull"] and pr["is_posting"] and pr["title"] == "Networking"
    # A cover letter that also offers its patches for pulling stays the cover of its patches.
    cover = row("[PATCH v2 0/3] net: tidy", REQUEST_PULL)
    assert not cover["is_pull"] and cover["is_posting"]
    assert not row("[GIT] Networking", "Please pull.\n")["is_posting"]
    assert not row("Re: [GIT] Networking", REQUEST_PULL, True)["is_pull"]


# -- a versioned cover letter answered by bare patches ------------------------------------------


_PK = itertools.count(1)


def _mail(mid: str, subject: str, parent: str | None, *, sender: str = "a@example.org") -> Mail:
    """A posting sent a minute after the previous one built here."""
    pk = next(_PK)
    return Mail(
        pk=pk,
        message_id=mid,
        subject=parse_subject(subject),
        from_name="A",
        from_addr=sender,
        date=1_700_000_000 + pk * 60,
        thread="t",
        parent=parent,
        has_patch="0/" not in subject,
        is_posting=True,
    )


def _shape(mails: list[Mail]) -> list[tuple[str, int, list[int]]]:
    versions = group_versions(mails)
    return sorted(
        (v.key, v.version, sorted(m.subject.index or 0 for m in v.members)) for v in versions
    )


def test_bare_patches_join_the_cover_they_answer() -> None:
    cover = _mail("c-0", "[PATCH net-next v3 0/4] net: tidy", None)
    mails = [cover] + [_mail(f"p-{i}", f"[PATCH {i}/4] net: fix {i}", "c-0") for i in (1, 2, 3, 4)]
    assert _shape(mails) == [("c-0", 3, [0, 1, 2, 3, 4])]
    # The same with an RFC cover, and with patches that repeat only part of its prefix.
    rfc = _mail("c-0", "[RFC PATCH v2 0/2] net: tidy", None)
    mails = [rfc, _mail("p-1", "[PATCH 1/2] a", "c-0"), _mail("p-2", "[PATCH v2 2/2] b", "c-0")]
    versions = group_versions(mails)
    assert len(versions) == 1 and versions[0].rfc and len(versions[0].patches) == 2


@pytest.mark.parametrize(
    ("patch_subject", "sender", "later", "why"),
    [
        ("[PATCH v2 1/4] net: fix 1", "a@example.org", 2 * 86400, "another version, days later"),
        ("[PATCH RFC 1/4] net: fix 1", "a@example.org", 0, "a flag the cover lacks"),
        ("[PATCH 1/5] net: fix 1", "a@example.org", 2 * 86400, "another total, days later"),
        ("[PATCH 1/4] net: fix 1", "b@example.org", 0, "another sender"),
    ],
)
def test_patches_that_differ_otherwise_stay_apart(
    patch_subject: str, sender: str, later: int, why: str
) -> None:
    cover = _mail("c-0", "[PATCH net-next v3 0/4] net: tidy", None)
    patch = _mail("p-1", patch_subject, "c-0", sender=sender)
    patch.date += later
    assert len(group_versions([cover, patch])) == 2, why


def test_patches_sent_with_a_cover_that_disagrees_join_it() -> None:
    """linux-iio: "[PATCH v2 0/3]" answered within seconds by "[PATCH v3 i/3]" (the cover
    copied from v2), "[PATCH 0/3]" by "[PATCH i/4]", "[PATCH v3 0/3]" by "[PATCH v2 i/3]":
    one posting, not a cover letter alone (a series of no patch, never answered) beside its
    patches. The version takes the patches' number and count, which format-patch wrote."""
    for cover_subject, patch_form, number, total in (
        ("[PATCH v2 0/3] add ti tmag5273 driver", "[PATCH v3 {}/3] part {}", 3, 3),
        ("[PATCH 0/3] Add support for ADF4377", "[PATCH {}/4] part {}", 1, 4),
        ("[PATCH v3 0/3] RGB light sensor", "[PATCH v2 {}/3] part {}", 2, 3),
    ):
        cover = _mail("c-0", cover_subject, None)
        patches = [_mail(f"p-{i}", patch_form.format(i, i), "c-0") for i in range(1, total + 1)]
        versions = group_versions([cover, *patches])
        assert len(versions) == 1, cover_subject
        v = versions[0]
        assert (v.key, v.version, v.total, sorted(v.patches)) == (
            "c-0",
            number,
            total,
            list(range(1, total + 1)),
        ), cover_subject
        assert v.missing == []


def test_patches_of_another_round_sent_with_a_cover_stay_apart() -> None:
    """The first patch under a cover sets its numbers; later patches that say others are
    stale files of another round sent in the same posting (EROFS's readahead v6: "[PATCH v6
    i/16]" between its "[PATCH v6 i/19]"). A patch of the posting whose threading broke (its
    parent never reached the list) still finds the version by the patches' numbers."""
    cover = _mail("c-0", "[PATCH v6 00/19] readahead", None)
    new = [_mail(f"n-{i}", f"[PATCH v6 {i}/19] new {i}", "c-0") for i in (1, 2, 3)]
    old = [_mail(f"o-{i}", f"[PATCH v6 {i}/16] old {i}", "c-0") for i in (4, 5)]
    assert _shape([cover, *new, *old]) == [("c-0", 6, [0, 1, 2, 3]), ("o-4", 6, [4, 5])]
    cover = _mail("c-0", "[PATCH v2 00/89] ctime", None)
    sent = [_mail(f"p-{i}", f"[PATCH v2 {i}/92] part {i}", "c-0") for i in (7, 8)]
    lost = _mail("p-39", "[PATCH v2 39/92] part 39", "never-archived")
    versions = group_versions([cover, *sent, lost])
    assert [(v.key, v.total, sorted(v.patches)) for v in versions] == [("c-0", 92, [7, 8, 39])]


def test_an_unnumbered_patch_sent_with_its_0_of_1_cover_is_its_patch() -> None:
    """ "[PATCH v2 0/1]" then "[PATCH v2]" in reply to it a second later: one version of one
    patch (it was a 0-patch v2 and, beside it, a series of its own holding the merge)."""
    for cover_subject, patch_subject, number in (
        ("[PATCH v2 0/1] add proximity rate", "[PATCH v2] iio: vcnl3020: add rate", 2),
        ("[PATCH v3 0/1] AUXADC: Mediatek", "[PATCH] iio: mtk-auxadc: update case", 3),
    ):
        cover = _mail("c-0", cover_subject, None)
        patch = _mail("p-1", patch_subject, "c-0")
        versions = group_versions([cover, patch])
        assert [(v.key, v.version, v.total, sorted(v.patches)) for v in versions] == [
            ("c-0", number, 1, [1])
        ], cover_subject
    # Days later it is another posting: a new version sent in reply to the old one.
    cover = _mail("c-0", "[PATCH v2 0/1] add proximity rate", None)
    patch = _mail("p-1", "[PATCH v3] iio: vcnl3020: add rate", "c-0")
    patch.date += 2 * 86400
    assert len(group_versions([cover, patch])) == 2


def test_only_a_direct_answer_to_the_cover_joins_it() -> None:
    cover = _mail("c-0", "[PATCH net-next v3 0/4] net: tidy", None)
    reply = Mail(
        pk=50, message_id="r-0", subject=parse_subject("Re: [PATCH net-next v3 0/4] net: tidy"),
        from_name="B", from_addr="b@example.org", date=1_700_000_030, thread="t",
        parent="c-0", has_patch=False, is_posting=False,
    )  # fmt: skip
    patch = _mail("p-1", "[PATCH 1/4] net: fix 1", "r-0")
    assert len(group_versions([cover, reply, patch])) == 2


# -- the EROFS archive: the same version/index/total as before, except these ----------------

BEFORE_COMMIT = "3edeab1"
# Subjects of the EROFS archive whose (version, index, total) or is_patch the issue 13 forms
# change, with (before, after).  Only one: a keyword-less group holding an index is now read
# as patch information.
CHANGED = {
    "[Interdiff v3~v4 4/4] erofs-utils: mkfs: support EROFS index-only image generation from S3": (
        ((1, None, None), False),
        ((1, 4, 4), True),
    ),
}


def _parser_before():
    """`parse_subject` as it was at BEFORE_COMMIT, loaded from git history."""
    root = Path(__file__).resolve().parents[1]
    try:
        src = subprocess.run(
            ["git", "show", f"{BEFORE_COMMIT}:src/patchlens/mail/subject.py"],
            cwd=root,
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"cannot read the parser of {BEFORE_COMMIT} from git: {exc}")
    spec = importlib.util.spec_from_loader("patchlens_subject_before", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    try:
        exec(compile(src, f"{BEFORE_COMMIT}:subject.py", "exec"), module.__dict__)
    finally:
        del sys.modules[spec.name]
    return module.parse_subject


@pytest.mark.slow
def test_erofs_subjects_parse_as_before_except_the_new_forms(erofs_store) -> None:
    _db, engine, _ = erofs_store
    with engine.connect() as conn:
        subjects = sorted({r[0] for r in conn.execute(select(schema.messages.c.subject))})
    assert len(subjects) > 9_000
    before = _parser_before()
    changed = {}
    for subject in subjects:
        old, new = before(subject), parse_subject(subject)
        a = ((old.version, old.index, old.total), old.is_patch)
        b = ((new.version, new.index, new.total), new.is_patch)
        if a != b:
            changed[subject] = (a, b)
    print(f"\n{len(subjects)} distinct EROFS subjects, {len(changed)} parse differently")
    assert changed == CHANGED


def test_patches_under_a_cover_they_differ_from_are_one_version_of_their_own() -> None:
    """ "[PATCH RFC i/8]" sent in reply to "[PATCH 0/8]" (a flag the cover lacks, as on the
    EROFS list): the patches stay apart from the cover but are one version together, not
    one version each (that one posting counted as nine versions)."""
    cover = _mail("c-0", "[PATCH 0/3] btrfs: scrub", None)
    patches = [_mail(f"p-{i}", f"[PATCH RFC {i}/3] btrfs: part {i}", "c-0") for i in (1, 2, 3)]
    assert _shape([cover, *patches]) == [("c-0", 1, [0]), ("p-1", 1, [1, 2, 3])]
    # Each patch its own version again when the same patch index comes twice.
    again = _mail("p-1b", "[PATCH RFC 1/3] btrfs: part 1", "c-0")
    assert len(group_versions([cover, *patches, again])) == 3


def test_a_posting_sent_whole_in_reply_to_an_earlier_version_is_one_version() -> None:
    """v3's cover and patches each sent in reply to v1's first patch (as EROFS's
    "mkfs: allow to specify dictionary size" v3 and v4 were): they are one v3, not a cover
    alone, a "partial re-roll" of patch 1 (it answers v1's patch 1) and one of the rest,
    which made v4's round drop what it never dropped."""
    v1 = [_mail(f"a-{i}", f"[PATCH {i}/3] mkfs: part {i}", "a-1" if i > 1 else None)
          for i in (1, 2, 3)]  # fmt: skip
    v3 = [_mail("c3-0", "[PATCH v3 0/3] mkfs: dictionary", "a-1")]
    v3 += [_mail(f"c3-{i}", f"[PATCH v3 {i}/3] mkfs: part {i}", "a-1") for i in (1, 2, 3)]
    shape = _shape([*v1, *v3])
    assert shape == [("a-1", 1, [1, 2, 3]), ("c3-0", 3, [0, 1, 2, 3])]
    # The same without its cover letter: one version, begun by its patch 1.
    assert _shape([*v1, *v3[1:]]) == [("a-1", 1, [1, 2, 3]), ("c3-1", 3, [1, 2, 3])]
    # A patch re-sent alone in reply to its own earlier version stays a partial re-roll.
    lone = _mail("r-2", "[PATCH v2 2/3] mkfs: part 2", "a-2")
    versions = group_versions([*v1, lone])
    assert [(v.key, v.partial) for v in versions] == [("a-1", False), ("r-2", True)]


def test_bare_patches_do_not_take_the_first_patchs_tags() -> None:
    """Without a cover letter, `[PATCH v10 1/2]` then `[PATCH 2/2]` in reply to it is an old
    patch at its own version carrying a new one at its first (EROFS's checksum v10 and the
    128-bit UUID, whose later versions went on alone): two versions, as labelled."""
    first = _mail("p-1", "[PATCH v10 1/2] checksum", None)
    versions = group_versions([first, _mail("p-2", "[PATCH 2/2] uuid", "p-1")])
    assert [(v.key, v.version) for v in versions] == [("p-1", 10), ("p-2", 1)]


# -- bounces -------------------------------------------------------------------------------------


def test_a_bounce_from_a_mail_system_is_no_posting() -> None:
    """A bounce that comes back to the list carries the returned patch, diff and all (three
    such in the EROFS archive, from postmaster@aliyun.com), but nobody posted anything."""
    diff = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"
    subject = "Undelivered Mail Returned to Sender"
    for sender in ("postmaster@aliyun.com", "MAILER-DAEMON@example.org", "mailer-daemon@x.y"):
        row = analyze(1, subject, "returned mail", diff, True, False, sender).row
        assert not row["is_posting"], sender
    # A person's address, or a mail system's name in a domain, is not a mail system.
    for sender in ("dev@postmaster.example", "postmasters@example.org", "postmaster", ""):
        assert analyze(1, subject, "x", diff, True, False, sender).row["is_posting"], sender


def test_no_series_from_a_mail_system_on_real_mail(erofs_store) -> None:
    from sqlalchemy import func, select

    from patchlens.review.model import is_mail_system
    from patchlens.store import schema

    _db, engine, _reports = erofs_store
    m, s = schema.messages, schema.series
    with engine.connect() as conn:
        bounces = conn.execute(
            select(func.count()).where(func.lower(m.c.from_addr).like("postmaster@%"))
        ).scalar_one()
        authors = conn.execute(select(s.c.author_addr)).scalars().all()
    assert bounces >= 3  # the archive's bounces are still stored, as messages
    assert authors and not [a for a in authors if is_mail_system(a)]


@pytest.mark.parametrize(
    "subject",
    [
        'Patch "erofs: fix PSI memstall accounting" has been added to the 6.1-stable tree',
        'FAILED: patch "[PATCH] erofs: fix x" failed to apply to 5.10-stable tree',
        # Greg Kroah-Hartman's robot for the trees he keeps: each was a series of its own.
        'patch "MAINTAINERS: Move Hartmut Knaack to Credits" added to staging-testing',
        'patch "usb: dwc3: fix a leak" added to usb-next',
        'patch "iio: adc: fix x" removed from char-misc-linus',
    ],
)
def test_a_tree_robots_notice_is_no_posting(subject: str) -> None:
    """It carries the diff of a patch already taken: a notice about it, not a posting."""
    assert not is_posting(parse_subject(subject), True, False)


def test_a_patch_about_a_patch_is_still_a_posting() -> None:
    assert is_posting(parse_subject('[PATCH] scripts: add "patch" helper for usb'), True, False)


def test_a_version_sent_again_with_other_patches_and_its_change_id_is_a_repost() -> None:
    """LTP's landlock: v2 of 7 patches, then v2 again five minutes later with 11, both with
    b4's change-id; v3 follows the second. One series of four versions, not two series (the
    first "abandoned"). Without a shared change-id, another count is another piece of work."""
    from patchlens.review.versions import chains, link_versions

    def posting(tag: str, version: str, total: int, change_id: str | None) -> list[Mail]:
        cover = _mail(f"{tag}-0", f"[PATCH {version} 0/{total}] landlock testing suite", None)
        patches = [
            _mail(f"{tag}-{i}", f"[PATCH {version} {i}/{total}] landlock: test {i}", f"{tag}-0")
            for i in range(1, total + 1)
        ]
        for m in (cover, *patches):
            m.thread = tag
            m.change_id = change_id
        return [cover, *patches]

    def series_of(cid2: str | None) -> list[list[str]]:
        mails = (
            posting("a", "", 10, "landlock")
            + posting("b", "v2", 7, "landlock")
            + posting("c", "v2", 11, cid2)
            + posting("d", "v3", 11, "landlock")
        )
        versions = group_versions(mails)
        return sorted(chains(versions, link_versions(versions)).values())

    assert series_of("landlock") == [["a-0", "b-0", "c-0", "d-0"]]
    assert series_of(None) == [["a-0", "b-0", "d-0"], ["c-0"]]
