"""The CSV of every table (/csv/PAGE/TABLE[/IDENT], queries/tables.py): each table's CSV holds
the rows of the page's JSON twin (every row: with full=1, page after page), in its order,
with the table's columns, under the same filters; each page links the CSV of each of its
tables. On the EROFS store, and on the Xen postings with MAINTAINERS for the subsystem page
(which also checks the search's `subsystem:` against SQL, EROFS having no MAINTAINERS)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from typing import Any
from urllib.parse import quote

import pytest

from patchlens.queries.tables import TABLES

pytestmark = pytest.mark.slow

PERSON = "hsiangkao@aol.com"
FILTERS = {"since": "2023-01-01", "search": "-is:merged"}


def cell(v: Any) -> str:
    """A JSON value as the CSV must hold it (spreadsheet formulas defused)."""
    if v is None:
        return ""
    if isinstance(v, list | dict):
        return json.dumps(v, separators=(",", ":"))
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return str(v)


def read_csv(client: Any, url: str, params: dict[str, str]) -> tuple[list[str], list[list[str]]]:
    r = client.get(url, params=params)
    assert r.status_code == 200, (url, r.text[:300])
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    return rows[0], rows[1:]


def every_page(client: Any, url: str, params: dict[str, str], part: str = "", pname: str = "page"):
    """Rows of a paginated JSON table, page after page."""
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        d = client.get(url, params={**params, pname: page}).json()
        t = d[part] if part else d
        out += t["rows"]
        if page >= t["pages"]:
            return out
        page += 1


def hours(name: str) -> str:
    return {
        "time_to_first_response": "time_to_first_response_hours",
        "time_to_first_review": "time_to_first_review_hours",
        "time_to_merge": "time_to_merge_hours",
        "rework_time": "rework_time_hours",
        "median_time_to_merge": "median_time_to_merge_hours",
    }.get(name, name)


def check(client: Any, page: str, table: str, expected: list[dict[str, Any]], **kw: Any) -> None:
    """The CSV of a table against rows of the JSON API (keys as the API names them)."""
    ident = kw.get("ident")
    url = f"/csv/{page}/{table}" + (f"/{quote(ident, safe='@')}" if ident else "")
    header, rows = read_csv(client, url, kw.get("params", {}))
    assert header == TABLES[page][table].header
    want = [[cell(r.get(h, r.get(hours(h)))) for h in header] for r in expected]
    assert rows == want, (page, table)
    if kw.get("nonempty", True):
        assert rows, (page, table)


@pytest.mark.parametrize("params", [{}, FILTERS])
def test_list_pages(client, params) -> None:
    o = client.get("/api/overview", params=params).json()
    check(client, "overview", "trend", o["trend"][::-1], params=params)

    p = client.get("/api/performance", params=params).json()
    check(
        client,
        "performance",
        "overall",
        [{"metric": k.removesuffix("_hours"), **v} for k, v in p["overall"].items()],
        params=params,
    )
    for m in ("time_to_first_response", "time_to_first_review", "time_to_merge", "rework_time"):
        check(
            client, "performance", f"over_time-{m}", p["over_time"][hours(m)][::-1], params=params
        )
    for kind, groups in p["time_to_merge_hours_by_bucket"].items():
        check(client, "performance", f"by_bucket-{kind}", groups, params=params)
    check(
        client,
        "performance",
        "by_contributor",
        p["time_to_first_response_hours_by_contributor"],
        params=params,
    )

    full = {**params, "full": "1"}
    b = client.get("/api/backlog", params=full).json()
    check(
        client,
        "backlog",
        "states",
        [{"state": k, "series": n} for k, n in b["states"].items()],
        params=params,
    )
    for t in ("waiting_first_response", "nearly_complete", "waiting_on_author", "stale"):
        assert b[t]["total"] == len(b[t]["rows"])
        check(client, "backlog", t, b[t]["rows"], params=params, nonempty=t == "stale")
    check(
        client,
        "backlog",
        "unanswered_by_subsystem",
        b["unanswered_by_subsystem"]["rows"],
        params=params,
        nonempty=False,
    )
    check(client, "backlog", "per_subsystem", b["per_subsystem"]["rows"], params=params)

    c = client.get("/api/community", params=full).json()
    for t in ("reviewers", "contributors", "orgs"):
        assert len(c[t]) == c[f"{t}_total"]
        check(client, "community", t, c[t], params=params)


def test_paginated_tables_hold_every_page(client, sql) -> None:
    series = every_page(client, "/api/series", FILTERS)
    assert len(series) > 50  # more than one page
    check(client, "series", "series", series, params=FILTERS)
    sorted_ = {**FILTERS, "sort": "-versions"}
    check(client, "series", "series", every_page(client, "/api/series", sorted_), params=sorted_)
    days = {"since": "2024-01-01", "until": "2024-03-31"}
    patches = every_page(client, "/api/patches", days)
    assert len(patches) > 50
    check(client, "patches", "patches", patches, params=days)
    check(client, "pulls", "pulls", every_page(client, "/api/pulls", {}), nonempty=False)
    n = sql.execute("SELECT count(*) FROM pull_requests").fetchone()[0]
    assert len(read_csv(client, "/csv/pulls/pulls", {})[1]) == n


def test_person_and_commit(client, sql) -> None:
    for t in ("authored", "reviewed"):
        rows = every_page(client, f"/api/people/{PERSON}", {}, t, f"{t}_page")
        assert len(rows) > 50
        check(client, "person", t, rows, ident=PERSON)
    person = client.get(f"/api/people/{PERSON}").json()
    check(client, "person", "load", person["load"], ident=PERSON)
    queue = client.get(f"/api/people/{PERSON}/queue").json()
    for t in ("awaiting", "again"):
        check(client, "queue", t, queue[t], ident=PERSON, nonempty=t == "awaiting")
    sha = sql.execute(
        "SELECT c.sha FROM commits c JOIN commit_files f ON f.commit_pk = c.id "
        "GROUP BY c.id HAVING count(*) > 3 LIMIT 1"
    ).fetchone()[0]
    d = client.get(f"/api/commits/{sha}").json()
    check(client, "commit", "files", d["files"], ident=sha)


def test_every_page_links_its_tables(client, sql) -> None:
    sha = sql.execute("SELECT sha FROM commits LIMIT 1").fetchone()[0]
    # The person's page links the CSV under the address they use most.
    address = client.get(f"/api/people/{PERSON}").json()["address"]
    pages = {
        "overview": "/",
        "performance": "/performance",
        "backlog": "/backlog",
        "community": "/community",
        "series": "/series",
        "patches": "/patches",
        "pulls": "/pulls",
        "person": f"/people/{PERSON}",
        "commit": f"/commits/{sha}",
        "queue": f"/people/{PERSON}/queue",
    }
    for page, path in pages.items():
        dated = page not in ("commit", "queue")
        html = client.get(path, params={"since": "2019-01-01"} if dated else {}).text
        for table in TABLES[page]:
            if table == "unanswered_by_subsystem":
                continue  # shown only when the store has MAINTAINERS (the subsystem test)
            ident = {"person": f"/{address}", "commit": f"/{sha}", "queue": f"/{address}"}
            ident = ident.get(page, "")
            query = "?since=2019-01-01" if dated else ""
            assert f'href="/csv/{page}/{table}{ident}{query}"' in html, (page, table)


def test_unknown_tables_and_bad_filters(client) -> None:
    assert client.get("/csv/backlog/nothing").status_code == 404
    assert client.get("/csv/nothing/rows").status_code == 404
    assert client.get("/csv/person/authored/nobody@nowhere.invalid").status_code == 404
    r = client.get("/csv/series/series", params={"search": "age:>2x"})
    assert r.status_code == 400 and "bad duration" in r.text


def test_csv_defuses_formulas() -> None:
    from patchlens.web.downloads import csv_text

    text = csv_text(["title", "n"], [{"title": '=HYPERLINK("x")', "n": -1}])
    assert list(csv.reader(io.StringIO(text)))[1] == ['\'=HYPERLINK("x")', "-1"]


@pytest.fixture(scope="module")
def xen_client(xen_store):
    from fastapi.testclient import TestClient

    from patchlens.store.db import database_url

    _tmp, db, _engine = xen_store
    return TestClient(create_xen_app(database_url(str(db)))), db


def create_xen_app(url: str) -> Any:
    from patchlens.web.app import create_app

    return create_app(url)


def test_subsystem_tables_and_search(xen_client) -> None:
    client, db = xen_client
    title = "TOOLSTACK"
    full = {"full": "1"}
    d = client.get(f"/api/subsystems/{quote(title)}", params=full).json()
    check(
        client,
        "subsystem",
        "durations",
        [
            {"metric": "time_to_first_response", **d["time_to_first_response_hours"]},
            {"metric": "time_to_merge", **d["time_to_merge_hours"]},
        ],
        ident=title,
    )
    check(
        client,
        "subsystem",
        "states",
        [{"state": k, "series": n} for k, n in d["states"].items()],
        ident=title,
    )
    check(
        client,
        "subsystem",
        "reviewer_load",
        d["reviewer_load"]["rows"],
        ident=title,
        nonempty=False,
    )
    for t in ("unanswered", "open"):
        assert d[t]["total"] == len(d[t]["rows"])
        check(client, "subsystem", t, d[t]["rows"], ident=title, nonempty=t == "unanswered")
    # The queues, waiting on whom and the load over time (they had no CSV).
    check(client, "subsystem", "queues", d["queues"], ident=title)
    w = d["waiting_on"]
    check(client, "subsystem", "waiting_on_people", w["by_person"], ident=title)
    assert len(w["rows"]) == w["total"]
    check(client, "subsystem", "waiting_on", w["rows"], ident=title)
    check(client, "subsystem", "load", d["load"], ident=title)
    check(client, "subsystem", "first_response_by_role", d["first_response_by_role"], ident=title)
    perf = client.get("/api/performance").json()
    check(client, "performance", "first_response_by_role", perf["first_response_by_role"])
    html = client.get(f"/subsystems/{quote(title)}").text
    for t in TABLES["subsystem"]:
        assert f'href="/csv/subsystem/{t}/{quote(title, safe="@")}"' in html, t
    backlog = client.get("/backlog").text
    assert 'href="/csv/backlog/unanswered_by_subsystem"' in backlog

    # The search's subsystem: on a store with MAINTAINERS, against SQL over the stored lists.
    con = sqlite3.connect(db)
    stored = [
        (k, json.loads(subs))
        for k, subs in con.execute("SELECT series_key, subsystems FROM series_metrics")
    ]
    con.close()
    for needle, search in (("x86", "subsystem:X86"), ("toolstack", 'subsystem:"toolstack"')):
        expected = {k for k, subs in stored if any(needle in s.lower() for s in subs)}
        assert len(expected) > 100
        got = client.get("/api/series", params={"search": search}).json()["total"]
        assert got == len(expected), search
    assert len({k for k, subs in stored if title in subs}) == d["series"]


def test_patches_of_every_series_whatever_filter_selects_them_all(client, sql, erofs_store) -> None:
    """Without a filter the patches page lists the patches of every series the metrics
    count, as a filter that keeps every series does (the list all of EROFS's mail is on):
    pull requests and the groupings the metrics leave out are not series. Counted here in
    SQL; the totals once differed by 243 patches."""
    n = sql.execute(
        "SELECT count(*) FROM version_members vm"
        " JOIN series_versions sv ON sv.key = vm.version_key"
        " JOIN series_metrics sm ON sm.series_key = sv.series_key WHERE vm.idx > 0"
    ).fetchone()[0]
    every = sql.execute("SELECT count(*) FROM version_members WHERE idx > 0").fetchone()[0]
    assert 0 < n < every  # the store holds patches that are not of a series
    series = client.get("/api/series").json()["total"]
    assert client.get("/api/series", params={"list": "linux-erofs"}).json()["total"] == series
    assert client.get("/api/patches").json()["total"] == n
    for extra in ({}, {"since": "2024-01-01"}, {"q": "fix"}):
        plain = client.get("/api/patches", params=extra).json()["total"]
        listed = client.get("/api/patches", params={**extra, "list": "linux-erofs"}).json()
        assert plain == listed["total"] > 0, extra
    # A filter may select pull requests: their own patches, as the series page lists them.
    pulls = sql.execute(
        "SELECT count(*) FROM version_members vm"
        " JOIN series_versions sv ON sv.key = vm.version_key"
        " JOIN pull_requests pr ON pr.series_key = sv.series_key WHERE vm.idx > 0"
    ).fetchone()[0]
    assert pulls > 0
    assert client.get("/api/patches", params={"search": "is:pull"}).json()["total"] == pulls
    # The export of patches lists the same, with and without the filter.
    from typer.testing import CliRunner

    from patchlens.cli import app

    db = erofs_store[0]
    for opts, want in (([], n), (["--list", "linux-erofs"], n), (["--search", "is:pull"], pulls)):
        res = CliRunner().invoke(
            app, ["--db", str(db), "-q", "export", "patches", "--format", "json", *opts]
        )
        assert res.exit_code == 0, res.output[-300:]
        assert len(json.loads(res.stdout)) == want, opts
