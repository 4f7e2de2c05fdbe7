"""Hostile input to the dashboard, on the EROFS store: identifiers are matched exactly, search
text is matched literally (LIKE's `%` and `_` are not wildcards), nothing a user types gives a
5xx, and a 500 that does happen carries the same security headers as every other page."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.slow

HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy")


def _headers_of(response: Any) -> dict[str, str]:
    return {h: response.headers.get(h, "") for h in HEADERS}


@pytest.mark.parametrize(
    "ident", ["%", "_", "%25", "%@%", "_%_", "a%", "\\", "%" * 20_000, "x" * 5_000 + "@y"]
)
def test_person_is_matched_exactly(client, ident: str) -> None:
    """No person for a wildcard: 404, never 200 with an arbitrary person, never a 5xx."""
    for prefix in ("/api/people/", "/people/"):
        r = client.get(prefix + quote(ident, safe=""))
        assert r.status_code == 404, (prefix, ident[:20], r.status_code, r.text[:200])
        assert all(_headers_of(r).values())


def test_person_page_takes_no_pattern(erofs_store) -> None:
    """60,000 `%` (more than a URL client sends: SQLite refuses LIKE patterns over 50,000
    bytes with "pattern too complex") straight to the page's query: nobody, no error."""
    from patchlens.metrics.backlog import BacklogRules
    from patchlens.queries import dashboard as data
    from patchlens.queries.filters import Filters

    _db, engine, _ = erofs_store
    with engine.connect() as conn:
        for ident in ("%" * 60_000, "%", "_" * 10):
            assert data.person_page(conn, ident, Filters(), BacklogRules()) is None
        assert data.commit_page(conn, "%" * 60_000) is None


def test_person_found_by_every_address(client, sql) -> None:
    """The exact match still finds a person by an address other than the identity's."""
    rows = sql.execute("SELECT identity, addresses FROM people").fetchall()
    found = 0
    for identity, addresses in rows:
        for addr in json.loads(addresses):
            if f"addr:{addr}" == identity:
                continue
            r = client.get("/api/people/" + quote(addr, safe="@"))
            assert r.status_code == 200, addr
            assert r.json()["identity"] == identity
            # The same address with a wildcard in place of one letter names nobody.
            wild = addr[:1] + "_" + addr[2:]
            if wild != addr:
                assert client.get("/api/people/" + quote(wild, safe="@")).status_code == 404
            found += 1
            if found >= 5:
                return
    assert found, "the EROFS store should have people with more than one address"


@pytest.mark.parametrize("ident", ["%", "_", "%%%%", "____", "abc%", "zz" * 40, "%" * 20_000])
def test_commit_is_matched_exactly(client, ident: str) -> None:
    r = client.get("/api/commits/" + quote(ident, safe=""))
    assert r.status_code == 404, (ident[:20], r.status_code)


def test_commit_prefix_still_found(client, sql) -> None:
    (sha,) = sql.execute("SELECT sha FROM commits LIMIT 1").fetchone()
    assert client.get(f"/api/commits/{sha}").status_code == 200
    assert client.get(f"/api/commits/{sha[:12]}").json()["sha"] == sha
    assert client.get(f"/api/commits/{sha[:12].upper()}").json()["sha"] == sha


@pytest.mark.parametrize("q", ["%", "_", "%_%", "\\", "\\%"])
def test_patch_search_is_literal(client, sql, q: str) -> None:
    """`q` is searched as the characters typed: as many patches as carry them literally."""
    total = client.get("/api/patches").json()["total"]
    r = client.get("/api/patches", params={"q": q})
    assert r.status_code == 200
    want = sql.execute(
        "SELECT count(*) FROM version_members vm JOIN messages m ON m.id = vm.message_pk "
        "WHERE vm.idx > 0 AND (instr(lower(m.subject), ?) > 0 OR instr(lower(m.from_addr), ?) > 0)",
        (q.lower(), q.lower()),
    ).fetchone()[0]
    got = r.json()["total"]
    assert got < total
    assert got <= want  # the other filters (none here) can only narrow it


@pytest.mark.parametrize(
    "path",
    [
        "/api/series?q=" + "%" * 200,
        "/api/series?q=" + "%" * 201,
        "/series?q=%_%",
        "/api/series/" + "%" * 3000,
        "/api/subsystems/" + "%" * 3000,
        "/api/people/%25?authored_page=99999999999999999999",
        "/api/patches?page=-1",
        "/api/patches?q=" + quote("\x00"),
    ],
)
def test_bad_input_is_never_a_5xx(client, path: str) -> None:
    r = client.get(path)
    assert r.status_code < 500, (path[:60], r.status_code, r.text[:200])


@pytest.mark.parametrize("path", ["/commits/abcd", "/api/commits/abcd"])
def test_500_carries_the_security_headers(erofs_store, monkeypatch, path: str) -> None:
    """An internal error in a route: a 500 with the headers of every page, no traceback."""
    from fastapi.testclient import TestClient

    from patchlens.queries import dashboard as data
    from patchlens.store.db import database_url
    from patchlens.web import app as web_app

    def broken(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr(data, "commit_page", broken)
    db, _engine, _ = erofs_store
    client = TestClient(web_app.create_app(database_url(str(db))))
    ok = client.get("/")
    r = client.get(path)
    assert r.status_code == 500
    for h in HEADERS:
        assert r.headers.get(h) == ok.headers.get(h), h
    assert "secret detail" not in r.text and "Traceback" not in r.text
    if path.startswith("/api/"):
        assert r.json()["error"].startswith("internal error")
    else:
        assert "Internal error" in r.text


HOSTILE = [
    "%",
    "_",
    "\x00",
    "%00",
    "'",
    '"',
    "\\",
    "..",
    "../../etc/passwd",
    "\u202e",
    "a" * 3000,
    "-1",
    "99999999999999999999999",
    "1e9",
    "NaN",
    "<script>",
]
PAGES = [
    "/",
    "/series",
    "/patches",
    "/backlog",
    "/community",
    "/performance",
    "/pulls",
    "/findings",
]
NAMES = ["q", "since", "until", "list", "org", "state", "sort", "page", "bucket", "zzz"]


def test_hostile_values_never_give_a_5xx(client) -> None:
    """Every page and its API with each hostile value in each parameter, each one-thing page
    with each as its identifier, and undecodable bytes: a 4xx or a page, never a 5xx."""
    urls = []
    for page in PAGES:
        for api in (False, True):
            base = ("/api/overview" if page == "/" else "/api" + page) if api else page
            urls += [f"{base}?{name}={quote(v, safe='')}" for name in NAMES for v in HOSTILE]
    for kind in ("series", "people", "subsystems", "commits"):
        for prefix in ("/", "/api/"):
            urls += [f"{prefix}{kind}/{quote(v, safe='')}" for v in HOSTILE]
    urls += ["/charts/" + quote(v, safe="") + ".svg" for v in HOSTILE]
    urls += ["/api/people/%FF%FE", "/people/%ED%A0%80", "/api/series/%FF", "/api/commits/%FF"]
    urls += ["/series?q=%FF", "/api/patches?q=%ED%A0%80", "/api/series?since=%FF"]
    failed = [(u[:80], r.status_code) for u in urls if (r := client.get(u)).status_code >= 500]
    assert len(urls) > 1500
    assert not failed, failed[:20]


def test_series_author_is_literal(erofs_store) -> None:
    """The `author` filter (`patchlens series --author`, `?author=`) looks for the characters
    given: `%` and `_` match only themselves (some EROFS author names hold a `_`), while part of
    an address still matches."""
    from patchlens.metrics.backlog import BacklogRules
    from patchlens.queries.filters import Filters
    from patchlens.queries.selection import select_series

    _db, engine, _ = erofs_store
    rules = BacklogRules()
    with engine.connect() as conn:
        every = select_series(conn, Filters(), rules)
        assert len(every) > 100
        part = every[0]["author_addr"].split("@")[1].upper()
        assert select_series(conn, Filters(author=part), rules)
        for wild in ("%", "_", "%@%", "_a"):
            want = sorted(
                r["series_key"]
                for r in every
                if wild in r["author_addr"].lower() or wild in r["author_name"].lower()
            )
            got = select_series(conn, Filters(author=wild), rules)
            assert sorted(r["series_key"] for r in got) == want, wild
            assert len(want) < len(every)
