"""Who someone is, across the addresses and spellings they post under.

Two senders are one person when a curated source says so (a repository's `.mailmap`, the
user's people file), when they share an address, or when they share a full display name of
two or more words, in the same order ("Liu Bo" and "Bo Liu" are often two people). A single
word ("Chao", "root") is never enough, and neither are names of machines and roles ("kernel
test robot", "Mail Delivery System"): that is how two real people get merged. Identities are
the connected groups of those links (union-find over everything seen); the representative
is the curated address when there is one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

from patchlens.mail.parse import list_rewritten

_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_NOT_NAMES = frozenset(
    {
        "via",
        "on",
        "behalf",
        "of",
        "the",
        "list",
        "lists",
        "mailing",
        "linux",
        "erofs",
        "robot",
        "bot",
        "test",
        "admin",
        "system",
        "delivery",
        "support",
        "noreply",
        "mail",
        "team",
        "service",
        "daemon",
        "postmaster",
        "administrator",
        "ci",
        "patchwork",
    }
)
_DOMAIN_LIKE = re.compile(r"\w\.\w{2,}$")

Canonical = Callable[[str, str], tuple[str, str]]
NEVER = 2**62  # the first-seen date of an address nobody dated
IsBot = Callable[[str, str], bool]


def commit_author(name: str, email: str) -> tuple[str, str]:
    """A commit's author as a sender to group: a patch applied from a list that rewrote its
    sender ("A via ltp <ltp@lists.linux.it>", git am keeps it) is A's, found by name, not
    the list's (LTP: 235 commits by a dozen people were all one identity, the list's, and
    none matched its author's postings by person). Looked up as such, never added to an
    `Identities`: A's name as a key of its own would become A's identity. Pure."""
    author = list_rewritten(name)
    return (author, "") if author else (name, email)


def name_key(name: str) -> str | None:
    """The key two senders must share to be joined by name; None when the name says too
    little (one word, a role, a domain)."""
    name = unicodedata.normalize("NFKC", name or "").strip()
    if not name or _DOMAIN_LIKE.search(name):
        return None
    words = [w.casefold() for w in _WORD.findall(name)]
    if len(words) >= 2 and not set(words) & _NOT_NAMES:
        return "name:" + " ".join(words)
    return None


class Identities:
    """Maps (name, address) to a stable identity key: `addr:` plus the group's address.

    The group's address is the curated one when there is one, else the one seen first (by
    `seen`, the date of its first message or commit; the smallest address among equals). So a
    person's key does not change when they post from a new address, and an update that
    meets new senders rarely has to redo what is stored under the old keys."""

    def __init__(
        self,
        pairs: Iterable[tuple[str, str]] = (),
        canonical: Canonical | None = None,
        is_bot: IsBot | None = None,
    ) -> None:
        self._parent: dict[str, str] = {}
        self._preferred: set[str] = set()
        self._canonical = canonical
        self._is_bot = is_bot
        self._groups: dict[str, set[str]] | None = None
        self._known: set[str] | None = None
        self._first: dict[str, int] = {}
        self.moved = False
        for name, addr in pairs:
            self.add(name, addr)

    def _find(self, x: str) -> str:
        parent = self._parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def _rank(self, key: str) -> tuple[int, int, int, str]:
        return (
            0 if key in self._preferred else 1,
            0 if key.startswith("addr:") else 1,
            self._first.get(key, NEVER),
            key,
        )

    def add_dated(self, rows: Iterable[tuple[str, str, int | None]]) -> None:
        """Add (name, address, date) rows: their dates first, so that each group's
        representative is its earliest address whatever the order of the rows."""
        pairs: dict[tuple[str, str], None] = {}
        first: dict[tuple[str, str], int] = {}
        for name, addr, date in rows:
            pairs[(name, addr)] = None
            if date is not None and first.get((name, addr), NEVER) > date:
                first[(name, addr)] = date
        self.seen(first)
        for name, addr in pairs:
            self.add(name, addr)

    def seen(self, first: dict[tuple[str, str], int]) -> None:
        """Record when (name, address) pairs were first seen, before `add`ing them: a group's
        representative is its earliest address. An address already grouped that turns out to
        be older than its group's representative takes its place, and the group's identity
        moves (`moved`, when watching)."""
        for (name, addr), date in first.items():
            key = self._addr_key(name, addr)
            old = self._first.get(key)
            if old is not None and date >= old:
                continue
            self._first[key] = date
            if key not in self._parent:
                continue
            root = self._find(key)
            if root != key and self._rank(key) < self._rank(root):
                self._parent[root] = key
                self._parent[key] = key
                if self._known is not None and root in self._known:
                    self.moved = True

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            if self._rank(rb) < self._rank(ra):
                ra, rb = rb, ra
            self._parent[rb] = ra
            if self._known is not None and rb in self._known:
                self.moved = True

    def watch(self) -> None:
        """From now on, note (in `moved`) when a sender already seen gets another identity:
        two known groups joined, or a known group took a new representative. What was
        stored under the old identity is then out of date."""
        self._known = set(self._parent)
        self.moved = False

    def with_functions(self, canonical: Canonical | None, is_bot: IsBot | None) -> Identities:
        """Re-attach the curated mapping and the bot test (they are not pickled)."""
        self._canonical, self._is_bot = canonical, is_bot
        return self

    def __getstate__(self) -> dict[str, object]:
        return {"parent": self._parent, "preferred": self._preferred, "first": self._first}

    def __setstate__(self, state: dict[str, object]) -> None:
        self._parent = state["parent"]  # type: ignore[assignment]
        self._preferred = state["preferred"]  # type: ignore[assignment]
        self._first = state["first"]  # type: ignore[assignment]
        self._canonical = self._is_bot = None
        self._groups = self._known = None
        self.moved = False

    @staticmethod
    def _addr_key(name: str, addr: str) -> str:
        return "addr:" + (addr or name or "").lower()

    def add(self, name: str, addr: str) -> None:
        self._groups = None
        a = self._addr_key(name, addr)
        self._find(a)
        if self._canonical is not None:
            cname, caddr = self._canonical(name, addr)
            if caddr and caddr.lower() != (addr or "").lower():
                c = self._addr_key(cname, caddr)
                self._preferred.add(c)
                self._find(c)
                # The curated address must stay the representative.
                self._union(c, a)
        if self._is_bot is not None and self._is_bot(name, addr):
            return
        n = name_key(name)
        if n:
            self._union(a, n)

    def addresses(self, identity: str) -> set[str]:
        """The addresses (lower case) seen for `identity`: the reverse of calling it, so an
        update can find everything one person sent. Built once, on first use."""
        groups = self._groups
        if groups is None:
            groups = {}
            for key in list(self._parent):
                if key.startswith("addr:"):
                    groups.setdefault(self._find(key), set()).add(key[5:])
            self._groups = groups
        return groups.get(identity, {identity[5:]} if identity.startswith("addr:") else set())

    def __call__(self, name: str, addr: str) -> str:
        a = self._addr_key(name, addr)
        if a in self._parent:
            return self._find(a)
        if self._canonical is not None:
            _cname, caddr = self._canonical(name, addr)
            c = self._addr_key(name, caddr)
            if c in self._parent:
                return self._find(c)
        n = name_key(name)
        if n and n in self._parent and not (self._is_bot and self._is_bot(name, addr)):
            return self._find(n)
        return a
