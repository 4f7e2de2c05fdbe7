"""Who someone is, across the addresses and spellings they post under.

Two senders are one person when they share an address, or the same full display name (two
or more words, order-insensitive, so "Xiang, Gao" and "Gao Xiang" agree). A single word
("Chao", "root") is never enough: that is how two real people get merged. Identities are the
connected groups of those links (union-find over everything seen).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_NOT_NAMES = frozenset({"via", "on", "behalf", "of", "the", "list", "mailing", "linux", "erofs"})


def name_key(name: str) -> str | None:
    words = [w.casefold() for w in _WORD.findall(unicodedata.normalize("NFKC", name or ""))]
    if len(words) >= 2 and not set(words) & _NOT_NAMES:
        return "name:" + " ".join(sorted(words))
    return None


class Identities:
    """Maps (name, address) to a stable identity key: the smallest address of the group."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._parent: dict[str, str] = {}
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

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            # Keep an address as the representative: it is what people recognise.
            if rb.startswith("addr:") and (not ra.startswith("addr:") or rb < ra):
                ra, rb = rb, ra
            self._parent[rb] = ra

    def add(self, name: str, addr: str) -> None:
        a = "addr:" + (addr or name or "").lower()
        self._find(a)
        n = name_key(name)
        if n:
            self._union(a, n)

    def __call__(self, name: str, addr: str) -> str:
        a = "addr:" + (addr or name or "").lower()
        if a in self._parent:
            return self._find(a)
        n = name_key(name)
        return self._find(n) if n and n in self._parent else a
