"""A tree robot's note that a patch went into a branch: Greg Kroah-Hartman's 'patch "x" added
to usb-testing' for the trees he keeps (usb, tty, staging, char-misc, driver-core). It names
the patch's subject and carries the patch itself (its author's `From:` line, its `Link:` back
to the posting), so it says which posting was taken, and by whom, as a pull request's
shortlog does. A stable tree's note ('Patch "x" has been added to the 6.1-stable tree') is a
backport of work merged long before: not the merge of a series under review. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NOTE = re.compile(r'(?is)^\s*patch\s+"(?P<title>.+)"\s+added\s+to\s+(?P<branch>[\w.+/-]+)\s*$')
# The patch it carries begins as `git format-patch` writes it: "From <sha> Mon Sep 17 ...".
_CARRIED = re.compile(r"(?m)^From [0-9a-f]{7,40} ")
_AUTHOR = re.compile(r"(?m)^From:\s*(?P<name>[^<\n]*?)\s*<[^<>\s]+@[^<>\s]+>\s*$")
_POINTER = re.compile(r"(?im)^(?P<key>link|message-id):[ \t]*(?P<value>\S[^\n]*?)\s*$")


@dataclass(frozen=True, slots=True)
class TreeNote:
    title: str  # the patch's subject, as the note quotes it
    branch: str  # the branch it went to ("usb-testing")
    author: str  # the carried patch's author, by name ("" when it carries none)
    pointers: tuple[tuple[str, str], ...]  # its Link:/Message-ID: trailers (key, value)


def note_branch(subject: str) -> str | None:
    """The branch a tree robot's note says a patch went to, or None: not such a note, or a
    stable tree's."""
    m = _NOTE.match(subject)
    if m is None or "stable" in m["branch"].lower():
        return None
    return m["branch"]


def tree_note(subject: str, body: str) -> TreeNote | None:
    """What a tree robot's note says (see the module), or None."""
    branch = note_branch(subject)
    if branch is None:
        return None
    m = _NOTE.match(subject)
    assert m is not None
    carried = _CARRIED.search(body)
    patch = body[carried.start() :] if carried else ""
    author = _AUTHOR.search(patch)
    name = author["name"].strip(" '\"") if author else ""
    pointers = tuple((p["key"], p["value"]) for p in _POINTER.finditer(patch))
    return TreeNote(m["title"].strip(), branch, name, pointers)
