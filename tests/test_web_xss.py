"""Hostile mail in the dashboard, in a real browser (headless Chromium through Playwright).

tests/fixtures/xss/hostile.mbox is a two-patch series with a cover letter and a review reply
whose subjects (one RFC 2047-encoded), sender names (one encoded), bodies, trailers, file
paths and Message-IDs carry HTML and script payloads. The patches are applied with `git am`
to a fresh repository, so the matcher links them to commits whose messages and diffs carry
the same payloads. The store is built by the real pipeline and served by uvicorn; every page
that shows the texts must show them as text: no dialog, no <script> element, no event
handler attribute, no javascript: link, and the raw HTML holds only the escaped forms.
"""

from __future__ import annotations

import mailbox
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import FIXTURES
from tests.helpers.browser import Watch, broken_images, page_maker, serve

MBOX = FIXTURES / "xss" / "hostile.mbox"
COVER_ID = 'cover"onmouseover="alert(1)\'&amp;/x?y#z%2F@xss.example'
SERIES = f"/series/{quote(COVER_ID, safe='@')}"
MALLORY = "/people/mallory@evil.example"
REVIEWER = "/people/reviewer@evil.example"

# Texts from the mail that must appear, verbatim and as text, on the pages.
TITLE = "<script>alert(1)</script> cover"
SUBJECT_1 = "<img src=x onerror=alert(1)> xss: add bold"  # RFC 2047-encoded in the mail
SUBJECT_2 = '"><svg onload=alert(1)> xss: second'
AUTHOR = "<script>alert('from')</script>"
AUTHOR_ENCODED = "<img src=x onerror=alert('name')>"  # RFC 2047-encoded display name
REVIEWER_NAME = "Reviewer \"><svg onload=alert('reviewer')>"
TRAILER = "Reviewed-by: \"><img src=x onerror=alert('rb')>"
REPLY_LINE = "<script>alert('reply')</script> is not a good comment"
REPLY_LINK = "<a href=\"javascript:alert('reply')\">why</a>"
PATH_1 = "fs/<b>bold</b>.c"
PATH_2 = "fs/\"'><svg onload=alert(1)>.txt"
BODY = "Follow javascript:alert('body') or <a href=\"javascript:alert('body')\">this</a>."
DIFF_LINE = "+int bold = 1; /* <script>alert(1)</script> */"

EXPECTED: dict[str, list[str]] = {
    "/": [],
    "/community": [AUTHOR, REVIEWER_NAME],
    "/backlog": [],
    "/performance": [],
    "/series": [TITLE, "mallory@evil.example"],
    "/series?q=<script>": [TITLE],
    "/patches": [f"[PATCH 1/2] {SUBJECT_1}", f"[PATCH 2/2] {SUBJECT_2}", AUTHOR, AUTHOR_ENCODED],
    "/patches?q=onerror": [f"[PATCH 1/2] {SUBJECT_1}"],
    SERIES: [
        TITLE,
        f"[PATCH 0/2] {TITLE}",
        f"[PATCH 1/2] {SUBJECT_1}",
        f"[PATCH 2/2] {SUBJECT_2}",
        AUTHOR,
        TRAILER,
        REVIEWER_NAME,
        REPLY_LINE,
        REPLY_LINK,
    ],
    MALLORY: [AUTHOR, TITLE],
    REVIEWER: [REVIEWER_NAME, TITLE],
    REVIEWER + "/queue": [REVIEWER_NAME],
    "/findings": [],
    # The hostile series is by a new contributor: listed in that group of the finding.
    "/findings/series?finding=contributor&group=new": [TITLE, "mallory@evil.example"],
}
COMMIT_TEXTS = {
    SUBJECT_1: [SUBJECT_1, f"[PATCH 1/2] {SUBJECT_1}", PATH_1, BODY, DIFF_LINE],
    SUBJECT_2: [
        SUBJECT_2,
        "The second patch <script>alert('second')</script>.",
        "Reviewed-by: \"<script>alert('trailer')</script>\" <reviewer@evil.example>",
        "Link: javascript:alert('link')",
        PATH_2,
        "+second <img src=x onerror=alert(2)>",
    ],
}
# A hostile query string is echoed into the form and the links: as attribute text only.
REFLECTED = '/series?q="><script>alert(9)</script>&org="><svg onload=alert(9)>&sort=-patches'
# A value that is refused (400) is named in the error page: escaped like the rest.
REFUSED = '/series?sort="><script>alert(9)</script>'

# Raw payload markup that must never reach a page unescaped.
RAW = ("<script", "<img src=x", "<svg", "<b>", '<a href="javascript', "<a href='javascript")
TAG = re.compile(r"<[A-Za-z][^<>]*>")
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


def _git(repo: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Maintainer",
        "GIT_AUTHOR_EMAIL": "maintainer@xss.example",
        "GIT_COMMITTER_NAME": "Maintainer",
        "GIT_COMMITTER_EMAIL": "maintainer@xss.example",
        "GIT_AUTHOR_DATE": "1700000000 +0000",
        "GIT_COMMITTER_DATE": "1700200000 +0000",  # two days after the posting
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, **kw)


def _repo_with_patches(repo: Path) -> list[str]:
    """A repository where the two patches of the series were applied with `git am`."""
    repo.mkdir()
    _git(repo, "init", "--quiet", "-b", "master")
    (repo / "README").write_text("base\n")
    _git(repo, "add", "README")
    _git(repo, "commit", "--quiet", "-m", "initial")
    for msg in mailbox.mbox(MBOX):
        subject = str(make_header(decode_header(msg["subject"])))
        if re.match(r"\[PATCH [1-9]\d*/", subject):
            _git(repo, "am", "--quiet", input=msg.as_bytes(unixfrom=True))
    log = _git(repo, "log", "--format=%H", "-2").stdout.decode().split()
    assert len(log) == 2, "both patches applied"
    return log


@pytest.fixture(scope="module")
def xss_site(tmp_path_factory) -> Iterator[tuple[str, list[str]]]:
    from patchlens.config import Config
    from patchlens.stages import ingest
    from patchlens.stages.pipeline import run_stages
    from patchlens.stages.progress import Reporter
    from patchlens.store.db import database_url, open_store
    from patchlens.web.app import create_app

    tmp = tmp_path_factory.mktemp("xss")
    shas = _repo_with_patches(tmp / "repo")
    db = tmp / "xss.db"
    engine = open_store(str(db))
    ingest.add_list(engine, "xss", [str(MBOX)])
    ingest.add_repo(engine, "xss-repo", str(tmp / "repo"), ["master"])
    reports = ingest.run_update(engine, tmp / "cache", Reporter(quiet=True))
    assert not [r.error for r in reports if r.error]
    assert [r.new for r in reports] == [4, 3], "4 messages and 3 commits stored"
    run_stages(engine, Config(), tmp / "cache", Reporter(quiet=True))
    engine.dispose()
    with serve(create_app(database_url(str(db)))) as base:
        yield base, shas


@pytest.fixture
def visit(browser, xss_site):
    """Open a path in a fresh context; returns the page and its Watch."""
    base, _shas = xss_site

    with page_maker(browser, base) as make:

        def go(path: str, **options: Any) -> tuple[Any, Watch]:
            page, watch = make(**options)
            resp = page.goto(path)
            assert resp is not None and resp.status == 200, f"{path}: {resp and resp.status}"
            return page, watch

        yield go


def assert_inert(page: Any, watch: Watch, texts: list[str]) -> None:
    """The payloads are on the page as text, and nothing of them became markup."""
    shown = page.locator("body").inner_text()
    for text in texts:
        assert text in shown, f"{text!r} not shown as text on {page.url}"
    assert page.locator("script").count() == 0, "a <script> element in the DOM"
    assert page.locator("main svg, main b, iframe, object, embed").count() == 0
    handlers = page.evaluate(
        """() => Array.from(document.querySelectorAll('*')).flatMap(e =>
            Array.from(e.attributes).filter(a => /^on/i.test(a.name))
                .map(a => e.tagName + ' ' + a.name + '=' + a.value))"""
    )
    assert handlers == [], f"event handler attributes: {handlers}"
    schemes = page.eval_on_selector_all(
        "a[href], form[action], img[src], link[href]",
        "els => els.map(e => new URL(e.href || e.action || e.src, location.href).protocol)",
    )
    assert set(schemes) <= {"http:", "https:"}, f"link schemes: {set(schemes)}"
    images = page.eval_on_selector_all("img", "els => els.map(e => e.getAttribute('src'))")
    assert all(src.startswith("/charts/") for src in images), images
    assert broken_images(page) == [], f"charts did not load on {page.url}"
    watch.assert_clean()


def assert_escaped(html: str, texts: list[str]) -> None:
    """The raw HTML holds the payloads escaped, and no tag of them."""
    low = html.lower()
    for raw in RAW:
        assert raw not in low, f"raw {raw!r} in the HTML"
    for tag in TAG.findall(html):
        assert not HANDLER.search(tag), f"event handler in {tag!r}"
        assert "javascript:" not in tag.lower(), f"javascript: in {tag!r}"
    if any("<script>" in t for t in texts):
        assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            p,
            id={
                SERIES: "series-page",
                MALLORY: "author",
                REVIEWER: "reviewer",
                REVIEWER + "/queue": "reviewer-queue",
            }.get(p, p),
        )
        for p in EXPECTED
    ],
)
def test_payloads_render_as_text(visit, xss_site, path):
    """With the CSP bypassed, so that only the escaping stands between mail and markup."""
    base, _shas = xss_site
    page, watch = visit(path, bypass_csp=True)
    assert_inert(page, watch, EXPECTED[path])
    resp = httpx.get(base + path, timeout=30)
    assert resp.status_code == 200
    assert_escaped(resp.text, EXPECTED[path])


def test_commit_pages(visit, xss_site):
    base, shas = xss_site
    api = httpx.get(f"{base}/api/patches", timeout=30).json()["rows"]
    linked = {r["subject"].split("] ", 1)[1]: r["commit"] for r in api}
    assert set(linked.values()) == set(shas), "both patches matched to their commits"
    for subject, texts in COMMIT_TEXTS.items():
        path = f"/commits/{linked[subject]}"
        page, watch = visit(path)
        page.locator("details summary").click()  # open the diff
        assert_inert(page, watch, texts)
        assert page.locator("main h1").inner_text() == subject
        html = httpx.get(base + path, timeout=30).text
        assert_escaped(html, texts)
        if subject == SUBJECT_1:
            assert "fs/&lt;b&gt;bold&lt;/b&gt;.c" in html


def test_series_reached_by_clicking(visit):
    """The series key (a Message-ID with quotes, &, /, ?, # and %) survives the link."""
    page, watch = visit("/series?q=cover")
    with page.expect_navigation():
        page.get_by_role("link", name=TITLE).click()
    assert page.locator("main h1").inner_text() == TITLE
    archive = page.get_by_role("link", name=f"[PATCH 0/2] {TITLE}").get_attribute("href")
    assert archive == f"https://lore.kernel.org/r/{quote(COVER_ID, safe='@')}"
    with page.expect_navigation():
        page.get_by_role("link", name=REVIEWER_NAME).click()
    assert page.url.endswith(REVIEWER)
    assert page.locator("main h1").inner_text() == REVIEWER_NAME
    assert_inert(page, watch, [REVIEWER_NAME])


def test_reflected_query_is_inert(visit, xss_site):
    base, _shas = xss_site
    page, watch = visit(REFLECTED)
    assert page.locator("input[name=q]").input_value() == '"><script>alert(9)</script>'
    assert_inert(page, watch, [])
    html = httpx.get(base + REFLECTED, timeout=30).text
    assert_escaped(html, [])
    resp = httpx.get(base + REFUSED, timeout=30)
    assert resp.status_code == 400 and "<code>sort</code>" in resp.text
    assert "&lt;script&gt;alert(9)" in resp.text
    assert_escaped(resp.text, [])
    # The API answers JSON, never HTML, and is not sniffed into a page.
    resp = httpx.get(f"{base}/api/series", params={"q": "<script>"}, timeout=30)
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.json()["rows"][0]["title"] == TITLE


def test_chart_svg_escapes_names(visit, xss_site):
    """The reviewers chart draws mail display names into an SVG: it must stay inert XML."""
    base, _shas = xss_site
    resp = httpx.get(f"{base}/charts/reviewers.svg", timeout=30)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("image/svg+xml")
    assert "script-src" not in resp.headers["content-security-policy"]
    root = ET.fromstring(resp.text)  # well-formed: the names did not break the markup
    tags = {el.tag.rsplit("}", 1)[-1] for el in root.iter()}
    assert "foreignObject" not in tags
    assert not [k for el in root.iter() for k in el.attrib if k.lower().startswith("on")]
    labels = [el.text for el in root.iter() if el.text]
    # Only people who gave review replies are drawn (the author gave none).
    assert REVIEWER_NAME in labels
    # pygal adds one inline <script> (its config, with the labels as JSON strings): in an
    # <img> it never runs, opened on its own the CSP blocks it, and even run it is inert.
    scripts = [el.text or "" for el in root.iter() if el.tag.endswith("}script")]
    assert all(t.startswith("window.pygal") for t in scripts), scripts
    page, watch = visit("/charts/reviewers.svg")
    assert page.evaluate("typeof window.pygal") == "undefined", "the CSP let the script run"
    assert watch.dialogs == []
    page, watch = visit("/charts/reviewers.svg", bypass_csp=True)
    assert watch.dialogs == []


def test_chart_svg_has_no_script(xss_site):
    base, _shas = xss_site
    assert "<script" not in httpx.get(f"{base}/charts/reviewers.svg", timeout=30).text
