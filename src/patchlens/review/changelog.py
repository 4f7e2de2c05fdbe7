"""The author's notes of what changed between versions, as written in a posting. Pure.

Authors keep a changelog in the cover letter or below a patch's `---` line, in a handful of
shapes: "Changes since v2:", "Changes in V3:", "v2 -> v3:", "V3:", "Since v1:", "Changelog:",
b4's "Changes in v3:" with "- Link to v2: ..." items, and one-line notes ("v2: rebased").
A note starts at such a header and runs over the lines that follow it, until a blank line
that no further item follows, a diffstat, a shortlog ("Name (3):"), `base-commit:` or the
diff. Nothing here interprets the items: they are shown as the author wrote them (escaped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_NOTES = 20
MAX_LINES = 200  # per message: a pasted log cannot fill the page

_VERSION = r"v(?:ersion)?\s*\d+"
_RANGE = rf"{_VERSION}(?:\s*(?:->|=>|→|-|to|\.\.)\s*v?(?:ersion)?\s*\d+)?"
_HEADER = re.compile(
    r"^[ \t]*(?:[-*#]+[ \t]*)?("
    rf"(?:changes?|changelog|change\s+log|changed|revisions?|history)"
    rf"(?:\s+(?:since|from|in|for|to|between|compared\s+to|vs\.?)\s+{_RANGE}"
    rf"(?:\s+(?:and|to|->)\s+{_RANGE})?|\s+{_RANGE})?"
    rf"|since\s+{_RANGE}|{_RANGE}"
    r")[ \t]*(?:\([^()\n]{0,80}\))?[ \t]*:[ \t]*(.*)$",
    re.I,
)
# Where a note ends for good: a diffstat line, its summary, a shortlog header, the diff, the
# `---` separator, a signature, base-commit/change-id footers.
_END = re.compile(
    r"^(?:\s\S.*\|\s+(?:\d+\s*[+-]*|Bin\b.*)$|\s*\d+ files? changed"
    r"|\S.*\(\d+\):$|diff --git |---\s*$|-- $|base-commit:|change-id:|prerequisite-)"
)
_ITEM = re.compile(r"^(?:[ \t]+\S|[ \t]*(?:[-*+o•]|\d+[.)]|\[\d+(?:/\d+)?\])\s)")


@dataclass(frozen=True, slots=True)
class Note:
    """One changelog entry: the header as written ("Changes since v2") and its lines."""

    header: str
    lines: tuple[str, ...]


def _until_diff(body: str) -> list[str]:
    lines = body.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("diff --git ") or line.startswith("Index: "):
            return lines[:i]
    return lines


def changelog(body: str) -> list[Note]:
    """The changelog notes in a cover letter or a patch (its text, the diff apart)."""
    lines = _until_diff(body)
    notes: list[Note] = []
    total = 0
    i = 0
    while i < len(lines) and len(notes) < MAX_NOTES and total < MAX_LINES:
        m = _HEADER.match(lines[i])
        if not m or lines[i].startswith(">"):
            i += 1
            continue
        header = " ".join(m.group(1).split())
        items = [m.group(2).rstrip()] if m.group(2).strip() else []
        i += 1
        while i < len(lines) and total + len(items) < MAX_LINES:
            line = lines[i].rstrip()
            if _END.match(line) or _HEADER.match(line):
                break
            if not line.strip():
                # A blank line ends the note unless another item of it follows.
                j = i + 1
                while j < len(lines) and not lines[j].strip():
                    j += 1
                if j < len(lines) and _ITEM.match(lines[j]) and not _END.match(lines[j]):
                    i = j
                    continue
                break
            items.append(line)
            i += 1
        if items:
            notes.append(Note(header, tuple(items)))
            total += len(items)
    return notes
