"""Organisations from gitdm maps: format, dated lines, suffixes, free-mail; on the EROFS list."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from patchlens.identity.bots import BotMatcher
from patchlens.identity.orgs import (
    UNKNOWN,
    OrgMap,
    default_domain_map_text,
    parse_email_map,
    registrable_domain,
)
from tests.conftest import FIXTURES

ORGS = FIXTURES / "orgs"


def ts(day: str) -> int:
    """UTC epoch seconds at noon of an ISO day."""
    d = dt.date.fromisoformat(day)
    return int(dt.datetime(d.year, d.month, d.day, 12, tzinfo=dt.UTC).timestamp())


@pytest.fixture(scope="module")
def fixture_map() -> OrgMap:
    return OrgMap.from_text(
        (ORGS / "domain-map").read_text("utf-8"), (ORGS / "email-map").read_text("utf-8")
    )


# -- the format ----------------------------------------------------------------------------


def test_parse_gitdm_lines():
    lines = parse_email_map((ORGS / "domain-map").read_text("utf-8"))
    by_key = {}
    for ml in lines:
        by_key.setdefault(ml.key, []).append((ml.org, ml.until))
    assert by_key["linux.vnet.ibm.com"] == [("IBM Linux Technology Center", None)]
    assert by_key["hisilicon.com"] == [("HiSilicon", None)]  # trailing comment dropped
    assert by_key["citrix.com"] == [
        ("Citrix", dt.date(2022, 9, 30)),
        ("Cloud Software Group", None),
    ]
    assert by_key["kernel.org"] == [(UNKNOWN, None)]  # gitdm's "(Unknown)"
    assert by_key["users.noreply.github.com"] == [(UNKNOWN, None)]  # the CNCF's "NotFound"
    assert by_key["alex@example.net"] == [("Consulting Inc", None)]  # user!domain
    assert len(by_key["jane@example.org"]) == 3
    assert [ml.line for ml in lines][:2] == [7, 8]
    assert all(ml.key == ml.key.lower() for ml in lines)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("example.com\n", "line 1: not"),
        ("# c\nexample.com  Org < 2020-13-01\n", "line 2: bad date"),
        ("example.com  Org < soon\n", "line 1: not"),
        ("example.com  < 2020-01-01\n", "line 1: not"),
    ],
)
def test_parse_errors_name_the_line(text, message):
    with pytest.raises(ValueError, match=message):
        parse_email_map(text)


def test_org_names_keep_inner_words_and_tabs_collapse():
    [ml] = parse_email_map("Example.COM\t\tSome   Org\tName   <   2020-01-02   # x\n")
    assert (ml.key, ml.org, ml.until) == ("example.com", "Some Org Name", dt.date(2020, 1, 2))


# -- lookups -------------------------------------------------------------------------------


def test_longest_suffix_wins(fixture_map):
    assert fixture_map.org("ltc@linux.vnet.ibm.com") == "IBM Linux Technology Center"
    assert fixture_map.org("dev@us.ibm.com") == "IBM"
    assert fixture_map.org("dev@IBM.COM") == "IBM"
    assert fixture_map.org("dev@a.b.c.intel.com") == "Intel"
    # Suffixes are whole labels: "xibm.com" is not under "ibm.com".
    assert fixture_map.resolve("dev@xibm.com").source == "fallback"
    assert fixture_map.org("dev@xibm.com") == "xibm.com"


def test_free_mail_is_unknown_and_never_guessed(fixture_map):
    for addr in (
        "someone@gmail.com",
        "someone@GoogleMail.com",
        "someone@163.com",
        "someone@vip.126.com",
        "someone@foxmail.com",
        "someone@yahoo.co.uk",
        "someone@yahoo.com.tw",
        "someone@yahoo.de",
        "someone@gmx.net",
        "someone@web.de",
        "someone@outlook.com",
        "someone@protonmail.com",
        "someone@icloud.com",
    ):
        a = fixture_map.resolve(addr)
        assert (a.org, a.source) == (UNKNOWN, "freemail"), addr
    # Look-alikes are not free-mail.
    assert fixture_map.org("dev@yahoo-inc.com") == "yahoo-inc.com"
    assert fixture_map.org("dev@yahoo.example.com") == "example.com"
    # A map line beats the list at the same suffix (the fixture maps qq.com).
    assert fixture_map.org("someone@qq.com") == "Tencent"


def test_free_mail_list_is_overridable():
    om = OrgMap.from_text("", freemail=["example.net", "mail.*"])
    assert om.org("a@gmail.com") == "gmail.com"
    assert om.org("a@example.net") == UNKNOWN
    assert om.org("a@mail.co.uk") == UNKNOWN


def test_dated_employer_change(fixture_map):
    jane = "Jane@Example.org"
    assert fixture_map.org(jane, ts("2018-01-01")) == "Independent"
    assert fixture_map.org(jane, ts("2019-06-30")) == "Independent"
    assert fixture_map.org(jane, ts("2019-07-01")) == "Company A"  # "< D": before D only
    assert fixture_map.org(jane, ts("2021-02-28")) == "Company A"
    assert fixture_map.org(jane, ts("2021-03-01")) == "Company B"
    assert fixture_map.org(jane) == "Company B"  # no date: the open-ended line
    # The day is the UTC day: 23:30 UTC on the eve is still before.
    eve = int(dt.datetime(2021, 2, 28, 23, 30, tzinfo=dt.UTC).timestamp())
    assert fixture_map.org(jane, eve) == "Company A"


def test_dated_domain(fixture_map):
    assert fixture_map.org("a@citrix.com", ts("2022-09-29")) == "Citrix"
    assert fixture_map.org("a@eu.citrix.com", ts("2022-09-30")) == "Cloud Software Group"
    assert fixture_map.org("a@citrix.com") == "Cloud Software Group"
    om = OrgMap.default()
    assert om.org("a@citrix.com", ts("2019-05-01")) == "Citrix"
    assert om.org("a@citrix.com", ts("2024-05-01")) == "Cloud Software Group"


def test_all_lines_ended_falls_through(fixture_map):
    # gitdm has no answer after the last end date; here the next level answers.
    assert fixture_map.org("old@gmail.com", ts("2019-12-31")) == "Huawei"
    assert fixture_map.resolve("old@gmail.com", ts("2020-01-01")).source == "freemail"
    assert fixture_map.org("old@gmail.com") == UNKNOWN


def test_address_lines_override_domains(fixture_map):
    assert fixture_map.resolve("hsiangkao@aol.com").source == "address"
    assert fixture_map.org("hsiangkao@aol.com") == "Alibaba"
    assert fixture_map.org("other@aol.com") == UNKNOWN
    assert fixture_map.org("x.y@huawei.com") == UNKNOWN
    assert fixture_map.org("z@huawei.com") == "Huawei"
    assert fixture_map.org("alex@example.net") == "Consulting Inc"
    assert fixture_map.org("sam@example.net") == "example.net"


def test_second_text_replaces_a_key_wholesale(fixture_map):
    assert fixture_map.org("a@redhat.com") == "IBM Red Hat"
    both = OrgMap.from_text("a@x.org  Old < 2020-01-01\na@x.org  Older\n", "a@x.org  New\n")
    assert both.org("a@x.org", ts("2019-01-01")) == "New"


def test_first_of_two_equal_lines_wins_as_in_gitdm():
    om = OrgMap.from_text("x.org  First\nx.org  Second\n")
    assert om.org("a@x.org") == "First"


def test_invalid_and_odd_addresses(fixture_map):
    for bad in ("", "mail", "@example.com", "user@"):
        a = fixture_map.resolve(bad)
        assert (a.org, a.source) == (UNKNOWN, "invalid"), bad
    assert fixture_map.org(" <Dev@Intel.com> ") == "Intel"
    assert fixture_map.org("dev at intel.com") == "Intel"
    assert fixture_map.org("dev@intel.com.") == "Intel"


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("huawei.com", "huawei.com"),
        ("mail.scut.edu.cn", "scut.edu.cn"),
        ("proxy188.sjtu.edu.cn", "sjtu.edu.cn"),
        ("amazon.co.jp", "amazon.co.jp"),
        ("csail.mit.edu", "mit.edu"),
        ("zeniv.linux.org.uk", "linux.org.uk"),
        ("os.inf.tu-dresden.de", "tu-dresden.de"),
        ("localhost", "localhost"),
    ],
)
def test_registrable_domain(domain, expected):
    assert registrable_domain(domain) == expected


def test_unknown_addresses_for_curation(fixture_map):
    got = fixture_map.unknown_addresses(
        ["B@gmail.com", "a@qq.com", "b@gmail.com", "dev@intel.com", "x@kernel.org", "mail"]
    )
    assert got == ["b@gmail.com", "mail", "x@kernel.org"]


def test_default_map_is_valid_and_modest():
    text = default_domain_map_text()
    lines = parse_email_map(text)
    assert 30 <= len(lines) <= 120
    keys = [ml.key for ml in lines]
    assert all("@" not in k for k in keys)  # no individual's employer in the shipped map
    om = OrgMap.default()
    assert om.org("a@linux.alibaba.com") == om.org("a@alibaba-inc.com") == "Alibaba"
    assert om.org("a@suse.de") == om.org("a@suse.com") == "SUSE"
    assert om.org("a@linux.intel.com") == "Intel"
    assert om.org("xiang@kernel.org") == UNKNOWN
    assert om.org("a@lists.xen.org") == UNKNOWN
    assert om.org("a@huaweicloud.com") == "Huawei"
    # linux-foundation.org is hosted for maintainers (akpm@ works elsewhere): it says nothing
    # about an employer, and is no organisation beside linuxfoundation.org's.
    assert om.org("akpm@linux-foundation.org") == UNKNOWN
    assert om.org("gregkh@linuxfoundation.org") == "Linux Foundation"


# -- the real EROFS archive ----------------------------------------------------------------


@pytest.fixture(scope="module")
def erofs_messages(erofs_archive_git: Path) -> list[tuple[str, str, int]]:
    """(name, address, date) of every message on linux-erofs, from the archive commits."""
    out = subprocess.run(
        ["git", "log", "--format=%an%x00%ae%x00%at"],
        cwd=erofs_archive_git,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8", "replace")
    rows = []
    for line in out.splitlines():
        name, addr, at = line.split("\0")
        rows.append((name, addr.lower(), int(at)))
    return rows


def test_organisations_on_erofs(erofs_messages):
    om = OrgMap.default()
    assert len(erofs_messages) == 15218
    addrs = sorted({a for _n, a, _t in erofs_messages})
    res = {a: om.resolve(a) for a in addrs}
    n = len(addrs)
    named = sum(r.named for r in res.values()) / n
    unknown = sum(r.org == UNKNOWN for r in res.values()) / n
    freemail = sum(r.source == "freemail" for r in res.values()) / n
    fallback = sum(r.source == "fallback" for r in res.values()) / n

    is_bot = BotMatcher()
    human = [(a, t) for name, a, t in erofs_messages if not is_bot(name, a)]
    by_org = Counter(om.org(a, t) for a, t in human)
    msg_named = sum(om.resolve(a, t).named for a, t in human) / len(human)
    msg_unknown = by_org[UNKNOWN] / len(human)
    top = [(o, c) for o, c in by_org.most_common() if o != UNKNOWN][:10]
    print(
        f"\nEROFS senders: {n} addresses; named {named:.1%}, (unknown) {unknown:.1%} "
        f"(free-mail {freemail:.1%}), domain fallback {fallback:.1%}"
        f"\nmessages without bots: {len(human)}; named {msg_named:.1%}, (unknown) "
        f"{msg_unknown:.1%}\ntop 10 organisations by messages: {top}"
    )
    assert 850 <= n <= 930
    assert 0.15 <= named <= 0.30
    assert 0.20 <= unknown <= 0.35
    assert 0.15 <= freemail <= 0.30
    assert 0.45 <= fallback <= 0.60  # most of them spam senders' domains
    assert 14000 <= len(human) <= 15000
    assert 0.50 <= msg_named <= 0.70
    assert 0.20 <= msg_unknown <= 0.35
    names = [o for o, _c in top]
    assert names[:3] == ["Alibaba", "Huawei", "Red Hat"]
    assert {"ByteDance", "Google", "SUSE", "Oracle", "Intel"} <= set(names)
    assert 3800 <= dict(top)["Alibaba"] <= 4800


def test_unknown_addresses_on_erofs(erofs_messages):
    om = OrgMap.default()
    addrs = [a for _n, a, _t in erofs_messages]
    unknown = om.unknown_addresses(addrs)
    sources = Counter(om.resolve(a).source for a in unknown)
    domains = Counter(a.rpartition("@")[2] for a in unknown)
    print(f"\nto curate: {len(unknown)} addresses {dict(sources)}; {domains.most_common(8)}")
    assert unknown == sorted(set(unknown))
    assert 150 <= sources["freemail"] <= 240
    assert sources["domain"] >= 30  # kernel.org, linux.dev, infradead.org: mapped "(unknown)"
    assert set(sources) <= {"freemail", "domain", "invalid"}
    assert {"hsiangkao@aol.com", "zbestahu@gmail.com", "xiang@kernel.org"} <= set(unknown)
    every_gmail = {a for a in addrs if a.endswith("@gmail.com")}
    assert every_gmail <= set(unknown)
    assert not {a for a in unknown if a.endswith(("@huawei.com", "@linux.alibaba.com"))}
