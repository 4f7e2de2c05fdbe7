"""Where an update keeps what it keeps between runs: beside a SQLite file, and for a server's
database a folder of its own, so that one store's kept identities never reach another."""

from __future__ import annotations

from pathlib import Path

from patchlens.store.db import cache_dir

PG = "postgresql+psycopg://patchlens:{pw}@db.example.org:5432/{db}"


def test_each_database_of_a_server_has_its_own_folder(monkeypatch) -> None:
    monkeypatch.delenv("PATCHLENS_CACHE", raising=False)
    a, b = cache_dir(PG.format(pw="s3cret", db="xen")), cache_dir(PG.format(pw="s3cret", db="qemu"))
    assert a != b and a.parent == b.parent == Path.home() / ".cache" / "patchlens"
    assert cache_dir(PG.format(pw="another", db="xen")) == a  # the password is not the store
    assert "s3cret" not in str(a)


def test_a_database_name_cannot_leave_the_cache(monkeypatch) -> None:
    monkeypatch.delenv("PATCHLENS_CACHE", raising=False)
    d = cache_dir(PG.format(pw="x", db="..%2F..%2Fetc"))
    assert d.parent == Path.home() / ".cache" / "patchlens" and "/" not in d.name


def test_sqlite_and_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("PATCHLENS_CACHE", raising=False)
    assert cache_dir(f"sqlite:///{tmp_path}/s.db") == tmp_path / "s.db.cache"
    monkeypatch.setenv("PATCHLENS_CACHE", str(tmp_path / "c"))
    assert cache_dir(PG.format(pw="x", db="xen")) == tmp_path / "c"
