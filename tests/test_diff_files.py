"""Files changed by a diff (issue 13, "Diffs"): pure renames after a modified file, binary
patches and their sizes, on patches made by git in the test and on hand-written shapes."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

from patchlens.mail.diff import file_stats, split_diff
from patchlens.mail.parse import parse_message
from tests.helpers.gitrepos import ENV


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True, env=ENV)
    return out.stdout.decode()


def _format_patch(tmp_path: Path, before: dict[str, bytes], after: dict[str, bytes | None]) -> str:
    """`git format-patch --binary` of one commit taking `before` to `after` (None: removed,
    a key of `before` missing from `after` and a new key: git sees a rename)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    for name, data in before.items():
        (repo / name).write_bytes(data)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    for name in before:
        if name not in after:
            (repo / name).unlink()
    for name, data in after.items():
        if data is None:
            (repo / name).unlink()
        else:
            (repo / name).write_bytes(data)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "change")
    return _git(repo, "format-patch", "-1", "-M", "--binary", "--stdout")


def _stats(mbox_text: str):
    msg = parse_message(mbox_text.encode())
    assert msg.has_patch and msg.diff
    return {f.path: f for f in file_stats(msg.diff)}


def _lines(n: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    return "".join(f"line {i} {rnd.random()}\n" for i in range(n)).encode()


def test_git_pure_rename_after_a_modified_file(tmp_path: Path) -> None:
    text = _format_patch(
        tmp_path,
        {"a.c": b"one\ntwo\nthree\n", "z_old.c": _lines(40, 1)},
        {"a.c": b"one\nTWO\nthree\n", "z_new.c": _lines(40, 1)},
    )
    assert "similarity index 100%" in text
    stats = _stats(text)
    assert sorted(stats) == ["a.c", "z_new.c"]
    assert (stats["a.c"].added, stats["a.c"].removed) == (1, 1)
    assert (stats["z_new.c"].old_path, stats["z_new.c"].added) == ("z_old.c", 0)


# Patchwork's 0009-git-rename-with-diff shape: the modified file's hunk header counts one line
# more than it holds, so a count-driven reader swallows the next `diff --git` line and credits
# the first file's lines to the rename that follows (2 renamed files became 1).
SHORT_HUNK = (
    "From: A <a@example.com>\n"
    "Subject: [PATCH 01/11] package/x: rename patches\n"
    "Message-ID: <short-hunk@example.com>\n"
    "Date: Tue, 8 Oct 2013 22:09:47 +0000\n"
    "\n"
    "Rename patches.\n"
    "---\n"
    "diff --git a/p/x-add.patch b/p/x-000-add.patch\n"
    "similarity index 100%\n"
    "rename from p/x-add.patch\n"
    "rename to p/x-000-add.patch\n"
    "@@ -100,7 +100,7 @@\n"
    " a\n a\n-a\n+b\n c\n c\n c\n"
    "diff --git a/p/x-cmake.patch b/p/x-001-cmake.patch\n"
    "similarity index 100%\n"
    "rename from p/x-cmake.patch\n"
    "rename to p/x-001-cmake.patch\n"
    "-- \n"
    "1.8.1.2\n"
)


def test_rename_after_a_hunk_with_a_wrong_count() -> None:
    stats = _stats(SHORT_HUNK)
    assert sorted(stats) == ["p/x-000-add.patch", "p/x-001-cmake.patch"]
    first, second = stats["p/x-000-add.patch"], stats["p/x-001-cmake.patch"]
    assert (first.old_path, first.added, first.removed) == ("p/x-add.patch", 1, 1)
    assert (second.old_path, second.added, second.removed) == ("p/x-cmake.patch", 0, 0)


def test_binary_literal_and_delta_sizes(tmp_path: Path) -> None:
    rnd = random.Random(7)
    big = b"\0" + bytes(rnd.getrandbits(8) for _ in range(19_999))
    changed = bytearray(big)
    changed[100:110] = b"0123456789"
    changed += b"tail" * 10  # a small change of a large file: git sends a `delta` hunk
    new_file = b"\0" + bytes(rnd.getrandbits(8) for _ in range(299))  # NUL: git sees binary
    text = _format_patch(
        tmp_path,
        {"big.bin": big, "t.txt": b"x\n"},
        {"big.bin": bytes(changed), "t.txt": b"y\n", "new.bin": new_file},
    )
    assert "GIT binary patch\ndelta " in text and "GIT binary patch\nliteral 300" in text
    stats = _stats(text)
    assert sorted(stats) == ["big.bin", "new.bin", "t.txt"]
    assert stats["big.bin"].binary and stats["big.bin"].binary_size == len(changed)
    assert stats["new.bin"].binary and stats["new.bin"].binary_size == 300
    assert not stats["t.txt"].binary and stats["t.txt"].binary_size is None


def test_binary_deleted_file_size_is_zero(tmp_path: Path) -> None:
    text = _format_patch(tmp_path, {"gone.bin": bytes(range(256)) * 4}, {"gone.bin": None})
    stats = _stats(text)
    assert list(stats) == ["gone.bin"]
    assert stats["gone.bin"].binary and stats["gone.bin"].binary_size == 0


# Patchwork's 0027-git-modify-binary-file shape: `diff --git` without a/ b/ prefixes and no
# ---/+++ lines, so only the `diff --git` line names the file.
NO_PREFIX_BINARY = (
    "diff --git pixel.bmp pixel.bmp\n"
    "index 9710347a13c4336e7dbaafa69af0e44a40c21172..e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    " 100644\n"
    "GIT binary patch\n"
    "literal 0\n"
    "HcmV?d00001\n"
    "\n"
    "literal 142\n"
    "zcmZ?r?PGv|E+AC{#Eft(0hV9^lFE7z3>E+r{}~t{2+VVG4=P5;5yxUeQzj#`nE?RC\n"
    "Ceh3`^\n"
    "\n"
)


def test_binary_patch_without_prefixes_counts() -> None:
    _body, diff = split_diff("Make changes.\n---\n\n" + NO_PREFIX_BINARY + "-- \n2.35.3\n")
    assert diff == NO_PREFIX_BINARY
    (st,) = file_stats(diff)
    assert (st.path, st.old_path, st.binary, st.binary_size) == ("pixel.bmp", None, True, 0)


def test_binary_files_differ_names_the_file() -> None:
    # `diff --git` names with " b/" inside cannot be split; the `Binary files` line can.
    d = (
        "diff --git a/x b/y.bin b/x b/y.bin\n"
        "index 1..2 100644\n"
        "Binary files a/x b/y.bin and b/x b/y.bin differ\n"
    )
    (st,) = file_stats(d)
    assert (st.path, st.binary, st.binary_size) == ("x b/y.bin", True, None)


def test_unreadable_delta_leaves_the_size_unknown() -> None:
    d = "diff --git a/b.bin b/b.bin\nindex 1..2 100644\nGIT binary patch\ndelta 5\n!!!!\n\n"
    (st,) = file_stats(d)
    assert st.binary and st.binary_size is None
