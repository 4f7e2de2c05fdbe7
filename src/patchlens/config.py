"""Project settings: an optional `patchlens.toml`. Every setting has a working default, so a
store needs no configuration to be useful.

    [people]
    mailmap = ["path/to/.mailmap"]     # besides each registered repository's own .mailmap
    people = "people.txt"              # one person a line (see identity/mailmap.py)

    [bots]
    patterns = ["^ci@example\\\\.org$"]  # added to the built-in patterns

    [orgs]
    domain_map = "domain-map"          # gitdm format; entries override the built-in map

    [maintainers]
    file = "MAINTAINERS"               # a file; default: each repository's MAINTAINERS history

    [backlog]
    stale_days = 30
    abandoned_days = 180

    [web]
    archive_url = "https://lore.kernel.org/r/{message_id}"

    [cluster]
    scheduler = "tcp://scheduler.example.org:8786"   # a Dask scheduler (stages/cluster.py)

    [lists.xen-devel]                  # registered by `update` as `add-list` would
    sources = ["https://lore.kernel.org/xen-devel/0"]

    [repos.xen]                        # registered by `update` as `add-repo` would
    source = "https://xenbits.xen.org/git-http/xen.git"
    branches = ["staging"]

Relative paths are taken from the directory of the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_NAME = "patchlens.toml"


class ConfigError(ValueError):
    pass


@dataclass
class Config:
    path: Path | None = None
    mailmaps: list[Path] = field(default_factory=list)
    people_file: Path | None = None
    bot_patterns: list[str] = field(default_factory=list)
    domain_map: Path | None = None
    maintainers_file: Path | None = None
    stale_days: int = 30
    abandoned_days: int = 180
    archive_url: str = "https://lore.kernel.org/r/{message_id}"
    scheduler: str | None = None  # a Dask scheduler's address; None: work locally
    # Sources named in the file ([lists.NAME] sources, [repos.NAME] source and branches):
    # `update` registers them as add-list/add-repo would before reading (`patchlens init`).
    lists: dict[str, list[str]] = field(default_factory=dict)
    repos: dict[str, tuple[str, list[str]]] = field(default_factory=dict)


def _path(base: Path, value: Any, key: str) -> Path:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: a path is expected, not {value!r}")
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def load_config(explicit: str | None = None) -> Config:
    """`explicit`, else $PATCHLENS_CONFIG, else ./patchlens.toml if present, else defaults."""
    name = explicit or os.environ.get("PATCHLENS_CONFIG")
    path = Path(name) if name else Path(DEFAULT_NAME)
    if not path.exists():
        if name:
            raise ConfigError(f"{path}: no such configuration file")
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: {e}") from e
    base = path.resolve().parent
    cfg = Config(path=path)
    people = data.get("people", {})
    cfg.mailmaps = [_path(base, p, "people.mailmap") for p in people.get("mailmap", [])]
    if "people" in people:
        cfg.people_file = _path(base, people["people"], "people.people")
    cfg.bot_patterns = list(data.get("bots", {}).get("patterns", []))
    if "domain_map" in data.get("orgs", {}):
        cfg.domain_map = _path(base, data["orgs"]["domain_map"], "orgs.domain_map")
    if "file" in data.get("maintainers", {}):
        cfg.maintainers_file = _path(base, data["maintainers"]["file"], "maintainers.file")
    backlog = data.get("backlog", {})
    cfg.stale_days = int(backlog.get("stale_days", cfg.stale_days))
    cfg.abandoned_days = int(backlog.get("abandoned_days", cfg.abandoned_days))
    cfg.archive_url = str(data.get("web", {}).get("archive_url", cfg.archive_url))
    scheduler = data.get("cluster", {}).get("scheduler")
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise ConfigError(f"{path}: cluster.scheduler: an address is expected")
        cfg.scheduler = scheduler.strip()
    cfg.lists, cfg.repos = _sources(data, base, path)
    for p in [*cfg.mailmaps, cfg.people_file, cfg.domain_map, cfg.maintainers_file]:
        if p is not None and not p.is_file():
            raise ConfigError(f"{path}: {p} does not exist")
    return cfg


def _source(base: Path, value: Any, key: str, where: Path) -> str:
    """A source as add-list/add-repo take it: a URL as written, a path from the file's
    directory."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key}: a path or URL is expected, not {value!r}")
    if "://" in value:
        return value
    return str(_path(base, value, key))


def _strings(value: Any, key: str, where: Path) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key}: a list of strings is expected")
    return list(value)


def _sources(
    data: dict[str, Any], base: Path, where: Path
) -> tuple[dict[str, list[str]], dict[str, tuple[str, list[str]]]]:
    lists: dict[str, list[str]] = {}
    for name, table in data.get("lists", {}).items():
        key = f"lists.{name}.sources"
        if not isinstance(table, dict) or "sources" not in table:
            raise ConfigError(f"{where}: {key}: missing")
        lists[name] = [_source(base, v, key, where) for v in _strings(table["sources"], key, where)]
    repos: dict[str, tuple[str, list[str]]] = {}
    for name, table in data.get("repos", {}).items():
        if not isinstance(table, dict) or "source" not in table:
            raise ConfigError(f"{where}: repos.{name}.source: missing")
        branches = _strings(table.get("branches", []), f"repos.{name}.branches", where)
        repos[name] = (_source(base, table["source"], f"repos.{name}.source", where), branches)
    return lists, repos
