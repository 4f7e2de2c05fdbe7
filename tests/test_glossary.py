"""The glossary: every state, duration and matching method has a definition, every term an
anchor on /glossary, every table head of every page links to one that exists, and
docs/METRICS.md carries the same definitions (generated from the package)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

from patchlens.match.matcher import RANK
from patchlens.metrics.backlog import STATES
from patchlens.metrics.distributions import DURATIONS
from patchlens.web import glossary

ROOT = Path(__file__).resolve().parents[1]


def test_every_state_duration_and_method_has_an_entry():
    for st in STATES:
        assert glossary.state_anchor(st) in glossary.TERMS, f"state {st!r}"
        assert glossary.TERMS[glossary.state_anchor(st)].term == st
    for m in DURATIONS:
        assert glossary.duration_anchor(m) in glossary.TERMS, f"duration {m!r}"
    for method in RANK:
        assert glossary.method_anchor(method) in glossary.TERMS, f"method {method!r}"
    # The terms the issue names, whatever their anchor.
    names = {t.term.lower() for t in glossary.TERMS.values()}
    for word in ("tag only", "given / received", "new contributor", "never answered"):
        assert word in names
    assert "maintainer's notice" in glossary.TERMS["state-merged"].text


def test_anchors_are_unique_and_links_fail_on_unknown_ones():
    anchors = [t.anchor for s in glossary.SECTIONS for t in s.terms]
    anchors += [s.anchor for s in glossary.SECTIONS]
    assert len(anchors) == len(set(anchors))
    assert all(re.fullmatch(r"[a-z0-9-]+", a) for a in anchors)
    assert glossary.gl("state-stale") == "/glossary#state-stale"
    with pytest.raises(KeyError):
        glossary.gl("no-such-term")
    # Labels that come from the data fall back to their section.
    assert glossary.gl_state("waiting on author") == "/glossary#state-waiting-on-author"
    assert glossary.gl_state("some new state") == "/glossary#states"
    assert glossary.gl_method("patch-id") == "/glossary#method-patch-id"
    assert glossary.gl_method("some new method") == "/glossary#matching"


def test_metrics_md_carries_the_glossary():
    text = (ROOT / "docs" / "METRICS.md").read_text()
    assert glossary.update_metrics_md(text) == text, (
        "docs/METRICS.md is out of date: python -m patchlens.web.glossary docs/METRICS.md"
    )
    for t in glossary.TERMS.values():
        assert f"- **{t.term}**: {t.text}" in text


class Page(HTMLParser):
    """The ids, the glossary links and the table heads (with their links) of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.heads: list[tuple[str, list[str]]] = []
        self._in_thead = False
        self._th: tuple[list[str], list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "thead":
            self._in_thead = True
        elif tag == "th" and self._in_thead:
            self._th = ([], [])
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
            if self._th is not None:
                self._th[1].append(a["href"])

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_thead = False
        elif tag == "th" and self._th is not None:
            self.heads.append(("".join(self._th[0]).strip(), self._th[1]))
            self._th = None

    def handle_data(self, data):
        if self._th is not None:
            self._th[0].append(data)


def parse(html: str) -> Page:
    p = Page()
    p.feed(html)
    return p


def test_glossary_page_and_api(client):
    resp = client.get("/glossary")
    assert resp.status_code == 200
    page = parse(resp.text)
    for anchor in glossary.ANCHORS:
        assert page.ids.count(anchor) == 1, f"anchor {anchor!r} on /glossary"
    assert client.get("/api/glossary").json() == glossary.as_json()
    # In the navigation of every page.
    assert '<a href="/glossary"' in client.get("/").text
    assert '<a href="/glossary" aria-current="page"' in resp.text


def sample_pages(client) -> list[str]:
    merged = client.get("/api/series", params={"state": "merged", "sort": "-reviewers"}).json()
    # The most reviewed series merged by commit (one merged by notice links no commit).
    for row in merged["rows"]:
        key = quote(row["series_key"], safe="@")
        html = client.get(f"/series/{key}").text
        commits = re.findall(r'href="(/commits/[^"]+)"', html)
        if commits:
            break
    person = re.findall(r'href="(/people/[^"]+)"', html)[0]
    commit = commits[0]
    return [
        "/",
        "/community",
        "/performance",
        "/backlog",
        "/series",
        "/patches",
        f"/series/{key}",
        person,
        commit,
    ]


def test_every_table_head_and_term_links_to_a_definition(client):
    """Every head of every table on every page links to a glossary anchor that exists, and
    every state badge and method label does too."""
    seen: set[str] = set()
    for path in sample_pages(client):
        html = client.get(path).text
        page = parse(html)
        assert page.heads, f"{path}: no table heads"
        for label, links in page.heads:
            gl = [h for h in links if h.startswith("/glossary#")]
            assert gl, f"{path}: head {label!r} links to no definition"
        for href in page.links:
            if href.startswith("/glossary#"):
                assert href.removeprefix("/glossary#") in glossary.ANCHORS, f"{path}: {href}"
                seen.add(href)
        for href, label in re.findall(r'<span class="state"><a href="([^"]+)">([^<]+)</a>', html):
            if label.startswith("superseded"):  # a version's badge, not a series state
                assert href in ("/glossary#superseded", "/glossary#superseded-by-merged")
                continue
            assert label in STATES and href == glossary.gl_state(label), f"{path}: {label}"
        for href, method in re.findall(r'<small><a href="([^"]+)">([^<]+)</a>', html):
            assert method in RANK and href == glossary.gl_method(method), f"{path}: {method}"
    # The pages use many of the definitions: states, durations, methods, people, buckets.
    for must in (
        "state-merged",
        "duration-time-to-merge",
        "method-pointer",
        "given-received",
        "tag-only",
        "bucket-lines",
        "new-contributor",
        "partial-period",
        "p90",
    ):
        assert f"/glossary#{must}" in seen, must


def test_the_merged_share_says_it_counts_partly_merged_series(client, sql):
    """The overview's merged share counts the partly merged series with the merged ones
    (EROFS: 709 merged and 22 partly merged of 933); its card and the trend's column link
    a definition that says so, not the state "merged" alone."""
    states = dict(sql.execute("SELECT merged, count(*) FROM series_metrics GROUP BY merged"))
    assert states.get("partly", 0) > 0
    d = client.get("/api/overview").json()
    assert d["merged"] == states["fully"] + states["partly"]
    html = client.get("/").text
    assert html.count('href="/glossary#merged-share"') >= 2  # the card and the trend's column
    assert "in whole or in part" in glossary.TERMS["merged-share"].text
    assert "partly merged" in glossary.TERMS["merged-share"].text
