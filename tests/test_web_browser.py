"""The dashboard in a real browser: headless Chromium (the Debian package) through Playwright.

The app is served by uvicorn on 127.0.0.1 from a background thread, over the store built from
the real EROFS data. Every page must load without a console error, a failed request or an
error response; filters, sorting and links must change the view and the URL; the pages must
work with JavaScript turned off. One test also writes the screenshots in docs/screenshots.

The browser, the served store and the pages with their Watch come from tests/helpers/browser.py
and tests/helpers/dashboard.py (fixtures `browser`, `site`, `open_page`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from tests.helpers.browser import broken_images

# The committed screenshots are remade only when asked (PATCHLENS_SCREENSHOTS=1); otherwise
# the test still takes them, into a temporary folder, so a run leaves the tree as it was.
DOC_SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
SCREENSHOT_LIMIT = 400_000  # bytes: the PNGs are committed
FULL_PAGE_MAX_HEIGHT = 2400  # taller pages are shot as one viewport
ROWS = "main table tbody tr"


# --- helpers of this module ----------------------------------------------------------


# Table headers whose longest word does not fit their column: words broken letter by letter.
SQUEEZED_HEADERS = """() => {
  const ctx = document.createElement('canvas').getContext('2d');
  const bad = [];
  for (const th of document.querySelectorAll('main th')) {
    const cs = getComputedStyle(th);
    ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    const room = th.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    const words = th.innerText.split(/\\s+/).filter(w => w);
    const longest = Math.max(0, ...words.map(w => ctx.measureText(w).width));
    if (longest > room + 1) bad.push(`${th.innerText.trim()}: ${room.toFixed(0)} px`);
  }
  return bad;
}"""


def squeezed_headers(page: Any) -> list[str]:
    return page.evaluate(SQUEEZED_HEADERS)


def count_of(text: str) -> int:
    """The leading number of '1,234 series, page 1 of 25.'."""
    m = re.match(r"\s*([\d,]+)", text)
    assert m, f"no count in {text!r}"
    return int(m.group(1).replace(",", ""))


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def samples(site) -> dict[str, str]:
    """Paths of one merged series with a commit, a person and that commit (found over HTTP)."""
    with httpx.Client(base_url=site, timeout=30) as client:
        rows = client.get("/api/series", params={"state": "merged", "sort": "-reviewers"}).json()
        for row in rows["rows"]:
            key = quote(row["series_key"], safe="@")
            d = client.get(f"/api/series/{key}").json()
            shas = [
                mm["commit"]["sha"] for v in d["versions"] for mm in v["members"] if mm["commit"]
            ]
            if shas and any(v["replies"] for v in d["versions"]):
                series = f"/series/{key}"
                person = re.findall(r'href="(/people/[^"]+)"', client.get(series).text)
                assert person, "a series page links to its author"
                many = client.get(
                    "/api/series", params={"search": "versions:>2 has:review", "sort": "-versions"}
                ).json()["rows"]
                assert many, "a series in three versions or more, reviewed"
                # The queue of the busiest reviewer that has one (its first rows shown).
                queue = None
                for r in client.get("/api/community").json()["reviewers"]:
                    q = client.get(f"/api/people/{quote(r['address'], safe='@')}/queue").json()
                    if q["awaiting"] or q["again"]:
                        queue = f"/people/{quote(r['address'], safe='@')}/queue"
                        break
                assert queue, "a reviewer with a queue"
                # An open series with an estimate of its time to merge (issue 15).
                predicted = None
                for r in client.get("/api/series", params={"search": "is:open"}).json()["rows"]:
                    k = quote(r["series_key"], safe="@")
                    if client.get(f"/api/series/{k}").json()["prediction"].get("facts"):
                        predicted = f"/series/{k}"
                        break
                assert predicted, "an open series with an estimate"
                return {
                    "predicted": predicted,
                    "series": series,
                    "person": person[0],
                    "commit": f"/commits/{shas[0]}",
                    "versions": f"/series/{quote(many[0]['series_key'], safe='@')}",
                    "queue": queue,
                }
    pytest.fail("no merged series with a commit and a reply in the EROFS store")


# --- tests --------------------------------------------------------------------------------

TOP_PAGES = ["/", "/community", "/performance", "/backlog", "/series", "/patches"]


def test_favicon(site):
    assert httpx.get(f"{site}/favicon.ico", timeout=10).status_code < 400


@pytest.mark.parametrize("which", [*TOP_PAGES, "series", "person", "commit"])
def test_page_loads_cleanly(open_page, samples, which):
    path = samples.get(which, which)
    page, watch = open_page()
    resp = page.goto(path)
    assert resp is not None and resp.status == 200, f"{path}: {resp and resp.status}"
    assert "default-src 'none'" in resp.headers.get("content-security-policy", "")
    assert page.locator("main h1").count() == 1
    assert page.locator("main table").count() >= 1, f"{path}: no table"
    # The stylesheet applied (it is a same-origin file the CSP must allow).
    assert page.eval_on_selector("body", "b => getComputedStyle(b).marginTop") == "0px"
    assert broken_images(page) == [], f"{path}: charts that did not load"
    if which in ("/", "/community", "/performance", "/backlog"):
        assert page.locator("figure img").count() >= 1, f"{path}: no chart"
    watch.assert_clean()


def test_subsystem_page_or_404(open_page, site):
    """EROFS has no MAINTAINERS file: no subsystem links, and a made-up one is a clean 404."""
    page, watch = open_page()
    page.goto("/backlog")
    links = page.locator("a[href^='/subsystems/']")
    if links.count():
        href = links.first.get_attribute("href")
        resp = page.goto(href)
        assert resp.status == 200
        assert page.locator("main h1").count() == 1
        assert broken_images(page) == []
    else:
        url = f"{site}/subsystems/no-such-subsystem"
        watch.expect_status(url, 404)
        resp = page.goto(url)
        assert resp.status == 404
        assert page.locator("main h1").inner_text() == "Not found"
        assert "no such subsystem" in page.locator("main").inner_text()
        assert page.locator("header nav a").count() == 9, "the error page keeps the navigation"
    watch.assert_clean()


def test_state_filter_search_and_sort(open_page):
    page, watch = open_page()
    page.goto("/series")
    count_line = page.locator("main > p").first
    total = count_of(count_line.inner_text())

    page.select_option("form.filters select[name=state]", "merged")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    assert parse_qs(urlsplit(page.url).query).get("state") == ["merged"], page.url
    merged = count_of(count_line.inner_text())
    assert 0 < merged < total
    states = page.locator(f"{ROWS} span.state").all_inner_texts()
    assert states and set(states) == {"merged"}
    assert page.locator("form.filters select[name=state]").input_value() == "merged"
    assert page.locator("a.reset").count() == 1, "an active filter offers 'Clear'"

    # Search for a word of a title on this page, within the merged series.
    titles = page.locator(f"{ROWS} td:nth-child(3) a").all_inner_texts()
    term = max((w for t in titles for w in re.findall(r"[A-Za-z_]{6,}", t)), key=len)
    page.fill("form.filters input[name=q]", term)
    with page.expect_navigation():
        page.press("form.filters input[name=q]", "Enter")
    query = parse_qs(urlsplit(page.url).query)
    assert query.get("q") == [term] and query.get("state") == ["merged"], page.url
    found = count_of(count_line.inner_text())
    assert 0 < found <= merged
    rows = page.locator(ROWS)
    for i in range(rows.count()):
        row = rows.nth(i)
        hay = " ".join(
            [row.inner_text(), *(a.get_attribute("href") or "" for a in row.locator("a").all())]
        )
        assert term.casefold() in hay.casefold(), f"row without {term!r}: {row.inner_text()}"
        assert row.locator("span.state").inner_text() == "merged"
    assert page.locator("form.filters input[name=q]").input_value() == term

    # Sorting by a column: the link sets sort= in the URL and the rows follow it.
    page.goto("/series?state=merged")
    col = "td:nth-child(6)"  # Patches
    with page.expect_navigation():
        page.click("thead th a:text('Patches')")
    assert parse_qs(urlsplit(page.url).query).get("sort") == ["-patches"], page.url
    assert parse_qs(urlsplit(page.url).query).get("state") == ["merged"], "sorting keeps filters"
    desc = [int(x) for x in page.locator(f"{ROWS} {col}").all_inner_texts()]
    assert desc == sorted(desc, reverse=True) and desc[0] > desc[-1]
    assert "▼" in page.locator("thead th a:text('Patches')").inner_text()
    with page.expect_navigation():
        page.click("thead th a:text('Patches')")
    assert parse_qs(urlsplit(page.url).query).get("sort") == ["patches"], page.url
    asc = [int(x) for x in page.locator(f"{ROWS} {col}").all_inner_texts()]
    assert asc == sorted(asc) and asc != desc
    # And the next page continues the order.
    with page.expect_navigation():
        page.click("nav.pages a[rel=next]")
    assert parse_qs(urlsplit(page.url).query).get("page") == ["2"], page.url
    assert parse_qs(urlsplit(page.url).query).get("sort") == ["patches"], page.url
    more = [int(x) for x in page.locator(f"{ROWS} {col}").all_inner_texts()]
    assert more == sorted(more) and more[0] >= asc[-1]
    watch.assert_clean()


def test_click_from_backlog_to_a_commit(open_page):
    page, watch = open_page()
    link = None
    for start in ("/backlog", "/series?state=merged"):
        page.goto(start)
        n = page.locator("main table a[href^='/series/']").count()
        for i in range(min(n, 3)):
            if i:
                page.goto(start)
            series_link = page.locator("main table a[href^='/series/']").nth(i)
            title = series_link.inner_text()
            with page.expect_navigation():
                series_link.click()
            assert urlsplit(page.url).path.startswith("/series/"), page.url
            assert page.locator("main h1").inner_text() == title
            commits = page.locator("a.commit, a[href^='/commits/']")
            if commits.count():
                link = commits.first
                break
        if link is not None:
            break
    assert link is not None, "no series reachable from /backlog or merged series has a commit"
    series_url = page.url
    short = link.inner_text().strip()
    with page.expect_navigation():
        link.click()
    path = urlsplit(page.url).path
    assert path.startswith("/commits/"), page.url
    sha = path.removeprefix("/commits/")
    assert re.fullmatch(r"[0-9a-f]{40}", sha), sha
    assert sha.startswith(short)
    assert sha in page.locator("main p.meta code").first.inner_text()
    # The commit page links back to the series it was posted as.
    back = page.locator("main a[href^='/series/']")
    assert back.count() >= 1
    with page.expect_navigation():
        back.first.click()
    assert page.url == series_url
    watch.assert_clean()


def test_works_without_javascript(open_page):
    page, watch = open_page(java_script_enabled=False)
    page.goto("/series")
    assert page.locator(ROWS).count() > 10
    total = count_of(page.locator("main > p").first.inner_text())
    page.select_option("form.filters select[name=state]", "abandoned")
    page.fill("form.filters input[name=q]", "erofs")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    query = parse_qs(urlsplit(page.url).query)
    assert query.get("state") == ["abandoned"] and query.get("q") == ["erofs"], page.url
    assert 0 < count_of(page.locator("main > p").first.inner_text()) < total
    assert set(page.locator(f"{ROWS} span.state").all_inner_texts()) == {"abandoned"}
    # Other pages render their tables and charts without script too.
    for path in ("/", "/backlog", "/performance"):
        page.goto(path)
        assert page.locator("main table").count() >= 1
        assert broken_images(page) == []
    watch.assert_clean()


def test_csp_and_api_mirrors_backlog(open_page, site, samples):
    page, watch = open_page()
    for path in [*TOP_PAGES, samples["series"], samples["commit"]]:
        resp = page.goto(path)
        csp = resp.headers.get("content-security-policy", "")
        assert "default-src 'none'" in csp, f"{path}: {csp!r}"
        assert "script-src" not in csp or "'unsafe-inline'" not in csp
        assert resp.headers.get("x-content-type-options") == "nosniff"
    page.goto("/backlog")
    table = page.locator("main table", has=page.locator("caption", has_text="Series by state"))
    shown: dict[str, int] = {}
    total = None
    for row in table.locator("tbody tr").all():
        cells = row.locator("td, th").all_inner_texts()
        if cells[0] == "All":
            total = int(cells[1])
        else:
            shown[cells[0]] = int(cells[1])
    api = httpx.get(f"{site}/api/backlog", timeout=30).json()
    assert shown == api["states"]
    assert total == sum(api["states"].values()) == api["series"]
    assert count_of(page.locator("main p.note").inner_text()) == api["series"]
    watch.assert_clean()


def test_table_columns_keep_whole_words(open_page, samples):
    page, watch = open_page()
    problems = {}
    for path in [*TOP_PAGES, *(samples[k] for k in ("series", "person", "versions", "queue"))]:
        page.goto(path)
        bad = squeezed_headers(page)
        wide = page.evaluate("document.documentElement.scrollWidth - innerWidth")
        if bad or wide > 0:
            problems[path] = {"squeezed headers": bad, "overflow px": wide}
    watch.assert_clean()
    assert not problems, problems


@pytest.mark.slow
def test_screenshots(open_page, samples, tmp_path):
    SCREENSHOTS = DOC_SCREENSHOTS if os.environ.get("PATCHLENS_SCREENSHOTS") else tmp_path
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page, watch = open_page()
    shots = {
        "overview": "/",
        "community": "/community",
        "performance": "/performance",
        "backlog": "/backlog",
        "series-explorer": "/series",
        "series": samples["series"],
        "commit": samples["commit"],
        "series-versions": samples["versions"],
        "queue": samples["queue"],
        "search": "/series?search=is%3Aopen+age%3A%3E2w+-has%3Areview",
        "prediction": samples["predicted"],
        "findings": "/findings",
        "conformance": "/conformance",
    }
    for name, path in shots.items():
        resp = page.goto(path)
        assert resp.status == 200
        height = page.evaluate("document.documentElement.scrollHeight")
        out = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(out), full_page=height <= FULL_PAGE_MAX_HEIGHT)
        size = out.stat().st_size
        assert 0 < size < SCREENSHOT_LIMIT, f"{out.name}: {size} bytes"
    watch.assert_clean()
