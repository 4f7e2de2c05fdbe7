"""The routes of findings: /findings and its JSON twin /api/findings (every finding over the
series the filters select), and /findings/series with /api/findings/series (the series of one
group of one finding, which each group links to). Thin: queries/findings.py computes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import Engine

from patchlens.metrics.backlog import BacklogRules
from patchlens.queries import dashboard as data
from patchlens.queries.filters import PARAMS, FilterError, Filters
from patchlens.queries.findings import finding_series, findings, group_link
from patchlens.queries.formats import with_units
from patchlens.web import api_models

GROUP_PARAMS = ("finding", "group")
_GROUP_DOC = {
    "finding": "The finding's id (as /api/findings gives it: size-patches, contributor, "
    "period-merge, org:NAME ...).",
    "group": "The group's name within the finding (as /api/findings gives it).",
}


def _parameters(extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The query parameters for /openapi.json: every filter, and `extra` (required)."""
    out = [
        {"name": n, "in": "query", "required": False, "schema": s, "description": text}
        for n, (s, text) in PARAMS.items()
    ]
    out += [
        {
            "name": n,
            "in": "query",
            "required": True,
            "schema": {"type": "string", "maxLength": 200},
            "description": _GROUP_DOC[n],
        }
        for n in extra
    ]
    return out


def add_routes(
    app: FastAPI,
    engine: Engine,
    rules: BacklogRules,
    page: Callable[..., HTMLResponse],
    api_route: Callable[..., None],
) -> None:
    """/findings, /api/findings, /findings/series and /api/findings/series."""

    def load(request: Request) -> tuple[Filters, dict[str, Any]]:
        f = Filters.from_query(request.query_params)
        with engine.connect() as conn:
            return f, findings(conn, f, rules)

    @app.get("/findings", include_in_schema=False, name="findings")
    def findings_page(request: Request) -> HTMLResponse:
        f, d = load(request)
        with engine.connect() as conn:
            choices = data.lists_and_orgs(conn)
        return page(request, "findings.html", f=f, d=d, choices=choices)

    def findings_api(request: Request) -> JSONResponse:
        """The questions of the Xen Project's 2016 review study tested on the series the
        filters select: per finding two groups with their n and statistic, an effect size
        (ratio of medians, or difference of shares) with a 95% percentile bootstrap interval,
        a sentence, and a link to each group's series; `withheld` says why a finding is not
        shown (a group with fewer than `min_series` series)."""
        return JSONResponse(with_units(load(request)[1]))

    api_route(
        "/api/findings",
        findings_api,
        "findings",
        "Findings with confidence intervals",
        api_models.Findings,
        _parameters(),
    )

    def load_group(request: Request) -> tuple[Filters, dict[str, Any]]:
        query = request.query_params
        f = Filters.from_query(query, GROUP_PARAMS)
        fid, group = query.get("finding"), query.get("group")
        for name, value in (("finding", fid), ("group", group)):
            if not value:
                raise FilterError(name, f"{name}: required (see /api/findings)")
            if len(value) > 200:
                raise FilterError(name, f"{name}: at most 200 characters")
        with engine.connect() as conn:
            d = finding_series(conn, f, rules, str(fid), str(group))
        if d is None:
            raise HTTPException(404, "no such finding or group")
        return f, d

    @app.get("/findings/series", include_in_schema=False, name="finding_series")
    def group_page(request: Request) -> HTMLResponse:
        f, d = load_group(request)
        with engine.connect() as conn:
            found = findings(conn, f, rules)
        x = next((x for x in found["findings"] if x["id"] == d["finding"]), None)
        g = next((g for g in (x or {}).get("groups", []) if g["group"] == d["group"]), None)
        fid, group, n = d["finding"], d["group"], d["page"]
        prev_link = group_link(f, fid, group, n - 1) if n > 1 else None
        more = n * d["page_size"] < d["total"]
        next_link = group_link(f, fid, group, n + 1) if more else None
        return page(
            request,
            "findings_series.html",
            f=f,
            d=d,
            x=x,
            g=g,
            prev_link=prev_link,
            next_link=next_link,
        )

    def group_api(request: Request) -> JSONResponse:
        """The series of one group of one finding, as /api/findings splits them with the
        same filters, oldest first, 100 a page."""
        return JSONResponse(with_units(load_group(request)[1]))

    api_route(
        "/api/findings/series",
        group_api,
        "finding_series",
        "The series of one group of a finding",
        api_models.FindingSeries,
        _parameters(GROUP_PARAMS),
        "finding or group",
    )
