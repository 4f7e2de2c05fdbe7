"""Findings on the EROFS store (issue 15, acceptance 3): time to merge by size shows its effect
with an interval, and the figures are those an independent computation from the store's
tables gives; a filter that leaves too few series withholds a finding with its reason; the
numbers obey the page's filters; every head and term of the page has a definition."""

from __future__ import annotations

import json
import math
import random
import re
from typing import Any

import jsonschema
import pytest

from patchlens.web import glossary
from tests.test_glossary import parse

SIZE_SQL = {
    "size-patches": "patches",
    "size-lines": "lines_added + lines_removed",
    "size-files": "files_changed",
}


def nearest_median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[math.ceil(len(s) / 2) - 1]


def plain_bootstrap(a: list[float], b: list[float], seed: int, count: int = 2000):
    """The ratio of medians' percentile interval by building every resample (the textbook
    way; the code draws each resample's median directly)."""
    rng = random.Random(seed)
    ratios = sorted(
        nearest_median(rng.choices(b, k=len(b))) / nearest_median(rng.choices(a, k=len(a)))
        for _ in range(count)
    )
    return ratios[math.ceil(0.025 * count) - 1], ratios[math.ceil(0.975 * count) - 1]


def by_id(d: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {x["id"]: x for x in d["findings"]}


def test_time_to_merge_by_size_shows_its_effect_with_an_interval(client, sql):
    d = client.get("/api/findings").json()
    assert d["series"] == sql.execute("SELECT count(*) FROM series_metrics").fetchone()[0]
    found = by_id(d)
    for fid, size_sql in SIZE_SQL.items():
        # Independently: the series whose merge can be seen (not "other tree": a registered
        # repository and none of its files; nor without a diff, `repo_registered` false in a
        # store with a repository, unless merged), split at their nearest-rank median size.
        rows = sql.execute(
            f"SELECT {size_sql}, time_to_merge FROM series_metrics "
            "WHERE (merged != 'none' OR NOT repo_registered OR in_repo)"
            " AND (repo_registered OR merged != 'none' OR merged_by = 'notice')"
        ).fetchall()
        cut = nearest_median([s for s, _t in rows])
        small = [t for s, t in rows if s <= cut and t is not None]
        large = [t for s, t in rows if s > cut and t is not None]
        x = found[fid]
        assert x["withheld"] is None, x["withheld"]
        g_small, g_large = x["groups"]
        assert (g_small["group"], g_large["group"]) == ("small", "large")
        assert g_small["series"] == sum(1 for s, _t in rows if s <= cut)
        assert g_large["series"] == sum(1 for s, _t in rows if s > cut)
        assert (g_small["n"], g_large["n"]) == (len(small), len(large))
        assert x["stands_on"] == len(small) + len(large)
        assert g_small["statistic"] == pytest.approx(nearest_median(small))
        assert g_large["statistic"] == pytest.approx(nearest_median(large))
        assert g_small["reached_share"] == pytest.approx(len(small) / g_small["series"])
        e = x["effect"]
        ratio = nearest_median(large) / nearest_median(small)
        assert e["kind"] == "ratio of medians" and e["value"] == pytest.approx(ratio)
        assert e["resamples"] == 2000 and e["level"] == 0.95
        assert e["low"] < e["value"] < e["high"]
        # The effect on EROFS: larger series take longer, and the whole interval says so.
        assert e["low"] > 1, (fid, e)
        # The same interval as plain resampling gives, within Monte Carlo noise.
        low, high = plain_bootstrap(small, large, seed=len(fid))
        assert abs(math.log(e["low"] / low)) < 0.2, (fid, e["low"], low)
        assert abs(math.log(e["high"] / high)) < 0.2, (fid, e["high"], high)
        assert f"{e['low']:.2f}× to {e['high']:.2f}×" in x["sentence"]
    # The page repeats itself (a fixed seed), and says the same as its JSON twin.
    assert client.get("/api/findings").json() == d
    html = client.get("/findings").text
    e = found["size-lines"]["effect"]
    assert f"{e['value']:.2f}×" in html and f"{e['low']:.2f}× to {e['high']:.2f}×" in html


def test_a_filter_with_too_few_series_withholds_with_the_reason(client, sql):
    # One week of 2023: a handful of series.
    params = {"since": "2023-03-06", "until": "2023-03-12"}
    d = client.get("/api/findings", params=params).json()
    merged = sql.execute(
        "SELECT count(*) FROM series_metrics WHERE first_date >= strftime('%s', '2023-03-06') "
        "AND first_date < strftime('%s', '2023-03-13') AND time_to_merge IS NOT NULL"
    ).fetchone()[0]
    assert 0 < merged < 10
    for x in d["findings"]:
        if x["id"].startswith("size-") or x["id"] == "contributor":
            assert x["effect"] is None and x["sentence"] == ""
            m = re.fullmatch(r"only (\d+) merged series for (.+); need 10", x["withheld"])
            assert m, x["withheld"]
            group = next(g for g in x["groups"] if g["label"] == m.group(2))
            assert int(m.group(1)) == group["n"] < 10
    html = client.get("/findings", params=params).text
    assert html.count("<strong>Withheld</strong>") >= 4
    assert "; need 10." in html
    # A search that finds few series does the same.
    search = {"search": "from:gaoxiang"}
    few = client.get("/api/findings", params=search).json()
    assert few["series"] == client.get("/api/series", params=search).json()["total"]
    assert 0 < few["series"] < 60
    for x in few["findings"]:
        if x["id"].startswith("size-"):
            if x["withheld"] is None:  # both halves have enough merged series
                assert min(g["n"] for g in x["groups"]) >= 10 and x["effect"] is not None
                continue
            m = re.fullmatch(r"only (\d+) merged series for (.+); need 10", x["withheld"])
            assert m, x["withheld"]
            assert int(m.group(1)) == next(g["n"] for g in x["groups"] if g["label"] == m[2])


def test_the_numbers_obey_the_filters(client, sql):
    params = {"org": "Alibaba", "since": "2022-01-01", "until": "2024-12-31"}
    d = client.get("/api/findings", params=params).json()
    listed = client.get("/api/series", params=params).json()
    assert d["series"] == listed["total"]
    assert d["period"]["this"] == {"since": "2022-01-01", "until": "2024-12-31"}
    assert d["period"]["previous"] == {"since": "2019-01-01", "until": "2021-12-31"}
    assert d["period"]["days"] == 1096 and d["period"]["default"] is False
    keys = {
        r[0]
        for r in sql.execute(
            "SELECT series_key FROM series_metrics WHERE org = 'Alibaba' "
            "AND first_date >= strftime('%s', '2022-01-01') "
            "AND first_date < strftime('%s', '2025-01-01')"
        )
    }
    assert len(keys) == d["series"]
    found = by_id(d)
    # The period findings: this period is the selection, the previous one the same filters
    # on the days before.
    una = found["period-unanswered"]
    assert una["groups"][1]["series"] == d["series"]
    prev = client.get("/api/series", params={**params, **d["period"]["previous"]}).json()
    assert una["groups"][0]["series"] == prev["total"]
    # Each group's link lists exactly its series, all among the filtered ones.
    listed_rows = 0
    for fid in ("size-patches", "contributor", "period-merge"):
        for g in found[fid]["groups"]:
            assert "org=Alibaba" in g["link"]
            rows, page = [], 1
            while True:
                link = g["link"].replace("/findings/series", "/api/findings/series")
                part = client.get(link + f"&page={page}").json()
                rows += part["rows"]
                if page * part["page_size"] >= part["total"]:
                    break
                page += 1
            assert len(rows) == g["series"] == part["total"], (fid, g["group"])
            assert sum(r["time_to_merge_hours"] is not None for r in rows) == part["merged"]
            if fid != "period-merge" or g["group"] == "this":
                assert {r["series_key"] for r in rows} <= keys
            assert {r["org"] for r in rows} <= {"Alibaba"}
            listed_rows += len(rows)
    assert listed_rows > 100
    # A filter that selects one group leaves the other empty: withheld.
    new = by_id(client.get("/api/findings", params={"contributor": "new"}).json())
    assert new["contributor"]["withheld"] == (
        "only 0 merged series for established contributors; need 10"
    )
    # An organisation filter leaves no "others" to compare it with.
    assert all(x["withheld"] or not x["id"].startswith("org:") for x in d["findings"])


def test_every_number_has_a_definition_and_the_api_is_described(client):
    html = client.get("/findings").text
    page = parse(html)
    assert page.heads
    for label, links in page.heads:
        assert any(h.startswith("/glossary#") for h in links), label
    used = {h.removeprefix("/glossary#") for h in page.links if h.startswith("/glossary#")}
    assert used <= glossary.ANCHORS
    for term in (
        "finding",
        "effect-size",
        "confidence-interval",
        "stands-on",
        "reached-share",
        "withheld",
        "this-period",
        "series-considered",
        "median",
        "duration-time-to-merge",
        "never-answered-share",
    ):
        assert term in used, term
    assert '<a href="/findings"' in client.get("/").text  # in the navigation
    # Both routes are in /openapi.json and their answers validate against it.
    spec = client.get("/openapi.json").json()
    d = client.get("/api/findings").json()
    group = d["findings"][0]["groups"][1]["link"].replace("/findings/", "/api/findings/")
    for path, url in (("/api/findings", "/api/findings"), ("/api/findings/series", group)):
        op = spec["paths"][path]["get"]
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(
            client.get(url).json(),
            {**schema, "components": spec["components"]},
            cls=jsonschema.Draft202012Validator,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
    names = {p["name"] for p in spec["paths"]["/api/findings/series"]["get"]["parameters"]}
    assert {"finding", "group", "since", "search"} <= names


def test_group_pages_refuse_what_they_cannot_answer(client):
    assert client.get("/findings/series", params={"finding": "size-patches"}).status_code == 400
    missing = client.get("/api/findings/series", params={"finding": "nope", "group": "x"})
    assert missing.status_code == 404
    assert client.get("/api/findings", params={"bogus": "1"}).status_code == 400
    # An organisation's name is mail data: escaped on the group page.
    r = client.get("/findings/series", params={"finding": "org:<b>x</b>", "group": "members"})
    assert r.status_code == 200 and "<b>x</b>" not in r.text
    assert "org:&lt;b&gt;x&lt;/b&gt;" in r.text
    # Hostile values in the group's parameters: a 4xx or a page, never a 5xx.
    hostile = ["", "%", "'; DROP TABLE series;--", "../../etc/passwd", "a" * 3000, "\u202e", ":"]
    for path in ("/findings/series", "/api/findings/series"):
        for v in hostile:
            for params in ({"finding": v, "group": "new"}, {"finding": "contributor", "group": v}):
                assert client.get(path, params=params).status_code < 500, (path, params)
    long = client.get("/api/findings/series", params={"finding": "a" * 300, "group": "x"})
    assert long.status_code == 400 and long.json()["parameter"] == "finding"


def _cli(db: Any, *args: str) -> str:
    from typer.testing import CliRunner

    from patchlens.cli import app

    res = CliRunner().invoke(app, ["--db", str(db), "-q", *args])
    assert res.exit_code == 0, (args, res.output[-500:])
    return res.stdout


def test_cli_findings_json_equals_the_api(erofs_store, client):
    db, _engine, _ = erofs_store
    year = ("--since", "2023-01-01", "--until", "2023-12-31")
    out = json.loads(_cli(db, "findings", "--json", *year))
    api = client.get("/api/findings", params={"since": "2023-01-01", "until": "2023-12-31"})
    assert out == api.json()
    text = _cli(db, "findings", "--since", "2023-03-06", "--until", "2023-03-12")
    assert "withheld: only" in text and "need 10" in text
    assert "interval" in _cli(db, "findings", *year)


def test_the_csv_holds_every_group_of_every_finding(client):
    from patchlens.queries.findings import table_rows
    from tests.test_csv import check

    params = {"since": "2023-01-01", "until": "2023-12-31"}
    d = client.get("/api/findings", params=params).json()
    rows = table_rows(d)
    assert len(rows) == sum(len(x["groups"]) or 1 for x in d["findings"]) > 10
    check(client, "findings", "groups", rows, params=params)
    html = client.get("/findings", params=params).text
    assert 'href="/csv/findings/groups?since=2023-01-01&amp;until=2023-12-31"' in html


def test_without_a_period_the_last_365_days_to_the_newest_series(client, sql):
    d = client.get("/api/findings").json()
    newest = sql.execute(
        "SELECT date(max(first_date), 'unixepoch'), date(max(first_date), 'unixepoch', "
        "'-364 days'), date(max(first_date), 'unixepoch', '-365 days') FROM series_metrics"
    ).fetchone()
    p = d["period"]
    assert p["default"] is True and p["days"] == 365
    assert p["this"] == {"since": newest[1], "until": newest[0]}
    assert p["previous"]["until"] == newest[2]
    # The period findings compare exactly the series of those two ranges of days.
    una = by_id(d)["period-unanswered"]
    for g, days in zip(una["groups"], (p["previous"], p["this"]), strict=True):
        assert g["series"] == client.get("/api/series", params=days).json()["total"] > 100
    assert "the 365 days to the newest series selected" in client.get("/findings").text
