"""The charts and the glossary in a real browser (headless Chromium through Playwright, the
fixtures of tests/helpers/browser.py and tests/helpers/dashboard.py, the EROFS store): the
glossary loads cleanly, a table head's link lands on its definition, and the performance
charts are drawn on a log axis above a panel of the series per period."""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

import httpx

from patchlens.web import glossary
from tests.helpers.browser import broken_images


def test_glossary_loads_cleanly(open_page):
    page, watch = open_page()
    resp = page.goto("/glossary")
    assert resp is not None and resp.status == 200
    assert "default-src 'none'" in resp.headers.get("content-security-policy", "")
    assert page.locator("main h1").inner_text() == "Glossary"
    assert page.locator("header nav a[aria-current=page]").inner_text() == "Glossary"
    terms = page.locator("main dl dt[id]")
    assert terms.count() == len(glossary.TERMS)
    ids = set(terms.evaluate_all("els => els.map(e => e.id)"))
    assert ids == set(glossary.TERMS)
    # The page fits the window: no sideways scrolling at 1280 px.
    assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
    watch.assert_clean()


def test_table_head_link_lands_on_its_definition(open_page):
    page, watch = open_page()
    page.goto("/community")
    head = page.locator("main table thead th a.gl", has_text="Given / received").first
    href = head.get_attribute("href")
    assert href == "/glossary#given-received"
    with page.expect_navigation():
        head.click()
    url = urlsplit(page.url)
    assert (url.path, url.fragment) == ("/glossary", "given-received")
    target = page.locator(":target")
    assert target.get_attribute("id") == "given-received"
    assert target.inner_text() == "given / received"
    # Scrolled to it: the term is in the window, and highlighted as the target.
    box = target.bounding_box()
    assert box is not None and 0 <= box["y"] < page.viewport_size["height"] - box["height"]
    assert page.evaluate("scrollY") > 0
    assert target.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"

    # A state badge on the series explorer lands on its state.
    page.goto("/series?state=stale")
    badge = page.locator("main table tbody span.state a").first
    assert badge.inner_text() == "stale"
    with page.expect_navigation():
        badge.click()
    assert urlsplit(page.url).fragment == "state-stale"
    assert page.locator(":target").inner_text() == "stale"
    watch.assert_clean()


def test_performance_charts_have_a_log_axis_and_a_count_panel(open_page, site):
    page, watch = open_page()
    page.goto("/performance")
    images = page.locator("main figure img")
    assert images.count() == 4
    assert broken_images(page) == []
    for i in range(images.count()):
        img = images.nth(i)
        # Drawn at the size the page reserves (760 x 460: two panels).
        size = img.evaluate("e => [e.naturalWidth, e.naturalHeight]")
        assert size == [760, 460], size
        svg = httpx.get(site + img.get_attribute("src"), timeout=30).text
        assert 'class="panels log-scale"' in svg
        assert svg.count("<svg ") == 3, "an outer SVG with two panels"
        # Ticks 1 h, 1 d, 1 wk at distances log(24) : log(7): a log axis.
        y = {
            k: float(v)
            for v, k in re.findall(r'<text x="-5" y="([\d.]+)" class="[^"]*">([^<]+)</text>', svg)
        }
        ratio = (y["1 h"] - y["1 d"]) / (y["1 d"] - y["1 wk"])
        assert abs(ratio - math.log(24) / math.log(7)) < 0.02, ratio
        assert "series per period" in svg
        assert "2026-Q3 (partial)" in svg
    # The partial quarter is said so in the table of numbers.
    page.locator("main details summary").first.click()
    first_row = page.locator("main details table tbody tr").first
    assert first_row.get_attribute("class") == "partial"
    assert "(partial)" in first_row.inner_text()
    watch.assert_clean()
