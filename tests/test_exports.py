"""Exports in every format, readable without patchlens."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest

from tests.helpers.cli import invoke_cli

pytestmark = pytest.mark.slow


def _run(db: Path, *args: str) -> str:
    proc = invoke_cli("--db", str(db), "-q", "export", *args)
    proc.check_returncode()
    return proc.stdout


def test_metrics_parquet_and_csv_agree(erofs_store, tmp_path: Path) -> None:
    db, _engine, _ = erofs_store
    out = tmp_path / "m.parquet"
    _run(db, "metrics", "--format", "parquet", "-o", str(out))
    con = duckdb.connect()
    n, states = con.execute(
        "SELECT count(*), count(DISTINCT merged) FROM read_parquet(?)", [str(out)]
    ).fetchall()[0]
    con.close()
    rows = list(csv.DictReader(io.StringIO(_run(db, "metrics", "--format", "csv"))))
    assert n == len(rows) > 1000 and states == 3
    assert {"series_key", "time_to_merge_hours", "state", "org"} <= set(rows[0])


def test_series_json_is_self_contained(erofs_store) -> None:
    db, _engine, _ = erofs_store
    versions = json.loads(_run(db, "series", "--format", "json"))
    keys = {v["version_key"] for v in versions}
    linked = [v for v in versions if v["previous_version"]]
    assert linked and all(v["previous_version"] in keys for v in linked)
    assert any(r["trailers"] for v in versions for r in v["replies"])


def test_people_and_patches(erofs_store) -> None:
    db, _engine, _ = erofs_store
    people = list(csv.DictReader(io.StringIO(_run(db, "people"))))
    assert people[0]["review_replies"] and int(people[0]["review_replies"]) > 1000
    patches = json.loads(_run(db, "patches", "--format", "json"))
    merged = [p for p in patches if p["commit"]]
    assert len(merged) > 1000 and all(p["match_method"] for p in merged)
    assert any(p["superseded"] for p in patches)


def test_parquet_needs_a_file(erofs_store) -> None:
    db, _engine, _ = erofs_store
    proc = invoke_cli("--db", str(db), "export", "people", "--format", "parquet")
    assert proc.returncode == 2 and "--output" in proc.stderr


def test_no_filter_exports_what_a_filter_keeping_every_series_exports(erofs_store) -> None:
    """Without a filter an export holds every series; with a filter that keeps every series
    it holds the same, not pull requests as well in one case and not in the other."""
    db, _engine, _ = erofs_store
    keep_all = ("--since", "1990-01-01")
    for name, key in (("series", "version_key"), ("patches", "message_id"), ("links", "commit")):
        plain = json.loads(_run(db, name, "--format", "json"))
        kept = json.loads(_run(db, name, "--format", "json", *keep_all))
        assert sorted(r[key] for r in plain) == sorted(r[key] for r in kept), name
        assert plain, name
    pulls = json.loads(_run(db, "series", "--format", "json", "--search", "is:pull"))
    plain_keys = {r["series"] for r in json.loads(_run(db, "series", "--format", "json"))}
    assert pulls and not {r["series"] for r in pulls} & plain_keys
