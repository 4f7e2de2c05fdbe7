"""Every figure of every page obeys every filter: each page (HTML and its /api twin) on the
EROFS store, with two values per filter, against figures computed here from the unfiltered
rows with plain SQL and plain Python counts."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest

pytestmark = pytest.mark.slow

OPEN = {"stale", "new", "under review", "waiting on author", "nearly complete"}
PERSON = "gaoxiang25@huawei.com"
VALUES = {
    "since": ("2020-01-01", "2023-06-15"),
    "until": ("2019-12-31", "2022-03-01"),
    "list": ("linux-erofs", "erofs-2024"),
    "subsystem": ("EROFS FILE SYSTEM", "no such subsystem"),
    "org": ("Huawei", "Red Hat"),
    "contributor": ("new", "established"),
    "bucket": ("patches:1", "lines:100-999"),
    "state": ("stale", "merged"),
    "q": ("compress", "fix"),
    "search": ("versions:>1 -has:review", "-is:merged compress"),
}
CASES = [(name, value) for name, values in VALUES.items() for value in values]


def _day(s: str) -> int:
    return int(datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())


@pytest.fixture(scope="module")
def base(erofs_store, client) -> dict[str, Any]:
    """The unfiltered rows, read with plain SQL; each series' state from the unfiltered list."""
    db, _engine, _ = erofs_store
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    series = {r["series_key"]: dict(r) for r in con.execute("SELECT * FROM series_metrics")}
    first = client.get("/api/series").json()
    for page in range(1, first["pages"] + 1):
        for row in client.get("/api/series", params={"page": page}).json()["rows"]:
            series[row["series_key"]]["state"] = row["state"]
    assert all("state" in r for r in series.values())
    lists: dict[str, set[str]] = {}
    for name, key in con.execute(
        "SELECT DISTINCT ml.name, sv.series_key FROM series_versions sv "
        "JOIN version_members vm ON vm.version_key = sv.key "
        "JOIN message_sightings ms ON ms.message_pk = vm.message_pk "
        "JOIN mailing_lists ml ON ml.id = ms.list_id"
    ):
        lists.setdefault(name, set()).add(key)
    bots = {r[0] for r in con.execute("SELECT identity FROM people WHERE is_bot")}
    events = [dict(r) for r in con.execute("SELECT * FROM review_events")]
    patches = [
        dict(r)
        for r in con.execute(
            "SELECT m.id, sv.series_key, m.date_utc, m.subject, m.from_addr "
            "FROM version_members vm JOIN messages m ON m.id = vm.message_pk "
            "JOIN message_analysis a ON a.message_pk = m.id "
            "JOIN series_versions sv ON sv.key = vm.version_key "
            # The patches of series: pull requests and left-out groupings are not series.
            "JOIN series_metrics sm ON sm.series_key = sv.series_key WHERE vm.idx > 0"
        )
    ]
    who = con.execute(
        "SELECT identity FROM people WHERE identity = ?", (f"addr:{PERSON}",)
    ).fetchone()[0]
    con.close()
    return {
        "series": series,
        "lists": lists,
        "bots": bots,
        "events": events,
        "patches": patches,
        "who": who,
    }


def _bucket(r: dict[str, Any], spec: str) -> bool:
    kind, value = spec.split(":")
    if kind == "patches":
        n = r["patches"]
        got = (
            "0" if n == 0 else "1" if n == 1 else "2-5" if n <= 5 else "6-15" if n <= 15 else "16+"
        )
    else:
        n = r["lines_added"] + r["lines_removed"]
        got = "<10" if n < 10 else "10-99" if n < 100 else "100-999" if n < 1000 else "1000+"
    return got == value


def selected(base: dict[str, Any], name: str, value: str) -> list[dict[str, Any]]:
    """The series one filter keeps, by plain Python over the unfiltered rows."""
    rows = list(base["series"].values())
    if name == "since":
        return [r for r in rows if r["first_date"] >= _day(value)]
    if name == "until":
        return [r for r in rows if r["first_date"] < _day(value) + 86400]
    if name == "list":
        return [r for r in rows if r["series_key"] in base["lists"].get(value, set())]
    if name == "subsystem":
        return [r for r in rows if f'"{value}"' in r["subsystems"]]
    if name == "org":
        return [r for r in rows if r["org"] == value]
    if name == "contributor":
        return [r for r in rows if bool(r["new_contributor"]) == (value == "new")]
    if name == "bucket":
        return [r for r in rows if _bucket(r, value)]
    if name == "state":
        return [r for r in rows if r["state"] == value]
    if name == "q":
        v = value.casefold()
        # The name, the author, the key, and every version's title and patch subject.
        return [
            r
            for r in rows
            if v
            in f"{r['title']} {r['author_addr']} {r['series_key']} {r['search_text']}".casefold()
        ]
    if name == "search" and value == "versions:>1 -has:review":
        return [r for r in rows if r["versions"] > 1 and not r["reviews"]]
    if name == "search" and value == "-is:merged compress":
        return [r for r in selected(base, "q", "compress") if r["state"] != "merged"]
    raise AssertionError(name)


def expected_patches(base: dict[str, Any], name: str, value: str) -> int:
    """Patches page: since/until by the patch's date, q in its subject or sender, the other
    filters select the series."""
    ps = base["patches"]
    if name == "since":
        return sum(1 for p in ps if p["date_utc"] is not None and p["date_utc"] >= _day(value))
    if name == "until":
        bound = _day(value) + 86400
        return sum(1 for p in ps if p["date_utc"] is not None and p["date_utc"] < bound)
    if name == "q":
        v = value.casefold()
        return sum(1 for p in ps if v in p["subject"].casefold() or v in p["from_addr"].casefold())
    keys = {r["series_key"] for r in selected(base, name, value)}
    return sum(1 for p in ps if p["series_key"] in keys)


def _unlinked(html: str) -> str:
    """The page with its links to the glossary read as their words."""
    return re.sub(r'<a (?:class="gl" )?href="/glossary#[^"]*">(.*?)</a>', r"\1", html)


def _html_number(html: str, pattern: str) -> int:
    m = re.search(pattern, html, re.S)
    assert m, f"{pattern!r} not in the page"
    return int(m.group(1).replace(",", ""))


def _listed(client, link: str) -> int:
    """How many series the series explorer lists at `link` (a /series URL of a page)."""
    path, _, query = link.partition("?")
    assert path == "/series", link
    return client.get("/api/series", params=parse_qsl(query)).json()["total"]


@pytest.mark.parametrize(("name", "value"), CASES)
def test_every_figure_obeys_the_filter(client, base, name: str, value: str) -> None:
    rows = selected(base, name, value)
    keys = {r["series_key"] for r in rows}
    params = {name: value}
    states = Counter(r["state"] for r in rows)
    events = [e for e in base["events"] if e["series_key"] in keys]
    people_events = [e for e in events if e["who"] not in base["bots"]]
    reviewers = {e["who"] for e in people_events}
    authors = {r["author"] for r in rows if r["author"] not in base["bots"]}
    open_rows = [r for r in rows if r["state"] in OPEN]
    unanswered = sum(1 for r in open_rows if not r["has_reviewer_reply"])

    # Overview
    d = client.get("/api/overview", params=params).json()
    assert d["series"] == len(rows)
    assert d["patches"] == sum(r["patches"] for r in rows)
    # The merge rate is over what a repository or a notice can show (docs/METRICS.md).
    seen = [
        r for r in rows if (r["repo_registered"] and r["in_repo"]) or r["merged_by"] == "notice"
    ]
    assert d["merge_base"] == len(seen)
    assert d["merged"] == sum(1 for r in seen if r["merged"] != "none")
    assert d["merged_by_notice"] == sum(1 for r in seen if r["merged_by"] == "notice")
    assert d["backlog"] == len(open_rows)
    assert d["unanswered"] == unanswered
    assert d["reviewers"] == len(reviewers)
    assert d["states"] == {st: states.get(st, 0) for st in d["states"]}
    assert sum(t["series"] for t in d["trend"]) == len(rows)
    assert d["time_to_merge_hours"]["n"] == sum(1 for r in rows if r["time_to_merge"] is not None)
    assert d["time_to_first_response_hours"]["n"] == sum(
        1 for r in rows if r["time_to_first_response"] is not None
    )
    html = _unlinked(client.get("/", params=params).text)
    assert _html_number(html, r'class="big">([\d,]+)</span> series') == len(rows)
    assert _html_number(html, r"series \(([\d,]+) patches\)") == d["patches"]
    assert _html_number(html, r"([\d,]+)</a></span> open in the") == len(open_rows)
    assert _html_number(html, r"([\d,]+)</a></span> open and never answered") == unanswered
    assert _html_number(html, r'class="big">([\d,]+)</span> people sent them') == len(reviewers)
    # Each count's link lists what it counted, the page's own filters kept (its state too:
    # merged series open in the backlog are none, not every open series).
    assert _listed(client, d["backlog_list"]) == len(open_rows)
    assert _listed(client, d["unanswered_list"]) == unanswered

    # Performance
    d = client.get("/api/performance", params=params).json()
    assert d["series"] == len(rows)
    for metric, summary in d["overall"].items():
        col = metric.removesuffix("_hours")
        assert summary["n"] == sum(1 for r in rows if r[col] is not None), metric
    for metric, per in d["over_time"].items():
        assert sum(p["n"] for p in per) == sum(
            1 for r in rows if r[metric.removesuffix("_hours")] is not None
        )
    merged_n = sum(1 for r in rows if r["time_to_merge"] is not None)
    for groups in d["time_to_merge_hours_by_bucket"].values():
        assert sum(g["n"] for g in groups) == merged_n
    assert sum(g["n"] for g in d["time_to_first_response_hours_by_contributor"]) == sum(
        1 for r in rows if r["time_to_first_response"] is not None
    )
    html = _unlinked(client.get("/performance", params=params).text)
    first = d["overall"]["time_to_first_response_hours"]["n"]
    assert f'<td>time to first response</td><td class="num">{first}</td>' in html

    # Backlog
    d = client.get("/api/backlog", params=params).json()
    assert d["series"] == len(rows)
    assert d["states"] == {st: states.get(st, 0) for st in d["states"]}
    # Waiting for a first response: every open series never answered, stale ones included.
    never = sum(1 for r in rows if r["state"] in OPEN and not r["has_reviewer_reply"])
    assert d["waiting_first_response"]["total"] == never
    assert never >= states.get("new", 0)
    for key, state in (
        ("nearly_complete", "nearly complete"),
        ("waiting_on_author", "waiting on author"),
        ("stale", "stale"),
    ):
        assert d[key]["total"] == states.get(state, 0), key
    for key in ("waiting_first_response", "nearly_complete", "waiting_on_author", "stale"):
        assert _listed(client, d[key]["full_list"]) == d[key]["total"], key
        assert {r["series_key"] for r in d[key]["rows"]} <= keys
    assert sum(p["series"] for p in d["per_subsystem"]["rows"]) >= (1 if rows else 0)
    html = _unlinked(client.get("/backlog", params=params).text)
    assert _html_number(html, r'<p class="note">([\d,]+) series') == len(rows)

    # Series explorer
    d = client.get("/api/series", params=params).json()
    assert d["total"] == len(rows)
    assert {r["series_key"] for r in d["rows"]} <= keys
    html = _unlinked(client.get("/series", params=params).text)
    assert _html_number(html, r"<p>([\d,]+) series") == len(rows)

    # Patches
    n = expected_patches(base, name, value)
    d = client.get("/api/patches", params=params).json()
    assert d["total"] == n
    html = _unlinked(client.get("/patches", params=params).text)
    assert _html_number(html, r"<p>([\d,]+) patches") == n

    # Community
    d = client.get("/api/community", params=params).json()
    assert d["reviewers_total"] == len(reviewers)
    assert d["contributors_total"] == len(authors)
    assert d["review_replies"] == len(people_events)
    assert d["reviews"] == sum(1 for e in people_events if e["review"])
    assert d["orgs_total"] == len({e["org"] for e in events} | {r["org"] for r in rows})
    html = _unlinked(client.get("/community", params=params).text)
    shown = re.search(r"Who reviews: [^<]*?\((?:\d+ of )?([\d,]+)", html)
    assert shown and int(shown.group(1).replace(",", "")) == len(reviewers)

    # Person
    who = base["who"]
    mine = [e for e in events if e["who"] == who]
    authored = [r for r in rows if r["author"] == who]
    d = client.get(f"/api/people/{PERSON}", params=params).json()
    assert d["review_replies"] == len(mine)
    assert d["reviews"] == sum(1 for e in mine if e["review"])
    assert d["series_authored"] == d["authored"]["total"] == len(authored)
    assert d["replies_received"] == sum(r["review_replies"] for r in authored)
    assert d["reviewed"]["total"] == len({e["series_key"] for e in mine})
    html = _unlinked(client.get(f"/people/{PERSON}", params=params).text)
    assert _html_number(html, r'class="big">(\d+)</span> review replies given') == len(mine)
    assert _html_number(html, r'class="big">(\d+)</span> series authored') == len(authored)

    # Subsystem: EROFS has no MAINTAINERS file, so no subsystem page exists (404), whatever
    # the filters; the subsystem filter itself is checked on every page above.
    assert (
        client.get(f"/api/subsystems/{quote('EROFS FILE SYSTEM')}", params=params).status_code
        == 404
    )


@pytest.mark.parametrize("name", list(VALUES))
def test_the_two_values_select_differently(base, name: str) -> None:
    """So that a page ignoring the filter fails at least one of the two cases above (EROFS
    has no MAINTAINERS file: any subsystem selects nothing, which an ignored filter would not
    show)."""
    a, b = (len(selected(base, name, v)) for v in VALUES[name])
    assert (a != b or name == "subsystem") and min(a, b) < len(base["series"]), (name, a, b)


def test_filters_combine(client, base) -> None:
    """Two filters together select the series both select."""
    params = {"org": "Alibaba", "since": "2021-01-01", "state": "merged"}
    keys = None
    for name, value in params.items():
        ks = {r["series_key"] for r in selected(base, name, value)}
        keys = ks if keys is None else keys & ks
    assert keys
    assert client.get("/api/series", params=params).json()["total"] == len(keys)
    assert client.get("/api/overview", params=params).json()["series"] == len(keys)


# --- the subsystem page, on the Xen store (EROFS has no MAINTAINERS file) ---------------------


@pytest.fixture(scope="module")
def xen(tmp_path_factory: pytest.TempPathFactory, xen_store) -> Any:
    """A copy of conftest's `xen_store`: the Xen posted patches of 2019-2020 with
    MAINTAINERS-2019-06 (the store this fixture built itself before, by the same steps), and
    the site over it."""
    from fastapi.testclient import TestClient

    from patchlens.config import load_config
    from patchlens.store.db import database_url
    from patchlens.web.app import create_app
    from tests.conftest import copy_store

    built, built_db, _engine = xen_store
    db = copy_store(built_db, tmp_path_factory.mktemp("xen-filters") / "xen.db")
    cfg = load_config(str(built / "patchlens.toml"))
    return db, TestClient(create_app(database_url(str(db)), cfg))


SUB = "TOOLSTACK"


def test_the_subsystem_page_obeys_every_filter(xen) -> None:
    db, client = xen
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = {
        r["series_key"]: dict(r)
        for r in con.execute("SELECT * FROM series_metrics")
        if f'"{SUB}"' in r["subsystems"]
    }
    everything = client.get("/api/series", params={"subsystem": SUB}).json()
    for page in range(1, everything["pages"] + 1):
        got = client.get("/api/series", params={"subsystem": SUB, "page": page}).json()
        for row in got["rows"]:
            rows[row["series_key"]]["state"] = row["state"]
    assert len(rows) > 200 and all("state" in r for r in rows.values())
    orgs = [o for o, _n in Counter(r["org"] for r in rows.values()).most_common(2)]
    states = [s for s, _n in Counter(r["state"] for r in rows.values()).most_common(2)]
    con.close()
    # The section that shares most series with TOOLSTACK, and one that shares none.
    shared = Counter(t for r in rows.values() for t in json.loads(r["subsystems"]) if t != SUB)
    other, overlap = shared.most_common(1)[0]
    base = {"series": rows, "lists": {"xen-devel": set(rows)}}
    values = {
        **VALUES,
        "since": ("2019-09-01", "2020-06-01"),
        "until": ("2019-09-30", "2020-03-31"),
        "list": ("xen-devel", "no-such-list"),
        "org": tuple(orgs),
        "state": tuple(states),
        "q": ("libxl", "fix"),
        "bucket": ("patches:1", "patches:2-5"),
    }
    checked = 0
    for name, pair in values.items():
        if name == "subsystem":
            continue
        counts = []
        for value in pair:
            sel = selected(base, name, value)
            counts.append(len(sel))
            st = Counter(r["state"] for r in sel)
            d = client.get(f"/api/subsystems/{SUB}", params={name: value}).json()
            assert d["series"] == len(sel), (name, value)
            assert d["states"] == {s: st.get(s, 0) for s in d["states"]}, (name, value)
            assert d["open"]["total"] == sum(1 for r in sel if r["state"] in OPEN)
            assert d["unanswered"]["total"] == sum(
                1 for r in sel if r["unanswered_by_subsystem"] and r["state"] in OPEN
            )
            assert d["time_to_first_response_hours"]["n"] == sum(
                1 for r in sel if r["time_to_first_response"] is not None
            )
            html = _unlinked(client.get(f"/subsystems/{SUB}", params={name: value}).text)
            assert f"{len(sel)} series" in html, (name, value)
            checked += 1
        assert counts[0] != counts[1] and min(counts) < len(rows), (name, counts)
    # The subsystem filter on a subsystem's page: both sections at once.
    d = client.get(f"/api/subsystems/{SUB}", params={"subsystem": SUB}).json()
    assert d["series"] == len(rows)
    d = client.get(f"/api/subsystems/{SUB}", params={"subsystem": other}).json()
    assert 0 < d["series"] == overlap < len(rows)
    assert checked == 18  # two values of each filter but subsystem (search included)


def test_bucket_rows_link_to_what_they_counted(client) -> None:
    """On a page filtered to a bucket of one kind, a row of another kind links to its own
    bucket as a search term (`bucket:patches:2-5`), keeping the page's: the list behind it
    holds the row's series. The lines buckets, which no count term can say, are linked so
    too."""
    params = {"bucket": "versions:2"}
    d = client.get("/api/performance", params=params).json()
    html = client.get("/performance", params=params).text
    checked = 0
    for kind in ("patches", "lines"):
        for g in d["time_to_merge_hours_by_bucket"][kind]:
            search = f"bucket:{kind}:{g['group']}"
            link = "?" + urlencode({"bucket": "versions:2", "search": search})
            assert f'href="{link.replace("&", "&amp;")}"' in html, search
            there = client.get("/api/performance", params={**params, "search": search}).json()
            assert there["overall"]["time_to_merge_hours"]["n"] == g["n"], search
            # The term selects what the bucket filter selects.
            as_filter = client.get("/api/series", params={"bucket": f"{kind}:{g['group']}"})
            as_term = client.get("/api/series", params={"search": search})
            assert as_filter.json()["total"] == as_term.json()["total"], search
            checked += 1
    assert checked >= 8
    plain = client.get("/performance").text
    assert 'href="?bucket=lines%3A%3C10"' in plain


def test_a_subsystem_the_store_does_not_know_is_said(client) -> None:
    """EROFS has no MAINTAINERS file: a subsystem filter selects nothing, and the page says
    why instead of a bare "0 series" (the value is kept in the form, escaped)."""
    page = client.get("/backlog", params={"subsystem": "EROFS <b>"}).text
    assert "this store has no MAINTAINERS file, so it selects no series" in page
    assert "EROFS &lt;b&gt;" in page and "EROFS <b>" not in page
    assert "unknown-subsystem" not in client.get("/backlog").text
