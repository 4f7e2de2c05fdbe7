"""Tests for patchlens.mail.trailers, and a cross-check against `git interpret-trailers`
on the real erofs-utils history."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from patchlens.mail.trailers import Trailer, canonical_key, make_trailer, parse_trailers
from tests.conftest import data_path


def kv(message: str) -> list[tuple[str, str]]:
    return [(t.key, t.value) for t in parse_trailers(message)]


def test_kernel_style_message() -> None:
    msg = (
        "erofs: fix up compacted indexes for block size < 4096\n"
        "\n"
        "Previously, the block size always equaled to PAGE_SIZE, therefore\n"
        "`lclusterbits` couldn't be less than 12.\n"
        "\n"
        'Fixes: 8d2517aaeea3 ("erofs: fix up compacted indexes for block size < 4096")\n'
        "Reported-by: syzbot+abc123@syzkaller.appspotmail.com\n"
        "Closes: https://lore.kernel.org/r/000000000000@google.com\n"
        "Reviewed-by: Chao Yu <chao@kernel.org>\n"
        "Signed-off-by: Gao Xiang <hsiangkao@linux.alibaba.com>\n"
        "Link: https://lore.kernel.org/r/20231206091057.87027-1-hsiangkao@linux.alibaba.com\n"
    )
    assert parse_trailers(msg) == [
        Trailer(
            "Fixes",
            '8d2517aaeea3 ("erofs: fix up compacted indexes for block size < 4096")',
        ),
        Trailer(
            "Reported-by",
            "syzbot+abc123@syzkaller.appspotmail.com",
            None,
            "syzbot+abc123@syzkaller.appspotmail.com",
        ),
        Trailer("Closes", "https://lore.kernel.org/r/000000000000@google.com"),
        Trailer("Reviewed-by", "Chao Yu <chao@kernel.org>", "Chao Yu", "chao@kernel.org"),
        Trailer(
            "Signed-off-by",
            "Gao Xiang <hsiangkao@linux.alibaba.com>",
            "Gao Xiang",
            "hsiangkao@linux.alibaba.com",
        ),
        Trailer(
            "Link", "https://lore.kernel.org/r/20231206091057.87027-1-hsiangkao@linux.alibaba.com"
        ),
    ]


def test_only_the_last_paragraph() -> None:
    msg = (
        "subject\n\nAcked-by: Early <e@x.org>\n\nSome explanation.\n\n"
        "Signed-off-by: A <a@x.org>\n\n\n"
    )
    assert kv(msg) == [("Signed-off-by", "A <a@x.org>")]
    # Prose after the trailers: the last paragraph has none.
    assert kv("subject\n\nSigned-off-by: A <a@x.org>\n\nmore prose after\n") == []


def test_one_paragraph_message_has_no_trailers() -> None:
    assert kv("Signed-off-by: A <a@x.org>\n") == []
    assert kv("erofs-utils: fix build\n") == []
    assert kv("subject line\nSigned-off-by: A <a@x.org>\n") == []
    assert kv("") == []


def test_continuation_lines_are_unfolded() -> None:
    msg = "subj\n\nSigned-off-by: A\n  <a@x.org>\n\tmore\nAcked-by: C <c@d.org>\n"
    assert parse_trailers(msg) == [
        Trailer("Signed-off-by", "A <a@x.org> more", "A", "a@x.org"),
        Trailer("Acked-by", "C <c@d.org>", "C", "c@d.org"),
    ]


def test_prose_paragraph_with_one_key_value_line_is_not_a_trailer_block() -> None:
    assert kv("subj\n\nSome prose here.\nNote: this is not a trailer\n") == []
    assert kv("subj\n\nline one\nline two\nline three\nFoo-bar: A <a@b>\n") == []


def test_git_quarter_rule_with_a_known_trailer() -> None:
    # 1 trailer out of 4 lines (25%) with Signed-off-by: a trailer block.
    msg = "subj\n\nline one\nline two\nline three\nSigned-off-by: A <a@b>\n"
    assert kv(msg) == [("Signed-off-by", "A <a@b>")]
    # 1 out of 5 (20%): prose.
    msg = "subj\n\nline one\nline two\nline three\nline four\nSigned-off-by: A <a@b>\n"
    assert kv(msg) == []
    # "(cherry picked from commit ...)" is a known line even though it is not a trailer.
    msg = "subj\n\n(cherry picked from commit abc)\nline\nline\nFoo: bar\n"
    assert kv(msg) == [("Foo", "bar")]
    # A bracketed maintainer note among trailers.
    msg = "subj\n\nSigned-off-by: A <a@b>\n[ B: fixed a typo ]\nSigned-off-by: B <b@c>\n"
    assert kv(msg) == [("Signed-off-by", "A <a@b>"), ("Signed-off-by", "B <b@c>")]
    # A key with a space is not a trailer ("Reviewed by:").
    msg = "subj\n\nReviewed by: A <a@b>\nSigned-off-by: A <a@b>\n"
    assert kv(msg) == [("Signed-off-by", "A <a@b>")]


def test_all_lines_trailers_without_a_known_key() -> None:
    assert kv("subj\n\nNote: this\n") == [("Note", "this")]


def test_urls_are_not_trailers() -> None:
    # git takes "https://x" for a trailer "https: //x"; patchlens does not, on purpose.
    msg = "subj\n\nhttps://example.com/x\nSigned-off-by: A <a@b>\n"
    assert kv(msg) == [("Signed-off-by", "A <a@b>")]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("Reviewed-By", "Reviewed-by"),
        ("reviewed-BY", "Reviewed-by"),
        ("SIGNED-OFF-BY", "Signed-off-by"),
        ("Message-Id", "Message-ID"),
        ("message-id", "Message-ID"),
        ("Change-ID", "Change-Id"),
        ("cc", "Cc"),
        ("CC", "Cc"),
        ("link", "Link"),
        ("Nacked-By", "Nacked-by"),
        ("NAKed-By", "NAKed-by"),
        ("X-Custom-Thing", "X-custom-thing"),
    ],
)
def test_canonical_key(key: str, expected: str) -> None:
    assert canonical_key(key) == expected


def test_key_canonicalised_in_parse() -> None:
    msg = "subj\n\nReviewed-By: R <r@x.org>\nMessage-Id: <1@x>\nsigned-off-by: S <s@x.org>\n"
    assert kv(msg) == [
        ("Reviewed-by", "R <r@x.org>"),
        ("Message-ID", "<1@x>"),
        ("Signed-off-by", "S <s@x.org>"),
    ]


@pytest.mark.parametrize(
    ("key", "value", "name", "email"),
    [
        ("Signed-off-by", "Gao Xiang <Hsiangkao@AOL.com>", "Gao Xiang", "hsiangkao@aol.com"),
        ("Acked-by", '"Last, First" <F@X.org>', "Last, First", "f@x.org"),
        ("Reported-by", "bot@example.org", None, "bot@example.org"),
        ("Tested-by", "Someone Without Address", "Someone Without Address", None),
        ("Reviewed-by", "J. Doe <jd@x.org>", "J. Doe", "jd@x.org"),
        # Not a person trailer: no name, no email.
        ("Link", "https://lore.kernel.org/r/x@y", None, None),
        ("Message-ID", "<x@y>", None, None),
        ("Fixes", 'abc ("x <y@z>")', None, None),
    ],
)
def test_name_and_email(key: str, value: str, name: str | None, email: str | None) -> None:
    t = make_trailer(key, value)
    assert (t.key, t.value, t.name, t.email) == (key, value, name, email)


def test_stable_cc_with_comment() -> None:
    (t,) = parse_trailers("subj\n\nCc: stable@vger.kernel.org # 5.4+\n")
    assert t.value == "stable@vger.kernel.org # 5.4+"
    assert t.email == "stable@vger.kernel.org"


def test_continuation_of_a_bracketed_note() -> None:
    msg = (
        "subj\n\nbody\n\n"
        "Signed-off-by: Yue Hu <huyue2@coolpad.com>\n"
        "[ Gao Xiang: duplicated fragment data can still exist in the packed\n"
        "  inode and fragment deduplication needs be to implemented later. ]\n"
        "Signed-off-by: Gao Xiang <hsiangkao@linux.alibaba.com>\n"
    )
    assert kv(msg) == [
        ("Signed-off-by", "Yue Hu <huyue2@coolpad.com>"),
        ("Signed-off-by", "Gao Xiang <hsiangkao@linux.alibaba.com>"),
    ]


# --------------------------------------------------------------------------------------------
# Cross-check against git on the real erofs-utils history.

# Commits of erofs-utils `dev` where patchlens and `git interpret-trailers --parse` disagree,
# as measured on the shared bundle (1070 of 1072 messages agree). Both are the bug pinned by
# test_continuation_of_a_bracketed_note: a two-line `[ Gao Xiang: ... ]` note whose indented
# second line patchlens glues onto the Signed-off-by before it; git keeps it with the note.
KNOWN_DISAGREEMENTS = {
    "9fa9b017f773f42987e4f545190209fbe1e95b81",  # erofs-utils: mkfs: support fragments
    "203fb2925f99f613583bf7b06a7c9397280e4da8",  # erofs-utils: complete missing memory handling
}
MEASURED_AGREEMENT = 1070 / 1072


@pytest.fixture(scope="module")
def erofs_utils_messages(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    bundle = data_path("erofs", "erofs-utils.bundle")
    repo = tmp_path_factory.mktemp("trailers") / "erofs-utils.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(bundle), str(repo)], check=True)
    out = subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%H%x00%B%x00", "dev"],
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    fields = out.split("\0")
    pairs = [(fields[i].strip(), fields[i + 1]) for i in range(0, len(fields) - 1, 2)]
    assert len(pairs) > 1000
    return pairs


def _git_trailers(message: str) -> list[tuple[str, str]]:
    out = subprocess.run(
        ["git", "interpret-trailers", "--parse", "--no-divider"],
        input=message.encode("utf-8"),
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    pairs = []
    for line in out.splitlines():
        key, _, value = line.partition(":")
        pairs.append((key.strip().lower(), value.strip()))
    return pairs


def test_agrees_with_git_interpret_trailers(erofs_utils_messages: list[tuple[str, str]]) -> None:
    # Every message of `dev` (~1000; one git call each, in threads: ~0.5 s).
    with ThreadPoolExecutor(max_workers=8) as pool:
        git_side = list(pool.map(_git_trailers, [m for _c, m in erofs_utils_messages]))
    disagree = {}
    with_trailers = 0
    for (commit, message), theirs in zip(erofs_utils_messages, git_side, strict=True):
        ours = [(t.key.lower(), t.value) for t in parse_trailers(message)]
        with_trailers += bool(theirs)
        if ours != theirs:
            disagree[commit] = (ours, theirs)
    total = len(erofs_utils_messages)
    assert with_trailers > total * 0.9  # the check is not vacuous
    assert set(disagree) <= KNOWN_DISAGREEMENTS, {
        c: v for c, v in disagree.items() if c not in KNOWN_DISAGREEMENTS
    }
    assert (total - len(disagree)) / total >= MEASURED_AGREEMENT


def test_a_posting_whose_body_is_only_trailers_keeps_them() -> None:
    """A posted patch's subject is the mail's Subject: a body that is only its trailer block
    is one paragraph, which git's rule for a commit message reads as a subject."""
    from patchlens.mail.trailers import posting_trailers

    body = "Acked-by: Christian Lindig <christian.lindig@citrix.com>\nSigned-off-by: A <a@x>\n"
    assert parse_trailers(body) == []
    assert [t.key for t in posting_trailers(body)] == ["Acked-by", "Signed-off-by"]
    assert posting_trailers("A description only.\n") == []


def test_xen_postings_whose_body_is_only_trailers_keep_them(xen_store) -> None:
    """Every Xen posting whose commit message (the body up to `---`) is one trailer block
    has those trailers stored, Acked-by and Reviewed-by with them: 132 of 3,744 had none."""
    import gzip
    import mailbox
    import re
    import sqlite3

    _tmp, db, _engine = xen_store
    path = data_path("xen", "xen-devel-posted-patches-2019-2020.mbox.gz")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".mbox") as tmp:
        tmp.write(raw)
        tmp.flush()
        only_trailers: dict[str, int] = {}
        for msg in mailbox.mbox(tmp.name):
            payload = msg.get_payload(decode=True)
            if not isinstance(payload, bytes) or not msg["Message-Id"]:
                continue
            text = payload.decode("utf-8", "replace").split("\n---", 1)[0].strip()
            lines = text.splitlines()
            if lines and all(re.match(r"[A-Za-z][A-Za-z-]*: \S", line) for line in lines):
                only_trailers[msg["Message-Id"].strip().strip("<>")] = len(lines)
    assert len(only_trailers) > 100
    con = sqlite3.connect(str(db))
    stored = dict(
        con.execute(
            "SELECT m.message_id, count(t.key) FROM messages m "
            "LEFT JOIN message_trailers t ON t.message_pk = m.id GROUP BY m.id"
        ).fetchall()
    )
    kept = [mid for mid, n in only_trailers.items() if stored.get(mid) == n]
    assert len(kept) == len(only_trailers), sorted(set(only_trailers) - set(kept))[:5]
