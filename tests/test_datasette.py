"""`patchlens datasette`: the metadata covers the schema, and the canned queries give the
dashboard's numbers on the EROFS store (states as metrics/backlog.py decides them, the
backlog as /api/backlog counts it, review given as the community page sums it, a person's
queue as queries/queue.py builds it). The browser test is tests/test_datasette_browser.py."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from patchlens.metrics.backlog import DAY, OPEN_STATES, BacklogRules, decide
from patchlens.metrics.roles import MAINTAINER, REVIEWER
from patchlens.queries.queue import AGAIN, ASKED
from patchlens.queries.selection import (
    data_date,
    idle_until,
    review_date,
    select_series,
    stored_facts,
)
from patchlens.store import schema
from patchlens.web import datasette_columns, datasette_meta

RULES = BacklogRules()


@pytest.fixture(scope="module")
def ro(erofs_store):
    """The EROFS store opened read-only, as datasette opens it (rows by column name)."""
    db, _engine, _ = erofs_store
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    yield con
    con.close()


def canned(con: sqlite3.Connection, name: str, **params: str) -> list[dict]:
    sql = datasette_meta.canned_queries(RULES)[name]["sql"]
    return [dict(r) for r in con.execute(sql, params)]


def test_every_table_and_column_is_described():
    described = {t: set(cols) for t, (_d, cols) in datasette_columns.TABLES.items()}
    in_schema = {t.name: {c.name for c in t.columns} for t in schema.metadata.sorted_tables}
    extra = set(described) - set(in_schema) - {"alembic_version"}
    assert not extra, f"described but not in the schema: {sorted(extra)}"
    for table, cols in in_schema.items():
        assert table in described, f"table {table} has no description"
        assert cols == described[table], (
            f"{table}: undescribed {sorted(cols - described[table])}, "
            f"gone {sorted(described[table] - cols)}"
        )
    for table, (desc, cols) in datasette_columns.TABLES.items():
        assert desc.strip(), table
        assert all(d.strip() for d in cols.values()), table


def test_the_store_file_has_nothing_undescribed(ro):
    """What datasette lists is what the SQLite file has: every table and column of it."""
    tables = [
        r[0]
        for r in ro.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not r[0].startswith("sqlite_")
    ]
    assert "series_metrics" in tables
    meta = datasette_meta.metadata("erofs", RULES)["databases"]["erofs"]["tables"]
    for t in tables:
        cols = {r[1] for r in ro.execute(f'PRAGMA table_info("{t}")')}
        assert t in meta and set(meta[t]["columns"]) == cols, t


def test_state_in_sql_is_decide_at_any_date(ro, erofs_store):
    """The SQL CASE and metrics/backlog.py `decide` agree on every series, at the data's date
    and at dates that make series stale, abandoned or not yet idle, with idleness counted to
    the data's date or to a mail's end before it."""
    _db, engine, _ = erofs_store
    rows = [dict(r) for r in ro.execute("SELECT * FROM series_metrics")]
    with engine.connect() as conn:
        today = data_date(conn)
    seen = Counter()
    for when in (today, today - 400 * DAY, today - 60 * DAY, today + 20 * DAY, today + 200 * DAY):
        for end in (None, today - 90 * DAY):
            idle_to = idle_until(when, today, end)
            case = datasette_meta.state_case(RULES, "sm", str(when), str(idle_to))
            sql = f"SELECT series_key, {case} AS st "
            got = dict(ro.execute(sql + "FROM series_metrics sm").fetchall())
            for r in rows:
                want = decide(stored_facts(r), when, RULES, idle_to)
                assert got[r["series_key"]] == want, (r["series_key"], when, end)
                seen[want] += 1
    # the dates reached most of the branches
    assert {"merged", "abandoned", "stale", "new"} <= set(seen), seen


def test_backlog_counts_equal_the_dashboards(ro, client):
    api = client.get("/api/backlog").json()
    got = {r["state"]: r["series"] for r in canned(ro, "backlog_states")}
    want = {k: v for k, v in api["states"].items() if v}
    assert got == want
    assert sum(got.values()) == api["series"] > 100
    opened = {r["state"]: r["open"] for r in canned(ro, "backlog_states")}
    assert {s for s, o in opened.items() if o} == {s for s in got if s in OPEN_STATES}


def test_backlog_lists_the_open_series_with_age(ro, erofs_store):
    _db, engine, _ = erofs_store
    with engine.connect() as conn:
        from patchlens.queries.filters import Filters

        rows = select_series(conn, Filters(), RULES)
        # Age to the data's date; idle to the mail's end when it comes first.
        today, idle_to = data_date(conn), review_date(conn)
    want = {r["series_key"]: r for r in rows if r["state"] in OPEN_STATES}
    got = canned(ro, "backlog")
    assert len(got) == len(want) > 0
    for g in got:
        w = want[g["series_key"]]
        assert g["state"] == w["state"]
        assert g["age_days"] == round((today - w["first_date"]) / 86400, 1)
        assert g["idle_days"] == round((idle_to - w["last_date"]) / 86400, 1)


def test_reviewers_equal_the_community_sums(ro, erofs_store):
    from patchlens.queries.community import review_balance

    _db, engine, _ = erofs_store
    with engine.connect() as conn:
        want = review_balance(conn, top=None)["reviewers"]
    fields = (
        "identity",
        "org",
        "review_replies",
        "reviews",
        "flag_only",
        "substantive",
        "lines_written",
        "series_reviewed",
    )
    got = canned(ro, "reviewers")
    assert len(got) == len(want) > 20
    assert [[g[k] for k in fields] for g in got] == [[w[k] for k in fields] for w in want]
    assert max(g["reviews"] for g in got) > 0


def queues(engine, people: list[str] | None = None) -> dict[str, list[dict]]:
    """Every person's queue (or those of `people`) as queries/queue.py lists it."""
    from patchlens.queries.queue import queue_rows

    with engine.connect() as conn:
        if people is None:
            ident = schema.people.c.identity
            people = [r[0] for r in conn.execute(select(ident).order_by(ident))]
        return {p: queue_rows(conn, p, RULES) for p in people}


def same_queues(con: sqlite3.Connection, everyone: dict[str, list[dict]]) -> Counter:
    """The canned queue equals the read model's for each person: series, order, reasons,
    version, state and waiting days. Returns how often each reason was seen."""
    seen: Counter = Counter()
    for who, want in everyone.items():
        got = canned(con, "queue", person=who)
        assert [g["series_key"] for g in got] == [w["series_key"] for w in want], who
        for g, w in zip(got, want, strict=True):
            assert g["reasons"] == ", ".join(w["reasons"]), (who, g["series_key"])
            assert g["current_version"] == w["current_version"]
            assert g["state"] == w["state"]
            assert g["waiting_days"] == round(w["waiting_hours"] / 24, 1)
            seen.update(w["reasons"])
    return seen


def test_queue_of_everyone_equals_the_read_model(ro, erofs_store):
    _db, engine, _ = erofs_store
    everyone = queues(engine)
    nonempty = [p for p, q in everyone.items() if q]
    assert len(nonempty) >= 3
    seen = same_queues(ro, everyone)
    assert seen[ASKED] > 0 and seen[AGAIN] > 0, seen
    # by one of their addresses too
    who = max(nonempty, key=lambda p: len(everyone[p]))
    address = ro.execute("SELECT address FROM people WHERE identity = ?", (who,)).fetchone()[0]
    got = canned(ro, "queue", person=address.upper())
    assert [g["series_key"] for g in got] == [w["series_key"] for w in everyone[who]]
    assert canned(ro, "queue", person="nobody@invalid") == []


def test_queue_with_maintainers_roles_on_xen(xen_store):
    """Xen with MAINTAINERS: the maintainer and reviewer reasons (EROFS has no MAINTAINERS).
    Everyone with a queue, and every 10th person without one."""
    _tmp, db, engine = xen_store
    everyone = queues(engine)
    some = {p: q for i, (p, q) in enumerate(everyone.items()) if q or i % 10 == 0}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        seen = same_queues(con, some)
    finally:
        con.close()
    assert seen[MAINTAINER] > 0 and seen[REVIEWER] > 0, seen


def test_queue_by_a_maintainers_address_nobody_sent_from(xen_store):
    """George Dunlap's MAINTAINERS address (eu.citrix.com, which never wrote) names the
    George Dunlap who wrote (stages/maintainer_people.py): the canned queue finds his queue
    by it, as the web does, where it found nobody."""
    from patchlens.queries.queue import find_people, queue_rows

    _tmp, db, engine = xen_store
    with engine.connect() as conn:
        (person,) = find_people(conn, "George.Dunlap@eu.citrix.com")
        want = queue_rows(conn, person["identity"], RULES)
    assert person["identity"] == "addr:george.dunlap@citrix.com" and want
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        got = canned(con, "queue", person="George.Dunlap@eu.citrix.com")
    finally:
        con.close()
    assert [g["series_key"] for g in got] == [w["series_key"] for w in want]


def test_queue_after_a_partial_reroll(tmp_path):
    """Scenario 04: a re-rolled 2/5 alone (v3) laid over v2: the reviewer who spoke before it
    has it back again, with the current version v2 (the last full one)."""
    from patchlens.config import Config
    from patchlens.stages import ingest
    from patchlens.stages.pipeline import run_stages
    from patchlens.stages.progress import Reporter
    from patchlens.store.db import open_store
    from tests.conftest import FIXTURES

    db = tmp_path / "s.db"
    engine = open_store(str(db))
    ingest.add_list(engine, "l", [str(FIXTURES / "scenarios" / "04-partial-reroll.mbox")])
    ingest.run_update(engine, tmp_path / "cache", Reporter(quiet=True), jobs=1)
    run_stages(engine, Config(), tmp_path / "cache", Reporter(quiet=True), jobs=1)
    everyone = queues(engine)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        seen = same_queues(con, everyone)
    finally:
        con.close()
    assert seen[AGAIN] == 1, seen
    rows = [r for q in everyone.values() for r in q if AGAIN in r["reasons"]]
    assert rows[0]["current_version"] == "v2 + partial v3"


def test_metadata_only_writes_the_metadata(erofs_store, tmp_path):
    from patchlens.cli import app

    db, _engine, _ = erofs_store
    out = tmp_path / "metadata.json"
    res = CliRunner().invoke(app, ["--db", str(db), "datasette", "--metadata-only", str(out)])
    assert res.exit_code == 0, res.output
    meta = json.loads(out.read_text())
    d = meta["databases"][db.stem]
    assert set(d["queries"]) == {"backlog_states", "backlog", "reviewers", "queue"}
    assert "org" in d["tables"]["series_metrics"]["facets"]
    assert d["tables"]["series_metrics"]["columns"]["merged"]
    assert datasette_meta.STATES_DB not in meta["databases"]


def test_postgresql_is_refused():
    from patchlens.cli import app

    res = CliRunner().invoke(app, ["--db", "postgresql://u@localhost/x", "datasette"])
    assert res.exit_code == 2
    assert "SQLite files only" in res.output


def test_states_db_is_the_read_model(erofs_store, tmp_path, client):
    _db, engine, _ = erofs_store
    path = tmp_path / "states.db"
    with engine.connect() as conn:
        n = datasette_meta.write_states_db(conn, path, RULES)
    con = sqlite3.connect(path)
    counts = dict(con.execute("SELECT state, count(*) FROM series_states GROUP BY state"))
    lists = {v for (j,) in con.execute("SELECT lists FROM series_states") for v in json.loads(j)}
    con.close()
    api = client.get("/api/backlog").json()
    assert n == api["series"]
    assert counts == {k: v for k, v in api["states"].items() if v}
    assert lists == {"linux-erofs", "erofs-2024"}


def test_plain_datasette_with_the_metadata_file(erofs_store, tmp_path, client):
    """docs/DATASETTE.md's plain use: `datasette STORE -m metadata.json` (here with --get, one
    request without a server) has the canned queries and the descriptions."""
    import subprocess
    import sys

    from patchlens.cli import app

    db, _engine, _ = erofs_store
    meta = tmp_path / "metadata.json"
    res = CliRunner().invoke(app, ["--db", str(db), "datasette", "--metadata-only", str(meta)])
    assert res.exit_code == 0, res.output

    def get(path: str) -> str:
        cmd = [sys.executable, "-m", "datasette", str(db), "-m", str(meta), "--get", path]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
        return out.stdout

    rows = json.loads(get(f"/{db.stem}/backlog_states.json?_shape=array"))
    api = client.get("/api/backlog").json()
    assert {r["state"]: r["series"] for r in rows} == {k: v for k, v in api["states"].items() if v}
    assert "state fact: none, partly or fully merged" in get(f"/{db.stem}/series_metrics")
