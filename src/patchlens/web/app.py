"""The dashboard: server-rendered pages over a read-only store, and a JSON API that returns
exactly the data each page shows (with an OpenAPI description at /openapi.json).

Every page works without JavaScript: filters are GET forms whose values live in the query
string, tables sort and page through links, charts are SVG images drawn on the server, each
with a table of its numbers. Mail is hostile input: templates escape everything (Jinja2
autoescape), a strict Content-Security-Policy forbids scripts, the store is opened read-only
and every query is parameterised.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from patchlens import __version__
from patchlens.config import Config
from patchlens.metrics.backlog import BacklogRules
from patchlens.metrics.distributions import DURATIONS
from patchlens.queries import dashboard as data
from patchlens.queries import patchtext, prediction
from patchlens.queries.community import busiest_reviewers
from patchlens.queries.filters import PARAMS, FilterError, Filters, check_params, parse_int
from patchlens.queries.formats import printable, with_units
from patchlens.queries.selection import all_series, text_index
from patchlens.store.db import make_engine
from patchlens.web import (
    am,
    api_models,
    charts,
    conformance,
    findings,
    glossary,
    periods,
    queues,
)
from patchlens.web.downloads import add_download_routes
from patchlens.web.pagecache import PageCache

log = logging.getLogger(__name__)
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


def _printable(value: Any) -> Any:
    """Every value a template writes, made encodable (`printable`): a page showing a commit
    whose diff is not UTF-8 must not fail."""
    if isinstance(value, str) and not value.isascii():
        text = printable(value)
        if text is not value:
            return Markup(text) if isinstance(value, Markup) else text
    return value


def create_app(url: str, cfg: Config | None = None, page_cache: bool = True) -> FastAPI:
    """The app over the store at `url`. `page_cache=False` leaves out the kept responses
    (web/pagecache.py), so that every request renders: for profiling the rendering."""
    cfg = cfg or Config()
    engine: Engine = make_engine(url, readonly=True)
    rules = BacklogRules(cfg.stale_days, cfg.abandoned_days)

    def warm() -> None:
        """What every page reads first for a data version, read before a request asks: the
        rows, then what the main pages keep per version (columns, indexes, sums), by asking
        each for its unfiltered figures. On a million-message store the first request after
        a start or an update otherwise waits for it (2 to 18 s, per page)."""
        with engine.connect() as conn:
            data.lists_and_orgs(conn)
            all_series(conn, rules)
            for page in (
                data.overview,
                data.backlog,
                data.explorer,
                data.performance,
                data.community,
                data.patches,
            ):
                page(conn, Filters(), rules)
            # The busiest reviewers' pages, the most asked for and the dearest to read first
            # (the series that name them: 0.1-0.7 s each on a million messages).
            for address in busiest_reviewers(conn, WARM_PEOPLE):
                data.person_page(conn, address, Filters(), rules)
            # The index of first dates a dated filter narrows by (queries/selection.py).
            data.explorer(conn, Filters(since="1970-01-01"), rules)
            text_index(conn, rules)  # and the text a `q` looks in
            # The patches' subjects and senders a search reads (queries/patchtext.py).
            patchtext.patch_text(conn)
            prediction.warm(conn)
        _settle_heap()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if page_cache:
            # In the background: the server answers at once; a request that comes before the
            # rows are read waits for the same reading (queries.selection's lock).
            threading.Thread(target=_quietly, args=(warm,), daemon=True).start()
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="patchlens",
        version=__version__,
        description="Code review of mailing-list projects: the data behind each page.",
        docs_url=None,  # the interactive docs load scripts from a CDN; the schema is enough
        redoc_url=None,
    )
    app.state.engine = engine  # read-only on every engine (tests write through it to check)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    env = templates.env
    env.filters.update(day=_day, when=_when, dur=_dur, pct=_pct, gaps=periods.with_gaps)
    env.finalize = _printable
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

    # Added before the headers middleware, so inside it: kept responses, 304s included,
    # get the same headers as any other.
    if page_cache:
        app.add_middleware(PageCache, engine=engine, salt=f"{__version__} {cfg!r}", warm=warm)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        t0 = time.perf_counter()
        try:
            response: Response = await call_next(request)
        except Exception:
            # Answered here, not by the server's last-resort handler (which sits outside this
            # middleware): a failure gets the same headers as any page, and says nothing more.
            log.exception("%s %s failed", request.method, request.url.path)
            response = internal_error(request)
        if "content-security-policy" not in response.headers:
            response.headers["Content-Security-Policy"] = PAGE_CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - t0) * 1000:.1f}"
        return response

    def page(request: Request, template: str, **ctx: Any) -> HTMLResponse:
        f = ctx.get("f") or Filters()
        # Set by PageCache: a running or unfinished update (the figures may mix old and new).
        notice = request.scope.get("state", {}).get("patchlens_notice")
        return templates.TemplateResponse(
            request, template, {"f": f, "path": request.url.path, "update_notice": notice, **ctx}
        )

    def params(names: tuple[str, ...], sort: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """The query parameters of a route, for /openapi.json, from the one table the parser
        checks values against (`sort`: the route's sortable columns, if it sorts)."""
        out = []
        for n in names:
            schema, text = PARAMS.get(n, ({"type": "integer", "minimum": 1}, "Page of that list."))
            if n == "sort":
                if sort:
                    schema = {"type": "string", "enum": [*sort, *(f"-{c}" for c in sort)]}
                else:
                    text = "Not used by this route (accepted, so that links keep it)."
            elif n in ("period", "page", "full"):
                text += " Not every route uses it."
            out.append(
                {"name": n, "in": "query", "required": False, "schema": schema, "description": text}
            )
        return out

    def api_route(
        path: str,
        endpoint: Callable[..., Any],
        name: str,
        summary: str,
        model: type,
        parameters: list[dict[str, Any]],
        label: str | None = None,
    ) -> None:
        """A JSON route, described in /openapi.json: its model, parameters, errors (400 for a
        bad parameter; 404 when it is about one `label` that may not exist)."""
        responses: dict[int | str, dict[str, Any]] = {
            400: {"model": api_models.Error, "description": "a bad parameter"}
        }
        if label:
            responses[404] = {"model": api_models.Error, "description": f"no such {label}"}
        app.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            name=f"api_{name}",
            summary=summary,
            response_model=model,
            responses=responses,
            openapi_extra={"parameters": parameters},
        )

    def view(
        name: str, fn: Callable[..., dict[str, Any]], model: type, sort: tuple[str, ...] = ()
    ) -> None:
        def html(request: Request) -> HTMLResponse:
            f = Filters.from_query(request.query_params)
            with engine.connect() as conn:
                d = fn(conn, f, rules)
                choices = data.lists_and_orgs(conn)
            return page(request, f"{name}.html", f=f, d=d, choices=choices)

        def api(request: Request) -> JSONResponse:
            f = Filters.from_query(request.query_params)
            with engine.connect() as conn:
                d = fn(conn, f, rules)
            return JSONResponse(with_units(d))

        path = "/" if name == "overview" else f"/{name}"
        app.add_api_route(path, html, methods=["GET"], include_in_schema=False, name=name)
        api.__doc__ = fn.__doc__ or f"The data of the {name} page."
        api_route(
            f"/api/{name}",
            api,
            name,
            f"The data of the {name} page",
            model,
            params(tuple(PARAMS), sort),
        )

    view("overview", data.overview, api_models.Overview)
    view("performance", data.performance, api_models.Performance)
    view("backlog", data.backlog, api_models.Backlog)
    view("community", data.community, api_models.Community)
    view("series", data.explorer, api_models.Explorer, data.SORTABLE)
    view("patches", data.patches, api_models.Patches, data.PATCH_SORT)

    def one(
        name: str,
        fn: Callable[..., dict[str, Any] | None],
        model: type,
        extra: tuple[str, ...] = (),
    ) -> None:
        """A page about one thing. Series and commit pages take no filters; person and
        subsystem pages take every filter (and a person's page, a page number per list)."""
        takes_filters = name in ("person", "subsystem")

        def load(request: Request, ident: str) -> tuple[Filters, dict[str, Any], Any]:
            query = request.query_params
            if not takes_filters:
                check_params(query, ())
                with engine.connect() as conn:
                    d = fn(conn, ident, rules) if name == "series_one" else fn(conn, ident)
                return Filters(), d, None
            f = Filters.from_query(query, extra)
            pages = {k: parse_int(k, query[k]) for k in extra if query.get(k)}
            with engine.connect() as conn:
                d = fn(conn, ident, f, rules, **pages)
                choices = data.lists_and_orgs(conn)
            return f, d, choices

        def html(request: Request, ident: str) -> HTMLResponse:
            f, d, choices = load(request, ident)
            if d is None:
                raise HTTPException(404, f"no such {label}")
            return page(request, f"{name}.html", f=f, d=d, choices=choices)

        def api(request: Request, ident: str) -> JSONResponse:
            _f, d, _choices = load(request, ident)
            if d is None:
                raise HTTPException(404, f"no such {label}")
            return JSONResponse(with_units(d))

        prefix = {
            "series_one": "series",
            "person": "people",
            "subsystem": "subsystems",
            "commit": "commits",
        }[name]
        label = {"series_one": "series", "person": "person"}.get(name, name)
        app.add_api_route(
            f"/{prefix}/{{ident:path}}", html, methods=["GET"], include_in_schema=False, name=name
        )
        api.__doc__ = fn.__doc__
        api_route(
            f"/api/{prefix}/{{ident:path}}",
            api,
            name,
            f"One {label}",
            model,
            params((*PARAMS, *extra)) if takes_filters else [],
            label,
        )

    # Before the person and subsystem pages, whose {ident:path} would take these paths.
    queues.add_routes(app, engine, rules, page, api_route)

    one("series_one", data.series_page, api_models.SeriesOne)
    one("person", data.person_page, api_models.PersonPage, ("authored_page", "reviewed_page"))
    one("subsystem", data.subsystem_page, api_models.Subsystem)
    one("commit", data.commit_page, api_models.Commit)

    @app.get("/glossary", include_in_schema=False, name="glossary")
    def glossary_page(request: Request) -> HTMLResponse:
        return page(request, "glossary.html", f=Filters(), sections=glossary.SECTIONS)

    @app.get("/health", include_in_schema=False, name="health")
    def health_page(request: Request) -> HTMLResponse:
        from patchlens.queries.status import health_status

        with engine.connect() as conn:
            h = health_status(conn, limit=200)
        return page(request, "health.html", f=Filters(), h=h)

    def glossary_api(request: Request) -> JSONResponse:
        """The definitions the glossary page shows, by section, each with its anchor."""
        check_params(request.query_params, ())
        return JSONResponse(glossary.as_json())

    api_route(
        "/api/glossary",
        glossary_api,
        "glossary",
        "Every term the dashboard shows",
        api_models.Glossary,
        [],
    )

    def pulls_data(request: Request) -> tuple[Filters, dict[str, Any]]:
        check_params(request.query_params, data.PULL_PARAMS)
        f = Filters.from_query(request.query_params)
        with engine.connect() as conn:
            return f, data.pulls(conn, f)

    @app.get("/pulls", include_in_schema=False, name="pulls")
    def pulls_page(request: Request) -> HTMLResponse:
        f, d = pulls_data(request)
        with engine.connect() as conn:
            choices = data.lists_and_orgs(conn)
        return page(request, "pulls.html", f=f, d=d, choices=choices)

    def pulls_api(request: Request) -> JSONResponse:
        """Pull requests, kept apart from the series under review (date, list and search
        filters only), each merged when a notice says so."""
        return JSONResponse(with_units(pulls_data(request)[1]))

    api_route(
        "/api/pulls",
        pulls_api,
        "pulls",
        "The data of the pull requests page",
        api_models.Pulls,
        params(data.PULL_PARAMS),
    )

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

    def error(request: Request, status: int, message: str, parameter: str | None) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message, "parameter": parameter}, status_code=status)
        accepted = None
        if parameter in PARAMS:
            schema = PARAMS[parameter][0]
            accepted = (
                ", ".join(schema["enum"])
                if "enum" in schema
                else "YYYY-MM-DD"
                if schema.get("format") == "date"
                else PARAMS[parameter][1]
            )
        return templates.TemplateResponse(
            request,
            "error.html",
            {
                "f": Filters(),
                "path": request.url.path,
                "message": message,
                "heading": {404: "Not found", 500: "Internal error"}.get(status, "Bad request"),
                "parameter": parameter,
                "accepted": accepted,
            },
            status_code=status,
        )

    def internal_error(request: Request) -> Response:
        message = "internal error: this request could not be answered"
        try:
            return error(request, 500, message, None)
        except Exception:
            log.exception("the error page failed too")
            return PlainTextResponse(message, status_code=500)

    # Issue 15, part F: findings with confidence (web/findings.py).
    findings.add_routes(app, engine, rules, page, api_route)
    # Issue 14, part A: the Atom feed of any search and the CSV of every table.
    add_download_routes(app, engine, rules)

    # Issue 15 §3: the conformance report and its JSON twin.
    conformance.add_routes(app, engine, page, api_route, params)
    # Issue 16 §2: a series version as an mbox for git am (web/am.py).
    am.add_routes(app, engine, cfg, api_route)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error(request, exc.status_code, str(exc.detail), None)

    @app.exception_handler(FilterError)
    def bad_filter(request: Request, exc: FilterError) -> Response:
        return error(request, 400, exc.message, exc.parameter)

    return app


# How many of the busiest reviewers' pages the warm-up reads (each 0.1-0.7 s at a million
# messages, in the background; a person outside them pays that on their first view).
WARM_PEOPLE = 50


def _settle_heap() -> None:
    """Take what the warm-up kept out of the cyclic garbage collector's sight (gc.freeze):
    a million-message store keeps ~600,000 objects per data version, and a full collection
    that walks them all, at some request's expense, took 0.3 s (measured: the person page's
    slowest request of 40 from 356 ms to 97 ms, p50 unchanged). What was frozen for the
    data version before is given back first, so its cycles can be collected."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _quietly(fn: Callable[[], None]) -> None:
    """Run `fn`, logging a failure (the request that needs the same data reads it again)."""
    try:
        fn()
    except Exception:
        log.warning("warming the dashboard's rows failed", exc_info=True)


def app_from_env() -> FastAPI:
    """The app of one `patchlens serve --workers N` process: the store and configuration
    the parent named in PATCHLENS_SERVE_DB and PATCHLENS_SERVE_CONFIG."""
    from patchlens.config import load_config

    config = os.environ.get("PATCHLENS_SERVE_CONFIG") or None
    return create_app(os.environ["PATCHLENS_SERVE_DB"], load_config(config))


def _chart(conn: Any, name: str, f: Filters, rules: BacklogRules) -> str | None:
    if name == "activity":
        t = periods.chart_rows(data.overview(conn, f, rules)["trend"], "series", "merged")
        return charts.bars(
            f"{f.counted.capitalize()} posted per {f.period}, and how many of them are merged",
            charts.period_labels(t),
            {"posted": [r["series"] for r in t], "merged": [r["merged"] for r in t]},
        )
    if name == "states":
        d = data.backlog(conn, f, rules)
        return charts.hbars(
            f"{f.counted.capitalize()} by state", [(k, v) for k, v in d["states"].items()]
        )
    if name.startswith("perf-"):
        metric = name[5:]
        if metric not in DURATIONS:
            return None
        rows = periods.chart_rows(data.duration_trend(conn, f, rules, metric), "series")
        return charts.percentiles_over_time(f"{metric.replace('_', ' ')} per {f.period}", rows)
    if name == "reviewers":
        d = data.community(conn, f, rules)
        return charts.hbars(
            "Review replies given",
            [(p["name"] or p["address"], p["review_replies"]) for p in d["reviewers"][:15]],
        )
    return None
