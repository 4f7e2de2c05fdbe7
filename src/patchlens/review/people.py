"""Who someone is, across the addresses they post from.

A first, cautious identity: the full display name (two or more words, order-insensitive so
that "Xiang, Gao" and "Gao Xiang" agree) when there is one, else the address. A single word
("Chao", "root") is never enough: that is how two real people get merged.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_NOT_NAMES = frozenset({"via", "on", "behalf", "of", "the", "list", "mailing", "linux", "erofs"})


def identity(name: str, addr: str) -> str:
    words = [w.casefold() for w in _WORD.findall(unicodedata.normalize("NFKC", name or ""))]
    if len(words) >= 2 and not set(words) & _NOT_NAMES:
        return "name:" + " ".join(sorted(words))
    return "addr:" + (addr or name or "").lower()
