"""A robot's note that patches went into a tree, read as a notice of those patches (as a pull
request's shortlog is, stages/pulled.py). Two forms:

- Greg Kroah-Hartman's for the trees he keeps (usb, tty, staging, char-misc, driver-core):
  'patch "x" added to usb-testing'. It carries the patch itself: its author's `From:` line
  and its `Link:` back to the posting. A stable tree's note ('Patch "x" has been added to the
  6.1-stable tree') is a backport of work merged long before: not the merge of a series under
  review.
- Mark Brown's for his (spi, regmap, regulator, ASoC): 'Applied "x" to the spi tree', the
  same patch carried the same way.
- The tip tree's robots and their kin (tip-bot2, irqchip-bot, thermal-bot: "[tip: x86/urgent]
  x86/foo: fix bar", from "tip-bot2 for A"): "The following commit has been merged into the
  x86/urgent branch of tip:", then the commit with its `Author:` and `Link:` lines. The body
  says it, not the sender: any robot writing so is read.
- GitHub's push notification to a list ('[bluez/bluez] 8fb8f9: gatt: ...', from
  noreply@github.com): every commit pushed, with its author and its subject. Only a push to
  the repository's main branch (master, main) is a merge: BlueZ's CI robot pushes each
  series under test to a branch of its own.
- A maintainer's announcement that a branch moved ("[ANNOUNCE] xfs-linux: for-next updated
  to 625f2cf0ed12", "[ANNOUNCE] xfsprogs for-next updated to ..."), listing the new commits
  as `git shortlog` does, each subject behind its abbreviated hash ("[5be2161f245b] xfs:
  ..."). For a tree whose maintainer says nothing else on the list (xfsprogs), it is the
  only word that a patch went in: on linux-xfs, patches of 314 of 966 series with no notice
  are listed by one.

Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from patchlens.mail.headers import decode_header, parse_address
from patchlens.mail.shortlog import shortlog_subjects

_NOTE = re.compile(
    r'(?is)^\s*(?:patch\s+"(?P<title>.+)"\s+added\s+to\s+(?P<branch>[\w.+/-]+)'
    # Mark Brown's, with whatever follows "tree" ("... to the spi tree (for-5.5)").
    r'|applied\s+"(?P<title2>.+)"\s+to\s+the\s+(?P<branch2>[\w.+/-]+)\s+tree(?:\W.*)?)\s*$'
)
# The patch it carries begins as `git format-patch` writes it: "From <sha> Mon Sep 17 ...".
_CARRIED = re.compile(r"(?m)^From [0-9a-f]{7,40} ")
# The line naming a carried patch's author: "From:" in a patch, "Author:" in a tip note, with
# the lines it is folded onto ("From: =?UTF-8?q?...?=\n <a@b>").
_AUTHOR_LINE = {
    field: re.compile(rf"(?m)^{field}:[ \t]*(?P<value>\S[^\n]*(?:\n[ \t]+\S[^\n]*)*)")
    for field in ("From", "Author")
}
_FOLD = re.compile(r"\n[ \t]+")
_POINTER = re.compile(r"(?im)^(?P<key>link|message-id):[ \t]*(?P<value>\S[^\n]*?)\s*$")

# "[tip: x86/urgent] x86/foo: fix bar", and the body's first line saying the commit was merged.
_COMMIT_SUBJECT = re.compile(r"^\s*\[(?P<tree>[\w.+-]+:\s*[\w.+/-]+)\]\s+(?P<title>\S.*)$", re.S)
_COMMIT_MERGED = re.compile(
    r"\A\s*The following commit has been merged into the [\w.+/-]+ branch of [\w.+/-]+:"
)

# A list's tags before a subject ("[alsa-devel] Applied \"x\" to the asoc tree": 1,611 of Mark
# Brown's notes on alsa-devel carry it).
_LIST_TAGS = re.compile(r"^\s*(?:\[[^\[\]]*\]\s*)+")

# "[ANNOUNCE] xfs-linux: for-next updated to 625f2cf0ed12", "[ANNOUNCE] xfs: for-next tree
# updated to ...": the repository, its branch; and each listed subject's hash.
_ANNOUNCE = re.compile(
    r"(?i)^\s*\[ANNOUNCE\]\s+(?P<repo>[\w.+-]+):?\s+(?:branch\s+)?(?P<branch>[\w.+/-]+)\s+"
    r"(?:tree\s+|branch\s+)?(?:has\s+been\s+)?(?:updated|rebased)\b"
)
# A release's own commit among those listed ("Linux 6.12-rc3"): the branch was moved onto
# mainline, and the listing is everybody's work, not what this tree took.
_RELEASE = re.compile(r"^Linux \d+\.\d+(?:\.\d+)?(?:-rc\d+)?$")
_HASH = re.compile(r"^\[[0-9a-f]{7,40}\]\s+")
# A list's tags before "[ANNOUNCE]" ("[Linux-xfs] [ANNOUNCE] ...").
_TAGS_BEFORE = re.compile(r"(?i)^\s*(?:\[(?!announce\])[^\[\]]*\]\s*)+")

# SQL LIKE patterns (case-insensitive) of the subjects above, for finding notes among stored
# messages without reading every body: a superset, `tree_note` decides (stages/pulled.py).
NOTE_SUBJECTS = (
    'patch "%',
    'applied "%',
    '[%] patch "%',
    '[%] applied "%',
    "[%: %] %",
    "%[announce] % updated%",
    "%[announce] % rebased%",
)

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
    if (note := _note(subject)) is not None:
        return note[0]
    if a := _announce(subject):
        return a
    if sender.lower() == GITHUB_SENDER and (g := _GITHUB_SUBJECT.match(subject)):
        return g["repo"]
    # A tip robot's note by its subject alone: only for a message known to be a note (a key
    # of pull_items that `tree_note`, which reads the body too, gave).
    if c := _COMMIT_SUBJECT.match(subject):
        return c["tree"]
    return None


def _announce(subject: str) -> str | None:
    """The "repository/branch" a maintainer's announcement says moved, behind any list's
    tags; None: no announcement, or of a stable branch ("linux-6.6.y", "for-stable"), whose
    commits are backports of merged work."""
    a = _ANNOUNCE.match(_TAGS_BEFORE.sub("", subject, count=1))
    if a is None or "stable" in a["branch"].lower() or a["branch"].lower().endswith(".y"):
        return None
    return f"{a['repo']}/{a['branch']}"


def _note(subject: str) -> tuple[str | None, str] | None:
    """(branch, title) of Greg's or Mark Brown's note, behind any list's tags; the branch is
    None for a stable tree's note. None: not such a note."""
    m = _NOTE.match(_LIST_TAGS.sub("", subject, count=1))
    if m is None:
        return None
    branch = m["branch"] or m["branch2"]
    return (None if "stable" in branch.lower() else branch), (m["title"] or m["title2"]).strip()


def _author(text: str, field: str) -> str:
    """The name on the first `field:` line of `text` that holds an address, its RFC 2047
    words decoded (a carried patch keeps "=?UTF-8?q?...?=" as git wrote it); "" if none."""
    for line in _AUTHOR_LINE[field].finditer(text):
        value = _FOLD.sub(" ", line["value"])
        name, addr = parse_address(decode_header(value.encode()))
        if "@" in addr:
            return name.strip(" '\"")
    return ""


def is_commit_note(subject: str, body: str) -> bool:
    """A tip-style robot's note that a commit was merged (see the module): no posting, though
    it carries the diff."""
    return bool(_COMMIT_SUBJECT.match(subject)) and bool(_COMMIT_MERGED.match(body))


def tree_note(subject: str, sender: str, body: str) -> TreeNote | None:
    """What a robot's note says (see the module), or None."""
    if is_commit_note(subject, body):
        c = _COMMIT_SUBJECT.match(subject)
        assert c is not None
        pointers = tuple((p["key"], p["value"]) for p in _POINTER.finditer(body))
        return TreeNote(c["tree"], ((c["title"].strip(), _author(body, "Author")),), pointers)
    if (note := _note(subject)) is not None:
        branch, title = note
        if branch is None:
            return None
        carried = _CARRIED.search(body)
        patch = body[carried.start() :] if carried else ""
        pointers = tuple((p["key"], p["value"]) for p in _POINTER.finditer(patch))
        return TreeNote(branch, ((title, _author(patch, "From")),), pointers)
    if a := _announce(subject):
        listed = tuple(
            (_HASH.sub("", title), author.strip(" '\""))
            for author, title in shortlog_subjects(body)
        )
        if not listed or any(_RELEASE.match(title) for title, _who in listed):
            return None
        return TreeNote(a, listed, ())
    tree = note_tree(subject, sender)
    if tree is None or sender.lower() != GITHUB_SENDER:  # not a note, or a tip-like subject
        return None
    branch = _GITHUB_BRANCH.search(body)
    if branch is None or branch["branch"] not in _MAIN_BRANCHES:
        return None
    commits = tuple(
        (c["subject"].strip(), c["name"].strip(" '\"")) for c in _GITHUB_COMMIT.finditer(body)
    )
    return TreeNote(tree, commits, ()) if commits else None
