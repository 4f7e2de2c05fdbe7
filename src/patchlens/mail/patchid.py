"""A pure-Python port of `git patch-id` (git 2.39, builtin/patch-id.c), byte for byte.

Why: a patch posted on a mailing list and the commit that merged it share no identifier, but
they share their diff. `git patch-id --stable` hashes a diff with whitespace and line numbers
left out, so the same change gets the same id whether it was mailed (after a commit message, a
`---` note and a diffstat, before a `-- ` signature) or printed by `git log -p`. Running the git
binary once per message is far too slow for a whole archive, so the algorithm is ported here
and checked against git 2.39.5 on real history (tests/test_patchid.py).

What git does, and so what this does, line by line (a line ends at "\\n"):

- A line that is 40 hex digits, or `commit <40 hex>` or `From <40 hex>` (as printed by
  `git log` and `git format-patch`), starts the next patch: it is what names the commit.
- `\\ No newline at end of file` (any line starting with a backslash and a space that is longer
  than 12 bytes with its newline) is skipped.
- Everything before the first `diff ` line (commit message, notes, diffstat) is skipped.
- In a file header, `index` lines are not hashed, but their pre- and post-image object names are
  kept: a binary file (`GIT binary patch`, `Binary files ... differ`) hashes those two strings
  instead of its content, and the lines that follow, up to the next `diff ` line, are ignored.
- `--- ` starts the counting; the `@@ -a,b +c,d @@` header gives how many old and new lines the
  hunk has (a missing count means 1); its line numbers are not hashed. Once a hunk is complete,
  a line that is neither a hunk header nor `diff ` ends the patch (the `-- ` signature).
- Every other line is hashed with all of git's whitespace (space, tab, CR, LF: git's own
  isspace(), not C's nor Python's) removed. In stable mode every file gets its own SHA-1 and
  the file hashes are added as 160-bit little-endian numbers, so the order of files does not
  matter; in unstable mode the whole patch is one SHA-1.

Choices where git's input is bytes and ours is text:

- The str is encoded as UTF-8 with "surrogateescape" (so text decoded that way from raw bytes
  gets its original bytes back) and each line is hashed as those bytes, as git would.
- "\\r\\n" is read as "\\n": mail is carried with CRLF line ends and git sees the text after a
  mail client stripped the CR. For ordinary diffs this changes nothing (git drops CR as
  whitespace anyway); it only differs from git fed the raw CRLF bytes on a binary file whose
  `index` line has no mode (git would keep the CR in the object name) and on a `\\ ` line
  that is only longer than 12 bytes with its CR.
- A NUL byte ends a line for everything but line splitting, as it does in git's C strings.
- Object names are SHA-1 (40 hex), as `git patch-id` outside a SHA-256 repository.
- A binary file without any `index` line before it in its patch hashes the object names of the
  last `index` line of an earlier patch in the same text, or empty ones. git reads an
  uninitialised stack buffer there, which in practice still holds the previous patch's names;
  git itself never writes such a diff.
"""

from __future__ import annotations

import re
from hashlib import sha1

__all__ = ["patch_id", "patch_ids"]

_ZERO_OID = "0" * 40
_MASK160 = (1 << 160) - 1
# git's isspace() (sane_ctype GIT_SPACE): no \v, \f or non-ASCII spaces, unlike str.split().
_GIT_SPACE = b" \t\n\r"
_ALPHA = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# First bytes of a line that may name the next commit: hex digits, `commit `, `From `.
_OID_FIRST = frozenset(b"0123456789abcdefABCDEF")
_NEXT_OID = re.compile(rb"(?:commit |From )?([0-9a-fA-F]{40})")
_DIGITS = re.compile(rb"[0-9]*")
# C atoi(): leading C-locale spaces, a sign, digits.
_ATOI = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_BACKSLASH, _SPACE, _PLUS, _MINUS = 0x5C, 0x20, 0x2B, 0x2D


def patch_id(diff: str, *, stable: bool = True) -> str | None:
    """Return the patch-id `git patch-id` prints for `diff`, or None where it prints nothing.

    `diff` is one patch: a commit message or mail body may come first, it is skipped as git
    skips it. If the text holds several patches (lines naming commits start new ones, see the
    module docstring), the first id git would print is returned.
    """
    lines, no_newline = _split_lines(diff)
    start, count = 0, len(lines)
    oids = (b"", b"")
    while start < count:
        started, result, _, start, oids = _one_patch(lines, start, no_newline, stable, oids)
        if started:
            return _hex(result)
    return None


def patch_ids(text: str, *, stable: bool = True) -> list[tuple[str, str]]:
    """Return what `git patch-id` prints for `text`: (patch-id, commit) pairs, in order.

    For the output of `git log -p` or a mbox of format-patch mails, where a `commit <sha>` or
    `From <sha>` line names each patch; the commit is forty zeros when no such line came
    before the patch, as in git's output.
    """
    lines, no_newline = _split_lines(text)
    out: list[tuple[str, str]] = []
    commit = _ZERO_OID
    start, count = 0, len(lines)
    oids = (b"", b"")
    while start < count:
        started, result, next_oid, start, oids = _one_patch(lines, start, no_newline, stable, oids)
        if started:
            out.append((_hex(result), commit))
        commit = next_oid or _ZERO_OID
    return out


def _hex(result: int) -> str:
    return result.to_bytes(20, "little").hex()


def _split_lines(text: str) -> tuple[list[bytes], frozenset[int]]:
    """Split into git's lines without their "\\n"; also return the lines that have none.

    git measures some lines with their newline (strlen), so it matters which lines lack one:
    the last line when the text does not end with "\\n", and any line cut at a NUL byte.
    """
    data = text.encode("utf-8", "surrogateescape").replace(b"\r\n", b"\n")
    lines = data.split(b"\n")
    no_newline: set[int] = set()
    if lines[-1]:
        no_newline.add(len(lines) - 1)
    else:
        lines.pop()
    if b"\0" in data:
        for i, line in enumerate(lines):
            cut = line.find(b"\0")
            if cut >= 0:
                lines[i] = line[:cut]
                no_newline.add(i)
    return lines, frozenset(no_newline)


def _one_patch(
    lines: list[bytes],
    i: int,
    no_newline: frozenset[int],
    stable: bool,
    oids: tuple[bytes, bytes],
) -> tuple[bool, int, str | None, int, tuple[bytes, bytes]]:
    """Port of get_one_patchid(): hash one patch starting at line `i`.

    `oids` are the index names left by the previous patch (see the module docstring).
    Returns (whether anything was hashed, the id as a 160-bit little-endian int, the commit
    named by the line that ended the patch or None, the index of the next unread line, the
    index names to pass to the next patch).
    Hashed lines are collected and stripped of whitespace in one pass per file, which gives
    the same SHA-1 as git's line-by-line updates and keeps the per-line work small.
    """
    count = len(lines)
    started = False
    before = after = -1
    is_binary = False
    pre_oid, post_oid = oids
    ctx = sha1()
    pending: list[bytes] = []
    result = 0
    next_oid: str | None = None

    while i < count:
        line = lines[i]
        i += 1
        c = line[0] if line else 0

        if c == _BACKSLASH:
            # `\ No newline at end of file`; strlen() counts the newline.
            if line.startswith(b"\\ ") and len(line) + ((i - 1) not in no_newline) > 12:
                continue
        elif c in _OID_FIRST:
            m = _NEXT_OID.match(line)
            if m:
                next_oid = m.group(1).decode("ascii").lower()
                break

        # Ignore commit comments.
        if not started and not line.startswith(b"diff "):
            continue

        # Parsing diff header?
        if before == -1:
            if line.startswith((b"GIT binary patch", b"Binary files")):
                is_binary = True
                before = 0
                if pending:
                    ctx.update(b"".join(pending).translate(None, _GIT_SPACE))
                    pending.clear()
                ctx.update(pre_oid)
                ctx.update(post_oid)
                if stable:
                    result = (result + int.from_bytes(ctx.digest(), "little")) & _MASK160
                    ctx = sha1()
                continue
            if line.startswith(b"index "):
                pre_oid, post_oid = _index_oids(line, (i - 1) in no_newline, pre_oid, post_oid)
                continue
            if line.startswith(b"--- "):
                before = after = 1
            elif c not in _ALPHA:
                break

        if is_binary:
            if line.startswith(b"diff "):
                is_binary = False
                before = -1
            continue

        # Looking for a valid hunk header?
        if before == 0 and after == 0:
            if line.startswith(b"@@ -"):
                before, after = _scan_hunk_header(line, before, after)
                continue
            # Split at the end of the patch.
            if not line.startswith(b"diff "):
                break
            # Else we're parsing another header.
            if stable:
                if pending:
                    ctx.update(b"".join(pending).translate(None, _GIT_SPACE))
                    pending.clear()
                result = (result + int.from_bytes(ctx.digest(), "little")) & _MASK160
                ctx = sha1()
            before = after = -1

        # Inside a hunk (or a file header).
        if c == _SPACE:
            before -= 1
            after -= 1
        elif c == _MINUS:
            before -= 1
        elif c == _PLUS:
            after -= 1
        pending.append(line)
        started = True

    if pending:
        ctx.update(b"".join(pending).translate(None, _GIT_SPACE))
    result = (result + int.from_bytes(ctx.digest(), "little")) & _MASK160
    return started, result, next_oid, i, (pre_oid, post_oid)


def _index_oids(line: bytes, no_newline: bool, pre: bytes, post: bytes) -> tuple[bytes, bytes]:
    """The pre- and post-image names of `index <pre>..<post>[ <mode>]`, cut as git cuts them.

    Without a mode, git ends the post-image name one byte before the end of the line, which
    is the newline (or the last character of a last line that has none). Names are truncated
    to 64 bytes (GIT_MAX_HEXSZ). Without `..` the previous names stay.
    """
    full = line if no_newline else line + b"\n"
    dots = full.find(b"..")
    if dots < 0:
        return pre, post
    end = full.find(b" ", dots)
    if end < 0:
        end = len(full) - 1
    return full[6:dots][:64], full[dots + 2 : end][:64]


def _scan_hunk_header(line: bytes, before: int, after: int) -> tuple[int, int]:
    """Port of scan_hunk_header(): the old and new line counts of `@@ -a,b +c,d @@`.

    Like git, a count is stored as soon as it is read, even if the header turns out to be
    malformed later; a missing count means 1.
    """
    q = 4
    n = _DIGITS.match(line, q).end() - q
    if line[q + n : q + n + 1] == b",":
        q += n + 1
        before = _atoi(line, q)
        n = _DIGITS.match(line, q).end() - q
    else:
        before = 1
    if n == 0 or line[q + n : q + n + 2] != b" +":
        return before, after
    r = q + n + 2
    n = _DIGITS.match(line, r).end() - r
    if line[r + n : r + n + 1] == b",":
        r += n + 1
        after = _atoi(line, r)
    else:
        after = 1
    return before, after


def _atoi(line: bytes, pos: int) -> int:
    """C atoi() as glibc does it: (int) strtol(), which saturates at the long range."""
    m = _ATOI.match(line, pos)
    if not m:
        return 0
    digits = m.group(1)
    sign = -1 if digits[:1] == b"-" else 1
    digits = digits.lstrip(b"+-").lstrip(b"0")
    # strtol saturates: past 19 digits the value is beyond the long range whatever they are
    # (and int() would refuse more than 4,300 of them).
    value = sign * int(digits or b"0") if len(digits) <= 19 else sign << 63
    value = max(-(1 << 63), min(value, (1 << 63) - 1))
    return ((value + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
