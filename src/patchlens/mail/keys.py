"""Lookup keys of a message: stable 64-bit hashes of the ids, titles and addresses it carries.
Pure.

The store indexes them (`message_keys`) so that a reader finds the messages carrying an id,
a title or a recipient by key rather than by scanning every message. A hash, not the text: a
header is hostile input of any length, and a collision only widens what a lookup returns
(every reader checks the text of what it found).
"""

from __future__ import annotations

import hashlib


def key_hash(text: str) -> int:
    """A stable signed 64-bit hash (the same in every process and on every machine)."""
    return int.from_bytes(
        hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True
    )


def recipients(to_addrs: str, cc_addrs: str) -> set[str]:
    """The addresses of a message's To: and Cc: (stored comma-separated), lower-cased: a
    whole address each, as a person's addresses are compared."""
    return {a for a in (x.strip().lower() for x in f"{to_addrs},{cc_addrs}".split(",")) if a}
