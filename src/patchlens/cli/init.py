"""`patchlens init [PRESET]`: a commented `patchlens.toml` for a known project.

A preset (src/patchlens/presets/NAME.toml, package data) names the project's public sources and
conventions: its lists, its repositories and branches, where its MAINTAINERS is, its archive's
link template and the senders that are machines. Nothing is fetched here: the file is written,
and `patchlens update` registers the sources it names (config.py `lists`/`repos`). Every path or
URL can be overridden from the command line, so a local copy can stand in for a public source.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class PresetError(ValueError):
    pass


@dataclass
class Settings:
    """What the file will say; a preset's values with the command line's overrides."""

    preset: str | None = None
    description: str = "no preset: fill in the sources"
    lists: dict[str, list[str]] = field(default_factory=dict)
    repos: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    maintainers: str = ""
    bots: list[str] = field(default_factory=list)
    archive_url: str = "https://lore.kernel.org/r/{message_id}"


def preset_names() -> list[str]:
    """The presets shipped in the package."""
    folder = resources.files("patchlens") / "presets"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_preset(name: str) -> Settings:
    """A shipped preset by name; PresetError naming the known ones otherwise."""
    if name not in preset_names():
        raise PresetError(f"no preset {name!r}; known: {', '.join(preset_names())}")
    text = (resources.files("patchlens") / "presets" / f"{name}.toml").read_text("utf-8")
    data: dict[str, Any] = tomllib.loads(text)
    return Settings(
        preset=name,
        description=str(data.get("description", name)),
        lists={k: list(v["sources"]) for k, v in data.get("lists", {}).items()},
        repos={
            k: (str(v["source"]), list(v.get("branches", [])))
            for k, v in data.get("repos", {}).items()
        },
        maintainers=str(data.get("maintainers", {}).get("file", "")),
        bots=list(data.get("bots", {}).get("patterns", [])),
        archive_url=str(data.get("archive_url", Settings.archive_url)),
    )


def _local(value: str) -> str:
    """A path given on the command line, made absolute (the file may be read from anywhere);
    a URL as given."""
    return value if "://" in value else str(Path(value).expanduser().resolve())


def override(
    s: Settings,
    list_name: str | None = None,
    list_sources: list[str] | None = None,
    repo_name: str | None = None,
    repo_source: str | None = None,
    branches: list[str] | None = None,
    no_repo: bool = False,
    maintainers: str | None = None,
    archive_url: str | None = None,
    bots: list[str] | None = None,
) -> Settings:
    """The preset's first list and first repository with the names, sources and branches
    given instead (a preset without one gets one); the rest as in the preset."""
    if list_name or list_sources:
        old_name, old_sources = next(iter(s.lists.items()), (None, []))
        name = list_name or old_name
        if name is None:
            raise PresetError("--list-name is needed: this preset names no list")
        s.lists.pop(old_name or name, None)
        s.lists = {
            name: [_local(v) for v in list_sources] if list_sources else old_sources,
            **s.lists,
        }
    if no_repo:
        s.repos = {}
    elif repo_name or repo_source or branches:
        old_name, (old_source, old_branches) = next(iter(s.repos.items()), (None, ("", [])))
        name = repo_name or old_name
        source = _local(repo_source) if repo_source else old_source
        if name is None or not source:
            raise PresetError("--repo-name and --repo-source are needed: this preset names none")
        s.repos.pop(old_name or name, None)
        s.repos = {name: (source, branches or old_branches), **s.repos}
    if maintainers is not None:
        s.maintainers = _local(maintainers) if maintainers else ""
    if archive_url:
        if "{message_id}" not in archive_url:
            raise PresetError("--archive-url: the template must contain {message_id}")
        s.archive_url = archive_url
    if bots:
        s.bots = [*s.bots, *bots]
    for p in bots or []:
        try:
            re.compile(p)
        except re.error as e:
            raise PresetError(f"--bot {p!r}: not a regular expression ({e})") from e
    return s


def _str(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else _str(name)


def _strs(values: list[str], indent: str = "") -> str:
    if not values:
        return "[]"
    return "[\n" + "".join(f"{indent}    {_str(v)},\n" for v in values) + f"{indent}]"


def render(s: Settings) -> str:
    """The commented settings file: every key, what it does, its value."""
    how = f"`patchlens init {s.preset}`" if s.preset else "`patchlens init`"
    out = [
        f"# patchlens settings, written by {how}: {s.description}.",
        "# Every key is optional; a relative path is taken from this file's directory.",
        "# `patchlens update` registers the [lists] and [repos] below (as add-list and add-repo",
        "# would), reads what is new in them and rebuilds what depends on it.",
        "",
        "# [lists.NAME]: a mailing list. sources: its archives: mbox files (.gz, .xz),",
        "# Maildir folders, public-inbox repositories or epochs (a path or a git URL, as",
        "# lore.kernel.org serves them: .../LIST/0, .../LIST/1, ...), pipermail or HyperKitty",
        "# exports; the format is detected.",
    ]
    if not s.lists:
        out += ["# [lists.my-list]", '# sources = ["archive.mbox"]']
    for name, sources in s.lists.items():
        out += [f"[lists.{_key(name)}]", f"sources = {_strs(sources)}"]
    out += [
        "",
        "# [repos.NAME]: a git repository whose commits the patches are matched against.",
        "# source: a path, bundle or URL git can clone; branches: the branches to follow",
        "# (empty: the repository's default branch).",
    ]
    if not s.repos:
        out += ["# [repos.my-repo]", '# source = "/path/to/repo.git"', '# branches = ["main"]']
    for name, (source, branches) in s.repos.items():
        out += [
            f"[repos.{_key(name)}]",
            f"source = {_str(source)}",
            f"branches = {_strs(branches)}",
        ]
    out += [
        "",
        "# [maintainers]: who is expected to review which files.",
        "[maintainers]",
        "# file: a MAINTAINERS file (Linux, Xen or QEMU format) used for every date; commented",
        "# out: each registered repository's own MAINTAINERS history.",
        f"file = {_str(s.maintainers)}" if s.maintainers else '# file = "MAINTAINERS"',
        "",
        "# [bots]: the senders that are machines (CI, test robots, trackers).",
        "[bots]",
        "# patterns: regular expressions (case-insensitive) on a sender's address or name,",
        "# added to the built-in ones (identity/bots.py); a bot's reply is never review.",
        f"patterns = {_strs(s.bots)}",
        "",
        "# [web]: the dashboard and the downloads.",
        "[web]",
        "# archive_url: the link to a message in the list's archive; {message_id} is replaced",
        "# by the Message-ID (URL-quoted). Used by the dashboard and the Link: of `patchlens am`.",
        f"archive_url = {_str(s.archive_url)}",
        "",
        "# [backlog]: when an open series counts as stale or abandoned.",
        "[backlog]",
        "# stale_days: an open series with no activity for this many days is stale;",
        "# abandoned_days: ... and abandoned after this many.",
        "stale_days = 30",
        "abandoned_days = 180",
        "",
        "# [people]: one identity across addresses and spellings.",
        "[people]",
        "# mailmap: .mailmap files besides each repository's own; people: one person a line.",
        "mailmap = []",
        '# people = "people.txt"',
        "",
        "# [orgs]: the organisation behind an address.",
        "[orgs]",
        "# domain_map: a gitdm domain map; its entries override the built-in one.",
        '# domain_map = "domain-map"',
        "",
        "# [cluster]: where an update's batch work runs.",
        "[cluster]",
        "# scheduler: a Dask scheduler (tcp://host:8786) whose workers parse and analyse the",
        "# batches of an update; commented out: local processes.",
        '# scheduler = "tcp://scheduler.example.org:8786"',
        "",
    ]
    return "\n".join(out)


def write(path: Path, text: str, force: bool) -> None:
    """Write the file; an existing one only with `force`."""
    if path.exists() and not force:
        raise PresetError(f"{path} exists; add --force to overwrite it")
    path.write_text(text, encoding="utf-8")
