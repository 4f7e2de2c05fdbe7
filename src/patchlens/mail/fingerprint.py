"""What a diff changes, as a set of line hashes that survive a maintainer's edits.

Only added and removed lines count (context shifts with every rebase), with all white space
removed (re-indentation, tabs), and with their sign, so moving a line in is not taking it
out. Hashes are CRC-32: stable across runs and processes, compact to store.
"""

from __future__ import annotations

import re
import zlib
from array import array
from collections.abc import Collection

from patchlens.mail.limits import hunk_count

_HUNK = re.compile(r"^@@ -\d+(?:,\s*(\d+))? \+\d+(?:,\s*(\d+))? @@")


def changed_lines(diff: str) -> list[str]:
    """The +/- lines of a diff's hunks, white space removed, empty ones dropped.

    Written for speed (it runs over every line of every commit's diff): white space goes
    with str.split, which splits on exactly what `\\s` matches in a str pattern."""
    out: list[str] = []
    add = out.append
    hunk = _HUNK.match
    old = new = 0
    for line in diff.split("\n"):
        if old > 0 or new > 0:
            c = line[:1]
            if c == "+":
                new -= 1
            elif c == "-":
                old -= 1
            elif c != "\\":
                old -= 1
                new -= 1
                continue
            else:
                continue
            text = "".join(line[1:].split())
            if text:
                add(c + text)
            continue
        if line.startswith("@@"):
            m = hunk(line)
            if m:
                old = hunk_count(m.group(1))
                new = hunk_count(m.group(2))
    return out


def fingerprint(diff: str | None) -> frozenset[int]:
    if not diff:
        return frozenset()
    crc32 = zlib.crc32
    return frozenset(
        [crc32(line.encode("utf-8", "surrogateescape")) for line in changed_lines(diff)]
    )


def pack(hashes: frozenset[int]) -> bytes:
    return array("I", sorted(hashes)).tobytes()


def unpack_packed(data: bytes) -> array:
    """The stored hashes as they are stored (sorted, distinct, 4 bytes each): for a reader
    that keeps many mails and only hands their hashes on (a frozenset costs ~10x more)."""
    a = array("I")
    a.frombytes(data)
    return a


def unpack(data: bytes) -> frozenset[int]:
    a = array("I")
    a.frombytes(data)
    return frozenset(a)


def similarity(a: Collection[int], b: frozenset[int]) -> float:
    """Dice coefficient: 1 for the same change, ~0 for unrelated ones. `a` may be packed
    (an array of distinct hashes): it is only iterated, never made a set."""
    if not a or not b:
        return 0.0
    return 2 * len(b.intersection(a)) / (len(a) + len(b))
