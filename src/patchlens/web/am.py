"""The routes that give a series version as maintainers apply it (issue 16 §2): the mbox for
`git am` (/mbox/N/KEY, linked from each version on the series page, and /api/mbox/N/KEY in
/openapi.json) and its JSON twin /api/am/N/KEY (which patches, which trailers were added).
N is the version's place in the series (1 = first); KEY a series or version key or a
Message-ID of one of its mails. Everything comes from queries/am.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine

from patchlens.config import Config
from patchlens.queries.am import AmVersion, am_version
from patchlens.queries.filters import check_params, parse_int
from patchlens.review.am import MEDIA_TYPE
from patchlens.web import api_models


def add_routes(app: FastAPI, engine: Engine, cfg: Config, api_route: Callable[..., None]) -> None:
    def load(request: Request, seq: str, ident: str) -> AmVersion:
        check_params(request.query_params, ())
        n = parse_int("seq", seq)  # a 400 naming it, as for any parameter
        with engine.connect() as conn:
            v = am_version(conn, ident, n, cfg.archive_url)
        if v is None:
            raise HTTPException(404, "no such series version")
        return v

    def mbox(request: Request, seq: str, ident: str) -> Response:
        """The version as an mboxrd file for `git am --patch-format=mboxrd`: patches 1..N in
        order (no cover letter), each with the trailers given in replies to it and to the
        cover letter added after its own (b4's order, no duplicates) and a Link: to the
        archive. 404 for a series or version that does not exist."""
        v = load(request, seq, ident)
        return Response(
            v.mbox(),
            media_type=MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{v.filename()}"'},
        )

    app.add_api_route("/mbox/{seq}/{ident:path}", mbox, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        "/api/mbox/{seq}/{ident:path}",
        mbox,
        methods=["GET"],
        name="api_mbox",
        summary="A series version as an mbox for git am",
        response_class=Response,
        responses={
            200: {
                "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
                "description": "the mboxrd file",
            },
            400: {"model": api_models.Error, "description": "a bad parameter"},
            404: {"model": api_models.Error, "description": "no such series version"},
        },
    )

    def summary(request: Request, seq: str, ident: str) -> JSONResponse:
        """What the mbox of a series version holds: its patches in order, the trailers each
        already carries, those collected from the replies, and its Link:."""
        d: dict[str, Any] = load(request, seq, ident).summary()
        d["mbox"] = f"/api/mbox/{seq}/{ident}"
        return JSONResponse(d)

    api_route(
        "/api/am/{seq}/{ident:path}",
        summary,
        "am",
        "What the git am mbox of a series version holds",
        api_models.AmVersion,
        [],
        "series version",
    )
