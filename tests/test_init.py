"""`patchlens init [PRESET]` (issue 16 §5): a commented patchlens.toml from a preset, with the
command line's paths; `patchlens update` then works with no other edit (acceptance 6, on the
local copies of the Xen data), and the README's example configuration documents every key."""

from __future__ import annotations

import json
import re
import sqlite3
import tomllib
from pathlib import Path

import pytest

from patchlens.cli import init as initfile
from patchlens.config import ConfigError, load_config
from patchlens.identity.bots import DEFAULT_BOT_PATTERNS, BotMatcher
from tests.conftest import data_path
from tests.helpers.cli import invoke_cli

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ("erofs", "linux", "ltp", "qemu", "xen")
DEAD_CODE_PATCH = "20241220165837.937976-1-Ariel.Otilibili-Anieli@eurecom.fr"
OSSTEST_ID = "osstest-189000-mainreport@xen.org"


def test_acceptance_6_init_xen_then_update_with_local_copies(tmp_path: Path) -> None:
    """`init xen` with the local Xen data on the command line, then `update`: series are
    reconstructed, MAINTAINERS sections load, the preset's bots are recognised."""
    # Resolved, as `init` writes them (../shared may be a symbolic link, as in a CI checkout).
    mbox = data_path("xen", "xen-devel-posted-patches-2019-2020.mbox.gz").resolve()
    maintainers = data_path("xen", "MAINTAINERS-2026").resolve()
    samples = sorted(data_path("xen-qemu-samples").resolve().glob("xen-*.mbox"))
    assert len(samples) == 6
    # A flight report from osstest answering a posted patch, as osstest sends them: the only
    # mail here the test writes (the Xen data has no bot mail), so that the preset's bot
    # patterns are seen at work through `update`.
    report = tmp_path / "osstest-report.mbox"
    report.write_text(
        "From osstest-admin@xenproject.org Sat Dec 21 10:00:00 2024\n"
        "From: osstest service owner <osstest-admin@xenproject.org>\n"
        "To: xen-devel@lists.xenproject.org\n"
        "Subject: Re: [PATCH] xen: remove dead code\n"
        "Date: Sat, 21 Dec 2024 10:00:00 +0000\n"
        f"Message-ID: <{OSSTEST_ID}>\n"
        f"In-Reply-To: <{DEAD_CODE_PATCH}>\n"
        f"References: <{DEAD_CODE_PATCH}>\n"
        "\n"
        "flight 189000 xen-unstable-smoke real [real]\n"
        "Tests which did not succeed and are blocking: none\n"
    )
    sources = [a for p in [mbox, *samples, report] for a in ("--list-source", str(p))]
    r = invoke_cli(
        "init", "xen", *sources, "--maintainers", str(maintainers), "--no-repo", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    written = (tmp_path / "patchlens.toml").read_text()
    assert "[lists.xen-devel]" in written and str(mbox) in written
    up = invoke_cli("-q", "update", cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    con = sqlite3.connect(tmp_path / "patchlens.db")
    (lists,) = con.execute("SELECT count(*) FROM mailing_lists WHERE name = 'xen-devel'").fetchone()
    (n_sources,) = con.execute("SELECT count(*) FROM list_sources").fetchone()
    (series,) = con.execute("SELECT count(*) FROM series").fetchone()
    (messages,) = con.execute("SELECT count(*) FROM messages").fetchone()
    (subsystems,) = con.execute("SELECT count(*) FROM subsystems").fetchone()
    (with_subsystem,) = con.execute(
        "SELECT count(*) FROM series_metrics WHERE subsystems NOT IN ('', '[]', '[\"THE REST\"]')"
    ).fetchone()
    (reviews,) = con.execute(
        "SELECT count(*) FROM message_trailers WHERE given AND key = 'Reviewed-by'"
    ).fetchone()
    print(
        f"\nacceptance 6: {messages} messages, {series} series, {subsystems} MAINTAINERS "
        f"sections, {with_subsystem} series with a subsystem, {reviews} Reviewed-by given"
    )
    assert lists == 1 and n_sources == 8
    assert messages > 3744 and series > 1000
    assert subsystems > 50 and with_subsystem > series // 2
    assert reviews > 0
    # A second update registers nothing twice and finds nothing new.
    again = invoke_cli("-q", "update", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert con.execute("SELECT count(*) FROM list_sources").fetchone()[0] == 8
    # The bots: the patterns update used are the file's; Xen's reporters are machines, people
    # (every sender of the Xen data) are not.
    cfg = load_config(str(tmp_path / "patchlens.toml"))
    is_bot = BotMatcher([*DEFAULT_BOT_PATTERNS, *cfg.bot_patterns])
    assert is_bot("osstest service owner", "osstest-admin@xenproject.org")
    assert is_bot("Patchew", "no-reply@patchew.org")
    assert not BotMatcher(DEFAULT_BOT_PATTERNS)(
        "osstest service owner", "osstest-admin@xenproject.org"
    )
    senders = con.execute(
        "SELECT DISTINCT from_name, from_addr FROM messages WHERE message_id != ?", (OSSTEST_ID,)
    ).fetchall()
    assert len(senders) > 100 and not [s for s in senders if is_bot(*s)]
    replies = con.execute(
        "SELECT m.message_id, r.is_bot FROM replies r JOIN messages m ON m.id = r.message_pk"
    ).fetchall()
    assert (OSSTEST_ID, 1) in replies
    assert [b for mid, b in replies if mid != OSSTEST_ID] == [0] * (len(replies) - 1)


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "patchlens.toml").write_text("# mine\n")
    r = invoke_cli("init", "qemu", cwd=tmp_path)
    assert r.returncode == 2 and "exists; add --force" in r.stderr
    assert (tmp_path / "patchlens.toml").read_text() == "# mine\n"
    r = invoke_cli("init", "qemu", "--force", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "[lists.qemu-devel]" in (tmp_path / "patchlens.toml").read_text()


def test_unknown_preset_names_the_known_ones(tmp_path: Path) -> None:
    r = invoke_cli("init", "nosuch", cwd=tmp_path)
    assert r.returncode == 2 and "known: erofs, linux, ltp, qemu, xen" in r.stderr
    assert not (tmp_path / "patchlens.toml").exists()


def _documented(text: str) -> None:
    """Every table and every key set in the file is named by a comment of its own table: the
    comments just before the table's header and those inside it."""
    section = pending = ""
    table = None
    for line in [*text.splitlines(), "[end]"]:
        if line.startswith("#"):
            pending += line + "\n"
            continue
        header = re.match(r"^\[([a-z]+)[.\]]", line)
        key = re.match(r"^([a-z_]+) =", line)
        # The table before is named by its comments (before its header or in it).
        if (header or key) and table is not None:
            assert re.search(rf"\b{table.rstrip('s')}", section + pending, re.I), table
            table = None
        if header:
            section, pending, table = pending, "", header.group(1)
        elif key:
            section, pending = section + pending, ""
            assert re.search(rf"\b{key.group(1).rstrip('s')}", section), line


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_writes_a_documented_file_that_loads(tmp_path: Path, preset: str) -> None:
    s = initfile.load_preset(preset)
    text = initfile.render(s)
    _documented(text)
    path = tmp_path / "patchlens.toml"
    path.write_text(text)
    cfg = load_config(str(path))
    assert cfg.lists and cfg.repos and cfg.bot_patterns
    assert all(src.startswith("https://") for srcs in cfg.lists.values() for src in srcs)
    assert "{message_id}" in cfg.archive_url
    for p in cfg.bot_patterns:
        re.compile(p)
    assert cfg.maintainers_file is None  # each repository's own MAINTAINERS history


def test_presets_name_their_projects_conventions() -> None:
    xen, qemu, linux = (initfile.load_preset(n) for n in ("xen", "qemu", "linux"))
    assert "xen-devel" in xen.lists and xen.repos["xen"][1] == ["staging"]
    xen_bot = BotMatcher(xen.bots)
    assert xen_bot("osstest service owner", "osstest-admin@xenproject.org")
    assert xen_bot("", "no-reply@patchew.org")
    assert BotMatcher(qemu.bots)("", "no-reply@patchew.org") and "qemu-devel" in qemu.lists
    linux_bot = BotMatcher(linux.bots)
    assert linux_bot("", "pr-tracker-bot@kernel.org") and linux_bot(
        "kernel test robot", "lkp@intel.com"
    )
    assert linux.lists["linux-kernel"][0].startswith("https://lore.kernel.org/")
    assert initfile.preset_names() == list(PRESETS)


def test_overrides_and_the_template_without_preset(tmp_path: Path) -> None:
    repo = tmp_path / "xen.git"
    s = initfile.override(
        initfile.load_preset("xen"),
        list_name="xen-local",
        list_sources=["a.mbox"],
        repo_source=str(repo),
        branches=["master"],
        archive_url="https://example.org/m/{message_id}",
        bots=["^ci-robot@"],
    )
    assert s.lists == {"xen-local": [str(Path("a.mbox").resolve())]}
    assert s.repos == {"xen": (str(repo), ["master"])}
    assert s.bots[-1] == "^ci-robot@" and s.archive_url.startswith("https://example.org/")
    with pytest.raises(initfile.PresetError, match="archive-url"):
        initfile.override(initfile.Settings(), archive_url="https://x/")
    with pytest.raises(initfile.PresetError, match="list-name"):
        initfile.override(initfile.Settings(), list_sources=["a.mbox"])
    text = initfile.render(initfile.Settings())
    _documented(text)
    (tmp_path / "t.toml").write_text(text)
    cfg = load_config(str(tmp_path / "t.toml"))
    assert cfg.lists == {} and cfg.repos == {}


def test_config_sources_take_relative_paths_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(
        '[lists.l]\nsources = ["arch/x.mbox", "https://lore.kernel.org/l/0"]\n'
        '[repos.r]\nsource = "r.git"\n'
    )
    cfg = load_config(str(tmp_path / "c.toml"))
    assert cfg.lists == {"l": [str(tmp_path / "arch/x.mbox"), "https://lore.kernel.org/l/0"]}
    assert cfg.repos == {"r": (str(tmp_path / "r.git"), [])}
    (tmp_path / "bad.toml").write_text("[lists.l]\nsources = 3\n")
    with pytest.raises(ConfigError, match=r"lists\.l\.sources"):
        load_config(str(tmp_path / "bad.toml"))
    (tmp_path / "bad2.toml").write_text('[repos.r]\nbranches = ["x"]\n')
    with pytest.raises(ConfigError, match=r"repos\.r\.source"):
        load_config(str(tmp_path / "bad2.toml"))


def test_readme_example_configuration_documents_every_key() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Example configuration", 1)[1]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    _documented(block)
    data = tomllib.loads(block)
    keys = {f"{t}.{k}" for t, v in data.items() for k in v if t not in ("lists", "repos")}
    keys |= {f"{t}.NAME.{k}" for t in ("lists", "repos") for v in data[t].values() for k in v}
    # Every key config.py reads, and nothing it does not.
    source = (ROOT / "src" / "patchlens" / "config.py").read_text()
    read = set(re.findall(r'data\.get\("(\w+)", \{\}\)\.get\("(\w+)"', source))
    assert keys == {
        "people.mailmap",
        "people.people",
        "bots.patterns",
        "orgs.domain_map",
        "maintainers.file",
        "backlog.stale_days",
        "backlog.abandoned_days",
        "web.archive_url",
        "cluster.scheduler",
        "lists.NAME.sources",
        "repos.NAME.source",
        "repos.NAME.branches",
    }, keys
    for table, key in read:
        assert f"{table}.{key}" in keys, (table, key)
    assert json.dumps(data)  # plain data


def test_update_registers_what_the_file_names_once_and_what_is_added_later(
    tmp_path: Path,
) -> None:
    dead, ballooned = (
        data_path("xen-qemu-samples", n).resolve()  # as `init` writes it
        for n in ("xen-remove-dead-code.mbox", "xen-ctrl-ballooned-dump.mbox")
    )
    r = invoke_cli("init", "xen", "--list-source", str(dead), "--no-repo", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert invoke_cli("-q", "update", cwd=tmp_path).returncode == 0
    con = sqlite3.connect(tmp_path / "patchlens.db")
    count = "SELECT count(*) FROM list_sources"
    assert con.execute(count).fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == 10
    toml = tmp_path / "patchlens.toml"
    toml.write_text(toml.read_text().replace(f'"{dead}",', f'"{dead}", "{ballooned}",'))
    up = invoke_cli("-q", "update", cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert con.execute(count).fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == 13
    # A repository the file names that git cannot read: one error line naming the file.
    toml.write_text(toml.read_text() + f'\n[repos.xen]\nsource = "{tmp_path / "none.git"}"\n')
    bad = invoke_cli("-q", "update", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error: patchlens.toml: "), bad.stderr
