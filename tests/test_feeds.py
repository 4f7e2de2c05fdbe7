"""Atom feeds (web/feeds.py): the feed of a search on the EROFS store validates (parsed by
feedparser, not by patchlens) and its entries are the search's results, same keys, same order;
mail text cannot break a feed; the queue feed the integrator calls gives its rows in order."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import feedparser
import pytest

from patchlens.web import feeds

pytestmark = pytest.mark.slow


def api_keys(client: Any, params: dict[str, str], limit: int = feeds.FEED_MAX) -> list[str]:
    """The keys of the explorer's results, page after page, in its order."""
    out: list[str] = []
    page = 1
    while len(out) < limit:
        d = client.get("/api/series", params={**params, "page": page}).json()
        out += [r["series_key"] for r in d["rows"]]
        if page >= d["pages"]:
            break
        page += 1
    return out[:limit]


def feed_keys(parsed: Any) -> list[str]:
    return [unquote(e.link.split("/series/", 1)[1]) for e in parsed.entries]


@pytest.mark.parametrize(
    "params",
    [
        {"search": "is:open"},
        {"search": "versions:>2 has:review", "sort": "first_date"},
        {"search": "compress -is:merged", "since": "2022-01-01"},
        {},
    ],
)
def test_search_feed_validates_and_equals_results(client, params) -> None:
    r = client.get("/series.atom", params=params)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    expected = api_keys(client, params)
    assert expected, params
    assert feed_keys(parsed) == expected
    assert [e.id for e in parsed.entries] == [e.link for e in parsed.entries]
    first = client.get("/api/series", params=params).json()["rows"][0]
    e = parsed.entries[0]
    assert e.title == first["title"]
    assert e.author_detail.email == first["author_addr"]
    assert e.updated == first["last_date"]
    assert first["state"] in e.summary
    assert parsed.feed.updated == max(x.updated for x in parsed.entries)
    assert any(link.rel == "alternate" and "/series" in link.href for link in parsed.feed.links)


def test_feed_of_nothing_and_bad_search(client) -> None:
    parsed = feedparser.parse(
        client.get("/series.atom", params={"search": "from:nobody-at-all"}).content
    )
    assert not parsed.bozo and parsed.entries == []
    r = client.get("/series.atom", params={"search": "age:soon"})
    assert r.status_code == 400
    assert "age" in r.text


def test_explorer_links_its_feed(client) -> None:
    page = client.get("/series", params={"search": "is:open"}).text
    assert '<link rel="alternate" type="application/atom+xml"' in page
    assert 'href="/series.atom?search=is%3Aopen"' in page
    assert 'class="feed" href="/series.atom?search=is%3Aopen"' in page


HOSTILE = {
    "series_key": "<evil@x>",
    "title": "</title><script>alert(1)</script>\x01\x1b & \ufffe done",
    "author_addr": 'a"b@example.org',
    "first_date": 1_700_000_000,
    "last_date": 1_700_100_000,
    "versions": 2,
    "patches": 3,
    "reviewers": 1,
    "state": "new",
}


def test_mail_text_cannot_break_a_feed() -> None:
    body = feeds.series_feed(
        "http://h/series.atom", "t", "http://h/series", [HOSTILE], "http://h/", 0
    )
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    (e,) = parsed.entries
    assert e.title == "</title><script>alert(1)</script> &  done"
    assert b"<script>" not in body
    assert unquote(e.link) == "http://h/series/<evil@x>"
    assert e.author_detail.email == 'a"b@example.org'


def test_queue_feed_for_the_integrator() -> None:
    rows = [
        {**HOSTILE, "series_key": f"k{i}@x", "title": f"queued {i}", "last_date": 1_700_000_000 + i}
        for i in (3, 1, 2)
    ]
    parsed = feedparser.parse(feeds.queue_feed("http://h/", "me@example.org", rows, 5))
    assert not parsed.bozo
    assert feed_keys(parsed) == ["k3@x", "k1@x", "k2@x"]
    assert parsed.feed.title == "Review queue of me@example.org"
    assert parsed.feed.id == "http://h/people/me@example.org/queue.atom"
    empty = feedparser.parse(feeds.queue_feed("http://h/", "me@example.org", [], 1_700_000_000))
    assert not empty.bozo and empty.entries == []
    assert empty.feed.updated == "2023-11-14T22:13:20Z"
