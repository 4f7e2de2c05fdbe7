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


# A robot's report sent from a person's address, known by the first line it writes: the
# devicetree bindings robot mails from its maintainer's address ("My bot found errors running
# 'make dt_binding_check' on your patch", "My bot found new DTB warnings ...") on every list a
# binding goes to, about 1,500 times in a million messages of 13 Linux lists, and its "This
# patch series was applied (using b4) to base:" read as a maintainer's notice of a merge.
DEFAULT_REPORT_OPENINGS = (r"My bot found\b",)
_REPORT = re.compile("|".join(f"(?:{p})" for p in DEFAULT_REPORT_OPENINGS), re.I)


def is_robot_report(first_line: str | None) -> bool:
    """Whether a reply whose first written line is `first_line` is a robot's report (see
    DEFAULT_REPORT_OPENINGS): no review, no notice, no trailer, whoever sent it. Pure."""
    return bool(first_line) and _REPORT.match(first_line.strip()) is not None


class BotMatcher:
    """True for a sender (name, address) that any pattern finds, case-insensitively."""

    def __init__(self, patterns: Iterable[str] = DEFAULT_BOT_PATTERNS) -> None:
        self._re = re.compile("|".join(f"(?:{p})" for p in patterns), re.I)

    def __call__(self, name: str, addr: str) -> bool:
        return bool(self._re.search(addr) or self._re.search(name))
