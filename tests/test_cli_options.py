"""--db, --quiet and --config work after the subcommand exactly as before it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import data_path
from tests.helpers.cli import invoke_cli, run_cli

MBOX = ("xen-qemu-samples", "xen-ctrl-ballooned-dump.mbox")


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return invoke_cli(*args, cwd=cwd)


@pytest.fixture()
def registered(tmp_path: Path) -> Path:
    """A store with one small real list registered (not yet updated), at tmp/store.db."""
    proc = _run(tmp_path, "--db", "store.db", "add-list", "xen", str(data_path(*MBOX)))
    assert proc.returncode == 0, proc.stderr
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ("--db", "other.db", "update"),
        ("update", "--db", "other.db"),
        # The subcommand's option wins over the one before it.
        ("--db", "ignored.db", "update", "--db", "other.db"),
    ],
)
def test_db_before_or_after_the_subcommand(registered: Path, args: tuple[str, ...]) -> None:
    proc = _run(registered, "-q", "add-list", "xen", str(data_path(*MBOX)), "--db", "other.db")
    assert proc.returncode == 0, proc.stderr
    proc = _run(registered, "-q", *args)
    assert proc.returncode == 0, proc.stderr
    assert (registered / "other.db").is_file()
    assert not (registered / "patchlens.db").exists()
    assert not (registered / "ignored.db").exists()
    status = _run(registered, "status", "--json", "--db", "other.db")
    assert status.returncode == 0, status.stderr
    lists = json.loads(status.stdout)["lists"]
    assert [(li["list"], li["messages"]) for li in lists] == [("xen", 3)]


@pytest.mark.parametrize(
    "args",
    [("--quiet", "update"), ("update", "--quiet"), ("-q", "update"), ("update", "-q")],
)
def test_quiet_before_or_after_the_subcommand(registered: Path, args: tuple[str, ...]) -> None:
    # A process: nothing on its stderr includes what its worker processes would write there
    # (in-process, forked workers write to their own copy of the captured stream).
    proc = run_cli(registered, "--db", "store.db", *args, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_not_quiet_prints_a_summary(registered: Path) -> None:
    proc = _run(registered, "update", "--db", "store.db")
    assert proc.returncode == 0, proc.stderr
    assert "xen: 3 messages read, 3 new" in proc.stderr
    assert "update took" in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--config", "missing.toml", "update"),
        ("update", "--config", "missing.toml"),
        ("report", "--config", "missing.toml"),
    ],
)
def test_config_before_or_after_the_subcommand(registered: Path, args: tuple[str, ...]) -> None:
    proc = _run(registered, "--db", "store.db", *args)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: missing.toml: no such configuration file"


def test_config_after_the_subcommand_is_read(registered: Path) -> None:
    (registered / "bad.toml").write_text("[backlog]\nstale_days = [\n", encoding="utf-8")
    proc = _run(registered, "update", "-q", "--db", "store.db", "--config", "bad.toml")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: bad.toml: ")


def test_options_on_export_subcommands(registered: Path) -> None:
    assert _run(registered, "update", "-q", "--db", "store.db").returncode == 0
    proc = _run(registered, "export", "series", "--db", "store.db", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows and all(r["series"] and r["version_key"] for r in rows)
    assert not (registered / "patchlens.db").exists()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("series", "--limit", "-5"), "--limit"),  # a slice from the end: rows dropped
        (("report", "--top", "-1"), "--top"),  # every top list one short of its count
        (("conformance", "--limit", "-1"), "--limit"),
        (("eval-predict", "--errors", "-1"), "--errors"),
        (("serve", "--port", "70000"), "--port"),
        (("report", "--as-of", "bad"), "--as-of"),
        (("eval-predict", "--split", "bad"), "--split"),
    ],
)
def test_bad_numbers_and_dates_are_refused_naming_the_option(
    registered: Path, args: tuple[str, ...], named: str
) -> None:
    proc = _run(registered, "--db", "store.db", *args)
    assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
    assert named in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
