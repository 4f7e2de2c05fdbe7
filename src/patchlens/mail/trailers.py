"""Trailers (`Reviewed-by: Name <addr>`) as git interpret-trailers finds them.

The trailer block is the last paragraph of a commit message, when most of its lines are
`Key: value` (git's rule: all of them, or a quarter with at least one it knows). Keys are
spelled many ways (`Reviewed-By`, `Message-Id`); one canonical spelling makes them countable.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass

_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)[ \t]*:[ \t]*(\S(?:.*\S)?)\s*$")

# Person trailers: the value names someone. Spelled canonically; "Nacked-by" and "NAKed-by"
# are one key, and the later spelling is the canonical one.
_PERSON_SPELLINGS = (
    "Signed-off-by",
    "Reviewed-by",
    "Acked-by",
    "Tested-by",
    "Reported-by",
    "Suggested-by",
    "Co-developed-by",
    "Nacked-by",
    "NAKed-by",
    "Release-acked-by",
    "Reported-and-tested-by",
    "Requested-by",
    "Cc",
)
# Other known keys: one spelling makes them countable, but their value is not read as a person.
_REFERENCE_SPELLINGS = (
    "Link",
    "Closes",
    "Message-ID",
    "Fixes",
    "Change-Id",
    "Based-on-patch-by",
    "Backport-of",
)
PERSON_KEYS = frozenset(k.lower() for k in _PERSON_SPELLINGS)
CANONICAL = {k.lower(): k for k in _PERSON_SPELLINGS + _REFERENCE_SPELLINGS}
# Keys that make git accept a block as trailers even when most lines are not.
_KNOWN = frozenset(("signed-off-by", "(cherry picked from commit"))


@dataclass(frozen=True, slots=True)
class Trailer:
    key: str
    value: str
    name: str | None = None
    email: str | None = None


def canonical_key(key: str) -> str:
    low = key.lower()
    if low in CANONICAL:
        return CANONICAL[low]
    return key[:1].upper() + key[1:].lower()


def make_trailer(key: str, value: str) -> Trailer:
    key = canonical_key(key)
    name = addr = None
    if key.lower() in PERSON_KEYS:
        # "stable@vger.kernel.org # 5.4+": what follows '#' is a comment, not the address.
        n, a = email.utils.parseaddr(value.split(" #", 1)[0].split("\t#", 1)[0])
        if a and "@" in a:
            name, addr = (n.strip() or None), a.lower()
        elif value:
            name = value.strip()
    return Trailer(key, value, name, addr)


def parse_trailer_line(line: str) -> Trailer | None:
    m = _LINE.match(line)
    if not m:
        return None
    key = m.group(1)
    if key.lower() in ("http", "https", "ftp", "git"):
        return None
    return make_trailer(key, m.group(2))


def posting_trailers(message: str) -> list[Trailer]:
    """The trailers of a posted patch's commit message as the mail carries it (the body up to
    `---`). Its subject is the mail's Subject, not the body's first paragraph: a body that is
    only a trailer block still has them, where git's rule for a commit (a one-paragraph
    message is its subject) found none: 132 of the Xen archive's 3,744 patches lost every
    trailer, Acked-by included."""
    return parse_trailers("subject\n\n" + message)


def parse_trailers(message: str) -> list[Trailer]:
    """Trailers of a commit message's last paragraph, in order; [] when it has none."""
    lines = message.rstrip().split("\n")
    # Walk back over the last paragraph.
    end = len(lines)
    start = end
    while start > 0 and lines[start - 1].strip():
        start -= 1
    if start == 0:
        # A one-paragraph message is a subject, not trailers (git's rule).
        return []
    block = lines[start:end]
    found: list[Trailer] = []
    # The continuation lines of found[i], joined to its value once at the end (rebuilding
    # the trailer at each line parsed the growing value again: quadratic).
    continued: dict[int, list[str]] = {}
    other = 0
    known = False
    last_was_trailer = False
    for line in block:
        if line[:1] in (" ", "\t"):
            # A continuation belongs to the line above, trailer or not.
            if last_was_trailer:
                continued.setdefault(len(found) - 1, []).append(line.strip())
            continue
        t = parse_trailer_line(line)
        last_was_trailer = t is not None
        if t is None:
            if line.lower().startswith("(cherry picked from commit"):
                known = True
            other += 1
            continue
        if t.key.lower() in _KNOWN:
            known = True
        found.append(t)
    if not found:
        return []
    if other and not (known and len(found) * 3 >= other):
        return []
    for i, parts in continued.items():
        t = found[i]
        found[i] = make_trailer(t.key, " ".join((t.value, *parts)))
    return found
