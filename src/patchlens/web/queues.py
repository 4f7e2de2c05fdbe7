"""The routes of review queues: a person's queue page and its JSON twin, and the review-load
charts of the person and subsystem pages. Registered before the person and subsystem pages,
whose `{ident:path}` routes would otherwise take `/people/<address>/queue` for an address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Engine

from patchlens.metrics.backlog import BacklogRules
from patchlens.queries import dashboard as data
from patchlens.queries.filters import Filters, check_params
from patchlens.queries.formats import with_units
from patchlens.queries.queue import queue_of
from patchlens.web import api_models, charts, feeds

# pygal puts its styles inside the SVG; loaded as an <img>, an SVG can never run script.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def add_routes(
    app: FastAPI,
    engine: Engine,
    rules: BacklogRules,
    page: Callable[..., HTMLResponse],
    api_route: Callable[..., None],
) -> None:
    """/people/<address>/queue, /api/people/<address>/queue, and the load charts."""

    def load(request: Request, ident: str) -> dict[str, Any]:
        check_params(request.query_params, ())
        with engine.connect() as conn:
            d = queue_of(conn, ident, rules)
        if d is None:
            # A name is not taken here (several people may share one): `patchlens queue`
            # takes a name and lists the people it names.
            raise HTTPException(
                404, "no such person: give the address or identity of someone who wrote"
            )
        return d

    @app.get("/people/{ident:path}/queue.atom", include_in_schema=False, name="queue_feed")
    def queue_atom(request: Request, ident: str) -> Response:
        """The queue as an Atom feed (web/feeds.py), for a feed reader or a chat bot: the
        same series as the page, in the same order."""
        d = load(request, ident)
        base = str(request.base_url)
        body = feeds.queue_feed(base, d["address"], [*d["awaiting"], *d["again"]], d["as_of"])
        return Response(body, media_type=f"{feeds.MEDIA_TYPE}; charset=utf-8")

    @app.get("/people/{ident:path}/queue", include_in_schema=False, name="queue")
    def queue_page(request: Request, ident: str) -> HTMLResponse:
        return page(request, "queue.html", f=Filters(), d=load(request, ident))

    def queue_api(request: Request, ident: str) -> JSONResponse:
        """A person's queue: the open series that name them (MAINTAINERS at posting, To/Cc)
        or that they answered in an earlier version, whose current version they have not
        answered, oldest first."""
        return JSONResponse(with_units(load(request, ident)))

    api_route(
        "/api/people/{ident:path}/queue",
        queue_api,
        "queue",
        "One person's review queue",
        api_models.Queue,
        [],
        "person",
    )

    def svg(text: str) -> Response:
        return Response(
            text,
            media_type="image/svg+xml",
            headers={"Content-Security-Policy": SVG_CSP, "Cache-Control": "max-age=60"},
        )

    @app.get("/charts/people/{ident:path}/load.svg", include_in_schema=False)
    def person_load(request: Request, ident: str) -> Response:
        f = Filters.from_query(request.query_params)
        with engine.connect() as conn:
            d = data.person_page(conn, ident, f, rules)
        if d is None:
            raise HTTPException(404, "no such person")
        return svg(charts.review_load(f"Review load of {d['name'] or d['address']}", d["load"]))

    @app.get("/charts/subsystems/{ident:path}/load.svg", include_in_schema=False)
    def subsystem_load(request: Request, ident: str) -> Response:
        f = Filters.from_query(request.query_params)
        with engine.connect() as conn:
            d = data.subsystem_page(conn, ident, f, rules)
        if d is None:
            raise HTTPException(404, "no such subsystem")
        return svg(charts.review_load(f"Review load of {d['title']}", d["load"]))
