"""patchlens.mail.patchid against the real `git patch-id` of this machine.

Every expectation is checked against the git binary itself, on the erofs-utils history, on
mail fixtures from public-inbox, on a small repository built here (binary files, renames,
mode changes, missing final newlines) and on hand-written and randomly mangled patches.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from patchlens.mail.patchid import patch_id, patch_ids
from tests.conftest import DATA  # ../shared/data, or $PATCHLENS_DATA

EROFS_BUNDLE = DATA / "erofs" / "erofs-utils.bundle"
PUBLIC_INBOX = DATA / "fixtures" / "public-inbox" / "t"
FIXTURE_PATCHES = [
    # A missing directory must fail, not silently make no test: name the glob itself then.
    *(sorted((PUBLIC_INBOX / "solve").glob("*.patch")) or [PUBLIC_INBOX / "solve" / "*.patch"]),
    PUBLIC_INBOX / "data" / "0001.patch",
    PUBLIC_INBOX / "data" / "binary.patch",
]
ZERO = "0" * 40

# No user or system configuration (patchid.*, diff.*, color.*) may change what git prints.
GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "LC_ALL": "C",
    "GIT_AUTHOR_NAME": "A U Thor",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_AUTHOR_DATE": "2024-01-02T03:04:05+00:00",
    "GIT_COMMITTER_NAME": "C O Mitter",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_COMMITTER_DATE": "2024-01-02T03:04:05+00:00",
}


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(
            f"real test data missing: {path} (expected in ../shared/data beside the project root)"
        )
    return path


def _git(*args: str | Path, cwd: Path, data: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", *map(str, args)], cwd=cwd, input=data, env=GIT_ENV, capture_output=True, check=True
    ).stdout


@pytest.fixture(scope="session")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory outside any repository, where `git patch-id` uses SHA-1 and no repo config."""
    if shutil.which("git") is None:
        pytest.fail("the git binary is needed: these tests compare with `git patch-id`")
    return tmp_path_factory.mktemp("patchid-scratch")


@pytest.fixture(scope="session")
def git_ids(scratch: Path):
    """What `git patch-id` prints for some bytes, as (patch-id, commit) pairs."""

    def run(data: bytes, *, stable: bool = True) -> list[tuple[str, str]]:
        mode = "--stable" if stable else "--unstable"
        out = _git("patch-id", mode, cwd=scratch, data=data).decode("ascii")
        return [(pid, commit) for pid, commit in (line.split() for line in out.splitlines())]

    return run


@pytest.fixture(scope="session")
def git_id(git_ids):
    """The first id `git patch-id` prints for some text, or None: what patch_id() promises."""

    def run(text: str, *, stable: bool = True) -> str | None:
        ids = git_ids(text.encode("utf-8", "surrogateescape"), stable=stable)
        return ids[0][0] if ids else None

    return run


@pytest.fixture(scope="session")
def erofs(tmp_path_factory: pytest.TempPathFactory, scratch: Path) -> tuple[Path, bytes]:
    """A bare clone of erofs-utils and the `git log -p` of its `dev` branch."""
    bundle = _require(EROFS_BUNDLE)
    repo = tmp_path_factory.mktemp("erofs") / "erofs-utils.git"
    _git("clone", "-q", "--bare", bundle, repo, cwd=scratch)
    return repo, _git("log", "-p", "--no-color", "dev", cwd=repo)


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


# --- the erofs-utils history ---------------------------------------------------------------


@pytest.mark.parametrize("stable", [True, False], ids=["stable", "unstable"])
def test_erofs_history_stream_matches_git(erofs, git_ids, stable: bool) -> None:
    _, log = erofs
    expected = git_ids(log, stable=stable)
    assert len(expected) > 1000, "git found far fewer patches than erofs-utils has commits"
    got = patch_ids(_decode(log), stable=stable)
    assert len(got) == len(expected)
    wrong = [(e, g) for e, g in zip(expected, got, strict=True) if e != g]
    assert not wrong, f"{len(wrong)} of {len(expected)} ids differ from git, first: {wrong[:3]}"


def test_erofs_each_commit_matches_git(erofs, git_ids) -> None:
    """patch_id() on each commit's own text (message + diff) gives git's id for that commit."""
    _, log = erofs
    expected = {commit: pid for pid, commit in git_ids(log)}
    parts = re.split(rb"^commit ([0-9a-f]{40})\n", log, flags=re.MULTILINE)
    assert parts[0] == b""
    commits = dict(zip(parts[1::2], parts[2::2], strict=True))
    assert len(commits) > 1000
    wrong = []
    for sha, body in commits.items():
        want = expected.get(sha.decode("ascii"))
        got = patch_id(_decode(body))
        if got != want:
            wrong.append((sha, want, got))
    assert not wrong, f"{len(wrong)} of {len(commits)} commits differ from git: {wrong[:3]}"
    assert sum(1 for sha in commits if sha.decode("ascii") in expected) == len(expected)


def test_erofs_git_show_diffs_match(erofs, git_ids) -> None:
    """The diff alone, as `git show --format=` prints it, gets the commit's id too."""
    repo, log = erofs
    expected = git_ids(log)
    for pid, commit in expected[:: max(1, len(expected) // 25)]:
        diff = _git("show", "--format=", "--no-color", commit, cwd=repo)
        assert patch_id(_decode(diff)) == pid, commit


# --- patches from public-inbox's test suite -------------------------------------------------


@pytest.mark.parametrize("path", FIXTURE_PATCHES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_public_inbox_patches_match_git(path: Path, git_ids) -> None:
    data = _require(path).read_bytes()
    for stable in (True, False):
        expected = git_ids(data, stable=stable)
        assert expected, f"git found no patch in {path}"
        assert patch_ids(_decode(data), stable=stable) == expected
        assert patch_id(_decode(data), stable=stable) == expected[0][0]


# --- hand-written cases -------------------------------------------------------------------

# Lines are joined explicitly so that no editor can strip the space of an empty context line.
DIFF_FOO = "\n".join(
    [
        "diff --git a/lib/foo.c b/lib/foo.c",
        "index 3b18e51..a2c4f7e 100644",
        "--- a/lib/foo.c",
        "+++ b/lib/foo.c",
        "@@ -10,7 +10,7 @@ static int foo(void)",
        " {",
        " \tint x = 1;",
        " ",
        "-\treturn x;",
        "+\treturn x + 1;",
        " }",
        " ",
        " int bar(void)",
        "",
    ]
)
DIFF_README = "\n".join(
    [
        "diff --git a/README b/README",
        "index 1111111..2222222 100644",
        "--- a/README",
        "+++ b/README",
        "@@ -1,2 +1,3 @@",
        " erofs-utils",
        "+===========",
        " ",
        "",
    ]
)
DIFF = DIFF_README + DIFF_FOO
MAIL = (
    "From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\n"
    "From: A U Thor <author@example.com>\n"
    "Date: Tue, 2 Jan 2024 03:04:05 +0000\n"
    "Subject: [PATCH v2] foo: return one more\n"
    "\n"
    "This message is not hashed; nor is the diffstat below.\n"
    "\n"
    "Signed-off-by: A U Thor <author@example.com>\n"
    "---\n"
    "v2: also underline the title\n"
    "\n"
    " README    | 1 +\n"
    " lib/foo.c | 2 +-\n"
    " 2 files changed, 2 insertions(+), 1 deletion(-)\n"
    "\n" + DIFF + "-- \n"
    "2.39.0\n"
    "\n"
)


def test_mail_patch_has_the_id_of_its_bare_diff(git_id, git_ids) -> None:
    expected = git_id(DIFF)
    assert expected is not None
    assert git_id(MAIL) == expected
    assert patch_id(DIFF) == expected
    assert patch_id(MAIL) == expected
    commit = "0123456789abcdef0123456789abcdef01234567"
    assert patch_ids(MAIL) == git_ids(MAIL.encode()) == [(expected, commit)]
    # git's one trap: a message line that starts with "diff " starts the diff.
    trap = MAIL.replace("This message", "diff is the first word, this message")
    assert patch_id(trap) == git_id(trap) != expected


def test_signature_after_last_hunk_is_not_hashed(git_id) -> None:
    signed = DIFF + "-- \n2.39.0\n"
    assert git_id(signed) == git_id(DIFF)
    assert patch_id(signed) == patch_id(DIFF)
    # Inside a hunk that its header says is not over, the same lines are hashed.
    unfinished = signed.replace("@@ -10,7 +10,7 @@", "@@ -10,9 +10,9 @@")
    assert patch_id(unfinished) == git_id(unfinished) != git_id(DIFF)


def test_whitespace_in_context_does_not_change_the_id(git_id) -> None:
    reformatted = DIFF.replace(" \tint x = 1;", "     int  x=1 ;").replace(
        "+\treturn x + 1;", "+    return x+1;"
    )
    assert reformatted != DIFF
    assert git_id(reformatted) == git_id(DIFF)
    assert patch_id(reformatted) == patch_id(DIFF) == git_id(DIFF)
    changed = DIFF.replace("+\treturn x + 1;", "+\treturn x + 2;")
    assert patch_id(changed) == git_id(changed) != git_id(DIFF)


def test_line_numbers_do_not_change_the_id(git_id) -> None:
    moved = DIFF.replace("@@ -10,7 +10,7 @@ static int foo(void)", "@@ -110,7 +112,7 @@")
    assert patch_id(moved) == git_id(moved) == git_id(DIFF)


def test_crlf_copy_has_the_same_id(git_id, git_ids) -> None:
    for text in (DIFF, MAIL):
        crlf = text.replace("\n", "\r\n")
        assert git_id(crlf) == git_id(text)
        assert patch_id(crlf) == git_id(text)
        assert patch_ids(crlf) == git_ids(text.encode())


def test_crlf_binary_diff_reads_as_if_cr_stripped(git_id) -> None:
    """The one place CR is not whitespace to git: the post-image name of `index a..b`.

    Mail is carried with CRLF; we hash what git gets once a mail client stripped the CR.
    """
    text = "\n".join(
        [
            "diff --git a/zero b/zero",
            "new file mode 100644",
            "index 0000000..f76dd23",
            "Binary files /dev/null and b/zero differ",
            "",
        ]
    )
    crlf = text.replace("\n", "\r\n")
    assert patch_id(crlf) == patch_id(text) == git_id(text)
    assert git_id(crlf) != git_id(text)  # git fed the raw bytes keeps "f76dd23\r"


def test_no_diff_gives_none(git_ids) -> None:
    for text in ("", "\n", "Subject: a cover letter\n\nNo diff here.\n-- \n2.39.0\n"):
        assert git_ids(text.encode()) == []
        assert patch_id(text) is None
        assert patch_ids(text) == []


def test_stable_id_ignores_file_order(git_id) -> None:
    swapped = DIFF_FOO + DIFF_README
    assert git_id(swapped) == git_id(DIFF)
    assert patch_id(swapped) == patch_id(DIFF) == git_id(DIFF)
    # That is what --stable is for: the unstable id depends on the order.
    assert git_id(swapped, stable=False) != git_id(DIFF, stable=False)
    assert patch_id(swapped, stable=False) == git_id(swapped, stable=False)
    assert patch_id(DIFF, stable=False) == git_id(DIFF, stable=False)


def test_non_ascii_lines_agree_with_git(git_id) -> None:
    """Lines are hashed as UTF-8; only git's four whitespace bytes are dropped.

    NBSP, EM SPACE, \\v and \\f are whitespace for Python's str.split(), not for git.
    """
    lines = ["+été – naïve", "+a\u00a0b", "+c\u2003d", "+e\x0bf\x0cg", "+日本語 テキスト"]
    header = "@@ -1,2 +1,7 @@"
    text = DIFF_README.replace("@@ -1,2 +1,3 @@", header).replace(
        "+===========\n", "+===========\n" + "\n".join(lines) + "\n"
    )
    assert patch_id(text) == git_id(text)
    plain = text.replace("\u00a0", " ")
    assert patch_id(plain) == git_id(plain) != git_id(text)
    # Bytes that are not UTF-8 pass through surrogateescape unchanged.
    raw = text.replace("naïve", "na\udcefve")
    assert patch_id(raw) == git_id(raw)


def test_missing_hunk_count_means_one(git_id) -> None:
    text = "\n".join(
        [
            "diff --git a/x b/x",
            "index 1111111..2222222 100644",
            "--- a/x",
            "+++ b/x",
            "@@ -5 +5 @@",
            "-old",
            "+new",
            "\\ No newline at end of file",
            "-- ",
            "2.39.0",
            "",
        ]
    )
    assert patch_id(text) == git_id(text)
    assert patch_id(text) == git_id(text.split("-- \n")[0])


def test_binary_diffs_hash_the_object_names(git_id) -> None:
    text = "\n".join(
        [
            "diff --git a/logo.png b/logo.png",
            "index 8a1f3c2..5d9e0b7 100644",
            "Binary files a/logo.png and b/logo.png differ",
            "diff --git a/x b/x",
            "index 1111111..2222222",
            "--- a/x",
            "+++ b/x",
            "@@ -1 +1 @@",
            "-a",
            "+b",
            "",
        ]
    )
    for stable in (True, False):
        assert patch_id(text, stable=stable) == git_id(text, stable=stable)
    other = text.replace("5d9e0b7", "5d9e0b8")
    assert patch_id(other) == git_id(other) != git_id(text)


def test_binary_diff_without_index_line_in_a_stream(git_ids) -> None:
    """git then reads an uninitialised buffer, which holds the previous patch's names.

    Undefined behaviour in git, but what git 2.39.5 prints; git never writes such a diff.
    """
    first = "\n".join(["diff --git a/x b/x", "index 1234567..89abcde 100644", "--- a/x"])
    first += "\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
    second = "diff --git a/y b/y\nBinary files a/y and b/y differ\n"
    for text in (second, first + second, first + "commit " + "1" * 40 + "\n" + second):
        assert patch_ids(text) == git_ids(text.encode())


# --- a repository built here: what erofs-utils lacks ---------------------------------------


@pytest.fixture(scope="module")
def small_repo(tmp_path_factory: pytest.TempPathFactory, scratch: Path) -> Path:
    repo = tmp_path_factory.mktemp("small-repo")
    _git("init", "-q", repo, cwd=scratch)

    def commit(message: str) -> None:
        _git("add", "-A", cwd=repo)
        _git("commit", "-q", "--allow-empty", "-m", message, cwd=repo)

    (repo / "a.txt").write_text("".join(f"line {i}\n" for i in range(30)))
    (repo / "b.bin").write_bytes(bytes(range(256)) * 4)
    (repo / "c.sh").write_text("#!/bin/sh\necho hi\n")
    (repo / "utf8.txt").write_text("caf\u00e9\n", encoding="utf-8")
    commit("add files")
    (repo / "a.txt").write_text(
        "".join(f"line {i}\n" for i in range(30) if i != 3).replace("line 20", "line twenty")
        + "no newline"
    )
    (repo / "b.bin").write_bytes(bytes(range(256)) * 3 + b"\0tail")
    (repo / "c.sh").chmod(0o755)
    (repo / "utf8.txt").write_text("caf\u00e9 cr\u00e8me\r\nna\u00efve\u00a0\n", encoding="utf-8")
    commit("modify text, binary and mode")
    (repo / "a.txt").rename(repo / "d.txt")
    (repo / "d.txt").write_text((repo / "d.txt").read_text() + " now\n")
    (repo / "c.sh").unlink()
    (repo / "empty").write_text("")
    (repo / "latin1.txt").write_bytes(b"caf\xe9\n")
    commit("rename, delete, add empty")
    (repo / "b.bin").unlink()
    (repo / "d.txt").chmod(0o755)
    commit("delete binary, mode only")
    commit("empty commit")
    return repo


@pytest.mark.parametrize(
    "command",
    [
        ["log", "-p", "--no-color"],
        ["log", "-p", "--no-color", "--binary", "--full-index"],
        ["log", "-p", "--no-color", "--stat", "-M"],
        ["format-patch", "--stdout", "--root", "HEAD"],
        ["format-patch", "--stdout", "--root", "--binary", "--full-index", "-M", "HEAD"],
    ],
    ids=lambda c: " ".join(c),
)
def test_small_repository_matches_git(small_repo: Path, git_ids, command: list[str]) -> None:
    out = _git(*command, cwd=small_repo)
    for stable in (True, False):
        expected = git_ids(out, stable=stable)
        assert len(expected) == 4
        assert patch_ids(_decode(out), stable=stable) == expected


# --- mangled patches: the corners of git's parser ------------------------------------------

_ODD_LINES = [
    "\\ No newline at end of file",
    "\\ 123456789",
    "\\ 1234567890",
    "-- ",
    "2.39.0",
    "",
    " ",
    "@@ -5 +5 @@",
    "@@ -1,2 +1 @@",
    "@@ -1,-2 +1 @@",
    "@@ -1, 3 +1,2 @@",
    "@@ -1,3 x",
    "@@ -1,99999999999999999999 +1,4 @@",
    "@@ -1,4294967297 +1,1 @@",
    "@@ -,1 +2 @@",
    "@@ -1 +",
    "index abc..def",
    "index a b..c",
    "index ..",
    "index " + "a" * 70 + ".." + "b" * 70,
    "Binary files a/x and b/x differ",
    "GIT binary patch",
    "diff --git a/q b/q",
    "--- a/x",
    "+++ b/x",
    "new mode 100755",
    "+\u00e9t\u00e9 \u00a0nbsp",
    "+\x0bvt\x0cff",
    "+a\x00b c",
    "+\udcff\udcfe not utf-8",
    "Zalpha",
    "1digit",
    "-a",
    "+b",
    " c",
    "commit 0123456789abcdef0123456789abcdef01234567",
    "From 0123456789ABCDEF0123456789ABCDEF01234567 Mon Sep 17 00:00:00 2001",
    "fedcba9876543210fedcba9876543210fedcba98",
    "diff-tree 0123456789abcdef0123456789abcdef01234567",
]


def test_mangled_patches_match_git(erofs, git_ids) -> None:
    """Lines dropped, added or garbled: hunks that overrun, headers git half-parses, ..."""
    _, log = erofs
    rng = random.Random(20240102)
    chunks = _decode(log).split("\ncommit ")
    for _ in range(120):
        lines: list[str] = []
        for chunk in rng.sample(chunks, rng.randint(1, 3)):
            part = chunk.split("\n")
            if len(part) > 50:
                start = rng.randrange(8, len(part) - 30)
                part = part[:8] + part[start : start + 30]
            lines += part
        for _ in range(rng.randint(0, 8)):
            where = rng.randrange(len(lines) + 1)
            if rng.random() < 0.8:
                lines.insert(where, rng.choice(_ODD_LINES))
            elif lines:
                del lines[min(where, len(lines) - 1)]
        text = "\n".join(lines) + rng.choice(["", "\n"])
        data = text.encode("utf-8", "surrogateescape")
        for stable in (True, False):
            assert patch_ids(text, stable=stable) == git_ids(data, stable=stable), text
