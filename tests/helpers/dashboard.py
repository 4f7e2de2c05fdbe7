"""The dashboard over the EROFS store, served for the browser tests (tests/test_web_browser*.py):
`site` is its base URL, `open_page` makes a fresh page on it with a Watch. Registered as a
plugin in tests/conftest.py; the store is the session's `erofs_store`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers.browser import Watch, page_maker, serve


@pytest.fixture(scope="module")
def site(erofs_store) -> Iterator[str]:
    from patchlens.store.db import database_url
    from patchlens.web.app import create_app

    db, _engine, _reports = erofs_store
    with serve(create_app(database_url(str(db)))) as base:
        yield base


@pytest.fixture
def open_page(browser, site) -> Iterator[Callable[..., tuple[Any, Watch]]]:
    """A fresh context and page (1280x900, base URL set) with a Watch on it."""
    with page_maker(browser, site) as make:
        yield make


@pytest.fixture(scope="module")
def client(erofs_store) -> Any:
    """The dashboard over the EROFS store, in process (FastAPI's test client)."""
    from fastapi.testclient import TestClient

    from patchlens.store.db import database_url
    from patchlens.web.app import create_app

    db, _engine, _ = erofs_store
    return TestClient(create_app(database_url(str(db))))


@pytest.fixture(scope="module")
def sql(erofs_store) -> Iterator[sqlite3.Connection]:
    """The EROFS store read directly, for figures a test counts itself."""
    db, _engine, _ = erofs_store
    con = sqlite3.connect(db)
    yield con
    con.close()
