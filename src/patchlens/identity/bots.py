"""Which senders are machines (CI, test robots, patchwork, trackers): their replies are never
review. Built-in address and name patterns, plus those the project configures."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Senders that are machines: CI, test robots, patchwork. Their replies are not review.
DEFAULT_BOT_PATTERNS = (
    r"^lkp@intel\.com$",
    r"(^|[.@])syzbot",
    r"^syzkaller",
    r"patchwork",
    r"^noreply@",
    r"^no-reply@",
    # "patchwork-bot@", "bot@", and with any separator: linux-bluetooth's CI robot sends as
    # bluez.test.bot@gmail.com (6,031 replies, counted as a reviewer's until this).
    r"(?:^|[._+-])bot@",
    r"^bugzilla-daemon@",
    r"^ci@",
    r"^patchew",
    r"kernel test robot",
)


class BotMatcher:
    """True for a sender (name, address) that any pattern finds, case-insensitively."""

    def __init__(self, patterns: Iterable[str] = DEFAULT_BOT_PATTERNS) -> None:
        self._re = re.compile("|".join(f"(?:{p})" for p in patterns), re.I)

    def __call__(self, name: str, addr: str) -> bool:
        return bool(self._re.search(addr) or self._re.search(name))
