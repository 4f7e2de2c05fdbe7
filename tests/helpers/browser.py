"""A real browser against a served app: headless Chromium (the Debian package) through
Playwright, uvicorn on 127.0.0.1 in a background thread, and a Watch that collects everything
that went wrong on a page. Used by the dashboard's browser tests and the XSS tests.

The `browser` fixture (one Chromium per test module) is registered in tests/conftest.py.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
KNOWN_MISSING: tuple[str, ...] = ()


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium from /usr/bin/chromium; fails (never skips) when it is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium package "
            "(apt-get install chromium); 'playwright install' is not used",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app on a free local port from a daemon thread; yields the base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        if not thread.is_alive():
            pytest.fail(f"the server on port {port} stopped while starting", pytrace=False)
        try:
            if server.started and httpx.get(base + "/openapi.json", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.should_exit = True
            pytest.fail(f"the server on port {port} did not answer within 20 s", pytrace=False)
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Watch:
    """Everything that went wrong on a page: console errors, uncaught exceptions, failed
    requests, same-origin error responses (minus the ones expected), and dialogs."""

    def __init__(self, page: Any, base: str) -> None:
        self.base = base
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.expected: dict[str, int] = {base + p: 404 for p in KNOWN_MISSING}
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("dialog", self._dialog)

    def expect_status(self, url: str, status: int) -> None:
        """`url` is meant to answer `status` (an error page under test)."""
        self.expected[url] = status

    def _failed(self, request: Any) -> None:
        # The browser abandons the icon it fetches in the background when the test navigates
        # on before it arrives: not a failure of the page.
        if "favicon" in request.url and "ERR_ABORTED" in str(request.failure):
            return
        self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _console(self, msg: Any) -> None:
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        if (
            where in self.expected
            and msg.text.startswith("Failed to load resource")
            and str(self.expected[where]) in msg.text
        ):
            return
        self.problems.append(f"console error: {msg.text} ({where})")

    def _response(self, resp: Any) -> None:
        if resp.status < 400 or not resp.url.startswith(self.base):
            return
        if self.expected.get(resp.url) == resp.status:
            return
        self.problems.append(f"HTTP {resp.status}: {resp.url}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def assert_clean(self) -> None:
        assert not self.dialogs, f"dialogs opened: {self.dialogs}"
        assert not self.problems, "\n".join(self.problems)


def broken_images(page: Any) -> list[str]:
    """The <img> elements that did not load (naturalWidth 0)."""
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.currentSrc || e.src, e.complete, e.naturalWidth])"
    )
    return [src for src, complete, width in images if not complete or width <= 0]


@contextmanager
def page_maker(browser: Any, base: str) -> Iterator[Callable[..., tuple[Any, Watch]]]:
    """Makes fresh pages on `base`, each in its own context (1280x900, base URL set, 15 s
    timeouts) with a Watch on it; the contexts are closed on leaving. A test gets a clean
    browser state per page, and one Chromium serves the whole module."""
    contexts: list[Any] = []

    def make(**options: Any) -> tuple[Any, Watch]:
        ctx = browser.new_context(base_url=base, viewport=VIEWPORT, **options)
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        page = ctx.new_page()
        return page, Watch(page, base)

    try:
        yield make
    finally:
        for ctx in contexts:
            ctx.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the test module."""
    with chromium() as b:
        yield b
