"""What a posting says it needs: `Depends-on:`, `Based-on:`, git format-patch's and b4's
`base-commit:` / `prerequisite-*:` lines, read from its own text. Pure.

A prerequisite is named by a Message-ID (`prerequisite-message-id:`, and what `Depends-on:` /
`Based-on:` name as `<id>` or a lore-style URL: Patchew's convention), a patch-id
(`prerequisite-patch-id:`, as `git patch-id --stable` gives it), a b4 change-id
(`prerequisite-change-id: <id>:v3`) or a commit (`base-commit:`, or a bare hash after
`Depends-on:`). The store resolves each to a series or a commit (stages/metrics.py); this
module only reads the text, so hostile input gives at worst a value that resolves to nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

# The kinds a prerequisite can be named by.
MESSAGE_ID, PATCH_ID, CHANGE_ID, COMMIT = "message-id", "patch-id", "change-id", "commit"
KINDS = (MESSAGE_ID, PATCH_ID, CHANGE_ID, COMMIT)
# At most this many are kept per message: a body that repeats the line cannot cost more.
MAX_PER_MESSAGE = 64
MAX_VALUE = 300

_LINE = re.compile(
    r"^[ \t]*(depends-on|based-on|prerequisite-patch-id|prerequisite-message-id"
    r"|prerequisite-change-id|base-commit)[ \t]*:[ \t]*(\S(?:.*[^ \t\n])?)[ \t]*$",
    re.I | re.M,
)
_HEX = re.compile(r"^[0-9a-f]{7,64}$")
_GERRIT = re.compile(r"^I[0-9a-f]{40}$")
_BRACKETED = re.compile(r"<([^<>\s]+@[^<>\s]+)>")
# lore / msgid.link / patchwork-style URLs: the Message-ID is the path segment with an "@".
_URL = re.compile(r"https?://\S+")
_BARE = re.compile(r"^[^\s<>@/]+@[^\s<>@/]+$")


@dataclass(frozen=True, slots=True)
class Prerequisite:
    """One thing a posting needs: `kind` is one of KINDS, `value` normalised for lookup
    (a Message-ID without brackets, hashes lower-case), `label` the trailer's name."""

    kind: str
    value: str
    label: str


def _message_id_in(text: str) -> str | None:
    m = _BRACKETED.search(text)
    if m:
        return m.group(1)
    for url in _URL.findall(text):
        for part in reversed(unquote(url).rstrip(">).,;").split("/")):
            if "@" in part and _BARE.match(part):
                return part
    word = text.strip().strip("<>").rstrip(".,;")
    return word if _BARE.match(word) else None


def _classify(label: str, value: str) -> Prerequisite | None:
    low = label.lower()
    text = value.strip()
    first = text.split()[0] if text.split() else ""
    if low == "base-commit":
        sha = first.lower()
        return Prerequisite(COMMIT, sha, label) if _HEX.match(sha) else None
    if low == "prerequisite-patch-id":
        pid = first.lower()
        return Prerequisite(PATCH_ID, pid, label) if _HEX.match(pid) else None
    if low == "prerequisite-change-id":
        # b4 writes "<change-id>:v<N>": the series is the change-id, whatever its version.
        cid = re.sub(r":v?\d+$", "", first)
        return Prerequisite(CHANGE_ID, cid, label) if cid else None
    msgid = _message_id_in(text)
    if msgid:
        return Prerequisite(MESSAGE_ID, msgid, label)
    if low == "prerequisite-message-id":
        return None
    # Depends-on / Based-on naming a commit ("Depends-on: 1234abcd ("title")") or a Gerrit
    # change ("Depends-on: I0123...").
    if _GERRIT.match(first):
        return Prerequisite(CHANGE_ID, first, label)
    if _HEX.match(first.lower()):
        return Prerequisite(COMMIT, first.lower(), label)
    return None


def prerequisites(body: str) -> list[Prerequisite]:
    """The prerequisites a posting's text names, in order, each once. Quoted lines (a reply
    quoting someone's cover letter is not a posting, but a forwarded one may quote) are not
    read: the pattern wants the label at the start of the line."""
    found: dict[tuple[str, str], Prerequisite] = {}
    for m in _LINE.finditer(body):
        p = _classify(m.group(1), m.group(2)[:MAX_VALUE])
        if p is not None and len(p.value) <= MAX_VALUE:
            found.setdefault((p.kind, p.value), p)
        if len(found) >= MAX_PER_MESSAGE:
            break
    return list(found.values())
