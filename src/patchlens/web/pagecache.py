"""Rendered responses kept per data version, conditional requests, and the notice that an
update is under way.

Every page is a function of the store, and the store changes only when `update` writes to
it. An update records its end in `stage_state` (queries/selection.py::data_version: the
*data version*) and names itself in `update_lock` while it runs (store/lock.py; the row stays
behind when an update is killed or fails, and is removed only after a clean run). So:

- each successful GET response (status 200) is kept, keyed by path and query string, and
  served again until the data version changes; then every kept response is dropped at once,
  so readers see one switch from the figures of one finished update to the next;
- a response rendered while no update is under way shows one finished update's data, whole:
  it is kept and served while the next update runs (an update commits stage by stage, and
  the store may meanwhile hold new threads with old matching and metrics);
- a response rendered while an update runs, or after one that did not finish, may mix old
  and new data: the page says so (a notice), and it is kept only while that state lasts;
  every response carries `X-Patchlens-Update: running` or `interrupted` in such a state;
- the ETag is a hash of the state a response was rendered in and of its URL, known without
  rendering; Last-Modified is when that state began. A request whose If-None-Match (or,
  without one, If-Modified-Since) matches gets 304 without a body.

The state is read at most every `check_every` seconds per process (one small query), and
again before and after each rendering, so a new state shows within that time and nothing
rendered across a change is kept. Concurrent requests for a URL that is not kept yet wait
for the first one to render it, rather than all rendering it at once after each update.
When the data version is first read or changes, `warm` (if given) runs in a background
thread: it reads what every page needs for that version before the first request asks.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from sqlalchemy import Engine

from patchlens.queries.selection import data_version
from patchlens.store.lock import describe_row, holder_row, row_is_live

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class StoreState:
    """What a response depends on besides its URL."""

    version: str  # hash of the data version (stage_state) and the salt
    token: str  # hash of the version and of the update_lock row, if any
    modified: int | None  # when this state began (Unix time), for Last-Modified
    update: str | None  # None, "running" or "interrupted"
    holder: str = ""  # "pid N since HH:MM" for a running update

    def notice(self) -> str | None:
        """The sentence pages show, or None when the store is at rest."""
        if self.update == "running":
            return (
                f"An update is running ({self.holder}): until it finishes, figures may mix "
                "new data with review, matching and metrics not yet rebuilt."
            )
        if self.update == "interrupted":
            return (
                "The last update did not finish: figures may mix new data with review, "
                "matching and metrics not yet rebuilt, until the next update completes."
            )
        return None


def read_state(engine: Engine, salt: str = "") -> StoreState:
    """The store's state now: its data version (stage_state) and the update_lock row."""
    with engine.connect() as conn:
        version = data_version(conn)
        row = holder_row(conn)
    update, holder, modified = None, "", None
    if version is not None:
        modified = int(version[1])
    if row is not None:
        update = "running" if row_is_live(row) else "interrupted"
        holder = describe_row(row)
        modified = max(modified or 0, int(row.started_at))
    at_rest = hashlib.sha256(repr((salt, version)).encode()).hexdigest()[:16]
    token = hashlib.sha256(repr((at_rest, update, row and tuple(row))).encode()).hexdigest()[:16]
    return StoreState(at_rest, token, modified, update, holder)


@dataclass
class _Kept:
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: str
    modified: int | None
    # None: rendered with no update under way, so of one finished update's data, valid until
    # the data version changes. Otherwise rendered during an update (and saying so): valid
    # only in that same state.
    token: str | None


def _etag(token: str, key: str) -> str:
    return '"' + hashlib.sha256(f"{token} {key}".encode()).hexdigest()[:24] + '"'


class PageCache:
    """ASGI middleware: see the module docstring. `salt` is whatever else every response
    depends on (the program's version, the configuration), so that it is part of each ETag."""

    def __init__(
        self,
        app: ASGIApp,
        engine: Engine,
        salt: str = "",
        check_every: float = 0.5,
        max_bytes: int = 64 << 20,
        skip: tuple[str, ...] = ("/static/",),
        warm: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.engine = engine
        self.salt = salt
        self.check_every = check_every
        self.max_bytes = max_bytes
        self.skip = skip
        self.kept: OrderedDict[str, _Kept] = OrderedDict()
        self.size = 0
        self._state: StoreState | None = None
        self._checked = 0.0
        self._rendering: dict[str, asyncio.Event] = {}
        self.hits = self.misses = 0
        self.warm = warm

    def state(self, fresh: bool = False) -> StoreState:
        """The store's state, read again when the last reading is older than check_every
        (or `fresh`). A new data version drops every kept response."""
        now = time.monotonic()
        if fresh or self._state is None or now - self._checked >= self.check_every:
            new = read_state(self.engine, self.salt)
            if self._state is None or new.version != self._state.version:
                self.kept.clear()
                self.size = 0
                self._warm()
            self._state, self._checked = new, now
        return self._state

    def _warm(self) -> None:
        """Start reading what every page needs for the new data version (the series rows
        kept in memory: seconds on a large store) in the background, so that the first
        request after a start or an update does not wait for all of it alone. Requests
        that arrive meanwhile wait for the same reading (queries.selection's lock)."""
        if self.warm is None:
            return
        warm = self.warm

        def run() -> None:
            try:
                warm()
            except Exception:  # a request will read it again, and say what failed
                log.warning("warming the dashboard's rows failed", exc_info=True)

        threading.Thread(target=run, name="patchlens-warm", daemon=True).start()

    def _valid(self, key: str, st: StoreState) -> _Kept | None:
        kept = self.kept.get(key)
        if kept is None or (kept.token is not None and kept.token != st.token):
            return None
        return kept

    def _keep(self, key: str, kept: _Kept) -> None:
        n = len(kept.body)
        if n > self.max_bytes // 8:
            return
        old = self.kept.pop(key, None)
        if old is not None:
            self.size -= len(old.body)
        self.kept[key] = kept
        self.size += n
        while self.size > self.max_bytes and self.kept:
            _k, gone = self.kept.popitem(last=False)
            self.size -= len(gone.body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(self.skip):
            await self.app(scope, receive, send)
            return
        st = self.state()
        qs = scope.get("query_string", b"").decode("latin-1")
        key = f"{path}?{qs}"

        kept = self._valid(key, st)
        if kept is None:
            etag, modified = _etag(st.token if st.update else st.version, key), st.modified
        else:
            etag, modified = kept.etag, kept.modified
        if _not_modified(scope, etag, modified):
            headers = [
                (k, v)
                for k, v in (kept.headers if kept else [])
                if k in (b"cache-control", b"content-security-policy")
            ]
            await _reply(send, 304, [*headers, *_meta(etag, modified, st)], b"")
            return

        while True:
            if kept is not None:
                self.hits += 1
                self.kept.move_to_end(key)
                meta = _meta(kept.etag, kept.modified, st)
                await _reply(send, 200, [*kept.headers, *meta, _HIT], kept.body)
                return
            busy = self._rendering.get(key)
            if busy is None:
                break
            await busy.wait()  # another request is rendering this URL: use its result
            kept = self._valid(key, self.state())
            if kept is None:
                break

        # Rendering: read the state again, so that a page rendered as "no update under way"
        # is one; and keep the result only if the state did not change meanwhile.
        self.misses += 1
        st = self.state(fresh=True)
        scope.setdefault("state", {})["patchlens_notice"] = st.notice()
        token = st.token if st.update else None
        etag, modified = _etag(token or st.version, key), st.modified
        owner = key not in self._rendering
        done = self._rendering.setdefault(key, asyncio.Event())
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                if message["status"] == 200:
                    headers = _merge(
                        message.get("headers", []), [*_meta(etag, modified, st), _MISS]
                    )
                    message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
            if start.get("status") == 200 and self.state(fresh=True).token == st.token:
                headers = [(bytes(k), bytes(v)) for k, v in start.get("headers", [])]
                headers = [(k, v) for k, v in headers if k.lower() not in _OURS]
                if not any(k.lower() == b"cache-control" for k, _v in headers):
                    headers.append((b"cache-control", b"no-cache"))
                self._keep(key, _Kept(headers, b"".join(chunks), etag, modified, token))
        finally:
            if owner:
                del self._rendering[key]
                done.set()


def _meta(etag: str, modified: int | None, st: StoreState) -> list[tuple[bytes, bytes]]:
    """ETag and Last-Modified of a response, and whether an update is under way now."""
    out = [(b"etag", etag.encode())]
    if modified:
        stamp = format_datetime(datetime.fromtimestamp(modified, UTC), usegmt=True)
        out.append((b"last-modified", stamp.encode()))
    if st.update:
        out.append((b"x-patchlens-update", st.update.encode()))
    return out


# Whether a response was kept from an earlier request (for tests and benchmarks).
_HIT = (b"x-patchlens-cache", b"hit")
_MISS = (b"x-patchlens-cache", b"miss")
# Headers the cache sets itself on every reply (and content-length, recomputed).
_OURS = {
    b"etag",
    b"last-modified",
    b"x-patchlens-update",
    b"x-patchlens-cache",
    b"content-length",
    b"server-timing",
}


def _merge(
    headers: list[tuple[bytes, bytes]], meta: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    out = [(k, v) for k, v in headers if k.lower() not in _OURS - {b"content-length"}]
    if not any(k.lower() == b"cache-control" for k, _v in out):
        out.append((b"cache-control", b"no-cache"))
    return [*out, *meta]


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k.lower() == name:
            return v.decode("latin-1")
    return None


def _not_modified(scope: Scope, etag: str, modified: int | None) -> bool:
    """RFC 9110 13.1: If-None-Match first (weak comparison); If-Modified-Since only without
    it."""
    inm = _header(scope, b"if-none-match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = _header(scope, b"if-modified-since")
    if ims is None or not modified:
        return False
    try:
        when = parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        return False
    return modified <= when.timestamp()


async def _reply(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    if status != 304:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
