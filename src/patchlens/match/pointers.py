"""Explicit back-pointers from a commit to the posting it was applied from."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Link: https://lore.kernel.org/r/<id>, .../<list>/<id>/, https://patch.msgid.link/<id>,
# https://msgid.link/<id>, and patchwork's /patch/<id>/ when the id is a Message-ID.
_URL_ID = re.compile(
    r"https?://(?:lore\.kernel\.org|lkml\.kernel\.org|patch\.msgid\.link|msgid\.link"
    r"|patchwork\.[\w.-]+|lists\.[\w.-]+)/(?:[\w.-]+/)*?(?:r/|patch/)?"
    r"<?([^\s<>/\"']+@[^\s<>/\"']+?)>?(?:/|\s|$)",
    re.I,
)
POINTER_KEYS = frozenset({"link", "message-id", "message-id:", "patchwork-id"})


def pointer_ids(trailers: Iterable[tuple[str, str]]) -> set[str]:
    """Message-IDs named by a commit's Link:/Message-ID: trailers."""
    found: set[str] = set()
    for key, value in trailers:
        k = key.lower()
        if k == "message-id":
            v = value.strip().strip("<>")
            if "@" in v:
                found.add(v)
        elif k == "link":
            for m in _URL_ID.finditer(value.strip() + " "):
                found.add(m.group(1).replace("%40", "@").rstrip(".,;"))
    return found


def strip_pointers(message: str) -> str:
    """A commit message without its back-pointer trailers, as if they had never been added."""
    out = []
    for line in message.split("\n"):
        low = line.lower()
        if low.startswith("message-id:") or (low.startswith("link:") and _URL_ID.search(line)):
            continue
        out.append(line)
    return "\n".join(out)
