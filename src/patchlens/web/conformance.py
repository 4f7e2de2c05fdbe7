"""The routes of the conformance report (issue 15 §3): /conformance and its JSON twin
/api/conformance, over queries/conformance.py. Only the period and subsystem filters apply
(to the commits' dates and touched files); any other parameter is a 400 naming it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import Engine

from patchlens.queries import dashboard as data
from patchlens.queries.conformance import PARAMS, conformance
from patchlens.queries.filters import Filters, check_params
from patchlens.queries.formats import with_units
from patchlens.web import api_models


def add_routes(
    app: FastAPI,
    engine: Engine,
    page: Callable[..., HTMLResponse],
    api_route: Callable[..., None],
    params: Callable[[tuple[str, ...]], list[dict[str, Any]]],
) -> None:
    def load(request: Request) -> tuple[Filters, dict[str, Any]]:
        check_params(request.query_params, PARAMS)
        f = Filters.from_query(request.query_params)
        with engine.connect() as conn:
            return f, conformance(conn, f)

    @app.get("/conformance", include_in_schema=False, name="conformance")
    def conformance_page(request: Request) -> HTMLResponse:
        f, d = load(request)
        with engine.connect() as conn:
            choices = data.lists_and_orgs(conn)
        return page(request, "conformance.html", f=f, d=d, choices=choices)

    def conformance_api(request: Request) -> JSONResponse:
        """The conformance report over the commits of the registered repositories (by commit
        date and touched subsystem): archive coverage, judged commits, off-list commits,
        commits merged with no review, commits changed after review (with the interdiff) and
        self-given reviews. The first rows of each list; every row with full=1."""
        return JSONResponse(with_units(load(request)[1]))

    api_route(
        "/api/conformance",
        conformance_api,
        "conformance",
        "The data of the conformance page",
        api_models.Conformance,
        params(PARAMS),
    )
