"""The routes that give the dashboard's data in other shapes than a page: the Atom feed of any
search of the series explorer (/series.atom, the query string of /series) and the CSV of every
table of every page (/csv/PAGE/TABLE, and /csv/PAGE/TABLE/IDENT for a page about one thing,
with the page's query string). The rows come from the same read model as the page
(queries/tables.py); errors are the pages' errors (400 naming the parameter, 404)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import Engine

from patchlens.metrics.backlog import BacklogRules
from patchlens.queries import dashboard as data
from patchlens.queries import tables
from patchlens.queries.conformance import PARAMS as CONFORMANCE_PARAMS
from patchlens.queries.filters import Filters, check_params
from patchlens.queries.selection import data_date
from patchlens.web import feeds

# A cell a spreadsheet would read as a formula: mail text must not run in one (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(v: Any) -> Any:
    """A value as a CSV cell: none empty, lists as JSON, text that a spreadsheet would take
    for a formula quoted with a leading apostrophe."""
    if v is None:
        return ""
    if isinstance(v, list | tuple | dict):
        return json.dumps(v, separators=(",", ":"))
    if isinstance(v, str) and v.startswith(FORMULA_START):
        return "'" + v
    return v


def csv_text(header: list[str], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for r in rows:
        w.writerow([csv_cell(v) for v in r.values()])
    return buf.getvalue()


def feed_title(f: Filters) -> str:
    """What the feed selects, in words: its filters as given."""
    active = "; ".join(f"{k}: {v}" for k, v in f.active())
    return f"patchlens series — {active}" if active else "patchlens series"


def add_download_routes(app: FastAPI, engine: Engine, rules: BacklogRules) -> None:
    @app.get("/series.atom", include_in_schema=False, name="series_feed")
    def series_atom(request: Request) -> Response:
        f = Filters.from_query(request.query_params)
        with engine.connect() as conn:
            rows = tables.explorer_rows(conn, f, rules)
            as_of = data_date(conn)
        base = str(request.base_url)
        body = feeds.series_feed(
            str(request.url), feed_title(f), f"{base}series{f.query()}", rows, base, as_of
        )
        return Response(body, media_type=f"{feeds.MEDIA_TYPE}; charset=utf-8")

    def table_csv(request: Request, page: str, table: str, ident: str | None) -> Response:
        query = request.query_params
        if page not in tables.TABLES or table not in tables.TABLES[page]:
            raise HTTPException(404, f"no such table: {page}/{table}")
        if page == "commit":
            check_params(query, ())
            f = Filters()
        elif page == "pulls":
            check_params(query, data.PULL_PARAMS)
            f = Filters.from_query(query)
        elif page == "conformance":
            check_params(query, CONFORMANCE_PARAMS)
            f = Filters.from_query(query)
        else:
            extra = ("authored_page", "reviewed_page") if page == "person" else ()
            f = Filters.from_query(query, extra)
        with engine.connect() as conn:
            rows = tables.table_rows(conn, page, table, f, rules, ident)
        if rows is None:
            raise HTTPException(404, f"no such {page}" if ident is not None else "no such table")
        # The name from the table list, never from the URL as given.
        name = next(k for k in tables.TABLES[page] if k == table)
        return Response(
            csv_text(tables.TABLES[page][name].header, rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{page}-{name}.csv"'},
        )

    @app.get("/csv/{page}/{table}", include_in_schema=False, name="table_csv")
    def list_csv(request: Request, page: str, table: str) -> Response:
        return table_csv(request, page, table, None)

    @app.get("/csv/{page}/{table}/{ident:path}", include_in_schema=False, name="one_csv")
    def one_csv(request: Request, page: str, table: str, ident: str) -> Response:
        return table_csv(request, page, table, ident)
