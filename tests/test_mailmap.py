"""`.mailmap` read as git reads it (checked against `git check-mailmap`), and the people file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from patchlens.identity.mailmap import (
    parse_gitdm_aliases,
    parse_mailmap,
    parse_people_file,
)
from tests.conftest import FIXTURES

ORGS = FIXTURES / "orgs"

# Probes for forms.mailmap: every entry, each case it should and should not catch.
PROBES = [
    ("Alice", "alice@example.org"),
    ("", "alice@example.org"),
    ("Bob", "bob@old.example.com"),
    ("Bob", "BOB@Old.Example.com"),
    ("Carol X", "carol@old.example.com"),
    ("Dave Laptop", "dave@localhost"),
    ("dave LAPTOP", "DAVE@LOCALHOST"),
    ("Dave Other", "dave@localhost"),
    ("Erin", "root@build.example.com"),
    ("ERIN", "root@build.example.com"),
    ("frank", "root@build.example.com"),
    ("root", "root@build.example.com"),
    ("", "root@build.example.com"),
    ("Gina G", "gina@old.example.com"),
    ("Gina", "gina@old.example.com"),
    ("Hank H", "hank@example.org"),
    ("Ivy", "ivy@old.example.com"),
    ("Jack", "jack@old.example.com"),
    ("Kate", "kate@old.example.com"),
    ("kate", "Kate@Old.Example.Com"),
    ("Kathy", "kate@old.example.com"),
    ("Liam L", "shared@example.net"),
    ("Liam", "shared@example.net"),
    ("élodie", "elodie@old.example.com"),
    ("ÉLODIE", "elodie@old.example.com"),
    ("Mia", "mia@old.example.com"),
    ("Noah", "noah@example.org"),
    ("Someone", "oscar@example.org"),
    ("Paul", "paul@old.example.com"),
    ("Quinn", "quinn@example.org"),
    ("RITA old", "rita@old.example.com"),
    ("Rita", "rita@old.example.com"),
    ("Sam", "sam@old.example.com"),
    ("Nobody", "nobody@example.com"),
]


OSCAR = '# An indented "comment" with an address is an entry for git:'


def _ident(name: str, email: str) -> str:
    return f"{name} <{email}>" if name else f"<{email}>"


def _git_check_mailmap(pairs: list[tuple[str, str]], cwd: Path, *config: str) -> list[str]:
    """What git makes of each (name, email), in one `check-mailmap --stdin` run."""
    args = ["git", *(a for c in config for a in ("-c", c)), "check-mailmap", "--stdin"]
    inp = "".join(_ident(n, e) + "\n" for n, e in pairs)
    out = subprocess.run(args, cwd=cwd, input=inp.encode(), capture_output=True, check=True)
    lines = out.stdout.decode("utf-8").split("\n")
    assert len(lines) == len(pairs) + 1 and lines[-1] == ""
    return lines[:-1]


def _usable(pairs) -> list[tuple[str, str]]:
    """Idents git's parser can take back: no angle brackets or newlines in them."""
    return sorted({(n.strip(), e) for n, e in pairs if not set("<>\n") & set(n + e) and e})


@pytest.fixture(scope="module")
def erofs_senders(erofs_archive_git: Path) -> list[tuple[str, str]]:
    """Every (name, address) that posted to linux-erofs, as written."""
    out = subprocess.run(
        ["git", "log", "--format=%an%x00%ae"],
        cwd=erofs_archive_git,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8", "replace")
    return [tuple(line.split("\0")) for line in out.splitlines()]  # type: ignore[misc]


@pytest.fixture(scope="module")
def scratch_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """check-mailmap needs a repository to run in; this one has no .mailmap of its own."""
    repo = tmp_path_factory.mktemp("mailmap") / "repo"
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    return repo


def _compare(mm, pairs, git_out) -> tuple[int, list[str]]:
    diffs, changed = [], 0
    for (n, e), theirs in zip(pairs, git_out, strict=True):
        ours = _ident(*mm.canonical(n, e))
        changed += theirs != _ident(n, e)
        if ours != theirs:
            diffs.append(f"{_ident(n, e)!r}: git {theirs!r}, ours {ours!r}")
    return changed, diffs


def test_every_form_and_tricky_case_agrees_with_git(scratch_repo, erofs_senders):
    path = ORGS / "forms.mailmap"
    mm = parse_mailmap(path.read_text("utf-8"))
    pairs = _usable(PROBES + erofs_senders)
    git_out = _git_check_mailmap(pairs, scratch_repo, f"mailmap.file={path}")
    changed, diffs = _compare(mm, pairs, git_out)
    assert diffs == []
    assert changed == 24  # the probes that an entry catches; no EROFS sender is caught


@pytest.mark.parametrize(
    ("name", "email", "expected"),
    [
        # the four forms
        ("Alice", "alice@example.org", ("Alice Proper", "alice@example.org")),
        ("Bob", "bob@old.example.com", ("Bob", "bob@example.org")),
        ("Carol X", "carol@old.example.com", ("Carol Proper", "carol@example.org")),
        ("Dave Laptop", "dave@localhost", ("Dave Proper", "dave@example.org")),
        ("Dave Other", "dave@localhost", ("Dave Other", "dave@localhost")),
        # one address, several people: name-specific entries first, then the email-only one
        ("erin", "root@build.example.com", ("Erin One", "erin@example.org")),
        ("Frank", "root@build.example.com", ("Frank Two", "frank@example.org")),
        ("root", "root@build.example.com", ("Build Robot", "root@build.example.com")),
        # case: keys fold ASCII only; replacements keep the file's case
        ("Ivy", "IVY@old.example.COM", ("Ivy Proper", "Ivy@Example.ORG")),
        ("ÉLODIE", "elodie@old.example.com", ("ÉLODIE", "elodie@old.example.com")),
        # email-only entries merge; a later name-specific entry replaces the earlier one
        ("Jack", "jack@old.example.com", ("Jack Proper", "jack@example.org")),
        ("Kate", "kate@old.example.com", ("Kate Proper", "kate@example.org")),
        # only name-specific entries for an address: other names untouched
        ("Liam", "shared@example.net", ("Liam", "shared@example.net")),
        # an indented "# ..." with an address is an entry; "<>" first or no address: ignored
        ("x", "oscar@example.org", (OSCAR, "oscar@example.org")),
        ("Hank H", "hank@example.org", ("Hank H", "hank@example.org")),
        ("Paul", "paul@old.example.com", ("Paul", "paul@old.example.com")),
        # trailing comment, inner spacing kept as git keeps it, CRLF line
        ("Mia", "mia@old.example.com", ("Mia   Proper", "mia@example.org")),
        ("Sam", "sam@old.example.com", ("Sam Proper", "sam@example.org")),
    ],
)  # fmt: skip
def test_forms_by_hand(name, email, expected):
    mm = parse_mailmap((ORGS / "forms.mailmap").read_text("utf-8"))
    assert mm.canonical(name, email) == expected


def test_kernel_style_mailmap_on_every_erofs_sender(scratch_repo, erofs_senders):
    path = ORGS / "kernel-style.mailmap"
    mm = parse_mailmap(path.read_text("utf-8"))
    pairs = _usable(erofs_senders)
    git_out = _git_check_mailmap(pairs, scratch_repo, f"mailmap.file={path}")
    changed, diffs = _compare(mm, pairs, git_out)
    assert diffs == []
    assert 25 <= changed <= 40, changed
    before = {e.lower() for _n, e in erofs_senders}
    after = {mm.canonical(n, e)[1].lower() for n, e in erofs_senders}
    print(f"\nkernel-style .mailmap: {len(before)} EROFS addresses -> {len(after)} canonical")
    assert len(before) - len(after) == 18
    assert mm.canonical("Gaoxiang (xiang, OS Lab)", "gaoxiang25@huawei.com") == (
        "Gao Xiang",
        "xiang@kernel.org",
    )
    assert mm.canonical("JeffleXu", "jefflexu@linux.alibaba.com") == (
        "Jingbo Xu",
        "jefflexu@linux.alibaba.com",
    )


def test_erofs_utils_own_mailmap(erofs_utils_git, erofs_senders):
    show = subprocess.run(
        ["git", "show", "dev:.mailmap"], cwd=erofs_utils_git, capture_output=True, check=True
    )
    text = show.stdout.decode("utf-8")
    mm = parse_mailmap(text)
    assert len(mm) == 1
    log = subprocess.run(
        ["git", "log", "--all", "--format=%an%x00%ae%n%cn%x00%ce"],
        cwd=erofs_utils_git,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8", "replace")
    authors = [tuple(line.split("\0")) for line in log.splitlines()]
    pairs = _usable(authors + erofs_senders)
    git_out = _git_check_mailmap(pairs, erofs_utils_git, "mailmap.blob=dev:.mailmap")
    changed, diffs = _compare(mm, pairs, git_out)
    assert diffs == []
    assert changed >= 1
    assert mm.canonical("Chengyu Zhu", "HudsonZhu@tencent.com") == (
        "Chengyu Zhu",
        "hudson@cyzhu.com",
    )


def test_parse_mailmap_edge_lines():
    mm = parse_mailmap("#A <a@x>\nB<b@x>\n   \n<>\nC <c@x> <>\n")
    assert mm.canonical("z", "a@x") == ("z", "a@x")  # comment
    assert mm.canonical("z", "b@x") == ("B", "b@x")  # no space before '<'
    assert mm.canonical("z", "") == ("C", "c@x")  # an empty commit address is a key


# -- people file ---------------------------------------------------------------------------


def test_people_file_fixture_on_erofs(erofs_senders):
    people = parse_people_file((ORGS / "people.txt").read_text("utf-8"))
    assert len(people) == 3
    assert people.canonical("Xiang Gao", "HsiangKao@AOL.com") == ("Gao Xiang", "xiang@kernel.org")
    assert people.canonical("Chao Yu", "yuchao0@huawei.com") == ("Chao Yu", "chao@kernel.org")
    # No name on the line: the posted one is kept.
    assert people.canonical("Yue Hu", "huyue2@yulong.com") == ("Yue Hu", "zbestahu@gmail.com")
    assert people.canonical("Other", "other@example.com") == ("Other", "other@example.com")
    before = {e.lower() for _n, e in erofs_senders}
    after = {people.canonical(n, e)[1].lower() for n, e in erofs_senders}
    assert len(before) - len(after) == 8  # 3 + 2 + 3 aliases, all seen on the list


def test_people_file_format():
    people = parse_people_file(
        "# comment\n\n"
        "Jane Q. Public <jane@example.org>  jq@old.example.com   # trailing comment\n"
        "solo@example.net\n"
    )
    jane = people.person("JQ@old.example.com")
    assert jane is not None
    assert (jane.name, jane.email, jane.aliases) == (
        "Jane Q. Public",
        "jane@example.org",
        ("jq@old.example.com",),
    )
    assert people.canonical("x", "solo@example.net") == ("x", "solo@example.net")
    assert [p.email for p in people] == ["jane@example.org", "solo@example.net"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Jane Public\n", "line 1: no address"),
        ("a@x b@x\n\nc@x A@X\n", "line 3: A@X is listed twice"),
        ("a@x b@x oops\n", "line 1: 'oops' is not an address"),
        ("a@x <b@x>>\n", "line 1: '<b@x>>' is not an address"),
    ],
)
def test_people_file_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_people_file(text)


def test_gitdm_aliases():
    people = parse_gitdm_aliases(
        "# gitdm aliases: alias canonical\n"
        "jsmith@example.net\tjsmith@example.com\n"
        "johnsmith@example.org   jsmith@example.com  # another\n"
        '"Joe Hacker" joe@acme.org\n'
    )
    assert len(people) == 1
    assert people.canonical("J", "JSmith@Example.NET") == ("J", "jsmith@example.com")
    assert people.canonical("Joe Hacker", "x@y") == ("Joe Hacker", "x@y")  # names never join
    with pytest.raises(ValueError, match="line 1"):
        parse_gitdm_aliases("just-one-word\n")
