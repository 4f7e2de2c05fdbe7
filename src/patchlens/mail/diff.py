"""Finding a unified diff inside mail text, the way `git am` would, and counting its lines.

Only unquoted diffs count: a reply that quotes a patch (`> +foo`) carries no patch. Hunks are
followed by their header counts, so the `-- ` signature that format-patch appends after the
last hunk is not taken for a removed line.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from patchlens.mail.limits import hunk_count

# Tolerates the stray spaces some mailers and hand edits leave ("@@ -49, 7 +49,34 @@").
_HUNK = re.compile(r"^@@ -\d+(?:,\s*(\d+))? \+\d+(?:,\s*(\d+))? @@")
# Lines of a file header between `diff --git` and the first hunk.
_EXT_HEADERS = (
    "index ",
    "old mode ",
    "new mode ",
    "deleted file mode ",
    "new file mode ",
    "similarity index ",
    "dissimilarity index ",
    "rename from ",
    "rename to ",
    "copy from ",
    "copy to ",
    "Binary files ",
    "GIT binary patch",
)
_B85_LINE = re.compile(r"^[A-Za-z][0-9A-Za-z!#$%&()*+;<=>?@^_`{|}~-]+$")


@dataclass(frozen=True, slots=True)
class FileStat:
    path: str
    old_path: str | None
    added: int
    removed: int
    binary: bool
    # For a `GIT binary patch`: the size in bytes of the file after the patch, read from its
    # forward hunk (`literal N` says it; a `delta` hunk carries it in its header). None when
    # the diff does not say (a text file, "Binary files ... differ", an unreadable delta).
    # Not compared: two stats of the same change are equal whether or not a size was read.
    binary_size: int | None = field(default=None, compare=False)


def _starts_diff(lines: list[str], i: int) -> bool:
    line = lines[i]
    if line.startswith("diff --git ") or line.startswith("diff -"):
        return True
    # A bare unified diff (no `diff` line): --- / +++ / @@
    return (
        line.startswith("--- ")
        and i + 2 < len(lines)
        and lines[i + 1].startswith("+++ ")
        and lines[i + 2].startswith("@@ -")
    )


_CANDIDATE = re.compile(r"^(?:diff -|--- \S)", re.M)


def find_diff(text: str, start: int = 0) -> tuple[int, int] | None:
    """(start, end) character offsets of the first unquoted diff at or after `start`."""
    return next(_diff_spans(text, start), None)


def _diff_spans(text: str, start: int = 0) -> Iterator[tuple[int, int]]:
    """(start, end) offsets of every unquoted diff at or after `start`, in order.

    The text is split into lines once: splitting the rest of the text again for each diff
    was quadratic in the number of diffs (4,000 diffs between text lines took 1.4 s).
    """
    lines: list[str] | None = None
    starts: list[int] = []
    resume = start
    for m in _CANDIDATE.finditer(text, start):
        pos = m.start()
        if pos < resume:
            continue  # inside the diff found last
        head = text[pos : pos + 4096].split("\n", 3)
        if not _starts_diff(head, 0):
            continue
        if lines is None:
            lines = text.split("\n")
            starts = list(itertools.accumulate((len(line) + 1 for line in lines), initial=0))
        first = bisect.bisect_left(starts, pos)
        k = _diff_end(lines, first)
        end = starts[k] if k < len(lines) else len(text)
        yield pos, min(end, len(text))
        resume = max(end, pos + 1)


def _diff_end(lines: list[str], i: int) -> int:
    """Index of the first line after the diff that starts at i."""
    n = len(lines)
    end = i
    in_binary = _BinaryBlock(lines, i)
    while i < n:
        line = lines[i].rstrip("\r")
        m = _HUNK.match(line)
        if m:
            old = hunk_count(m.group(1))
            new = hunk_count(m.group(2))
            i += 1
            while i < n and (old > 0 or new > 0):
                c = lines[i][:1]
                if c == "-":
                    old -= 1
                elif c == "+":
                    new -= 1
                elif c in (" ", "", "\r"):
                    # Mailers often strip the space of an empty context line.
                    old -= 1
                    new -= 1
                elif c != "\\":
                    break
                i += 1
            if i < n and lines[i].startswith("\\ "):
                i += 1
            end = i
            continue
        if (
            line.startswith("diff ")
            or line.startswith("--- ")
            or line.startswith("+++ ")
            or line.startswith(_EXT_HEADERS)
            or line.startswith(("literal ", "delta "))
            or (line and _B85_LINE.match(line) and in_binary(i))
        ):
            i += 1
            end = i
            continue
        if line == "" and in_binary(i):
            i += 1
            end = i
            continue
        break
    return end


class _BinaryBlock:
    """Whether line i sits in a `GIT binary patch` block (base85 lines and blank separators).

    Asked for growing i, it reads each line once: walking back from every base85 line to the
    block's start was quadratic (a 20,000-line binary patch took 105 s).
    """

    __slots__ = ("at", "lines", "lo", "pos")

    def __init__(self, lines: list[str], lo: int) -> None:
        self.lines = lines
        self.lo = lo  # lines before the diff's first line are not looked at
        self.pos = lo  # lines[lo:pos] have been read
        self.at = -1  # index of the `GIT binary patch` line of the open block, or -1

    def __call__(self, i: int) -> bool:
        lines = self.lines
        for j in range(self.pos, i):
            line = lines[j]
            if line.startswith("GIT binary patch"):
                self.at = j
            elif not (
                line.startswith(("literal ", "delta ")) or line == "" or _B85_LINE.match(line)
            ):
                self.at = -1
        self.pos = max(self.pos, i)
        # The walk back it replaces stopped after 100,000 lines.
        return self.at != -1 and self.at > i - 100000


def split_diff(text: str) -> tuple[str, str | None]:
    """(text without its diffs, the diffs) — diffs keep their lines exactly as sent.

    A mail usually has one diff; an attached mbox of a series has several, all kept.
    """
    spans = []
    for span in _diff_spans(text):
        spans.append(span)
        if span[1] >= len(text):
            break
    if not spans:
        return text, None
    diffs = []
    rest = []
    prev = 0
    for start, end in spans:
        rest.append(text[prev:start])
        d = text[start:end]
        diffs.append(d if d.endswith("\n") else d + "\n")
        prev = end
    rest.append(text[prev:])
    return "".join(rest), "".join(diffs)


_OCTAL = re.compile(r"\\([0-7]{3}|.)")
_C_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f"}


def unquote_path(path: str) -> str:
    """A path as git prints it: C-quoted ("a/\\303\\251.txt") when it has odd bytes."""
    if len(path) < 2 or not (path.startswith('"') and path.endswith('"')):
        return path
    raw = bytearray()
    body = path[1:-1]
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1 : i + 4]
            # At most \377: a path in mail may carry "\777", which is no byte.
            if len(nxt) == 3 and nxt[0] in "0123" and all(ch in "01234567" for ch in nxt):
                raw.append(int(nxt, 8))
                i += 4
                continue
            raw.extend(_C_ESCAPES.get(body[i + 1], body[i + 1]).encode("utf-8", "surrogatepass"))
            i += 2
            continue
        raw.extend(c.encode("utf-8", "surrogatepass"))
        i += 1
    return raw.decode("utf-8", "replace")


def _strip_prefix(path: str, prefix: str) -> str:
    path = unquote_path(path)
    return path[2:] if path.startswith(prefix) else path


def _header_path(line: str) -> str:
    """The path of a `--- a/x` / `+++ b/x` line: git ends it with a tab when it has spaces."""
    text = line[4:]
    if text.startswith('"'):
        end = text.find('"', 1)
        while end > 0 and text[end - 1] == "\\":
            end = text.find('"', end + 1)
        return text[: end + 1] if end > 0 else text
    return text.split("\t")[0].rstrip("\r") if "\t" in text else text.rstrip()


def _diff_git_paths(line: str) -> tuple[str | None, str | None]:
    """(old, new) from `diff --git a/P b/Q`; exact when P == Q, even with spaces in P.

    Also without prefixes (`diff --git P P`, from `--no-prefix`), which git writes for
    binary files too: the file would otherwise be lost, as nothing else names it."""
    rest = line[len("diff --git ") :]
    if rest.startswith('"') or rest.endswith('"'):
        parts = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', rest)
        if len(parts) == 2:
            return _strip_prefix(parts[0], "a/"), _strip_prefix(parts[1], "b/")
        return None, None
    n = len(rest)
    if n % 2 == 1:
        half = (n - 1) // 2
        a, b = rest[:half], rest[half + 1 :]
        if a.startswith("a/") and b.startswith("b/") and a[2:] == b[2:]:
            return a[2:], b[2:]
        if a == b and a:
            return a, b
    if " b/" in rest:
        a, b = rest.split(" b/", 1)
        return _strip_prefix(a, "a/"), b
    return None, None


_BINARY_FILES = re.compile(r"^Binary files (.+) and (.+) differ$")
# Git's base85 line: a length character (A-Z = 1..26, a-z = 27..52 bytes), then the data.
_B85_LEN = {c: i + 1 for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")}


def _delta_target_size(lines: list[str]) -> int | None:
    """The result size a git binary `delta` hunk declares (its header's second varint).

    The hunk is zlib data in git's base85 (the RFC 1924 alphabet that `base64.b85decode`
    reads); the delta starts with two little-endian base-128 varints, source size then
    target size. Only the first lines are decoded: the header sits in the first bytes."""
    raw = bytearray()
    for line in lines[:8]:
        n = _B85_LEN.get(line[:1])
        if n is None:
            break
        try:
            raw += base64.b85decode(line[1:])[:n]
        except ValueError:
            return None
    try:
        data = zlib.decompressobj().decompress(bytes(raw), 32)
    except zlib.error:
        return None
    sizes = []
    pos = 0
    for _ in range(2):
        value = shift = 0
        while True:
            if pos >= len(data):
                return None
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        sizes.append(value)
    return sizes[1]


def file_stats(diff: str) -> list[FileStat]:
    """Per file: path, old path when renamed, lines added and removed, binary flag and size.

    A hunk ends when its header counts are used up, or earlier at a line that cannot be in a
    hunk (hand-edited patches carry wrong counts): the next `diff --git` must start a file of
    its own, or a pure rename after a modified file would be taken for part of it."""
    stats: list[FileStat] = []
    path: str | None = None
    old: str | None = None
    added = removed = 0
    binary = False
    binary_size: int | None = None
    want_size = False  # in a `GIT binary patch`, before its first (forward) hunk
    old_left = new_left = 0  # lines still expected in the current hunk
    in_header = False  # between a `diff` line and its first hunk
    lines = diff.split("\n")

    def flush() -> None:
        if path is not None:
            renamed = old if old != path else None
            stats.append(FileStat(path, renamed, added, removed, binary, binary_size))

    for i, line in enumerate(lines):
        if old_left > 0 or new_left > 0:
            c = line[:1]
            if c == "+":
                added += 1
                new_left -= 1
                continue
            if c == "-":
                removed += 1
                old_left -= 1
                continue
            if c in (" ", "", "\r"):
                # Mailers often strip the space of an empty context line.
                old_left -= 1
                new_left -= 1
                continue
            if c == "\\":
                continue
            old_left = new_left = 0  # the counts were wrong: this line is no hunk line
        if line.startswith("@@ "):
            m = _HUNK.match(line)
            if m:
                old_left = hunk_count(m.group(1))
                new_left = hunk_count(m.group(2))
                in_header = False
        elif line.startswith("diff "):
            flush()
            old, path = _diff_git_paths(line) if line.startswith("diff --git ") else (None, None)
            added = removed = 0
            binary = want_size = False
            binary_size = None
            in_header = True
        elif line.startswith("--- "):
            if not in_header:
                # A bare unified diff has no `diff` line: each `---` outside a header starts
                # a file.
                flush()
                path, added, removed, binary, in_header = None, 0, 0, False, True
            src = _header_path(line)
            if src != "/dev/null":
                old = _strip_prefix(src, "a/")
        elif line.startswith("+++ "):
            dst = _header_path(line)
            if dst != "/dev/null":
                path = _strip_prefix(dst, "b/")
            elif path is None:
                path = old
        elif line.startswith("GIT binary patch"):
            binary = want_size = True
        elif want_size and line.startswith(("literal ", "delta ")):
            want_size = False
            kind, _, size = line.partition(" ")
            size = size.strip()
            if kind == "literal" and size.isascii() and size.isdigit():
                # None when int() refuses it (more than 4,300 digits): not a size git wrote.
                # ASCII digits only: "²" is a digit to isdigit() and not to int().
                binary_size = int(size) if len(size) <= 4300 else None
            elif kind == "delta":
                binary_size = _delta_target_size(lines[i + 1 : i + 9])
        elif line.startswith("Binary files "):
            binary = True
            m = _BINARY_FILES.match(line.rstrip("\r"))
            if m and path is None:
                # `diff --git` names that cannot be split: the `Binary files` line names them.
                src, dst = m.group(1), m.group(2)
                if src != "/dev/null":
                    old = _strip_prefix(src, "a/")
                path = _strip_prefix(dst, "b/") if dst != "/dev/null" else old
        elif line.startswith("rename from "):
            old = unquote_path(line[12:])
        elif line.startswith("rename to "):
            path = unquote_path(line[10:])
    flush()
    return stats
