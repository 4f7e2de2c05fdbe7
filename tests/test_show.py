"""`patchlens show`: a series' timeline names who gave each trailer as the series page does."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import data_path
from tests.helpers.cli import invoke_cli


def test_a_bare_ack_names_its_sender(tmp_path: Path) -> None:
    """Wei Liu's "Acked + applied." on v2 of Juergen Gross's ballooned-dump fix
    (xen-qemu-samples/README.md, thread 5) gives an Acked-by with no name or address: the
    page shows "Acked-by: wl@xen.org" (its sender), the CLI printed "Acked-by: None"."""
    mbox = data_path("xen-qemu-samples", "xen-ctrl-ballooned-dump.mbox")
    for args in (("add-list", "xen", str(mbox)), ("-q", "update")):
        proc = invoke_cli("--db", "store.db", *args, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    key = "20201111100143.13820-1-jgross@suse.com"
    proc = invoke_cli("--db", "store.db", "show", key, cwd=tmp_path, env={"COLUMNS": "300"})
    assert proc.returncode == 0, proc.stderr
    assert "Acked-by: wl@xen.org" in proc.stdout
    assert "None" not in proc.stdout

    from fastapi.testclient import TestClient

    from patchlens.store.db import database_url
    from patchlens.web.app import create_app

    con = sqlite3.connect(tmp_path / "store.db")
    (series,) = con.execute(
        "SELECT series_key FROM series_versions WHERE key = ?", (key,)
    ).fetchone()
    con.close()
    client = TestClient(create_app(database_url(str(tmp_path / "store.db")), page_cache=False))
    assert "Acked-by: wl@xen.org" in client.get(f"/series/{series}").text
    # The series export (one record per version) names the sender as well.
    proc = invoke_cli("--db", "store.db", "export", "series", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Acked-by: None" not in proc.stdout and "Acked-by: wl@xen.org" in proc.stdout
