"""The dashboard: server-rendered pages over a read-only store, and a JSON API that returns
exactly the data each page shows (with an OpenAPI description at /openapi.json).

Every page works without JavaScript: filters are GET forms whose values live in the query
string, tables sort and page through links, charts are SVG images drawn on the server, each
with a table of its numbers. Mail is hostile input: templates escape everything (Jinja2
autoescape), a strict Content-Security-Policy forbids scripts, the store is opened read-only
and every query is parameterised.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from patchlens import __version__
from patchlens.config import Config
from patchlens.metrics.backlog import BacklogRules
from patchlens.metrics.distributions import DURATIONS, by_period, fill_periods, mark_partial
from patchlens.metrics.report import data_date
from patchlens.store.db import make_engine
from patchlens.web import charts, data, glossary
from patchlens.web.filters import Filters

HERE = Path(__file__).parent
PAGE_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# pygal puts its styles inside the SVG; loaded as an <img>, an SVG can never run script.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _day(ts: int | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d") if ts else ""


def _when(ts: int | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else ""


def _dur(hours: float | None) -> str:
    if hours is None:
        return "–"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.1f}%"


def create_app(url: str, cfg: Config | None = None) -> FastAPI:
    cfg = cfg or Config()
    engine: Engine = make_engine(url, readonly=True)
    rules = BacklogRules(cfg.stale_days, cfg.abandoned_days)
    app = FastAPI(
        title="patchlens",
        version=__version__,
        description="Code review of mailing-list projects: the data behind each page.",
        docs_url=None,  # the interactive docs load scripts from a CDN; the schema is enough
        redoc_url=None,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    env = templates.env
    env.filters.update(day=_day, when=_when, dur=_dur, pct=_pct)
    env.globals.update(
        q=lambda v: quote(str(v), safe="@"),
        archive=lambda mid: cfg.archive_url.format(message_id=quote(mid, safe="@")),
        gl=glossary.gl,
        gl_state=glossary.gl_state,
        gl_method=glossary.gl_method,
    )

    # Compile every template now rather than on the first request after a start.
    for t in (HERE / "templates").glob("*.html"):
        env.get_template(t.name)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        t0 = time.perf_counter()
        response: Response = await call_next(request)
        if "content-security-policy" not in response.headers:
            response.headers["Content-Security-Policy"] = PAGE_CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - t0) * 1000:.1f}"
        return response

    def page(request: Request, template: str, **ctx: Any) -> HTMLResponse:
        f = ctx.get("f") or Filters.from_query(request.query_params)
        return templates.TemplateResponse(
            request, template, {"f": f, "path": request.url.path, **ctx}
        )

    def view(name: str, fn: Callable[..., dict[str, Any]], *, needs_rules: bool = True) -> None:
        def html(request: Request) -> HTMLResponse:
            f = Filters.from_query(request.query_params)
            with engine.connect() as conn:
                d = fn(conn, f, rules) if needs_rules else fn(conn, f)
                choices = data.lists_and_orgs(conn)
            return page(request, f"{name}.html", f=f, d=d, choices=choices)

        def api(request: Request) -> JSONResponse:
            f = Filters.from_query(request.query_params)
            with engine.connect() as conn:
                d = fn(conn, f, rules) if needs_rules else fn(conn, f)
            return JSONResponse(d)

        path = "/" if name == "overview" else f"/{name}"
        app.add_api_route(path, html, methods=["GET"], include_in_schema=False, name=name)
        api.__doc__ = fn.__doc__ or f"The data of the {name} page."
        app.add_api_route(
            f"/api/{name}",
            api,
            methods=["GET"],
            name=f"api_{name}",
            summary=f"{name} (filters: since, until, list, org, subsystem, "
            "contributor, bucket, period, state, q, sort, page)",
        )

    view("overview", _periods(data.overview))
    view("performance", _periods(data.performance))
    view("backlog", data.backlog)
    view("community", data.community, needs_rules=False)
    view("series", data.explorer)
    view("patches", data.patches, needs_rules=False)

    def one(name: str, fn: Callable[..., dict[str, Any] | None], kind: str) -> None:
        def html(request: Request, ident: str) -> HTMLResponse:
            with engine.connect() as conn:
                d = fn(conn, ident, rules) if kind == "rules" else fn(conn, ident)
            if d is None:
                raise HTTPException(404, f"no such {name}")
            return page(request, f"{name}.html", d=d)

        def api(ident: str) -> JSONResponse:
            with engine.connect() as conn:
                d = fn(conn, ident, rules) if kind == "rules" else fn(conn, ident)
            if d is None:
                raise HTTPException(404, f"no such {name}")
            return JSONResponse(d)

        prefix = {
            "series_one": "series",
            "person": "people",
            "subsystem": "subsystems",
            "commit": "commits",
        }[name]
        app.add_api_route(
            f"/{prefix}/{{ident:path}}", html, methods=["GET"], include_in_schema=False, name=name
        )
        app.add_api_route(
            f"/api/{prefix}/{{ident:path}}",
            api,
            methods=["GET"],
            name=f"api_{name}",
            summary=f"one {prefix.rstrip('s')}",
        )

    one("series_one", data.series_page, "rules")
    one("person", data.person_page, "plain")
    one("subsystem", data.subsystem_page, "rules")
    one("commit", data.commit_page, "plain")

    @app.get("/glossary", include_in_schema=False, name="glossary")
    def glossary_page(request: Request) -> HTMLResponse:
        return page(request, "glossary.html", f=Filters(), sections=glossary.SECTIONS)

    @app.get("/api/glossary", name="api_glossary", summary="every term the dashboard shows")
    def glossary_api() -> JSONResponse:
        """The definitions the glossary page shows, by section, each with its anchor."""
        return JSONResponse(glossary.as_json())

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response((HERE / "static" / "favicon.svg").read_bytes(), media_type="image/svg+xml")

    @app.get("/charts/{name}.svg", include_in_schema=False)
    def chart(request: Request, name: str) -> Response:
        f = Filters.from_query(request.query_params)
        with engine.connect() as conn:
            svg = _chart(conn, name, f, rules)
        if svg is None:
            raise HTTPException(404, "no such chart")
        return Response(
            svg,
            media_type="image/svg+xml",
            headers={"Content-Security-Policy": SVG_CSP, "Cache-Control": "max-age=60"},
        )

    @app.exception_handler(HTTPException)
    def not_found(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"f": Filters(), "path": request.url.path, "message": exc.detail},
            status_code=exc.status_code,
        )

    return app


def _span(conn: Any, f: Filters) -> tuple[int | None, int]:
    """The time the selected data covers: from the `since` filter to the newest data of the
    store or the `until` filter, whichever comes first (periods cut by it are partial)."""
    until = data_date(conn) + 1
    return f.since_ts, until if f.until_ts is None else min(until, f.until_ts)


def _periods(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """A page's per-period tables with every period between the first and the last (zeros
    for the empty ones) and each marked `partial` or not."""

    def marked(conn: Any, f: Filters, rules: BacklogRules) -> dict[str, Any]:
        d = fn(conn, f, rules)
        since, until = _span(conn, f)
        if "trend" in d:
            empty = {"series": 0, "patches": 0, "merged": 0, "median_time_to_merge": None}
            d["trend"] = mark_partial(
                fill_periods(d["trend"], f.period, empty), f.period, since, until
            )
        for rows in d.get("over_time", {}).values():
            mark_partial(rows, f.period, since, until)
        return d

    marked.__doc__ = fn.__doc__
    return marked


def _chart(conn: Any, name: str, f: Filters, rules: BacklogRules) -> str | None:
    if name == "activity":
        t = _periods(data.overview)(conn, f, rules)["trend"]
        return charts.bars(
            f"Series posted and merged per {f.period}",
            charts.period_labels(t),
            {"posted": [r["series"] for r in t], "merged": [r["merged"] for r in t]},
        )
    if name == "states":
        d = data.backlog(conn, f, rules)
        return charts.hbars("Series by state", [(k, v) for k, v in d["states"].items()])
    if name.startswith("perf-"):
        metric = name[5:]
        if metric not in DURATIONS:
            return None
        rows = by_period(data.series_rows(conn, f, rules), metric, f.period, *_span(conn, f))
        return charts.percentiles_over_time(f"{metric.replace('_', ' ')} per {f.period}", rows)
    if name == "reviewers":
        d = data.community(conn, f)
        return charts.hbars(
            "Review replies given",
            [(p["name"] or p["address"], p["review_replies"]) for p in d["reviewers"][:15]],
        )
    return None
