"""The built-in bot patterns: machines by their address or name, people not."""

from __future__ import annotations

import pytest

from patchlens.identity.bots import BotMatcher


@pytest.mark.parametrize(
    ("name", "addr", "bot"),
    [
        ("", "bluez.test.bot@gmail.com", True),  # linux-bluetooth's CI robot
        ("", "patchwork-bot+netdevbpf@kernel.org", True),
        ("", "pr-tracker-bot@kernel.org", True),
        ("", "bot@example.org", True),
        ("", "ci_bot@example.org", True),
        ("", "bugzilla-daemon@kernel.org", True),
        ("kernel test robot", "lkp@intel.com", True),
        ("", "syzbot+7d6a57304857423318a5@syzkaller.appspotmail.com", True),
        ("Abbot Jones", "abbot@example.org", False),
        ("Talbot", "talbot@example.org", False),
        ("Luiz Augusto von Dentz", "luiz.dentz@gmail.com", False),
        ("Bot Smith", "bsmith@example.org", False),
    ],
)
def test_builtin_bot_patterns(name: str, addr: str, bot: bool) -> None:
    assert BotMatcher()(name, addr) is bot
