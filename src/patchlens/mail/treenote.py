"""A robot's note that patches went into a tree, read as a notice of those patches (as a pull
request's shortlog is, stages/pulled.py). Two forms:

- Greg Kroah-Hartman's for the trees he keeps (usb, tty, staging, char-misc, driver-core):
  'patch "x" added to usb-testing'. It carries the patch itself: its author's `From:` line
  and its `Link:` back to the posting. A stable tree's note ('Patch "x" has been added to the
  6.1-stable tree') is a backport of work merged long before: not the merge of a series under
  review.
- Mark Brown's for his (spi, regmap, regulator, ASoC): 'Applied "x" to the spi tree', the
  same patch carried the same way.
- GitHub's push notification to a list ('[bluez/bluez] 8fb8f9: gatt: ...', from
  noreply@github.com): every commit pushed, with its author and its subject. Only a push to
  the repository's main branch (master, main) is a merge: BlueZ's CI robot pushes each
  series under test to a branch of its own.

Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NOTE = re.compile(
    r'(?is)^\s*(?:patch\s+"(?P<title>.+)"\s+added\s+to\s+(?P<branch>[\w.+/-]+)'
    # Mark Brown's, with whatever follows "tree" ("... to the spi tree (for-5.5)").
    r'|applied\s+"(?P<title2>.+)"\s+to\s+the\s+(?P<branch2>[\w.+/-]+)\s+tree(?:\W.*)?)\s*$'
)
# The patch it carries begins as `git format-patch` writes it: "From <sha> Mon Sep 17 ...".
_CARRIED = re.compile(r"(?m)^From [0-9a-f]{7,40} ")
_AUTHOR = re.compile(r"(?m)^From:\s*(?P<name>[^<\n]*?)\s*<[^<>\s]+@[^<>\s]+>\s*$")
_POINTER = re.compile(r"(?im)^(?P<key>link|message-id):[ \t]*(?P<value>\S[^\n]*?)\s*$")

GITHUB_SENDER = "noreply@github.com"
_GITHUB_SUBJECT = re.compile(r"^\s*\[(?P<repo>[\w.-]+/[\w.-]+)\](?:\s|$)")
_GITHUB_BRANCH = re.compile(r"(?m)^\s*Branch:\s*refs/heads/(?P<branch>\S+)\s*$")
_MAIN_BRANCHES = frozenset(("master", "main"))
_GITHUB_COMMIT = re.compile(
    r"(?ms)^\s*Commit:\s*[0-9a-f]{7,40}\s*$.*?^\s*Author:\s*(?P<name>[^<\n]*?)\s*<[^>\n]*>"
    r".*?^\s*Log Message:\s*\n\s*-{3,}\s*\n\s*(?P<subject>[^\n]*\S)"
)


@dataclass(frozen=True, slots=True)
class TreeNote:
    tree: str  # where the patches went: a branch ("usb-testing") or a repository ("bluez/bluez")
    patches: tuple[tuple[str, str], ...]  # (subject, its author's name; "" when unsaid)
    pointers: tuple[tuple[str, str], ...]  # Link:/Message-ID: trailers carried (key, value)


def note_tree(subject: str, sender: str) -> str | None:
    """Where a robot's note says patches went (see the module), or None: not such a note, a
    stable tree's, or a push to a branch other than the main one (which the body says: None
    is not told apart here from a push to the main branch; `tree_note` reads it)."""
    m = _NOTE.match(subject)
    if m is not None:
        branch = m["branch"] or m["branch2"]
        return None if "stable" in branch.lower() else branch
    if sender.lower() == GITHUB_SENDER and (g := _GITHUB_SUBJECT.match(subject)):
        return g["repo"]
    return None


def tree_note(subject: str, sender: str, body: str) -> TreeNote | None:
    """What a robot's note says (see the module), or None."""
    tree = note_tree(subject, sender)
    if tree is None:
        return None
    if m := _NOTE.match(subject):
        carried = _CARRIED.search(body)
        patch = body[carried.start() :] if carried else ""
        author = _AUTHOR.search(patch)
        name = author["name"].strip(" '\"") if author else ""
        pointers = tuple((p["key"], p["value"]) for p in _POINTER.finditer(patch))
        return TreeNote(tree, (((m["title"] or m["title2"]).strip(), name),), pointers)
    branch = _GITHUB_BRANCH.search(body)
    if branch is None or branch["branch"] not in _MAIN_BRANCHES:
        return None
    commits = tuple(
        (c["subject"].strip(), c["name"].strip(" '\"")) for c in _GITHUB_COMMIT.finditer(body)
    )
    return TreeNote(tree, commits, ()) if commits else None
