"""One filter, one series set: the dashboard's series explorer (HTML), the JSON API,
`patchlens report --json` and the exports name the same series for the same filter on the
EROFS store, with the same states and the same review counts.

Each consumer is read the way a person or a script reads it: the explorer's pages are parsed
for their series links, the API paged through, the CLI run with the options that spell the
filter. A consumer with its own notion of a filter (its own day bounds, its own list test, its
own definition of a review) gives another set or other figures here.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from typing import Any
from urllib.parse import unquote

import pytest

pytestmark = pytest.mark.slow

# Each filter as query parameters; the CLI spells each as --name value (q as --q; --search
# is the search language, the `search` parameter).
FILTERS: list[dict[str, str]] = [
    {"list": "erofs-2024"},
    {"since": "2020-02-17", "until": "2020-02-19"},  # the busiest days: both ends count
    {"state": "partly merged"},
    {"state": "other tree", "until": "2019-12-31"},
    {"state": "unanswered", "since": "2019-01-01"},
    {"org": "Huawei", "until": "2020-02-17"},
    {"subsystem": "no such subsystem"},
    {"q": "compress", "list": "linux-erofs"},
    {"author": "_"},
    {"author": "HUAWEI.com", "contributor": "established"},
    {"bucket": "patches:2-5", "state": "merged", "since": "2022-01-01"},
    {"search": "is:open versions:>1 -has:review", "since": "2020-01-01"},
    {"search": 'file:lib/ reviewed-by:gao "erofs-utils"', "list": "linux-erofs"},
    {"search": "age:>1y posted:2021..2023 -to:linux-kernel"},
]
_LINK = re.compile(r'<td><a href="/series/([^"?#]+)">')
_NEXT = re.compile(r'<a rel="next" href="([^"]+)"')


def _options(params: dict[str, str]) -> list[str]:
    out: list[str] = []
    for name, value in params.items():
        out += ["--q" if name == "q" else f"--{name}", value]
    return out


@pytest.fixture(scope="module")
def store(erofs_store) -> Any:
    from fastapi.testclient import TestClient

    from patchlens.store.db import database_url
    from patchlens.web.app import create_app

    db, _engine, _ = erofs_store
    return db, TestClient(create_app(database_url(str(db))))


def _explorer(client: Any, params: dict[str, str]) -> list[str]:
    """Series keys as the HTML explorer links them, following its "next" links."""
    keys: list[str] = []
    resp = client.get("/series", params=params)
    while True:
        assert resp.status_code == 200, resp.text[:300]
        keys += [unquote(k) for k in _LINK.findall(resp.text)]
        nxt = _NEXT.search(resp.text)
        if not nxt:
            return keys
        resp = client.get("/series" + nxt.group(1).replace("&amp;", "&"))


def _api(client: Any, params: dict[str, str]) -> list[dict[str, Any]]:
    first = client.get("/api/series", params=params).json()
    rows = list(first["rows"])
    for page in range(2, first["pages"] + 1):
        rows += client.get("/api/series", params={**params, "page": str(page)}).json()["rows"]
    assert len(rows) == first["total"]
    return rows


def _cli(db: Any, *args: str) -> str:
    from typer.testing import CliRunner

    from patchlens.cli import app

    res = CliRunner().invoke(app, ["--db", str(db), "-q", *args])
    assert res.exit_code == 0, (args, res.output[-500:])
    return res.stdout


@pytest.mark.parametrize(
    "params", FILTERS, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items())
)
def test_same_series_everywhere(store, params: dict[str, str]) -> None:
    db, client = store
    opts = _options(params)
    html = _explorer(client, params)
    api = _api(client, params)
    report = json.loads(_cli(db, "report", "--json", *opts))
    metrics = json.loads(_cli(db, "export", "metrics", "--format", "json", *opts))

    assert len(html) == len(set(html)), "the explorer listed a series twice"
    want = set(html)
    assert {r["series_key"] for r in api} == want
    assert set(report["series_keys"]) == want and report["series"] == len(want)
    assert {r["series_key"] for r in metrics} == want
    # The same states: the report's table, the API's rows, the export's column.
    states = Counter(r["state"] for r in api)
    assert Counter(r["state"] for r in metrics) == states
    assert {k: v for k, v in report["states"].items() if v} == dict(states)
    backlog = client.get("/api/backlog", params=params).json()
    assert {k: v for k, v in backlog["states"].items() if v} == dict(states)
    if params == {"subsystem": "no such subsystem"}:
        assert not want  # an unknown value selects nothing, everywhere
    else:
        assert want, params  # each filter here selects something on EROFS


def test_filters_narrow_and_differ(store) -> None:
    """The filters above are not all the same set (a filter ignored somewhere would pass the
    comparison only if every consumer ignored it: here each one must also narrow)."""
    _db, client = store
    every = client.get("/api/series").json()["total"]
    totals = [client.get("/api/series", params=p).json()["total"] for p in FILTERS]
    assert all(t < every for t in totals)
    assert len(set(totals)) >= len(FILTERS) - 2


def test_exports_keep_to_the_selection(store) -> None:
    """Every export with a filter holds the selected series' rows and no others; review
    given is counted alike by the metrics export and the community page (one definition of
    a review)."""
    db, client = store
    params = {"since": "2021-01-01", "until": "2021-12-31", "list": "linux-erofs"}
    opts = _options(params)
    want = {r["series_key"] for r in _api(client, params)}
    assert want
    versions = json.loads(_cli(db, "export", "series", *opts))
    assert {v["series"] for v in versions} == want
    metrics = json.loads(_cli(db, "export", "metrics", "--format", "json", *opts))
    assert {r["series_key"] for r in metrics} == want
    patches = json.loads(_cli(db, "export", "patches", "--format", "json", *opts))
    assert {p["series"] for p in patches} == {r["series_key"] for r in metrics if r["patches"]}
    posted = {p["message_id"] for p in patches}
    links = list(csv.DictReader(io.StringIO(_cli(db, "export", "links", *opts)), delimiter="\t"))
    assert links and {row["message_id"] for row in links} <= posted
    assert {row["message_id"] for row in links} == {p["message_id"] for p in patches if p["commit"]}
    people = list(csv.DictReader(io.StringIO(_cli(db, "export", "people", *opts))))
    community = client.get("/api/community", params=params).json()
    assert sum(int(p["reviews"]) for p in people) == community["reviews"]
    assert sum(r["reviews"] for r in metrics) == community["reviews"]
    everyone = list(csv.DictReader(io.StringIO(_cli(db, "export", "people"))))
    assert len(people) < len(everyone)


def test_a_bad_option_names_itself(store) -> None:
    from typer.testing import CliRunner

    from patchlens.cli import app

    db, client = store
    for args, option in (
        (["--since", "2021-13-01"], "--since"),
        (["--state", "sleeping"], "--state"),
        (["--bucket", "patches:7"], "--bucket"),
    ):
        res = CliRunner().invoke(app, ["--db", str(db), "report", *args])
        assert res.exit_code == 2 and option in res.output, (args, res.output)
        name = option.removeprefix("--")
        resp = client.get("/api/series", params={name: args[1]})
        assert resp.status_code == 400 and resp.json()["parameter"] == name


def test_report_as_of_a_date_before_the_data_s_is_refused(store) -> None:
    """The report's figures are kept as of the data's date: an earlier --as-of would decide
    states from merges, replies and series that came after it (it once counted 824 series
    posted after 2024-01-01 in the report "as of" that day, merged as they are today). A
    later date is what turns stale if nothing happens."""
    from typer.testing import CliRunner

    from patchlens.cli import app

    db, _client = store
    res = CliRunner().invoke(app, ["--db", str(db), "report", "--as-of", "2024-01-01"])
    assert res.exit_code == 2 and "before the data's date" in res.output, res.output
    # The data's own day is the data's date.
    day = json.loads(_cli(db, "report", "--json"))["as_of"][:10]
    assert json.loads(_cli(db, "report", "--json", "--as-of", day))["as_of"][:10] == day
    now = json.loads(_cli(db, "report", "--json"))
    later = json.loads(_cli(db, "report", "--json", "--as-of", "2099-01-01"))
    assert later["series"] == now["series"] and later["as_of"] > now["as_of"]
    # A century idle: nothing open is left, whatever was open at the data's date.
    assert now["states"]["new"] + now["states"]["under review"] > 0
    assert later["states"]["new"] == later["states"]["under review"] == 0


def _row(**over: Any) -> dict[str, Any]:
    """A series row as select_series gives it, made up."""
    row = {
        "series_key": "k1",
        "title": "erofs: fix the 100% case",
        "author_addr": "a_b@example.org",
        "author_name": "Ann Example",
        "org": "Example",
        "lists": ["linux-erofs"],
        "first_date": 1_600_000_000,  # 2020-09-13 12:26:40 UTC
        "new_contributor": False,
        "subsystems": ["EROFS FILE SYSTEM"],
        "state": "stale",
        "has_reviewer_reply": False,
        "patches": 3,
        "lines_added": 10,
        "lines_removed": 2,
        "versions": 1,
        "search_text": "erofs: fix the 100% case",
    }
    return {**row, **over}


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ({"since": "2020-09-13"}, True),
        ({"since": "2020-09-14"}, False),
        ({"until": "2020-09-13"}, True),  # the until day is included
        ({"until": "2020-09-12"}, False),
        ({"list": "linux-erofs"}, True),
        ({"list": "linux"}, False),  # a list is named whole, never a part of it
        ({"org": "Example"}, True),
        ({"org": "Exam"}, False),
        ({"author": "A_B@"}, True),
        ({"author": "ann ex"}, True),
        ({"author": "a%b"}, False),  # taken literally, not as a pattern
        ({"q": "100%"}, True),
        ({"q": "fix_the"}, False),
        ({"state": "open"}, True),
        ({"state": "unanswered"}, True),
        ({"state": "merged"}, False),
        ({"subsystem": "EROFS FILE SYSTEM"}, True),
        ({"subsystem": "EROFS"}, False),
        ({"contributor": "new"}, False),
        ({"bucket": "patches:2-5"}, True),
    ],
)
def test_keep_is_the_whole_definition(given: dict[str, str], kept: bool) -> None:
    """`Filters.keep` alone decides (SQL only narrows first): each filter on a made-up row,
    from the query string and from the command-line options alike."""
    from starlette.datastructures import QueryParams

    from patchlens.queries.filters import Filters

    from_query = Filters.from_query(QueryParams(given))
    assert from_query == Filters.from_options(**given)
    assert from_query.keep(_row()) is kept
