"""Shared fixtures: the real data beside the project, and stores built from it once."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

# Fixtures shared by several test modules live in tests/helpers/ (one plugin a line), so that
# no test module imports another.
pytest_plugins = [
    "tests.helpers.browser",
    "tests.helpers.dashboard",
    "tests.helpers.postgres",
    "tests.helpers.xenqemu",
]

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("PATCHLENS_DATA") or ROOT.parent / "shared" / "data")
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def data_path(*parts: str) -> Path:
    """A file of the real data set; fails (never skips) when it is missing."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"real test data missing: {path} (the tests read ../shared/data beside the "
            "project root, or $PATCHLENS_DATA)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def erofs_archive() -> Path:
    return data_path("erofs", "linux-erofs-archive.0.bundle")


@pytest.fixture(scope="session")
def erofs_utils() -> Path:
    return data_path("erofs", "erofs-utils.bundle")


@pytest.fixture(scope="session")
def erofs_2024() -> Path:
    return data_path("erofs", "erofs-2024.mbox.gz")


@pytest.fixture(scope="session")
def erofs_archive_git(tmp_path_factory: pytest.TempPathFactory, erofs_archive: Path) -> Path:
    """The archive bundle as a bare git repository (what lore mirrors look like)."""
    dest = tmp_path_factory.mktemp("archive") / "erofs.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(erofs_archive), str(dest)], check=True)
    return dest


@pytest.fixture(scope="session")
def erofs_utils_git(tmp_path_factory: pytest.TempPathFactory, erofs_utils: Path) -> Path:
    dest = tmp_path_factory.mktemp("utils") / "erofs-utils.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(erofs_utils), str(dest)], check=True)
    return dest


@pytest.fixture
def sigint_handled():
    """Ctrl-C as a terminal's user gives it, to the commands a test starts. A test run started
    in the background (a CI script, `cmd &` in a non-interactive shell) inherits SIGINT
    ignored, and so would every command it starts: Python then never raises
    KeyboardInterrupt, and an interrupt test would test nothing. Restored after the test."""
    before = signal.getsignal(signal.SIGINT)
    if before == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture(scope="session")
def xen_store(tmp_path_factory):
    """Xen's posted patches (2019-2020) with the MAINTAINERS file of June 2019, ingested and
    reconstructed once: (directory with its patchlens.toml, store path, engine). Read only."""
    from patchlens.config import load_config
    from patchlens.stages import ingest
    from patchlens.stages.pipeline import run_stages
    from patchlens.stages.progress import Reporter
    from patchlens.store.db import open_store

    tmp = tmp_path_factory.mktemp("xen")
    maintainers = data_path("xen", "MAINTAINERS-2019-06")
    (tmp / "patchlens.toml").write_text(f'[maintainers]\nfile = "{maintainers}"\n')
    db = tmp / "xen.db"
    engine = open_store(str(db))
    ingest.add_list(
        engine, "xen-devel", [str(data_path("xen", "xen-devel-posted-patches-2019-2020.mbox.gz"))]
    )
    quiet = Reporter(quiet=True)
    ingest.run_update(engine, tmp / "cache", quiet)
    run_stages(engine, load_config(str(tmp / "patchlens.toml")), tmp / "cache", quiet)
    return tmp, db, engine


@pytest.fixture(scope="session")
def erofs_store(tmp_path_factory, erofs_archive_git, erofs_utils, erofs_2024):
    """The EROFS archive, the 2024 mbox and erofs-utils, ingested and reconstructed once."""
    from patchlens.config import Config
    from patchlens.stages import ingest
    from patchlens.stages.pipeline import run_stages
    from patchlens.stages.progress import Reporter
    from patchlens.store.db import open_store

    db = tmp_path_factory.mktemp("store") / "erofs.db"
    engine = open_store(str(db))
    ingest.add_list(engine, "linux-erofs", [str(erofs_archive_git)])
    ingest.add_list(engine, "erofs-2024", [str(erofs_2024)])
    ingest.add_repo(engine, "erofs-utils", str(erofs_utils), ["dev"])
    reports = ingest.run_update(engine, db.with_name("cache"), Reporter(quiet=True))
    assert not [r.error for r in reports if r.error]
    run_stages(engine, Config(), db.with_name("cache"), Reporter(quiet=True))
    _backup(db, db.with_name("pristine.db"))
    return db, engine, reports


@pytest.fixture(scope="session")
def erofs_store_pristine(erofs_store) -> Path:
    """A copy of the EROFS store taken as `erofs_store` was built, before any test read or
    wrote it: one clean update of the archive, the 2024 mbox and erofs-utils, for a test to
    compare its own stores with. Read only."""
    db, _engine, _reports = erofs_store
    return db.with_name("pristine.db")


def copy_store(src: Path, dest: Path) -> Path:
    """A copy of a SQLite store at `dest`, for a test that may write to it."""
    _backup(src, dest)
    return dest


def _backup(src: Path, dest: Path) -> None:
    """Copy a SQLite store, with what its write-ahead log holds."""
    import sqlite3

    a, b = sqlite3.connect(src), sqlite3.connect(dest)
    with b:
        a.backup(b)
    a.close()
    b.close()
