"""Acceptance 5: `patchlens datasette` on the EROFS store, in headless Chromium.

The command runs as a real process (as a user starts it); the test opens a table with its
description and a facet, runs each canned query (the queue of a real person, typed into the
form) and checks what the pages show against the dashboard's read model, then stops the
server and checks the store file is byte for byte what it was."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from patchlens.metrics.backlog import BacklogRules
from tests.helpers.browser import _free_port

RULES = BacklogRules()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def datasette_site(erofs_store, tmp_path_factory):
    """`patchlens datasette` started on a free port; stopped (SIGTERM) and checked after."""
    db, _engine, _ = erofs_store
    before = digest(db)
    port = _free_port()
    log = tmp_path_factory.mktemp("datasette") / "out.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "patchlens", "--db", str(db), "datasette", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"patchlens datasette stopped: {log.read_text()}", pytrace=False)
        try:
            if httpx.get(base + "/-/versions.json", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"datasette did not answer in 60 s: {log.read_text()}", pytrace=False)
        time.sleep(0.2)
    state = {"proc": proc}
    yield base, db.stem, state
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()
    with pytest.raises(httpx.HTTPError):
        httpx.get(base + "/-/versions.json", timeout=3)
    assert digest(db) == before, "datasette wrote the store"


@pytest.fixture
def page(browser, datasette_site):
    base, _name, _state = datasette_site
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    context.close()
    assert not errors, errors


def cells(page, column: str) -> list[str]:
    """The texts of one result column (datasette marks cells with class col-<name>)."""
    return [
        t.strip() for t in page.locator(f"table.rows-and-columns td.col-{column}").all_inner_texts()
    ]


def test_table_with_description_and_facets(page, datasette_site, client):
    _base, _name, _ = datasette_site
    api = client.get("/api/backlog").json()
    page.goto("/patchlens_states/series_states")
    assert "written by `patchlens datasette`" in page.locator(".metadata-description").inner_text()
    facet = page.locator(".facet-info[data-column='state']")
    assert facet.count() == 1
    shown = {
        li.locator("a").first.inner_text().strip(): int(
            li.inner_text().rsplit(None, 1)[-1].replace(",", "")
        )
        for li in facet.locator("ul li").all()
    }
    assert shown == {k: v for k, v in api["states"].items() if v}
    # choosing a state narrows the table to that state's series
    state = max(shown, key=lambda s: (s != "merged", shown[s]))
    facet.locator("ul li a", has_text=state).first.click()
    page.wait_for_load_state()
    assert "state=" in page.url
    assert f"{shown[state]} row" in page.locator("h3").first.inner_text()
    assert set(cells(page, "state")) == {state}
    for col in ("org", "lists"):
        assert page.locator(f".facet-info[data-column='{col}']").count() == 1, col
    assert "erofs-2024" in page.locator(".facet-info[data-column='lists']").inner_text()


def test_store_table_has_column_descriptions(page, datasette_site):
    _base, name, _ = datasette_site
    page.goto(f"/{name}/series_metrics")
    assert "One row per series" in page.locator(".metadata-description").inner_text()
    assert page.locator(".facet-info[data-column='org']").count() == 1
    # column descriptions are shown in the table's "columns" description list
    page.goto(f"/{name}/series_metrics?_size=1")
    html = page.content()
    assert "state fact: none, partly or fully merged" in html


def test_canned_backlog_states(page, datasette_site, client):
    _base, name, _ = datasette_site
    api = client.get("/api/backlog").json()
    page.goto(f"/{name}/backlog_states")
    assert page.locator("h1").inner_text().strip() == "Series by state"
    got = dict(zip(cells(page, "state"), (int(c) for c in cells(page, "series")), strict=True))
    assert got == {k: v for k, v in api["states"].items() if v}


def test_canned_backlog(page, datasette_site, client):
    _base, name, _ = datasette_site
    api = client.get("/api/backlog").json()
    open_total = sum(
        api["states"][s]
        for s in ("blocked", "stale", "new", "under review", "waiting on author", "nearly complete")
    )
    page.goto(f"/{name}/backlog?_size=max")
    states = cells(page, "state")
    assert len(states) == open_total > 0
    ages = [float(a) for a in cells(page, "age_days")]
    assert all(a >= 0 for a in ages)


def test_canned_reviewers(page, datasette_site, erofs_store):
    from patchlens.queries.community import review_balance

    _base, name, _ = datasette_site
    _db, engine, _ = erofs_store
    with engine.connect() as conn:
        want = review_balance(conn, top=None)["reviewers"]
    page.goto(f"/{name}/reviewers")
    ids = cells(page, "identity")
    replies = [int(c) for c in cells(page, "review_replies")]
    assert ids[:10] == [w["identity"] for w in want[:10]]
    assert replies[:10] == [w["review_replies"] for w in want[:10]]


def test_canned_queue_of_a_real_person(page, datasette_site, erofs_store):
    from patchlens.queries.queue import queue_rows
    from patchlens.store import schema

    _base, name, _ = datasette_site
    _db, engine, _ = erofs_store
    with engine.connect() as conn:
        people = [
            r[0]
            for r in conn.execute(
                schema.people.select().with_only_columns(schema.people.c.identity)
            )
        ]
        queues = {p: queue_rows(conn, p, RULES) for p in people}
    who = max(queues, key=lambda p: (len(queues[p]), p))
    assert queues[who]
    page.goto(f"/{name}/queue")
    page.fill("input[name='person']", who)
    page.locator("form input[type='submit']").first.click()
    page.wait_for_load_state()
    assert "person=" in page.url
    assert cells(page, "series_key") == [w["series_key"] for w in queues[who]]
    assert cells(page, "reasons") == [", ".join(w["reasons"]) for w in queues[who]]
