"""Tests for patchlens.mail.diff: finding the diff in mail text and counting its lines."""

from __future__ import annotations

from patchlens.mail.diff import FileStat, file_stats, find_diff, split_diff

ONE = (
    "diff --git a/f.c b/f.c\n"
    "index 1111111..2222222 100644\n"
    "--- a/f.c\n"
    "+++ b/f.c\n"
    "@@ -1,3 +1,3 @@ int main(void)\n"
    " a\n"
    "-b\n"
    "+c\n"
    " d\n"
)

SIG = "-- \n2.39.0\n"


def test_find_diff_offsets() -> None:
    text = "Fix it.\n---\n f.c | 2 +-\n\n" + ONE + SIG
    start = text.index("diff --git")
    assert find_diff(text) == (start, start + len(ONE))
    assert find_diff(text, start + len(ONE)) is None
    # From inside a diff, the rest of it (--- / +++ / @@) is a bare diff of its own.
    assert find_diff(text, start + 1) == (text.index("--- a/f.c"), start + len(ONE))
    assert find_diff("no diff here\n--- not one\n") is None


def test_signature_after_last_hunk_is_not_in_the_diff() -> None:
    text = "msg\n---\n" + ONE + SIG
    body, diff = split_diff(text)
    assert diff == ONE
    assert body == "msg\n---\n" + SIG


def test_signature_after_hunk_ending_in_removed_line() -> None:
    d = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,2 +1 @@\n a\n-b\n"
    body, diff = split_diff(d + SIG)
    assert diff == d
    assert body == SIG


def test_blank_context_line_with_stripped_space_stays_in_the_hunk() -> None:
    d = (
        "diff --git a/f b/f\n--- a/f\n+++ b/f\n"
        "@@ -1,5 +1,5 @@\n"
        " a\n"
        "\n"  # was " \n" before the mailer stripped trailing whitespace
        "-b\n"
        "+c\n"
        "\n"
        " d\n"
    )
    body, diff = split_diff("msg\n---\n" + d + SIG)
    assert diff == d
    assert body == "msg\n---\n" + SIG
    assert file_stats(diff) == [FileStat("f", None, 1, 1, False)]


def test_stripped_blank_line_as_last_context_line() -> None:
    d = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n+b\n\n"
    body, diff = split_diff(d + SIG)
    assert diff == d
    assert body == SIG


def test_two_files_and_text_around() -> None:
    d = (
        "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
        "diff --git a/y b/y\nnew file mode 100644\nindex 0000000..1111111\n"
        "--- /dev/null\n+++ b/y\n@@ -0,0 +1,2 @@\n+1\n+2\n"
    )
    text = "Before the diff.\n\n" + d + "\nThanks,\nSomeone\n"
    body, diff = split_diff(text)
    assert diff == d
    assert body == "Before the diff.\n\n\nThanks,\nSomeone\n"
    assert file_stats(diff) == [
        FileStat("x", None, 1, 1, False),
        FileStat("y", None, 2, 0, False),
    ]


def test_no_newline_at_end_of_file_markers() -> None:
    d = (
        "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n"
        "\\ No newline at end of file\n+b\n\\ No newline at end of file\n"
    )
    body, diff = split_diff(d + "bye\n")
    assert diff == d
    assert body == "bye\n"
    assert file_stats(diff) == [FileStat("f", None, 1, 1, False)]


def test_git_binary_patch_block() -> None:
    d = (
        "diff --git a/img.png b/img.png\n"
        "new file mode 100644\n"
        "index 0000000000..1111111111\n"
        "GIT binary patch\n"
        "literal 12\n"
        "TcmZ?wbhEHbRA5kGU|;|M0T2KH\n"
        "\n"
        "literal 0\n"
        "HcmV?d00001\n"
        "\n"
    )
    text = "Add an image.\n---\n img.png | Bin 0 -> 12 bytes\n\n" + d + SIG
    body, diff = split_diff(text)
    assert diff == d
    assert body == "Add an image.\n---\n img.png | Bin 0 -> 12 bytes\n\n" + SIG
    assert file_stats(diff) == [FileStat("img.png", None, 0, 0, True)]


def test_binary_then_text_file() -> None:
    d = (
        "diff --git a/b.bin b/b.bin\n"
        "index 1..2 100644\n"
        "GIT binary patch\n"
        "delta 5\n"
        "McmZ?wbhEHb0000\n"
        "\n"
        "delta 5\n"
        "McmZ?wbhEHb0000\n"
        "\n"
        "diff --git a/t.txt b/t.txt\n--- a/t.txt\n+++ b/t.txt\n@@ -1 +1,2 @@\n x\n+y\n"
    )
    _body, diff = split_diff(d + SIG)
    assert diff == d
    assert file_stats(diff) == [
        FileStat("b.bin", None, 0, 0, True),
        FileStat("t.txt", None, 1, 0, False),
    ]


def test_binary_files_differ_line() -> None:
    d = "diff --git a/x.bin b/x.bin\nindex 1..2 100644\nBinary files a/x.bin and b/x.bin differ\n"
    assert split_diff(d) == ("", d)
    assert file_stats(d) == [FileStat("x.bin", None, 0, 0, True)]


def test_bare_unified_diff_without_diff_line() -> None:
    d = (
        "--- a/x.c\n+++ b/x.c\n@@ -1,2 +1,2 @@\n-a\n+b\n c\n"
        "--- a/y.c\n+++ b/y.c\n@@ -5 +5,2 @@\n-q\n+r\n+s\n"
    )
    text = "Here is a fix:\n\n" + d + "\nCheers\n"
    body, diff = split_diff(text)
    assert diff == d
    assert body == "Here is a fix:\n\n\nCheers\n"
    assert file_stats(diff) == [
        FileStat("x.c", None, 1, 1, False),
        FileStat("y.c", None, 2, 1, False),
    ]


def test_diff_u_with_timestamps() -> None:
    d = "diff -urN a/f b/f\n--- a/f\t2001-01-01 00:00:00\n+++ b/f\t2001-01-02 00:00:00\n"
    d += "@@ -1 +1 @@\n-a\n+b\n"
    assert split_diff(d) == ("", d)
    assert file_stats(d) == [FileStat("f", None, 1, 1, False)]


def test_bare_new_file_from_dev_null() -> None:
    d = "--- /dev/null\n+++ b/new.c\n@@ -0,0 +1,3 @@\n+1\n+2\n+3\n"
    assert split_diff(d) == ("", d)
    assert file_stats(d) == [FileStat("new.c", None, 3, 0, False)]


def test_quoted_diffs_are_ignored() -> None:
    quoted = "".join("> " + line + "\n" for line in ONE.splitlines())
    text = "On Mon, X wrote:\n" + quoted + ">\n> +foo\n\nLooks good.\n"
    assert find_diff(text) is None
    assert split_diff(text) == (text, None)
    nested = "".join(">> " + line + "\n" for line in ONE.splitlines())
    assert split_diff(nested) == (nested, None)


def test_reply_with_quoted_and_own_diff() -> None:
    quoted = "".join("> " + line + "\n" for line in ONE.splitlines())
    own = ONE.replace("+c", "+e")
    text = "On Mon, X wrote:\n" + quoted + "\nBetter:\n\n" + own
    body, diff = split_diff(text)
    assert diff == own
    assert body == "On Mon, X wrote:\n" + quoted + "\nBetter:\n\n"


def test_prose_dashes_are_not_a_diff() -> None:
    text = "--- snip ---\nsome text\n+++ not a header\n--- a/x\nnot +++\n"
    assert split_diff(text) == (text, None)


def test_diff_without_final_newline_gets_one() -> None:
    d = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b"
    body, diff = split_diff("msg\n" + d)
    assert diff == d + "\n"
    assert body == "msg\n"


def test_stray_space_in_hunk_header() -> None:
    d = "--- a/file\n+++ b/file\n@@ -49, 2 +49,3 @@\n a\n+b\n c\n"
    assert split_diff(d + SIG) == (SIG, d)
    assert file_stats(d) == [FileStat("file", None, 1, 0, False)]


def test_several_diffs_in_one_text_are_all_kept() -> None:
    two = ONE.replace("f.c", "g.c")
    text = "From 1 Mon Sep 17 00:00:00 2001\nSubject: one\n\nmsg\n---\n" + ONE + SIG
    text += "\nFrom 2 Mon Sep 17 00:00:00 2001\nSubject: two\n\nmsg\n---\n" + two + SIG
    body, diff = split_diff(text)
    assert diff == ONE + two
    assert "diff --git" not in body
    assert body.count(SIG) == 2


def test_file_stats_renames_and_deletes() -> None:
    d = (
        "diff --git a/old.c b/new.c\n"
        "similarity index 90%\n"
        "rename from old.c\n"
        "rename to new.c\n"
        "index 1..2 100644\n"
        "--- a/old.c\n"
        "+++ b/new.c\n"
        "@@ -1,2 +1,2 @@\n-a\n+b\n c\n"
        "diff --git a/gone.c b/gone.c\n"
        "deleted file mode 100644\n"
        "--- a/gone.c\n"
        "+++ /dev/null\n"
        "@@ -1,2 +0,0 @@\n-x\n-y\n"
        "diff --git a/dir/a b/dir/b\n"
        "similarity index 100%\n"
        "rename from dir/a\n"
        "rename to dir/b\n"
        "diff --git a/s.sh b/s.sh\n"
        "old mode 100644\n"
        "new mode 100755\n"
    )
    assert split_diff(d) == ("", d)
    assert file_stats(d) == [
        FileStat("new.c", "old.c", 1, 1, False),
        FileStat("gone.c", None, 0, 2, False),
        FileStat("dir/b", "dir/a", 0, 0, False),
        FileStat("s.sh", None, 0, 0, False),
    ]


def test_file_stats_counts_lines_that_look_like_headers() -> None:
    # Inside a hunk, "--- x" is a removed line and "+++ y" an added one.
    d = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n--- x\n+++ y\n-diff --git a b\n+z\n"
    assert split_diff(d) == ("", d)
    assert file_stats(d) == [FileStat("f", None, 2, 2, False)]


def test_file_stats_empty() -> None:
    assert file_stats("") == []
    assert file_stats("no diff at all\n") == []


# git's own output for a path with a space (note the tab git appends to ---/+++) and for a
# non-ASCII path, which git C-quotes (core.quotePath).
SPACE_PATH = (
    "diff --git a/with space.c b/with space.c\n"
    "index 7898192..6178079 100644\n"
    "--- a/with space.c\t\n"
    "+++ b/with space.c\t\n"
    "@@ -1 +1 @@\n-a\n+b\n"
)
QUOTED_PATH = (
    'diff --git "a/\\303\\251.txt" "b/\\303\\251.txt"\n'
    "index 7898192..6178079 100644\n"
    '--- "a/\\303\\251.txt"\n'
    '+++ "b/\\303\\251.txt"\n'
    "@@ -1 +1 @@\n-a\n+b\n"
)


def test_paths_with_space_and_quotes_are_found() -> None:
    assert split_diff(SPACE_PATH) == ("", SPACE_PATH)
    assert split_diff(QUOTED_PATH) == ("", QUOTED_PATH)


def test_file_stats_path_with_space() -> None:
    assert file_stats(SPACE_PATH) == [FileStat("with space.c", None, 1, 1, False)]


def test_file_stats_quoted_path() -> None:
    (st,) = file_stats(QUOTED_PATH)
    assert st.old_path is None
    assert st.path in ("é.txt", "\\303\\251.txt")
    assert (st.added, st.removed, st.binary) == (1, 1, False)
